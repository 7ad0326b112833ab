#!/usr/bin/env node
// The `sentiment` command: train, eval, predict. Built from src/cli.ts by `pnpm build`.
import '../dist/cli.js';
