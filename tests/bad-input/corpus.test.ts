/**
 * Runs every case of corpus.json: the exit code, exactly one line on stderr equal to the case's
 * message, no stack trace, nothing on stdout, and nothing written: the case's own folder, the
 * corpus's input files and the trained models are byte for byte as they were, and no output path
 * the command was given exists afterwards unless it did before.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliRunner, messages, type CliRunner } from '@recurrent/train/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  APPS, binOf, CASES_DIR, CORE_CALLS, fill, loadCorpus, outputPaths, runStep, snapshot, unfill, type App, type Case, type CliCase, type CoreCase,
} from './corpus.js';
import { caseFiles, filesUnder, speechTrainingSet } from './make-cases.mjs';
import { CATEGORIES, CORPUS_MD, renderTable } from './table.mjs';

const corpus = loadCorpus();
const shared = realpathSync(mkdtempSync(join(tmpdir(), 'bad-input-')));
const runners = Object.fromEntries(APPS.map((app) => [app, cliRunner(binOf(app), app)])) as Record<App, CliRunner>;
const places = new Map<string, string>([
  ['{cases}', CASES_DIR],
  ...APPS.map((app) => [`{model:${app}}`, join(shared, 'models', app)] as [string, string]),
  ['{data:speech}', join(shared, 'speech-data')],
]);
const placesFor = (tmp: string) => new Map([...places, ['{tmp}', tmp]]);

/** The tiny models every case shares (read only): the smallest sizes, one epoch, trained at once. */
const training: Record<App, string[]> = {
  sentiment: ['train', '--data', '{cases}/sentiment/reviews.tsv', '--out', '{model:sentiment}', '--epochs', '1', '--hidden', '4', '--embedding', '4', '--min-freq', '1', '--batch-size', '8', '--json'],
  translate: [
    'train', '--task', '{cases}/translate/pairs.tsv', '--out', '{model:translate}', '--source-tokens', 'characters', '--target-tokens', 'symbols',
    '--epochs', '1', '--batch-size', '8', '--hidden', '4', '--embedding', '4', '--decoder-hidden', '8', '--min-freq', '1', '--validation-decodes', '0', '--json',
  ],
  speech: ['train', '--data', '{data:speech}', '--out', '{model:speech}', '--epochs', '1', '--batch-size', '4', '--hidden', '4', '--layers', '1', '--json'],
};

/** What must not change while the cases run: their inputs and the trained models. */
let untouched: Map<string, string>;
const sharedInputs = () => new Map<string, string>([
  ...[...snapshot(CASES_DIR)].map(([k, v]): [string, string] => [`cases/${k}`, v]),
  ...[...snapshot(join(shared, 'models'))].map(([k, v]): [string, string] => [`models/${k}`, v]),
]);

beforeAll(async () => {
  mkdirSync(join(shared, 'speech-data'));
  for (const [name, bytes] of speechTrainingSet()) writeFileSync(join(shared, 'speech-data', name), bytes);
  const trained = await Promise.all(APPS.map((app) => runners[app].run(training[app].map((a) => fill(a, places)))));
  trained.forEach((result, i) => expect(result.code, `${APPS[i]} train:\n${result.stderr}`).toBe(0));
  untouched = sharedInputs();
}, 180_000);
afterAll(() => rmSync(shared, { recursive: true, force: true }));

/** Each case in a fresh folder of its own ({tmp}), set up as the case says. */
function prepare(c: Case): { tmp: string; places: Map<string, string> } {
  const tmp = mkdtempSync(join(shared, `${c.id}-`));
  const here = placesFor(tmp);
  for (const step of c.setup ?? []) runStep(step, here);
  return { tmp, places: here };
}

async function runCli(c: CliCase): Promise<void> {
  const { tmp, places: here } = prepare(c);
  const args = c.args.map((a) => fill(a, here));
  const before = snapshot(tmp);
  const outputs = outputPaths(args).filter((path) => !existsSync(path));
  const result = await runners[c.cli].run(args, '', { cwd: tmp, ...(c.env ? { env: c.env } : {}) });
  const shown = `${Object.entries(c.env ?? {}).map(([name, value]) => `${name}=${value} `).join('')}${c.cli} ${c.args.join(' ')}\nexit code ${result.code}\nstderr:\n${unfill(result.stderr, here)}\nstdout:\n${unfill(result.stdout, here)}`;
  expect(result.stderr, shown).not.toMatch(/^\s+at /m);
  expect(result.code, shown).toBe(c.exit);
  // Dawn's warnings about the Vulkan driver and the backend chosen are not the app's message.
  expect(messages(result.stderr).map((line) => unfill(line, here)), shown).toEqual([c.message]);
  expect(result.stdout, shown).toBe('');
  expect(snapshot(tmp), `${c.id}: the case's folder changed`).toEqual(before);
  for (const path of outputs) expect(existsSync(path), `${c.id}: ${path} was written`).toBe(false);
}

function runCore(c: CoreCase): void {
  const { places: here } = prepare(c);
  const args = c.args.map((a) => fill(a, here));
  let thrown: unknown;
  try {
    CORE_CALLS[c.call](args[0]!);
  } catch (error) {
    thrown = error;
  }
  expect(thrown, `${c.id}: ${c.call} accepted the file`).toBeInstanceOf(Error);
  const error = thrown as Error;
  expect(error.name, error.stack).toBe(c.error);
  expect(unfill(error.message, here)).toBe(c.message);
}

describe('the bad-input corpus', () => {
  it.concurrent.for(corpus.map((c) => [c.id, c] as const))('%s', async ([, c]) => {
    if (c.cli === 'core') runCore(c);
    else await runCli(c);
    expect(sharedInputs(), `${c.id}: the corpus inputs or the trained models changed`).toEqual(untouched);
  });
});

describe('the corpus itself', () => {
  it('has at least 40 cases, each id once, across the three command lines and the core loaders', () => {
    const ids = corpus.map((c) => c.id);
    expect(new Set(ids).size, 'an id is used twice').toBe(ids.length);
    expect(ids.length).toBeGreaterThanOrEqual(40);
    for (const id of ids) expect(id).toMatch(/^(sentiment|translate|speech|core)-[a-z0-9-]+$/);
    for (const c of corpus) expect(c.id.startsWith(`${c.cli}-`), c.id).toBe(true);
    expect(new Set(corpus.map((c) => c.cli))).toEqual(new Set([...APPS, 'core']));
  });

  it('files every case under a known category and covers every category', () => {
    for (const c of corpus) expect(Object.keys(CATEGORIES), c.id).toContain(c.category);
    expect(new Set(corpus.map((c) => c.category))).toEqual(new Set(Object.keys(CATEGORIES)));
  });

  it('expects exit code 2 and a message that names what to do, with no absolute path but placeholders', () => {
    for (const c of corpus) {
      if (c.cli !== 'core') expect(c.exit, c.id).toBe(2);
      expect(c.message, c.id).not.toMatch(/\n|^\s|\s$/);
      expect(c.message, c.id).not.toContain(shared);
      expect(c.message.replace(/\/etc\/passwd|\/dev\/zero/g, ''), c.id).not.toMatch(/(^|[\s(])\/[a-z]/);
    }
  });

  it('uses every file of cases/, and names none that is not there', () => {
    const named = new Set(corpus.flatMap((c) => [...c.args, ...(c.setup ?? []).flatMap((step) => Object.values(step).filter((v): v is string => typeof v === 'string'))])
      .filter((a) => a.startsWith('{cases}/')).map((a) => a.slice('{cases}/'.length)));
    for (const path of named) expect(existsSync(join(CASES_DIR, path)), path).toBe(true);
    const training = new Set(['sentiment/reviews.tsv', 'translate/pairs.tsv']);
    const unused = filesUnder(CASES_DIR).filter((file) => !training.has(file) && ![...named].some((path) => file === path || file.startsWith(`${path}/`)));
    expect(unused, 'files of cases/ that no case uses').toEqual([]);
  });

  it('keeps cases/ exactly as make-cases.mjs writes it (`pnpm --filter @recurrent/bad-input-corpus cases`)', () => {
    const expected = caseFiles();
    expect(filesUnder(CASES_DIR).sort()).toEqual([...expected.keys()].sort());
    for (const [path, bytes] of expected) expect(readFileSync(join(CASES_DIR, path)).equals(bytes), path).toBe(true);
  });

  it('keeps CORPUS.md exactly as table.mjs writes it (`pnpm --filter @recurrent/bad-input-corpus table`)', () => {
    expect(readFileSync(CORPUS_MD, 'utf8')).toBe(renderTable(corpus as never));
  });
});
