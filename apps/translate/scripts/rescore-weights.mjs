#!/usr/bin/env node
// The rescorers' weight of `translate eval --rescore`, tuned offline: reads the TSV that
// `translate eval ... --candidates FILE` writes (every candidate of each source, with each model's
// own log-probability) and gives the sequence error rate the app would get at each weight, with
// the app's rule: the decoders share 1 - w equally, the rescorers w, and each source's output is
// its candidate of the highest weighted mean, length-normalised as beam search ranks (the app's
// own `lengthNormalised`, from the built package; the first of equals in the file's order).
//
//   node apps/translate/scripts/rescore-weights.mjs FILE --decoders N [--length-penalty 0.6] [--step 0.05] [--json]
//
// N: how many --model folders decoded (the model columns' first N); the remaining columns are the
// rescorers. The scores do not depend on the weight, so one evaluation serves every weight.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { lengthNormalised } from '../dist/index.js';

const usage = 'usage: node apps/translate/scripts/rescore-weights.mjs FILE --decoders N [--length-penalty 0.6] [--step 0.05] [--json]';
const fail = (message) => {
  process.stderr.write(`rescore-weights: ${message}\n`);
  process.exit(2);
};
let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: { decoders: { type: 'string', default: '1' }, 'length-penalty': { type: 'string', default: '0.6' }, step: { type: 'string', default: '0.05' }, json: { type: 'boolean', default: false } },
  });
} catch (error) {
  fail(`${error.message}; ${usage}`);
}
const { values, positionals } = parsed;
if (positionals.length !== 1) fail(`give one candidates file; ${usage}`);
const file = positionals[0];
const decoders = Number(values.decoders);
const alpha = Number(values['length-penalty']);
const step = Number(values.step);
if (!Number.isInteger(decoders) || decoders < 1) fail(`--decoders must be a whole number >= 1, got '${values.decoders}'`);
if (!(alpha >= 0)) fail(`--length-penalty must be a number >= 0, got '${values['length-penalty']}'`);
if (!(step > 0 && step < 1)) fail(`--step must be a number in (0, 1), got '${values.step}'`);

let text;
try {
  text = readFileSync(file, 'utf8');
} catch (error) {
  fail(`${file}: cannot read it (${error.code ?? error.message}); give the file \`translate eval --candidates\` wrote`);
}
const [header, ...lines] = text.replace(/\n$/, '').split('\n');
const columns = header.split('\t');
const fixed = ['source', 'references', 'rank', 'candidate', 'tokens', 'right', 'score'];
if (fixed.some((name, i) => columns[i] !== name)) fail(`${file}:1: not a candidates file of \`translate eval --candidates\` (its header starts ${fixed.join(', ')})`);
const models = columns.slice(fixed.length);
if (models.length <= decoders) fail(`${file}: ${models.length} model column(s), so no rescorers after ${decoders} decoder(s); evaluate with --rescore, or give the right --decoders`);

// Per source (consecutive rows of one source form its list), its candidates' scores.
const sources = [];
lines.forEach((line, i) => {
  const cells = line.split('\t');
  if (cells.length !== columns.length) fail(`${file}:${i + 2}: ${cells.length} columns, the header has ${columns.length}`);
  const candidate = { tokens: Number(cells[4]), right: cells[5] === '1', scores: cells.slice(fixed.length).map(Number) };
  if (!Number.isInteger(candidate.tokens) || candidate.scores.some((s) => !Number.isFinite(s))) fail(`${file}:${i + 2}: tokens and scores must be numbers`);
  if (cells[2] === '1') sources.push([]);
  if (sources.length === 0) fail(`${file}:${i + 2}: the first row of a source must have rank 1`);
  sources.at(-1).push(candidate);
});

const rescorers = models.length - decoders;
const errorRate = (w) => {
  const weights = models.map((_, m) => (m < decoders ? (1 - w) / decoders : w / rescorers));
  let wrong = 0;
  for (const candidates of sources) {
    let best;
    let bestRank = -Infinity;
    for (const c of candidates) {
      const mean = c.scores.reduce((sum, s, m) => sum + s * weights[m], 0);
      const rank = lengthNormalised(mean, c.tokens + 1, alpha);
      if (rank > bestRank) [best, bestRank] = [c, rank];
    }
    if (!best.right) wrong++;
  }
  return wrong / sources.length;
};

const share = rescorers / models.length; // the app's default: every model the same
const grid = [];
for (let k = 0; k * step < 1 - 1e-9; k++) grid.push(Number((k * step).toFixed(6)));
const rows = [{ weight: share, default: true }, ...grid.map((weight) => ({ weight }))].map((row) => ({ ...row, sequenceErrorRate: errorRate(row.weight) }));
const best = rows.reduce((a, b) => (b.sequenceErrorRate < a.sequenceErrorRate ? b : a));
if (values.json) {
  process.stdout.write(`${JSON.stringify({ sources: sources.length, models, decoders, best, weights: rows })}\n`);
} else {
  process.stdout.write(`${sources.length} sources, ${decoders} decoder(s), ${rescorers} rescorer(s); sequence error rate by the rescorers' weight:\n`);
  for (const row of rows) process.stdout.write(`  ${row.weight.toFixed(3)}${row.default ? ' (default)' : ''}  ${(100 * row.sequenceErrorRate).toFixed(2)}%\n`);
  process.stdout.write(`best: ${best.weight.toFixed(3)}${best.default ? ' (the default)' : ''}, ${(100 * best.sequenceErrorRate).toFixed(2)}%\n`);
}
