import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeWav } from '@recurrent/audio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messages, run } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'speech-bad-'));
const data = join(dir, 'digits');
const own = join(dir, 'own');
beforeAll(async () => {
  const synth = await run(['synth', '--out', data, '--train', '24', '--validation', '6', '--test', '6', '--noise', '0', '--seed', '3']);
  expect(synth.code, synth.stderr).toBe(0);
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

/**
 * Bad input that does not fit the one-case-one-line bad-input corpus (tests/bad-input, where bad
 * WAVs, transcripts, model folders, flags and output paths are checked message by message):
 * --skip-bad going on past every bad file, and sizes beyond this machine's memory.
 */
describe('speech, given bad input', () => {
  it('--find-lr runs the learning-rate range test on the files that are good, instead of training', async () => {
    const result = await run(['train', '--data', own, '--out', join(dir, 'lr'), '--skip-bad', '--batch-size', '4', '--hidden', '8', '--layers', '1', '--find-lr', '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ svg: join(dir, 'lr', 'run', 'lr-find.svg'), steps: expect.any(Number) });
    expect(existsSync(join(dir, 'lr', 'model.safetensors'))).toBe(false);
  });

  it('--skip-bad lists every bad file and trains on the rest', async () => {
    const result = await run(['train', '--data', own, '--out', join(dir, 'm3'), '--skip-bad', '--epochs', '1', '--batch-size', '4', '--hidden', '8', '--layers', '1', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const skipped = messages(result.stderr).filter((line) => line.startsWith('speech: skipped: '));
    expect(skipped.map((line) => line.match(/(\S+\.wav)/)![1]).sort()).toEqual(['cut.wav', 'empty.wav', 'notes.wav', 'silence.wav', 'zero-rate.wav'].map((name) => join(own, name)).sort());
    expect(result.stderr).toContain('5 bad files left out');
  });

  it('sizes beyond memory end in one line naming the flags that size it', async () => {
    await refuses(['train', '--data', data, '--out', join(dir, 'huge'), '--hidden', '65536', '--batch-size', '8'], /out of memory \(.*\); .*lower --batch-size, --hidden, --layers/);
  });
});
