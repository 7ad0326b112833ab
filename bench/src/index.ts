/**
 * `pnpm bench`: fixed workloads on every backend that starts here, one table.
 *
 * - roofline: fp32 GFLOP/s of an n x n x n matmul (inputs uploaded, output read back per call);
 * - LSTM workload S (batch 32, 64 steps, input 128, hidden 256, one layer): tokens/s of a
 *   training step and of inference, median of several runs, also as a percentage of the
 *   backend's matmul roofline, each row checked against the float64 reference.
 *
 * The peers (TensorFlow.js, brain.js, PyTorch) join this table in the performance issue.
 *
 *   pnpm bench                    every row
 *   pnpm bench -- --quick         fewer sizes and runs, about a minute
 *   pnpm bench -- --only webasm   rows whose backend or workload matches
 */
import { Backend, BACKEND_NAMES, measureMatmul, plainWhenPiped, probeAll } from '@recurrent/core';
import Table from 'cli-table3';
import { mkdirSync } from 'node:fs';
import { writeFileAtomic } from '@recurrent/core';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { lstmError, lstmFlopsPerToken, lstmReference, measureLstm, WORKLOAD_S } from './lstm.js';

// pnpm and turbo may each pass a literal '--' before the flags; it separates nothing here.
const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: { quick: { type: 'boolean', default: false }, only: { type: 'string' } },
});
const matches = (...names: string[]) => !values.only || names.some((n) => n.includes(values.only!));
const sizes = values.quick ? [256] : [128, 256, 512];
const seconds = values.quick ? 0.5 : 2;
const runs = values.quick ? 1 : 3;
/** An LSTM row is correct when its output is this close to the float64 reference. */
const TOLERANCE = 1e-4;

interface Row {
  backend: string;
  workload: string;
  metric: string;
  value: number;
  roofline?: number;
  error?: number;
  correct?: boolean;
}

const rows: Row[] = [];
const expected = matches('lstm', 'S', ...BACKEND_NAMES) ? lstmReference(WORKLOAD_S) : undefined;
for (const probe of await probeAll()) {
  if (!probe.available) {
    process.stderr.write(`bench: skipping ${probe.name}: ${probe.reason}\n`);
    continue;
  }
  if (!matches(probe.name, 'matmul', 'lstm', 'S')) continue;
  const backend = new Backend(probe);
  try {
    let roofline = 0;
    for (const size of sizes) {
      process.stderr.write(`bench: ${probe.name} matmul ${size}^3...\n`);
      const gflops = await measureMatmul(backend, size, seconds);
      roofline = Math.max(roofline, gflops);
      rows.push({ backend: probe.name, workload: `matmul ${size}^3`, metric: 'GFLOP/s', value: gflops });
    }
    if (expected && matches(probe.name, 'lstm', 'S')) {
      const error = await lstmError(backend, WORKLOAD_S, expected);
      for (const training of [true, false]) {
        process.stderr.write(`bench: ${probe.name} LSTM S ${training ? 'train' : 'inference'}...\n`);
        const { tokensPerSecond } = await measureLstm(backend, WORKLOAD_S, training, runs);
        const gflops = (tokensPerSecond * lstmFlopsPerToken(WORKLOAD_S, training)) / 1e9;
        rows.push({
          backend: probe.name, workload: `LSTM S ${training ? 'train' : 'inference'}`, metric: 'tokens/s', value: tokensPerSecond,
          roofline: (100 * gflops) / roofline, error, correct: error < TOLERANCE,
        });
      }
    }
  } finally {
    await backend.dispose();
  }
}

const table = new Table({ head: ['backend', 'workload', 'value', '% of matmul roofline', 'max error vs float64', 'correct'], style: plainWhenPiped() });
for (const row of rows) {
  table.push([
    row.backend, row.workload, `${row.value.toFixed(row.metric === 'GFLOP/s' ? 2 : 0)} ${row.metric}`,
    row.roofline === undefined ? '' : `${row.roofline.toFixed(0)}%`,
    row.error === undefined ? '' : row.error.toExponential(1), row.correct === undefined ? '' : row.correct ? 'yes' : 'NO',
  ]);
}
process.stdout.write(`${table.toString()}\n`);

const resultsDir = fileURLToPath(new URL('../results/', import.meta.url));
mkdirSync(resultsDir, { recursive: true });
const file = `${resultsDir}${new Date().toISOString().slice(0, 10)}.json`;
writeFileAtomic(file, [`${JSON.stringify({ date: new Date().toISOString(), node: process.version, quick: values.quick, rows }, null, 2)}\n`]);
process.stdout.write(`results: ${file}\n`);
if (rows.some((row) => row.correct === false)) process.exitCode = 1;
