/**
 * `pnpm bench`: the machine's matmul roofline per backend (fp32 GFLOP/s of an n x n x n product,
 * inputs uploaded and output read back each call, as `matmul` callers see it). The LSTM
 * workloads and the peers (TensorFlow.js, brain.js, PyTorch) join this table with the layers.
 *
 *   pnpm bench                 sizes 128, 256, 512, 2 s each
 *   pnpm bench -- --quick      sizes 128, 256, 0.5 s each
 *   pnpm bench -- --only webasm
 */
import { Backend, BACKEND_NAMES, measureMatmul, plainWhenPiped, probeAll, type BackendName } from '@recurrent/core';
import Table from 'cli-table3';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, only: { type: 'string' } },
});
if (values.only && !(BACKEND_NAMES as readonly string[]).includes(values.only)) {
  process.stderr.write(`bench: --only expects one of ${BACKEND_NAMES.join(', ')}, got '${values.only}'\n`);
  process.exit(2);
}
const sizes = values.quick ? [128, 256] : [128, 256, 512];
const seconds = values.quick ? 0.5 : 2;

interface Row {
  backend: BackendName;
  adapter: string;
  size: number;
  gflops: number;
}

const rows: Row[] = [];
for (const probe of await probeAll()) {
  if (values.only && probe.name !== values.only) continue;
  if (!probe.available) {
    process.stderr.write(`bench: skipping ${probe.name}: ${probe.reason}\n`);
    continue;
  }
  const backend = new Backend(probe);
  try {
    for (const size of sizes) {
      process.stderr.write(`bench: ${probe.name} matmul ${size}^3...\n`);
      rows.push({ backend: probe.name, adapter: probe.adapter, size, gflops: await measureMatmul(backend, size, seconds) });
    }
  } finally {
    await backend.dispose();
  }
}

const table = new Table({ head: ['backend', 'adapter', 'n', 'matmul GFLOP/s'] , style: plainWhenPiped() });
for (const row of rows) table.push([row.backend, row.adapter, row.size, row.gflops.toFixed(2)]);
process.stdout.write(`${table.toString()}\n`);

// Written atomically: a half-written results file is never left behind.
const resultsDir = fileURLToPath(new URL('../results/', import.meta.url));
mkdirSync(resultsDir, { recursive: true });
const file = `${resultsDir}${new Date().toISOString().slice(0, 10)}.json`;
writeFileSync(`${file}.tmp`, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, seconds, rows }, null, 2)}\n`);
renameSync(`${file}.tmp`, file);
process.stdout.write(`results: ${file}\n`);
