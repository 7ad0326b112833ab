#!/usr/bin/env node
/**
 * Writes CORPUS.md, the corpus as a table, from corpus.json
 * (`pnpm --filter @recurrent/bad-input-corpus table`). The corpus test fails when the committed
 * CORPUS.md differs from what this writes, so the table cannot go stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const CORPUS_MD = join(here, 'CORPUS.md');

/** The categories of bad input, in the table's order, and what each covers. */
export const CATEGORIES = {
  'text files': 'empty, binary and wrongly encoded text files, paths that are not there',
  'CSV/TSV': 'wrong column counts, unclosed quotes, headers, BOMs and CRLF line ends (the line numbers must still be right)',
  labels: 'labels outside the set a model knows, or too few to train on',
  WAV: 'truncated, zero-length, wrongly encoded, silent WAV files and headers that lie',
  'model folders': 'missing, mismatched and linked-out files',
  'config.json': 'invalid, from another app, from a newer version, enormous or absurd fields',
  safetensors: 'hostile weights files: through a command line, and through @recurrent/core\'s loaders',
  flags: 'flags and environment variables out of range',
  inputs: 'inputs that do not fit the model',
  outputs: 'output paths that cannot be written',
  resume: 'training runs that cannot be resumed',
};

/** @typedef {{ id: string, category: string, cli: string, input: string, env?: Record<string, string>, args: string[], exit?: number, error?: string, call?: string, message: string }} Case */

/** A table cell: one line, pipes escaped. */
const cell = (/** @type {string} */ text) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
/** Code in a cell, whatever backticks it holds. */
const code = (/** @type {string} */ text) => {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  return cell(longest > 0 ? `${fence} ${text} ${fence}` : `${fence}${text}${fence}`);
};

/** The command as typed, or the loader called. */
function command(/** @type {Case} */ c) {
  if (c.cli === 'core') return `${c.call}(${c.args.map((a) => JSON.stringify(a)).join(', ')})`;
  const env = Object.entries(c.env ?? {}).map(([name, value]) => `${name}=${value}`);
  return [...env, c.cli, ...c.args.map((a) => (/^[\w./{}:,=+-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`))].join(' ');
}

/** @param {Case[]} cases */
export function renderTable(cases) {
  const clis = ['sentiment', 'translate', 'speech', 'core'];
  const count = (/** @type {(c: Case) => boolean} */ test) => cases.filter(test).length;
  const lines = [
    '# The bad-input corpus',
    '',
    '<!-- Generated from corpus.json by table.mjs (`pnpm --filter @recurrent/bad-input-corpus table`); do not edit. -->',
    '',
    `${cases.length} cases: ${clis.map((cli) => `${count((c) => c.cli === cli)} ${cli === 'core' ? "through @recurrent/core's loaders" : `\`${cli}\``}`).join(', ')}.`,
    'Each command exits with the code shown and prints exactly the message shown on stderr, one line, no stack trace, and writes nothing.',
    'Paths are written as placeholders: `{cases}` is this package\'s cases/ folder, `{tmp}` a fresh folder of the case\'s own (also the working folder),',
    '`{model:<app>}` a tiny model trained once for the run, `{data:speech}` its training recordings. A core case calls the loader and expects it to throw',
    'the error named, with exactly that message.',
    '',
    '| category | sentiment | translate | speech | core | all |',
    '|---|---|---|---|---|---|',
  ];
  for (const category of Object.keys(CATEGORIES)) {
    const row = clis.map((cli) => count((c) => c.category === category && c.cli === cli));
    lines.push(`| ${category} | ${row.join(' | ')} | ${row.reduce((a, b) => a + b, 0)} |`);
  }
  lines.push(`| all | ${clis.map((cli) => count((c) => c.cli === cli)).join(' | ')} | ${cases.length} |`);
  for (const [category, about] of Object.entries(CATEGORIES)) {
    const here = cases.filter((c) => c.category === category);
    if (here.length === 0) continue;
    lines.push('', `## ${category}`, '', `${about.charAt(0).toUpperCase()}${about.slice(1)}.`, '', '| case | CLI | input | command | exit code | message |', '|---|---|---|---|---|---|');
    for (const c of here) {
      const exit = c.cli === 'core' ? `throws ${c.error}` : String(c.exit);
      lines.push(`| ${cell(c.id)} | ${c.cli} | ${cell(c.input)} | ${code(command(c))} | ${exit} | ${code(c.message)} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** @returns {Case[]} */
export function readCases() {
  return JSON.parse(readFileSync(join(here, 'corpus.json'), 'utf8')).cases;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(CORPUS_MD, renderTable(readCases()));
  process.stdout.write(`${CORPUS_MD}\n`);
}
