import { existsSync, mkdirSync, mkdtempSync, rmSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { isSilent, readWav } from '@recurrent/audio';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DIGIT_WORDS, espeakVersion, generateSpeechDataset, planSplit, generationSettings, SPLITS, SpeechDataError, splitVoices, WORDS,
  type GenerateOptions,
} from '../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'speech-generate-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const base = { task: 'digits', train: 6, validation: 2, test: 2, seed: 7, noise: { probability: 0.5, snrDb: [10, 30] } } satisfies Omit<GenerateOptions, 'dir'>;
/** The generator's transcript.tsv: `file<TAB>text` lines, files relative to the split folder. */
const readTranscript = (file: string) =>
  readFileSync(file, 'utf8').trim().split('\n').map((line) => {
    const [name, text] = line.split('\t') as [string, string];
    return { file: join(dirname(file), name), text };
  });
const filesOf = (dir: string) =>
  SPLITS.flatMap((split) => readdirSync(join(dir, split)).sort().map((name) => `${split}/${name}`)).concat('manifest.json');
const metadata = (dir: string, split: string) =>
  readFileSync(join(dir, split, 'metadata.tsv'), 'utf8').trim().split('\n').slice(1).map((line) => line.split('\t'));

describe('generateSpeechDataset', () => {
  const first = join(root, 'first');
  let progress = 0;
  const manifest = generateSpeechDataset({ ...base, dir: first, onProgress: () => progress++ });

  it('writes WAVs, transcripts, metadata and a manifest', async () => {
    const m = await manifest;
    expect(progress).toBe(10);
    expect(m.utterances).toBe(10);
    expect(m.espeak).toEqual({ package: '@echogarden/espeak-ng-emscripten', version: espeakVersion() });
    expect(m.options).toEqual({ ...base, sampleRate: 16000, holdOut: 'voice', rate: [120, 260], pitch: [20, 80], silenceMs: [0, 200], length: [1, 7] });
    expect(existsSync(join(first, '.generating'))).toBe(false);
    expect(JSON.parse(readFileSync(join(first, 'manifest.json'), 'utf8'))).toEqual(m);
    let seconds = 0;
    for (const split of SPLITS) {
      const entries = readTranscript(join(first, split, 'transcript.tsv'));
      expect(entries.length).toBe(m.options[split]);
      expect(m.splits[split].utterances).toBe(entries.length);
      for (const entry of entries) {
        expect(entry.text).toMatch(new RegExp(`^(${DIGIT_WORDS.join('|')})( (${DIGIT_WORDS.join('|')})){0,6}$`));
        const audio = readWav(entry.file);
        expect(audio.sampleRate).toBe(16000);
        expect(audio.sourceFormat.bitDepth).toBe('16');
        expect(isSilent(audio.samples, -45)).toBe(false);
        // about 0.2 s to 0.65 s per digit, plus up to 0.4 s of added silence
        const digits = entry.text.split(' ').length;
        expect(audio.durationSeconds).toBeGreaterThan(0.15 * digits);
        expect(audio.durationSeconds).toBeLessThan(0.8 * digits + 0.8);
        seconds += audio.durationSeconds;
      }
      const rows = metadata(first, split);
      expect(rows.map((row) => row[0])).toEqual(entries.map((entry) => entry.file.slice(join(first, split).length + 1)));
      for (const row of rows) expect(m.splits[split].voices).toContain(row[2]);
    }
    expect(m.totalSeconds).toBeCloseTo(seconds, 2);
    const noisy = SPLITS.flatMap((split) => metadata(first, split)).filter((row) => row[7] !== '');
    expect(noisy.length).toBeGreaterThan(0);
    expect(noisy.length).toBeLessThan(10);
  });

  it('draws each split from its own voices, which never overlap', async () => {
    const m = await manifest;
    const split = splitVoices(7);
    expect(m.splits.test.voices).toEqual(split.test.map((voice) => voice.id));
    expect(m.splits.train.voices.filter((voice) => m.splits.test.voices.includes(voice))).toEqual([]);
    expect(m.splits.train.voices.filter((voice) => m.splits.validation.voices.includes(voice))).toEqual([]);
    expect(m.splits.validation.voices.filter((voice) => m.splits.test.voices.includes(voice))).toEqual([]);
  });

  it('is deterministic: the same seed gives byte-identical files; one split size changes no other split', async () => {
    await manifest;
    const second = join(root, 'second');
    await generateSpeechDataset({ ...base, dir: second });
    expect(filesOf(second)).toEqual(filesOf(first));
    for (const file of filesOf(first)) expect(readFileSync(join(second, file)).equals(readFileSync(join(first, file))), file).toBe(true);
    const bigger = join(root, 'bigger');
    await generateSpeechDataset({ ...base, train: 3, dir: bigger });
    for (const file of filesOf(first).filter((name) => name.startsWith('test/'))) {
      expect(readFileSync(join(bigger, file)).equals(readFileSync(join(first, file))), file).toBe(true);
    }
    const plans = (seed: number) => planSplit(generationSettings({ ...base, seed, dir: '' }), 'train', splitVoices(seed).train);
    expect(plans(8)).not.toEqual(plans(7));
    // noise on or off changes no text, voice or rate
    const quiet = planSplit(generationSettings({ ...base, noise: undefined, dir: '' }), 'train', splitVoices(7).train);
    expect(quiet.map(({ snrDb, ...rest }) => rest)).toEqual(plans(7).map(({ snrDb, ...rest }) => rest));
  });

  it('returns a matching dataset without regenerating it, and refuses other options unless overwrite', async () => {
    const m = await manifest;
    const wav = join(first, 'train', '000000.wav');
    const before = statSync(wav).mtimeMs;
    let calls = 0;
    const again = await generateSpeechDataset({ ...base, dir: first, onProgress: () => calls++ });
    expect(again).toEqual(m);
    expect(calls).toBe(0);
    expect(statSync(wav).mtimeMs).toBe(before);

    const other = { ...base, dir: first, seed: 8, train: 2 };
    await expect(generateSpeechDataset(other)).rejects.toThrow(SpeechDataError);
    await expect(generateSpeechDataset(other)).rejects.toThrow(
      `${first}: holds a speech dataset made with other options (train 6 -> 2; seed 7 -> 8); pass overwrite: true to replace it, or choose another folder`,
    );
    const replaced = await generateSpeechDataset({ ...other, overwrite: true });
    expect(replaced.options.seed).toBe(8);
    expect(readdirSync(join(first, 'train')).filter((name) => name.endsWith('.wav'))).toEqual(['000000.wav', '000001.wav']);
  });

  it('redoes an interrupted generation and refuses a foreign folder', async () => {
    const dir = join(root, 'interrupted');
    const options = { ...base, task: 'words', train: 3, validation: 1, test: 1, noise: undefined } as const;
    let written = 0;
    await expect(
      generateSpeechDataset({ ...options, dir, onProgress: () => {
        if (++written === 2) throw new Error('power cut');
      } }),
    ).rejects.toThrow('power cut');
    expect(existsSync(join(dir, 'manifest.json'))).toBe(false);
    expect(existsSync(join(dir, '.generating'))).toBe(true);
    const m = await generateSpeechDataset({ ...options, dir });
    expect(m.utterances).toBe(5);
    for (const split of SPLITS) {
      for (const entry of readTranscript(join(dir, split, 'transcript.tsv'))) {
        const words = entry.text.split(' ');
        expect(words.length).toBeGreaterThanOrEqual(1);
        expect(words.length).toBeLessThanOrEqual(3);
        for (const word of words) expect(WORDS).toContain(word);
      }
    }

    const foreign = join(root, 'foreign');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'notes.txt'), 'mine');
    await expect(generateSpeechDataset({ ...base, dir: foreign })).rejects.toThrow(
      `${foreign}: the folder is not empty and holds no manifest.json from this generator; choose a new or empty folder`,
    );
    expect(readdirSync(foreign)).toEqual(['notes.txt']);
  });

  it('checks its options', async () => {
    const dir = join(root, 'unused');
    await expect(generateSpeechDataset({ ...base, dir, task: 'letters' as never })).rejects.toThrow("task must be 'digits' or 'words'");
    await expect(generateSpeechDataset({ ...base, dir, train: 1.5 })).rejects.toThrow('train must be a whole number from 0');
    await expect(generateSpeechDataset({ ...base, dir, rate: [60, 200] })).rejects.toThrow('rate must be [min, max] with whole numbers 80 <= min <= max <= 450, got [60,200]');
    await expect(generateSpeechDataset({ ...base, dir, noise: { probability: 2, snrDb: [0, 10] } })).rejects.toThrow('noise.probability must be a number from 0 to 1');
    expect(existsSync(dir)).toBe(false);
  });
});
