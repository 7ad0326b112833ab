#!/usr/bin/env node
// The `speech` command: synth, train, eval, label. Built from src/cli.ts by `pnpm build`.
import '../dist/cli.js';
