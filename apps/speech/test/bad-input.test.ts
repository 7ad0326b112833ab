import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeWav } from '@recurrent/audio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataAndModel, messages, run } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'speech-bad-'));
const data = join(dir, 'digits');
const model = join(dir, 'model');
const own = join(dir, 'own');
beforeAll(async () => {
  await dataAndModel(data, model);
  // The user's own folder: good WAVs from the synthesised set, and bad ones beside them.
  mkdirSync(own);
  const good = readFileSync(join(data, 'train', 'transcript.tsv'), 'utf8').trim().split('\n').slice(0, 12).map((line) => line.split('\t') as [string, string]);
  for (const [file] of good) cpSync(join(data, 'train', file), join(own, file));
  writeFileSync(join(own, 'notes.wav'), 'these are my notes, not audio\n');
  writeFileSync(join(own, 'empty.wav'), '');
  writeWav(join(own, 'silence.wav'), new Float32Array(16_000), 16_000);
  const whole = readFileSync(join(own, good[0]![0]));
  writeFileSync(join(own, 'cut.wav'), whole.subarray(0, 300));
  const zeroRate = Buffer.from(whole);
  zeroRate.writeUInt32LE(0, 24);
  writeFileSync(join(own, 'zero-rate.wav'), zeroRate);
  const lines = good.map(([file, text]) => `${file}\t${text}`);
  writeFileSync(join(own, 'transcript.tsv'), `${[...lines, 'notes.wav\tone', 'empty.wav\ttwo', 'silence.wav\tthree', 'cut.wav\tfour', 'zero-rate.wav\tfive'].join('\n')}\n`);
  writeFileSync(join(dir, 'missing.tsv'), `${`${own}/${lines[0]!}`}\nnowhere.wav\tsix\n`);
  writeFileSync(join(dir, 'unknown.tsv'), `${join(own, good[0]![0])}\tquick brown fox!\n`);
}, 180_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `speech ...args` and expects exit code 2 and exactly one line on stderr matching `line`. */
async function refuses(args: string[], line: RegExp): Promise<string> {
  const result = await run(args);
  const shown = messages(result.stderr);
  expect(result.code, result.stderr).toBe(2);
  expect(shown, result.stderr).toHaveLength(1);
  expect(shown[0]).toMatch(/^(speech|error): /); // error: from the flag parser
  expect(shown[0]).toMatch(line);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  return shown[0]!;
}

describe('speech refuses bad input with one line and exit code 2', () => {
  it.each([
    ['notes.wav', /notes\.wav: .*text/],
    ['empty.wav', /empty\.wav: file is empty \(0 bytes\)/],
    ['silence.wav', /silence\.wav: silent .*check the recording level/],
    ['cut.wav', /cut\.wav: truncated/],
    ['zero-rate.wav', /zero-rate\.wav: .*sample rate/i],
    ['nothing-here.wav', /nothing-here\.wav: .*(no such file|not found|does not exist)/i],
  ])('label %s', async (name, line) => {
    await refuses(['label', '--model', model, join(own, name)], line);
  });

  it('a transcript naming a missing file names the line', async () => {
    await refuses(['train', '--data', join(dir, 'missing.tsv'), '--out', join(dir, 'm1')], /missing\.tsv:2: .*nowhere\.wav does not exist; fix the path .*--skip-bad/);
  });

  it('a bad file in a training folder stops the run, naming it and --skip-bad', async () => {
    await refuses(['train', '--data', own, '--out', join(dir, 'm2')], /notes\.wav: .*--skip-bad/);
  });

  it('--skip-bad lists every bad file and trains on the rest', async () => {
    const result = await run(['train', '--data', own, '--out', join(dir, 'm3'), '--skip-bad', '--epochs', '1', '--batch-size', '4', '--hidden', '8', '--layers', '1', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const skipped = messages(result.stderr).filter((line) => line.startsWith('speech: skipped: '));
    expect(skipped.map((line) => line.match(/(\S+\.wav)/)![1]).sort()).toEqual(['cut.wav', 'empty.wav', 'notes.wav', 'silence.wav', 'zero-rate.wav'].map((name) => join(own, name)).sort());
    expect(result.stderr).toContain('5 bad files left out');
  });

  it('characters outside the label set are refused at eval, naming the line', async () => {
    await refuses(['eval', '--model', model, '--data', join(dir, 'unknown.tsv')], /unknown\.tsv:1: "q" is not in the model's label set/);
  });

  it('flags out of range and folders of other apps', async () => {
    await refuses(['label', '--model', model, '--beam', '0', 'x.wav'], /--beam/);
    await refuses(['train', '--batch-size', '0'], /--batch-size/);
    await refuses(['synth', '--train', '-3'], /--train/);
    writeFileSync(join(dir, 'other.json'), '{}');
    mkdirSync(join(dir, 'sentiment-model'));
    writeFileSync(join(dir, 'sentiment-model', 'config.json'), JSON.stringify({ app: 'sentiment', version: 1 }));
    writeFileSync(join(dir, 'sentiment-model', 'model.safetensors'), '');
    await refuses(['label', '--model', join(dir, 'sentiment-model'), join(own, 'notes.wav')], /a model of the "sentiment" app, not a speech model/);
    await refuses(['eval', '--model', join(dir, 'nowhere')], /no such model folder; train one with `speech train/);
    await refuses(['train', '--data', join(dir, 'nothing')], /nothing: no such file or folder/);
  });

  it('sizes beyond memory end in one line naming the flags that size it', async () => {
    await refuses(['train', '--data', data, '--out', join(dir, 'huge'), '--hidden', '65536', '--batch-size', '8'], /out of memory \(.*\); .*lower --batch-size, --hidden, --layers/);
  });

  it('unwritable outputs name the flag', async () => {
    const wav = join(own, readFileSync(join(own, 'transcript.tsv'), 'utf8').split('\t')[0]!);
    writeFileSync(join(dir, 'a-file'), '');
    await refuses(['label', '--model', model, wav, '--tracks', join(dir, 'a-file', 'tracks')], /cannot create the folder .*--tracks/);
    await refuses(['eval', '--model', model, '--outputs', join(dir, 'a-file', 'out.tsv')], /cannot write the transcripts .*--outputs/);
  });
});
