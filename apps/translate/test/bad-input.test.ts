import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { messages, reversals, run } from './helpers.js';

/**
 * Bad input through the `translate` CLI: each case exits with code 2 and exactly one line
 * `translate: <file or flag>: <what is wrong>; <the fix>`, no stack trace, nothing written.
 */
const folder = mkdtempSync(join(tmpdir(), 'translate-bad-'));
const write = (name: string, content: string | Buffer) => {
  const path = join(folder, name);
  writeFileSync(path, content);
  return path;
};
const model = join(folder, 'model');
const tiny = ['--epochs', '1', '--batch-size', '8', '--hidden', '4', '--embedding', '4', '--decoder-hidden', '8', '--min-freq', '1', '--validation-decodes', '0'];

beforeAll(async () => {
  const trained = await run(['train', '--task', write('pairs.tsv', reversals(40, 3)), '--out', model, '--source-tokens', 'characters', '--target-tokens', 'symbols', ...tiny]);
  expect(trained.code, trained.stderr).toBe(0);
}, 60_000);

const cases: Array<[string, () => string[], RegExp | string]> = [
  ['a TSV with one column', () => ['train', '--task', write('one.tsv', 'hello\nworld\n'), '--out', join(folder, 'x1'), ...tiny], /one\.tsv:1: 1 column, expected source<TAB>target; separate the source and the target with a tab$/],
  ['an empty TSV', () => ['train', '--task', write('empty.tsv', ''), '--out', join(folder, 'x2'), ...tiny], /empty\.tsv: the file is empty; give one pair per line, source<TAB>target$/],
  ['a TSV line with an empty target', () => ['train', '--task', write('half.tsv', 'a\tb\nc\t \n'), '--out', join(folder, 'x3'), ...tiny], /half\.tsv:2: the target \(after the tab\) is empty; give text on both sides of the tab or delete the line$/],
  ['a source with no words', () => ['train', '--task', write('punct.tsv', 'hello\tbonjour\n!!!\t!!!\n'), '--source-tokens', 'words', '--out', join(folder, 'x7'), ...tiny], /punct\.tsv:2: the source has no tokens after tokenising \("!!!"\); give it text or delete the line$/],
  ['a binary file', () => ['train', '--task', write('binary.tsv', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 1, 2])), '--out', join(folder, 'x4'), ...tiny], /binary\.tsv: /],
  ['a task that does not exist', () => ['train', '--task', join(folder, 'missing.tsv'), '--out', join(folder, 'x5'), ...tiny], /missing\.tsv: /],
  ['beam 0', () => ['run', '--model', model, '--beam', '0', 'abc'], "error: option '--beam <n>' argument '0' is invalid. --beam must be an integer from 1 to 100, got '0'"],
  ['a teacher-forcing ratio over 1', () => ['train', '--task', 'g2p', '--teacher-forcing', '1.5'], "error: option '--teacher-forcing <ratio>' argument '1.5' is invalid. --teacher-forcing must be a number from 0 to 1, got '1.5'"],
  ['a zero batch size', () => ['train', '--task', 'g2p', '--batch-size', '0'], "error: option '--batch-size <n>' argument '0' is invalid. --batch-size must be an integer from 1 to 100,000, got '0'"],
  ['dot attention with sizes that differ', () => ['train', '--task', join(folder, 'pairs.tsv'), '--attention', 'dot', '--hidden', '4', '--decoder-hidden', '4', '--out', join(folder, 'x6')], /--decoder-hidden must be 2 x --hidden \(8\), got 4; change one, or use --attention general$/],
  ['eval of a model of one\'s own pairs without --data', () => ['eval', '--model', model], 'this model was trained on your own pairs: give the pairs to evaluate on with --data <file.tsv>'],
  ['eval on another built-in task', () => ['eval', '--model', model, '--data', 'en-fr'], '--data en-fr: this model was trained on your own pairs, not en-fr; evaluate it on a TSV of pairs'],
  ['an outputs file that cannot be written', () => ['eval', '--model', model, '--data', join(folder, 'pairs.tsv'), '--outputs', join(folder, 'no-such-folder', 'out.tsv')], /out\.tsv: cannot write the outputs \(ENOENT\); give a writable path with --outputs$/],
  ['a heatmap path that cannot be written', () => ['run', '--model', model, '--plot', join(folder, 'no-such-folder', 'a.svg'), 'abc'], /a\.svg: cannot write the heatmap \(ENOENT\); check that .*no-such-folder exists and is writable$/],
  ['an input with no tokens', () => ['run', '--model', model, '   '], 'input 1: no tokens after tokenising ("   "); give it text'],
  ['no input at all', () => ['run', '--model', model, '--file', write('blank.txt', '\n\n')], 'nothing to translate: give texts as arguments, with --file, or on stdin'],
  ['a model folder that does not exist', () => ['run', '--model', join(folder, 'nothing'), 'abc'], /nothing: no such model folder; train one with `translate train --out .*nothing`$/],
];

describe('translate, given bad input', () => {
  it.each(cases)('answers %s with one line and exit code 2', async (_, args, expected) => {
    const argv = args();
    const before = readdirSync(folder).sort();
    const result = await run(argv);
    expect(result.code, result.stderr).toBe(2);
    const lines = messages(result.stderr);
    expect(lines).toHaveLength(1);
    if (typeof expected === 'string') expect(lines[0]).toBe(expected.startsWith('error:') ? expected : `translate: ${expected}`);
    else expect(lines[0]).toMatch(new RegExp(`^(translate: )?.*${expected.source}`));
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(readdirSync(folder).sort()).toEqual(before);
  });

  it('refuses a model folder written by another app, and one from a newer version', async () => {
    const other = join(folder, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'config.json'), JSON.stringify({ app: 'sentiment', version: 1 }));
    const result = await run(['run', '--model', other, 'abc']);
    expect(result.code).toBe(2);
    expect(messages(result.stderr)).toEqual([`translate: ${join(other, 'config.json')}: a model of the "sentiment" app, not a translate model; give a folder written by \`translate train\``]);
    const config = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8')) as Record<string, unknown>;
    const newer = join(folder, 'newer');
    mkdirSync(newer);
    for (const file of ['model.safetensors', 'source-vocabulary.json', 'target-vocabulary.json']) writeFileSync(join(newer, file), readFileSync(join(model, file)));
    writeFileSync(join(newer, 'config.json'), JSON.stringify({ ...config, version: 99 }));
    const refused = await run(['run', '--model', newer, 'abc']);
    expect(messages(refused.stderr)).toEqual([`translate: ${join(newer, 'config.json')}: format version 99 is newer than this program's 1; upgrade recurrent`]);
    writeFileSync(join(newer, 'config.json'), JSON.stringify({ ...config, model: { ...(config.model as object), decoderHidden: 1e9 } }));
    const huge = await run(['run', '--model', newer, 'abc']);
    expect(messages(huge.stderr)[0]).toMatch(/model\.decoderHidden is 1,000,000,000, over the limit of 65,536/);
    chmodSync(newer, 0o755);
  });
});
