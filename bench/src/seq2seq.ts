/**
 * English->French at equal wall time: `translate` against a same-size PyTorch seq2seq
 * (seq2seq/seq2seq.py) trained on the same split, the same tokens and the same vocabulary rules,
 * both scored with our sacreBLEU-exact corpus BLEU on detokenised test outputs, greedy and beam 5.
 *
 *   node bench/dist/seq2seq.js --minutes 30 [--limit N] [--embedding 128 --hidden 256 --decoder-hidden 256] [--seed 1] [--only pytorch|translate | --side-by-side]
 *
 * Run it on a quiet machine (the two trainings run one after the other; `--only` runs one side,
 * so that a long comparison can be made in two sittings; `--side-by-side` runs the two at once,
 * each pinned to a CPU of its own with `taskset`, PyTorch with one thread, so that a comparison
 * of M minutes takes M minutes of the machine, not 2M). Output: a table and
 * bench/results/<date>-seq2seq[-<side>].json; each side's model and outputs under --work (default
 * a temp folder).
 *
 * A long comparison can span sittings: Ctrl-C (SIGINT or SIGTERM to this process) stops both
 * trainings after their step under way, each checkpointed with its clock, and exits 130; the same
 * command with `--work DIR --resume` continues each side where it stopped (a side already trained
 * is not trained again) and scores them. The minutes count training steps, every sitting's.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '@recurrent/core';
import { corpusBleu, detokenize } from '@recurrent/text';
import { loadTask, type Example } from '@recurrent/translate';
import { fail, hasTorch, oneOf, parseFlags, positive, PYTHON, seed, TORCH_INSTALL } from './cli.js';

const USAGE = 'node bench/dist/seq2seq.js [--minutes 30] [--limit N] [--embedding 128] [--hidden 256] [--decoder-hidden 256] [--lr 0.002] [--seed 1] [--only pytorch|translate | --side-by-side] [--work DIR [--resume]]';
const SIDES = ['pytorch', 'translate'] as const;
const { values } = parseFlags(USAGE, (args) => parseArgs({
  args,
  options: {
    minutes: { type: 'string', default: '30' },
    limit: { type: 'string' },
    embedding: { type: 'string', default: '128' },
    hidden: { type: 'string', default: '256' },
    'decoder-hidden': { type: 'string', default: '256' },
    lr: { type: 'string', default: '0.002' },
    seed: { type: 'string', default: '1' },
    only: { type: 'string' },
    'side-by-side': { type: 'boolean', default: false },
    work: { type: 'string' },
    resume: { type: 'boolean', default: false },
  },
}));
for (const flag of ['minutes', 'lr'] as const) positive(flag, values[flag]);
for (const flag of ['embedding', 'hidden', 'decoder-hidden'] as const) positive(flag, values[flag], true);
seed(values.seed!);
const limit = values.limit === undefined ? undefined : positive('limit', values.limit, true);
const only = values.only === undefined ? undefined : oneOf('only', values.only, SIDES);
const sideBySide = values['side-by-side'] === true;
if (sideBySide && only !== undefined) fail('--side-by-side runs both sides at once: leave out --only');
if (sideBySide && availableParallelism() < 2) fail(`--side-by-side needs two CPUs, one a side; this process may use ${availableParallelism()}`);
if (sideBySide && !hasTaskset()) fail('--side-by-side pins each side to a CPU with taskset, which is missing: apt-get install -y util-linux');
const resume = values.resume === true;
if (resume && values.work === undefined) fail('--resume continues the comparison in --work DIR: name it');
if (only !== 'translate' && !hasTorch()) fail(`the PyTorch peer needs \`import torch\` in ${PYTHON}: ${TORCH_INSTALL}`);
const work = values.work ?? mkdtempSync(join(tmpdir(), 'seq2seq-'));
const dataDir = join(work, 'data');
// Sizes and seed, the same flags on both sides (each side's seed drives its own generator).
const sizes = ['--embedding', values.embedding!, '--hidden', values.hidden!, '--decoder-hidden', values['decoder-hidden']!, '--lr', values.lr!, '--seed', values.seed!];
// What every sitting of a comparison in --work shares (`--only` may differ: one side a sitting).
const settings = { minutes: values.minutes, limit: values.limit ?? null, sizes, sideBySide };
const settingsFile = join(work, 'comparison.json');
if (existsSync(settingsFile)) {
  let saved: unknown;
  try {
    saved = JSON.parse(readFileSync(settingsFile, 'utf8'));
  } catch (error) {
    fail(`${settingsFile}: unreadable (${(error as Error).message}); name another --work`);
  }
  if (JSON.stringify(saved) !== JSON.stringify(settings)) fail(`${settingsFile}: the comparison there was started with other flags (${JSON.stringify(saved)}): use the same ones, or name another --work`);
} else if (resume) {
  fail(`${work} holds no comparison to resume (no comparison.json): start one without --resume`);
} else {
  mkdirSync(work, { recursive: true });
  writeFileAtomic(settingsFile, [`${JSON.stringify(settings)}\n`]);
}
if (!resume) {
  for (const side of SIDES.filter((side) => only === undefined || only === side)) {
    if (existsSync(join(work, side))) fail(`${join(work, side)} holds a run already: add --resume to continue it, or name another --work`);
  }
}
mkdirSync(dataDir, { recursive: true });

// The split, tokenised as `translate` tokenises it (reversible words; tokens hold no spaces).
const task = loadTask('en-fr');
const train = task.train.slice(0, limit); // all of it without --limit
const lines = (examples: readonly Example[]) => examples.map((e) => `${e.source.join(' ')}\t${e.references[0]!.join(' ')}\n`).join('');
writeFileSync(join(dataDir, 'train.tsv'), lines(train));
writeFileSync(join(dataDir, 'validation.tsv'), lines(task.validation));
writeFileSync(join(dataDir, 'test.tsv'), lines(task.test));
const references = task.test.map((e) => e.referenceTexts);

const translateBin = fileURLToPath(new URL('../../apps/translate/bin/translate.mjs', import.meta.url));
const peerScript = fileURLToPath(new URL('../seq2seq/seq2seq.py', import.meta.url));

/** Whether `taskset` (util-linux) runs here. */
function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs a program to its end, its stderr shown, and resolves to its stdout (shown as it comes
 * instead where `capture` is false); under --side-by-side pinned to CPU `cpu` (taskset -c), so
 * that the two sides never share a core. Each program has its own process group, so that a
 * Ctrl-C reaches it once, from `stop` below, not also from the terminal.
 */
function run(cpu: number, file: string, args: readonly string[], { env = process.env, capture = true } = {}): Promise<string> {
  const [command, argv] = sideBySide ? ['taskset', ['-c', String(cpu), file, ...args]] : [file, [...args]];
  return new Promise((resolve, reject) => {
    if (stopping) {
      reject(new Error('stopped'));
      return;
    }
    const child = spawn(command, argv, { env, stdio: ['ignore', capture ? 'pipe' : 'inherit', 'inherit'], detached: true });
    running.add(child);
    const chunks: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      running.delete(child);
      if (code === 0) resolve(Buffer.concat(chunks).toString());
      else reject(new Error(`${basename(file)} ${args[0] ?? ''} exited with code ${code}`));
    });
  });
}
/** The programs under way: where one side fails, the other is stopped rather than left running. */
const running = new Set<ReturnType<typeof spawn>>();
/** Set by Ctrl-C: the programs under way checkpoint and end, and no other starts. */
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  process.stderr.write('stopping: each training checkpoints after its step under way\n');
  for (const child of running) child.kill('SIGINT');
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

// Under --side-by-side the peer takes the first CPU this process may use, ours the second.
const cpus = sideBySide ? allowedCpus() : [];

/** The CPUs this process may run on, from Linux's /proc/self/status. */
function allowedCpus(): number[] {
  const list = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0-1';
  return list.split(',').flatMap((range) => {
    const [from, to = from] = range.split('-').map(Number) as [number, number?];
    return Array.from({ length: to! - from + 1 }, (_, i) => from + i);
  });
}

async function runPeer(): Promise<Record<string, unknown>> {
  const out = join(work, 'pytorch');
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' };
  // Set on these machines for older OpenBLAS builds; the peer runs without them (never in tests).
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const threads = sideBySide ? ['--threads', '1'] : [];
  // summary.json is written last, after the decodings: a side that has it is done
  if (!existsSync(join(out, 'summary.json'))) {
    await run(cpus[0]!, PYTHON, [peerScript, '--data', dataDir, '--out', out, '--minutes', values.minutes!, '--beam', '5', ...threads, ...sizes, ...(resume ? ['--resume'] : [])], { env, capture: false });
  }
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Record<string, unknown>;
  const bleu = (file: string) => corpusBleu(readFileSync(join(out, file), 'utf8').split('\n').slice(0, references.length).map((l) => detokenize(l.split(' ').filter(Boolean), 'reversible')), references);
  return { ...summary, greedyBleu: bleu('test.greedy.txt').score, beamBleu: bleu('test.beam.txt').score, beamSignature: bleu('test.beam.txt').format() };
}

async function runOurs(): Promise<Record<string, unknown>> {
  const model = join(work, 'translate');
  // The training's summary, kept once it has finished: a resumed comparison goes on to scoring.
  const summaryFile = join(work, 'translate-train.json');
  let trained: string;
  if (existsSync(summaryFile)) {
    trained = readFileSync(summaryFile, 'utf8');
  } else {
    // Under --side-by-side the worker pool follows the pinning (one CPU: one worker).
    trained = await run(cpus[1]!, process.execPath, [
      translateBin, 'train', '--task', 'en-fr', '--out', model, '--time-limit', values.minutes!, '--epochs', '1000', '--schedule', 'constant',
      '--batch-size', '64', '--dropout', '0.2', '--clip', '1', '--vocab-size', '8000', '--min-freq', '2', '--validation-decodes', '0', '--json',
      ...(values.limit === undefined ? [] : ['--limit', values.limit]), ...sizes, ...(resume && existsSync(join(model, 'run', 'checkpoint.json')) ? ['--resume'] : []),
    ]);
    writeFileAtomic(summaryFile, [trained]);
  }
  const evaluate = async (beam: number) => JSON.parse(await run(cpus[1]!, process.execPath, [translateBin, 'eval', '--model', model, '--beam', String(beam), '--json'])) as { bleu: number; bleuSignature: string; seconds: number };
  const greedy = await evaluate(1);
  const beam = await evaluate(5);
  return { ...(JSON.parse(trained) as Record<string, unknown>), greedyBleu: greedy.bleu, beamBleu: beam.bleu, beamSignature: beam.bleuSignature, greedySeconds: greedy.seconds, beamSeconds: beam.seconds };
}

const sides = async (): Promise<[Record<string, unknown> | undefined, Record<string, unknown> | undefined]> => {
  if (sideBySide) return Promise.all([runPeer(), runOurs()]);
  const peer = only === 'translate' ? undefined : await runPeer();
  return [peer, only === 'pytorch' ? undefined : await runOurs()];
};
let pytorch: Record<string, unknown> | undefined;
let ours: Record<string, unknown> | undefined;
try {
  [pytorch, ours] = await sides();
} catch (error) {
  if (stopping) {
    // the other side may still be checkpointing: wait for it
    while (running.size > 0) await new Promise((resolve) => setTimeout(resolve, 100));
    process.stderr.write(`${basename(process.argv[1]!)}: stopped; both sides checkpointed in ${work}: continue with the same flags and --work ${work} --resume\n`);
    process.exit(130);
  }
  for (const child of running) child.kill();
  fail((error as Error).message);
}
// Without --side-by-side a side runs on the CPUs this process may use (all, or a taskset's).
const arrangement = sideBySide
  ? `side by side, pinned to CPUs ${cpus[0]} (PyTorch, 1 thread) and ${cpus[1]} (translate)`
  : `${only === undefined ? 'one after the other' : `${only} alone`}, on CPUs ${allowedCpus().join(',')}`;
const result = { date: new Date().toISOString(), minutes: Number(values.minutes), arrangement, trainPairs: train.length, testPairs: task.test.length, sizes, pytorch, ours };
// Runs of several seeds on one day each keep their file (seed 1, the default, keeps the old name).
const seedSuffix = values.seed === '1' ? '' : `-seed${values.seed}`;
const file = fileURLToPath(new URL(`../results/${result.date.slice(0, 10)}-seq2seq${only === undefined ? (sideBySide ? '-side-by-side' : '') : `-${only}`}${seedSuffix}.json`, import.meta.url));
writeFileAtomic(file, [`${JSON.stringify(result, null, 2)}\n`]);
const scores = (side: Record<string, unknown>) => `greedy ${(side.greedyBleu as number).toFixed(2)}, beam 5 ${(side.beamBleu as number).toFixed(2)}`;
process.stdout.write(`en-fr test BLEU after ${values.minutes} min of training (${train.length} pairs):\n`);
if (pytorch) process.stdout.write(`  PyTorch ${String(pytorch.torch ?? '')}: ${scores(pytorch)}\n`);
if (ours) process.stdout.write(`  translate (webasm): ${scores(ours)}\n`);
process.stdout.write(`results: ${file}; models and outputs: ${work}\n`);
