#!/usr/bin/env node
// The `translate` command: train, eval, run. Built from src/cli.ts by `pnpm build`.
import '../dist/cli.js';
