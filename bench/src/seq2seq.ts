/**
 * English->French at equal wall time: `translate` against a same-size PyTorch seq2seq
 * (seq2seq/seq2seq.py) trained on the same split, the same tokens and the same vocabulary rules,
 * both scored with our sacreBLEU-exact corpus BLEU on detokenised test outputs, greedy and beam 5.
 *
 *   node bench/dist/seq2seq.js --minutes 30 [--limit N] [--embedding 128 --hidden 256 --decoder-hidden 256] [--seed 1] [--only pytorch|translate]
 *
 * Run it on a quiet machine (the two trainings run one after the other; `--only` runs one side,
 * so that a long comparison can be made in two sittings). Output: a table and
 * bench/results/<date>-seq2seq[-<side>].json; each side's model and outputs under --work (default
 * a temp folder).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '@recurrent/core';
import { corpusBleu, detokenize } from '@recurrent/text';
import { loadTask, type Example } from '@recurrent/translate';
import { fail, hasTorch, oneOf, parseFlags, positive, PYTHON, seed, TORCH_INSTALL } from './cli.js';

const USAGE = 'node bench/dist/seq2seq.js [--minutes 30] [--limit N] [--embedding 128] [--hidden 256] [--decoder-hidden 256] [--lr 0.002] [--seed 1] [--only pytorch|translate] [--work DIR]';
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
    work: { type: 'string' },
  },
}));
for (const flag of ['minutes', 'lr'] as const) positive(flag, values[flag]);
for (const flag of ['embedding', 'hidden', 'decoder-hidden'] as const) positive(flag, values[flag], true);
seed(values.seed!);
const limit = values.limit === undefined ? undefined : positive('limit', values.limit, true);
const only = values.only === undefined ? undefined : oneOf('only', values.only, SIDES);
if (only !== 'translate' && !hasTorch()) fail(`the PyTorch peer needs \`import torch\` in ${PYTHON}: ${TORCH_INSTALL}`);
const work = values.work ?? mkdtempSync(join(tmpdir(), 'seq2seq-'));
const dataDir = join(work, 'data');
mkdirSync(dataDir, { recursive: true });
// Sizes and seed, the same flags on both sides (each side's seed drives its own generator).
const sizes = ['--embedding', values.embedding!, '--hidden', values.hidden!, '--decoder-hidden', values['decoder-hidden']!, '--lr', values.lr!, '--seed', values.seed!];

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

function runPeer(): Record<string, unknown> {
  const out = join(work, 'pytorch');
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' };
  // Set on these machines for older OpenBLAS builds; the peer runs without them (never in tests).
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  execFileSync(PYTHON, [peerScript, '--data', dataDir, '--out', out, '--minutes', values.minutes!, '--beam', '5', ...sizes], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Record<string, unknown>;
  const bleu = (file: string) => corpusBleu(readFileSync(join(out, file), 'utf8').split('\n').slice(0, references.length).map((l) => detokenize(l.split(' ').filter(Boolean), 'reversible')), references);
  return { ...summary, greedyBleu: bleu('test.greedy.txt').score, beamBleu: bleu('test.beam.txt').score, beamSignature: bleu('test.beam.txt').format() };
}

function runOurs(): Record<string, unknown> {
  const model = join(work, 'translate');
  const trained = execFileSync(process.execPath, [
    translateBin, 'train', '--task', 'en-fr', '--out', model, '--time-limit', values.minutes!, '--epochs', '1000', '--schedule', 'constant',
    '--batch-size', '64', '--dropout', '0.2', '--clip', '1', '--vocab-size', '8000', '--min-freq', '2', '--validation-decodes', '0', '--json',
    ...(values.limit === undefined ? [] : ['--limit', values.limit]), ...sizes,
  ], { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
  const evaluate = (beam: number) => JSON.parse(execFileSync(process.execPath, [translateBin, 'eval', '--model', model, '--beam', String(beam), '--json'], { stdio: ['ignore', 'pipe', 'inherit'] }).toString()) as { bleu: number; bleuSignature: string; seconds: number };
  const greedy = evaluate(1);
  const beam = evaluate(5);
  return { ...(JSON.parse(trained.toString()) as Record<string, unknown>), greedyBleu: greedy.bleu, beamBleu: beam.bleu, beamSignature: beam.bleuSignature, greedySeconds: greedy.seconds, beamSeconds: beam.seconds };
}

const pytorch = only === 'translate' ? undefined : runPeer();
const ours = only === 'pytorch' ? undefined : runOurs();
const result = { date: new Date().toISOString(), minutes: Number(values.minutes), trainPairs: train.length, testPairs: task.test.length, sizes, pytorch, ours };
const file = fileURLToPath(new URL(`../results/${result.date.slice(0, 10)}-seq2seq${only === undefined ? '' : `-${only}`}.json`, import.meta.url));
writeFileAtomic(file, [`${JSON.stringify(result, null, 2)}\n`]);
const scores = (side: Record<string, unknown>) => `greedy ${(side.greedyBleu as number).toFixed(2)}, beam 5 ${(side.beamBleu as number).toFixed(2)}`;
process.stdout.write(`en-fr test BLEU after ${values.minutes} min of training (${train.length} pairs):\n`);
if (pytorch) process.stdout.write(`  PyTorch ${String(pytorch.torch ?? '')}: ${scores(pytorch)}\n`);
if (ours) process.stdout.write(`  translate (webasm): ${scores(ours)}\n`);
process.stdout.write(`results: ${file}; models and outputs: ${work}\n`);
