/**
 * `pnpm bench`: recurrent workloads on every backend here and on the peers a user would otherwise
 * pick (TensorFlow.js cpu and wasm, brain.js, PyTorch on CPU when `python3 -c 'import torch'`
 * works), side by side in one run. Each row runs in a child process (`row.ts`); ratios within
 * the run are what count, since these machines are shared and noisy.
 *
 *   pnpm bench                     every row (about 15 minutes on two cores)
 *   pnpm bench -- --quick          workload S only, one timed run per row (a few minutes)
 *   pnpm bench -- --only webasm    rows whose peer or workload contains the text
 *
 * Output: a table on stdout and bench/results/<date>.json. Our rows carry a correctness check:
 * the first two training losses (inference: the output mean) must agree across our backends,
 * and on workload S the forward output must match the float64 reference.
 */
import { plainWhenPiped, writeFileAtomic } from '@recurrent/core';
import Table from 'cli-table3';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { flopsPerToken, WORKLOADS } from './workloads.js';

// pnpm and turbo may each pass a literal '--' before the flags; it separates nothing here.
const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: { quick: { type: 'boolean', default: false }, only: { type: 'string' } },
});
const runs = values.quick ? 1 : 3;
const ROW_TIMEOUT_S = 900;
const OURS = ['webgpu', 'webasm', 'cpu'];
const PYTHON = '/usr/bin/python3';

const hasTorch = (() => {
  try {
    execFileSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** Which peers run which workload: the slow ones skip L (hours per step), brain.js has LSTM only. */
function peersFor(workload: string): string[] {
  const all = [...OURS, 'tfjs-cpu', 'tfjs-wasm', ...(workload === 'S' ? ['brain.js'] : []), ...(hasTorch ? ['pytorch'] : [])];
  if (workload === 'L') return all.filter((p) => ['webasm', 'tfjs-wasm', 'pytorch'].includes(p));
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

function runRow(peer: string, workload: string, mode: string): Result {
  process.stderr.write(`bench: ${peer} ${workload} ${mode}...\n`);
  const w = WORKLOADS[workload];
  const command = peer === 'pytorch'
    ? { file: PYTHON, args: [fileURLToPath(new URL('../peers/pytorch_lstm.py', import.meta.url)), w!.cell, String(w!.numLayers), String(w!.bidirectional), String(w!.batch), String(w!.steps), String(w!.inputSize), String(w!.hiddenSize), mode, String(runs)] }
    : { file: process.execPath, args: [fileURLToPath(new URL('./row.js', import.meta.url)), peer, workload, mode, String(runs), workload === 'S' ? 'reference' : ''] };
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
for (const workload of values.quick ? ['S'] : Object.keys(WORKLOADS)) {
  for (const mode of ['train', 'inference']) {
    for (const peer of peersFor(workload)) {
      if (!matches(peer, workload)) continue;
      const row = runRow(peer, workload, mode);
      if (row.tokensPerSecond) {
        row.gflops = (row.tokensPerSecond * flopsPerToken(WORKLOADS[workload]!, mode === 'train')) / 1e9;
        const peak = roofline.get(peer);
        if (peak) row.percentOfRoofline = (100 * row.gflops) / peak;
      }
      results.push(row);
    }
  }
}

// Correctness of our rows: agreement across our backends, and with float64 where measured.
for (const row of results.filter((r) => OURS.includes(r.peer) && r.check)) {
  const anchor = results.find((r) => r.workload === row.workload && r.mode === row.mode && OURS.includes(r.peer) && r.check);
  const agrees = row.check!.every((v, i) => Math.abs(v - anchor!.check![i]!) <= 1e-4 + 1e-3 * Math.abs(anchor!.check![i]!));
  row.correct = agrees && (row.referenceError === undefined || row.referenceError < 1e-4);
}

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
const file = `${resultsDir}${new Date().toISOString().slice(0, 10)}${values.quick ? '-quick' : ''}.json`;
writeFileAtomic(file, [`${JSON.stringify({ date: new Date().toISOString(), node: process.version, runs, results }, null, 2)}\n`]);
process.stdout.write(`results: ${file}\n`);
if (results.some((row) => row.correct === false)) process.exitCode = 1;
