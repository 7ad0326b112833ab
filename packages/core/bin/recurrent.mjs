#!/usr/bin/env node
// The `recurrent` command: doctor and demo. Built from src/cli/main.ts by `pnpm build`.
import '../dist/cli/main.js';
