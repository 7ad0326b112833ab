/**
 * `pnpm bench`: recurrent workloads on every backend here and on the peers a user would otherwise
 * pick (TensorFlow.js cpu and wasm, brain.js, onnxruntime-web for inference, PyTorch on CPU when
 * `python3 -c 'import torch'` works), side by side in one run. Each row runs in a child process (`row.ts`); ratios within
 * the run are what count, since these machines are shared and noisy.
 *
 *   pnpm bench                     every row, then the scaling sweep (60-80 minutes on two cores)
 *   pnpm bench -- --quick          a one-minute smoke run: the small workload XS, one timed run per row
 *   pnpm bench -- --only webasm    rows whose peer or workload contains the text (`--only sweep`: the sweep)
 *   pnpm bench -- --mode inference the inference rows only (or train)
 *
 * Output: a table on stdout, bench/results/<date>.json, and SVG charts beside it: <date>.svg
 * (tokens/s of every row) and <date>-sweep-steps.svg / <date>-sweep-hidden.svg. Our rows carry a
 * correctness check: the first two training losses (inference: the output mean) must agree
 * across our backends, and on every workload but L the forward output must match the float64
 * reference.
 */
import { plainWhenPiped, wasmMultiplyAdd, writeFileAtomic } from '@recurrent/core';
import { barChart, lineChart } from '@recurrent/plot';
import Table from 'cli-table3';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { hasTorch as torchImports, oneOf, parseFlags, PYTHON } from './cli.js';
import { FULL_BUDGET, QUICK_BUDGET } from './timing.js';
import { flopsPerToken, sweepWorkloads, workloadNamed } from './workloads.js';

const { values } = parseFlags('pnpm bench [-- --quick] [-- --only TEXT] [-- --mode train|inference]', (args) => parseArgs({
  args,
  options: { quick: { type: 'boolean', default: false }, only: { type: 'string' }, mode: { type: 'string' } },
}));
const modes = values.mode === undefined ? ['train', 'inference'] : [oneOf('mode', values.mode, ['train', 'inference'] as const)];
const runs = values.quick ? 1 : 3;
const budget = values.quick ? QUICK_BUDGET : FULL_BUDGET;
const ROW_TIMEOUT_S = 900;
const OURS = ['webgpu', 'webasm', 'cpu'];
const hasTorch = torchImports();

/**
 * Which peers run which workload: the slow ones skip L and the sweep (hours per step), brain.js
 * runs the plain LSTM workloads only (it has no batches, GRU layers or bidirectional nets),
 * onnxruntime-web inference only (an inference engine), and S-RD (recurrent dropout, training
 * only) ours against tfjs-wasm's `recurrentDropout` (PyTorch has none).
 */
function peersFor(workload: string, mode: string): string[] {
  const all = [
    ...OURS, 'tfjs-cpu', 'tfjs-wasm', ...(workload === 'S' || workload === 'XS' ? ['brain.js'] : []),
    ...(mode === 'inference' ? ['onnxruntime-web'] : []), ...(hasTorch ? ['pytorch'] : []),
  ];
  if (workload === 'L' || workload.startsWith('sweep-')) return all.filter((p) => ['webasm', 'tfjs-wasm', 'onnxruntime-web', 'pytorch'].includes(p));
  // recurrent dropout: training only, and PyTorch has none
  if (workload === 'S-RD') return mode === 'train' ? all.filter((p) => [...OURS, 'tfjs-wasm'].includes(p)) : [];
  return all;
}

interface Result {
  peer: string;
  workload: string;
  mode: string;
  tokensPerSecond?: number;
  gflops?: number;
  maxRssMB?: number;
  check?: number[];
  referenceError?: number;
  error?: string;
  correct?: boolean;
  percentOfRoofline?: number;
}

const matches = (...names: string[]) => !values.only || names.some((n) => n.includes(values.only!));

/** Timed runs of a row (after its warm-up, see timing.ts): the sweep's points take one, to keep the whole bench under an hour. */
const runsOf = (workload: string) => (workload.startsWith('sweep-') ? 1 : runs);

function runRow(peer: string, workload: string, mode: string): Result {
  process.stderr.write(`bench: ${peer} ${workload} ${mode}...\n`);
  const w = peer === 'pytorch' ? workloadNamed(workload) : undefined;
  const command = w
    ? { file: PYTHON, args: [fileURLToPath(new URL('../peers/pytorch_lstm.py', import.meta.url)), w.cell, String(w.numLayers), String(w.bidirectional), String(w.batch), String(w.steps), String(w.inputSize), String(w.hiddenSize), mode, String(runsOf(workload)), String(budget.warmupSeconds), String(budget.runSeconds)] }
    : { file: process.execPath, args: [fileURLToPath(new URL('./row.js', import.meta.url)), peer, workload, mode, String(runsOf(workload)), workload === 'L' || workload === 'S-RD' ? '' : 'reference', ...(values.quick ? ['--quick'] : [])] };
  // PyTorch gets what makes it a fair peer here: OpenBLAS's own core detection and passive OpenMP waits.
  const env: NodeJS.ProcessEnv = { ...process.env, ...(peer === 'pytorch' ? { OMP_WAIT_POLICY: 'PASSIVE' } : {}) };
  if (peer === 'pytorch') {
    delete env.OPENBLAS_CORETYPE;
    delete env.OPENBLAS_L2_SIZE;
  }
  const child = spawnSync(command.file, command.args, { env, encoding: 'utf8', timeout: ROW_TIMEOUT_S * 1000, maxBuffer: 1 << 24 });
  const line = child.stdout?.trim().split('\n').at(-1);
  if (!line) return { peer, workload, mode, error: child.error ? `${child.error.message}` : `exited ${child.status}: ${child.stderr?.trim().split('\n').at(-1)}` };
  return { peer, workload, mode, ...(JSON.parse(line) as object) };
}

const results: Result[] = [];
const roofline = new Map<string, number>();
for (const peer of OURS) {
  if (!matches(peer, 'roofline')) continue;
  const row = runRow(peer, 'matmul', 'roofline');
  results.push(row);
  if (row.gflops) roofline.set(peer, row.gflops);
}
const workloads = values.quick ? ['XS'] : ['S', 'L', 'S-GRU', 'S-BiLSTM', 'S-RD', ...sweepWorkloads().map((w) => w.name)];
for (const workload of workloads) {
  for (const mode of modes) {
    for (const peer of peersFor(workload, mode)) {
      if (!matches(peer, workload)) continue;
      const row = runRow(peer, workload, mode);
      if (row.tokensPerSecond) {
        row.gflops = (row.tokensPerSecond * flopsPerToken(workloadNamed(workload), mode === 'train')) / 1e9;
        const peak = roofline.get(peer);
        if (peak) row.percentOfRoofline = (100 * row.gflops) / peak;
      }
      results.push(row);
    }
  }
}

// Correctness of our rows (and of onnxruntime-web's, which runs our exported layer): agreement
// across our backends, and with float64 where measured.
for (const row of results.filter((r) => (OURS.includes(r.peer) || r.peer === 'onnxruntime-web') && r.check)) {
  const anchor = results.find((r) => r.workload === row.workload && r.mode === row.mode && OURS.includes(r.peer) && r.check);
  const agrees = row.check!.every((v, i) => Math.abs(v - anchor!.check![i]!) <= 1e-4 + 1e-3 * Math.abs(anchor!.check![i]!));
  row.correct = agrees && (row.referenceError === undefined || row.referenceError < 1e-4);
}
const charted = results.filter((r) => r.tokensPerSecond);
const isSweep = (r: Result) => r.workload.startsWith('sweep-');

const ratio = (row: Result, peer: string) => {
  const other = results.find((r) => r.peer === peer && r.workload === row.workload && r.mode === row.mode && r.tokensPerSecond);
  return other && row.tokensPerSecond ? (row.tokensPerSecond / other.tokensPerSecond!).toFixed(2) : '';
};
const table = new Table({
  head: ['peer', 'workload', 'mode', 'tokens/s (GFLOP/s)', '% of matmul roofline', 'x tfjs-wasm', 'x PyTorch', 'peak RSS MB', 'correct'],
  style: plainWhenPiped(),
});
for (const row of results) {
  const value = row.error
    ? `failed: ${row.error}`.slice(0, 60)
    : row.tokensPerSecond
      ? `${row.tokensPerSecond.toFixed(0)} (${row.gflops!.toFixed(2)})`
      : `${row.gflops!.toFixed(2)} GFLOP/s`;
  table.push([
    row.peer, row.workload, row.mode, value, row.percentOfRoofline === undefined ? '' : `${row.percentOfRoofline.toFixed(0)}%`,
    row.tokensPerSecond ? ratio(row, 'tfjs-wasm') : '', row.tokensPerSecond ? ratio(row, 'pytorch') : '',
    row.maxRssMB?.toFixed(0) ?? '', row.correct === undefined ? '' : row.correct ? 'yes' : 'NO',
  ]);
}
process.stdout.write(`${table.toString()}\n`);

const resultsDir = fileURLToPath(new URL('../results/', import.meta.url));
mkdirSync(resultsDir, { recursive: true });
// a partial run (--mode, --only) names itself, so that it never overwrites the day's full run
const partial = `${values.mode ? `-${values.mode}` : ''}${values.only ? `-only-${values.only.replace(/[^\w.-]+/g, '_')}` : ''}`;
const stem = `${resultsDir}${new Date().toISOString().slice(0, 10)}${values.quick ? '-quick' : ''}${partial}`;
writeFileAtomic(`${stem}.json`, [`${JSON.stringify({ date: new Date().toISOString(), node: process.version, wasmMultiplyAdd, runs, results }, null, 2)}\n`]);
process.stdout.write(`results: ${stem}.json\n`);

// Charts: every row's tokens/s (log scale: the peers span three orders of magnitude), and the sweep.
const label = (peer: string) => (OURS.includes(peer) ? `recurrent ${peer}` : peer);
const fixed = charted.filter((r) => !isSweep(r));
if (fixed.length > 0) {
  const svg = await barChart(
    fixed.map((r) => ({ row: `${r.workload} ${r.mode}`, peer: label(r.peer), tokensPerSecond: r.tokensPerSecond! })),
    { title: `tokens per second, ${runs === 1 ? 'one run' : `median of ${runs}`} (higher is better)`, x: { field: 'row', title: 'workload' }, y: { field: 'tokensPerSecond', title: 'tokens/s', scale: 'log' }, series: 'peer', width: 720 },
  );
  writeFileAtomic(`${stem}.svg`, [svg]);
  process.stdout.write(`chart: ${stem}.svg\n`);
}
for (const [axis, prefix, title] of [['steps', 'sweep-T', 'sequence length (steps)'], ['hiddenSize', 'sweep-H', 'hidden size']] as const) {
  const points = charted.filter((r) => r.workload.startsWith(prefix));
  if (points.length === 0) continue;
  const svg = await lineChart(
    points.map((r) => ({ [axis]: workloadNamed(r.workload)[axis], tokensPerSecond: r.tokensPerSecond!, series: `${label(r.peer)} ${r.mode}` })),
    { title: `workload S as the ${title} grows (one timed run each)`, x: { field: axis, title, scale: 'log' }, y: { field: 'tokensPerSecond', title: 'tokens/s', scale: 'log' }, series: 'series', width: 560 },
  );
  const file = `${stem}-sweep-${axis === 'steps' ? 'steps' : 'hidden'}.svg`;
  writeFileAtomic(file, [svg]);
  process.stdout.write(`chart: ${file}\n`);
}
if (results.some((row) => row.correct === false)) process.exitCode = 1;
