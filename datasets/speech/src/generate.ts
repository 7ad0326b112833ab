/** Generates a synthetic speech dataset on disk: WAV files, transcripts and a manifest. */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { addNoise, resample, writeWav } from '@recurrent/audio';
import { mulberry32 } from '@recurrent/core';
import { writeFileAtomic } from '@recurrent/core/io';
import { SpeechDataError } from './errors.js';
import { createSynthesizer, ESPEAK_PACKAGE, ESPEAK_SAMPLE_RATE, espeakVersion, type Synthesizer } from './synthesizer.js';
import { splitVoices, type HoldOut, type SpeakerVoice } from './voices.js';
import { DIGIT_WORDS, WORDS } from './words.js';

export type SpeechTask = 'digits' | 'words';
export type SplitName = 'train' | 'validation' | 'test';
export const SPLITS: readonly SplitName[] = ['train', 'validation', 'test'];

/** Utterances per eSpeak instance: each block of a split starts a fresh, freshly seeded instance. */
export const BLOCK_SIZE = 1000;

export interface NoiseOptions {
  /** Chance that an utterance gets white noise, 0..1. */
  probability: number;
  /** The signal-to-noise ratio in dB, uniform in [min, max] (rounded to 0.1 dB). */
  snrDb: [number, number];
}

export interface GenerateProgress {
  split: SplitName;
  /** Utterances of this split written so far. */
  done: number;
  /** Utterances in this split. */
  total: number;
  /** Utterances of all splits written so far, and in all. */
  overallDone: number;
  overallTotal: number;
}

export interface GenerateOptions {
  task: SpeechTask;
  /** The dataset folder: new, empty, or holding a dataset from this function. */
  dir: string;
  /** Utterances per split (whole numbers >= 0). */
  train: number;
  validation: number;
  test: number;
  /** Seeds everything: the voice split, the texts, voices, rates, pitches, silences, noise and eSpeak's own noise (default 42). */
  seed?: number;
  /** Output rate in Hz (default 16000); eSpeak's 22,050 Hz is resampled with `resample` from @recurrent/audio. */
  sampleRate?: number;
  /** White noise for some utterances (default none). */
  noise?: NoiseOptions;
  /** How voices are held out of training (default 'voice'); see `splitVoices`. */
  holdOut?: HoldOut;
  /** Speaking rate in words per minute, uniform whole numbers in [min, max] (default [120, 260]; eSpeak allows 80..450). */
  rate?: [number, number];
  /** eSpeak pitch, uniform whole numbers in [min, max] (default [20, 80]; eSpeak allows 0..99). */
  pitch?: [number, number];
  /** Silence added before and, drawn again, after the speech, whole ms uniform in [min, max] (default [0, 200]). */
  silenceMs?: [number, number];
  /** Digits (task 'digits', default [1, 7]) or words (task 'words', default [1, 3]) per utterance, uniform in [min, max]. */
  length?: [number, number];
  /**
   * When `dir` holds a dataset made with other options (or another eSpeak package version),
   * delete its splits and manifest and generate anew instead of refusing. A dataset with the same
   * options is returned as it is, with or without this flag.
   */
  overwrite?: boolean;
  /** Called after each utterance is written. */
  onProgress?: (progress: GenerateProgress) => void;
}

/** The options that decide the data, as stored in the manifest and compared for the cache. */
export interface GenerationSettings {
  task: SpeechTask;
  train: number;
  validation: number;
  test: number;
  seed: number;
  sampleRate: number;
  noise: NoiseOptions | null;
  holdOut: HoldOut;
  rate: [number, number];
  pitch: [number, number];
  silenceMs: [number, number];
  length: [number, number];
}

export interface SplitSummary {
  utterances: number;
  /** Total duration of the split's WAV files. */
  seconds: number;
  /** The split's transcript, relative to the dataset folder: `<split>/transcript.tsv`. */
  transcript: string;
  /** The speakers this split draws from (not necessarily all used when it is small). */
  voices: string[];
}

export interface SpeechManifest {
  format: 1;
  generator: '@recurrent/datasets-speech';
  espeak: { package: string; version: string };
  options: GenerationSettings;
  splits: Record<SplitName, SplitSummary>;
  utterances: number;
  totalSeconds: number;
}

const MANIFEST = 'manifest.json';
/** Present while a generation runs: a folder with it and without a manifest was interrupted. */
const MARKER = '.generating';

function wholeNumber(value: unknown, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`generateSpeechDataset: ${name} must be a whole number from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

function range(value: unknown, name: string, min: number, max: number, integer: boolean): [number, number] {
  const ok = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x) && x >= min && x <= max && (!integer || Number.isInteger(x));
  if (!Array.isArray(value) || value.length !== 2 || !ok(value[0]) || !ok(value[1]) || value[0] > value[1]) {
    throw new RangeError(`generateSpeechDataset: ${name} must be [min, max] with ${integer ? 'whole numbers ' : ''}${min} <= min <= max <= ${max}, got ${JSON.stringify(value)}`);
  }
  return [value[0], value[1]];
}

/** Checks the options and fills in the defaults. */
export function generationSettings(options: GenerateOptions): GenerationSettings {
  const task = options.task;
  if (task !== 'digits' && task !== 'words') throw new RangeError(`generateSpeechDataset: task must be 'digits' or 'words', got ${String(task)}`);
  const holdOut = options.holdOut ?? 'voice';
  if (holdOut !== 'voice' && holdOut !== 'variant') throw new RangeError(`generateSpeechDataset: holdOut must be 'voice' or 'variant', got ${String(holdOut)}`);
  let noise: NoiseOptions | null = null;
  if (options.noise !== undefined) {
    const { probability, snrDb } = options.noise;
    if (typeof probability !== 'number' || !(probability >= 0 && probability <= 1)) {
      throw new RangeError(`generateSpeechDataset: noise.probability must be a number from 0 to 1, got ${String(probability)}`);
    }
    noise = { probability, snrDb: range(snrDb, 'noise.snrDb', -20, 100, false) };
  }
  return {
    task,
    train: wholeNumber(options.train, 'train', 0),
    validation: wholeNumber(options.validation, 'validation', 0),
    test: wholeNumber(options.test, 'test', 0),
    seed: wholeNumber(options.seed ?? 42, 'seed', 0, 0xffffffff),
    sampleRate: wholeNumber(options.sampleRate ?? 16000, 'sampleRate', 4000, 192000),
    noise,
    holdOut,
    rate: range(options.rate ?? [120, 260], 'rate', 80, 450, true),
    pitch: range(options.pitch ?? [20, 80], 'pitch', 0, 99, true),
    silenceMs: range(options.silenceMs ?? [0, 200], 'silenceMs', 0, 10000, true),
    length: range(options.length ?? (task === 'digits' ? [1, 7] : [1, 3]), 'length', 1, 50, true),
  };
}

/** A 32-bit seed derived from `seed` and a path of small numbers (split, block, purpose). */
function deriveSeed(seed: number, ...path: number[]): number {
  let state = seed >>> 0;
  for (const part of path) state = Math.floor(mulberry32((state ^ Math.imul(part + 1, 0x9e3779b1)) >>> 0)() * 2 ** 32);
  return state;
}

/** One utterance's recipe: everything but the audio. */
export interface UtterancePlan {
  id: string;
  text: string;
  voice: string;
  rate: number;
  pitch: number;
  leadMs: number;
  trailMs: number;
  /** The SNR of the added noise, or null for none. */
  snrDb: number | null;
}

/**
 * The recipes of one split, drawn from mulberry32(seed derived for the split). Each utterance
 * draws, in order: its length, its digits or words, the voice (uniform over the split's voices),
 * rate, pitch, leading and trailing silence, a noise chance and an SNR; the last two are drawn
 * even without noise, so turning noise on or off changes no text, voice or rate.
 */
export function planSplit(settings: GenerationSettings, split: SplitName, voices: readonly SpeakerVoice[]): UtterancePlan[] {
  const count = settings[split];
  if (count > 0 && voices.length === 0) throw new RangeError(`generateSpeechDataset: the ${split} split has no voices`);
  const random = mulberry32(deriveSeed(settings.seed, SPLITS.indexOf(split), 0));
  const between = ([min, max]: [number, number]) => min + Math.min(max - min, Math.floor(random() * (max - min + 1)));
  const width = Math.max(6, String(count - 1).length);
  const plans: UtterancePlan[] = [];
  for (let i = 0; i < count; i++) {
    const n = between(settings.length);
    const items: string[] = [];
    for (let k = 0; k < n; k++) {
      items.push(settings.task === 'digits' ? DIGIT_WORDS[between([0, 9])]! : WORDS[between([0, WORDS.length - 1])]!);
    }
    const voice = voices[between([0, voices.length - 1])]!.id;
    const rate = between(settings.rate);
    const pitch = between(settings.pitch);
    const leadMs = between(settings.silenceMs);
    const trailMs = between(settings.silenceMs);
    const chance = random();
    const snr = random();
    let snrDb: number | null = null;
    if (settings.noise && chance < settings.noise.probability) {
      const [low, high] = settings.noise.snrDb;
      snrDb = Math.round((low + snr * (high - low)) * 10) / 10;
    }
    plans.push({ id: String(i).padStart(width, '0'), text: items.join(' '), voice, rate, pitch, leadMs, trailMs, snrDb });
  }
  return plans;
}

/** Synthesises one planned utterance at `sampleRate`, ready to write. */
function render(synthesizer: Synthesizer, plan: UtterancePlan, sampleRate: number, noiseRandom: () => number): Float32Array {
  const speech = synthesizer.speak(plan.text, { voice: plan.voice, rate: plan.rate, pitch: plan.pitch });
  const voiced = resample(speech.samples, ESPEAK_SAMPLE_RATE, sampleRate);
  const lead = Math.round((plan.leadMs * sampleRate) / 1000);
  const trail = Math.round((plan.trailMs * sampleRate) / 1000);
  let samples: Float32Array = new Float32Array(lead + voiced.length + trail);
  samples.set(voiced, lead);
  if (plan.snrDb !== null) samples = addNoise(samples, plan.snrDb, noiseRandom);
  // Keep clear of 16-bit clipping: scale down (never up) to a peak of 0.99.
  let peak = 0;
  for (let i = 0; i < samples.length; i++) peak = Math.max(peak, Math.abs(samples[i]!));
  if (peak > 0.99) for (let i = 0; i < samples.length; i++) samples[i]! *= 0.99 / peak;
  return samples;
}

function differences(stored: SpeechManifest, settings: GenerationSettings, version: string): string[] {
  const out: string[] = [];
  if (stored.format !== 1) out.push(`manifest format ${String(stored.format)} -> 1`);
  if (stored.espeak?.version !== version) out.push(`eSpeak package ${stored.espeak?.version} -> ${version}`);
  const keys = new Set([...Object.keys(stored.options ?? {}), ...Object.keys(settings)]) as Set<keyof GenerationSettings>;
  for (const key of keys) {
    const before = JSON.stringify(stored.options?.[key]);
    const after = JSON.stringify(settings[key]);
    if (before !== after) out.push(`${key} ${before ?? 'unset'} -> ${after ?? 'unset'}`);
  }
  return out;
}

function readManifest(file: string): SpeechManifest {
  let manifest: SpeechManifest;
  try {
    manifest = JSON.parse(readFileSync(file, 'utf8')) as SpeechManifest;
  } catch (error) {
    throw new SpeechDataError(`${file}: cannot read it as a dataset manifest (${(error as Error).message}); delete the folder's contents or choose another folder`);
  }
  if (manifest?.generator !== '@recurrent/datasets-speech') {
    throw new SpeechDataError(`${file}: not a manifest of @recurrent/datasets-speech; choose another folder`);
  }
  return manifest;
}

/** Deletes what a generation writes (and nothing else in the folder). */
function clean(dir: string): void {
  for (const split of SPLITS) rmSync(join(dir, split), { recursive: true, force: true });
  for (const name of readdirSync(dir)) {
    if (name === MANIFEST || name === MARKER || name.startsWith(`${MANIFEST}.tmp-`)) rmSync(join(dir, name), { force: true });
  }
}

const tsvField = (value: string) => value.replace(/[\t\r\n]+/g, ' ');

/**
 * Generates (or finds) a dataset in `dir`:
 * `dir/<split>/<id>.wav` (mono 16-bit PCM at `sampleRate`), `dir/<split>/transcript.tsv`
 * (`<id>.wav<TAB>text` lines, readable by `readTranscript`), `dir/<split>/metadata.tsv` (each
 * utterance's voice, rate, pitch, silences and SNR) and, last, `dir/manifest.json`.
 *
 * - If `dir/manifest.json` exists with the same settings and eSpeak package version, it is
 *   returned and nothing is written. With other settings, a SpeechDataError lists the differences,
 *   unless `overwrite: true`.
 * - Each file is written atomically and the manifest last, so an interrupted generation leaves no
 *   manifest; the next call finds the `.generating` marker and starts again from scratch.
 * - A folder that is not empty and holds neither a manifest nor the marker is refused, so that
 *   nothing of the user's is deleted.
 *
 * Deterministic: the same settings give the same texts, voices, rates and byte-identical WAV files
 * (each block of BLOCK_SIZE utterances of a split is spoken by a fresh eSpeak instance with a
 * derived seed). Each split has its own generators, so changing one split's size changes nothing
 * in the others.
 */
export async function generateSpeechDataset(options: GenerateOptions): Promise<SpeechManifest> {
  const settings = generationSettings(options);
  if (typeof options.dir !== 'string' || options.dir === '') throw new RangeError('generateSpeechDataset: dir must be a folder path');
  const dir = resolve(options.dir);
  const version = espeakVersion();
  const manifestFile = join(dir, MANIFEST);

  if (existsSync(manifestFile)) {
    const stored = readManifest(manifestFile);
    const changed = differences(stored, settings, version);
    if (changed.length === 0) {
      rmSync(join(dir, MARKER), { force: true }); // left over if a run stopped right after writing the manifest
      return stored;
    }
    if (!options.overwrite) {
      throw new SpeechDataError(
        `${dir}: holds a speech dataset made with other options (${changed.join('; ')}); pass overwrite: true to replace it, or choose another folder`,
      );
    }
    clean(dir);
  } else if (existsSync(dir)) {
    const entries = readdirSync(dir);
    if (entries.includes(MARKER)) clean(dir);
    else if (entries.length > 0) {
      throw new SpeechDataError(`${dir}: the folder is not empty and holds no manifest.json from this generator; choose a new or empty folder`);
    }
  }
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(join(dir, MARKER), [`${JSON.stringify({ options: settings, espeak: version }, null, 2)}\n`]);

  const voiceSplit = splitVoices(settings.seed, settings.holdOut);
  const overallTotal = settings.train + settings.validation + settings.test;
  let overallDone = 0;
  const summaries = {} as Record<SplitName, SplitSummary>;
  for (const [splitIndex, split] of SPLITS.entries()) {
    const voices = voiceSplit[split];
    const plans = planSplit(settings, split, voices);
    const folder = join(dir, split);
    mkdirSync(folder, { recursive: true });
    const transcript: string[] = [];
    const metadata: string[] = ['file\ttext\tvoice\trate\tpitch\tlead_ms\ttrail_ms\tsnr_db\tseconds'];
    let samplesWritten = 0;
    let synthesizer: Synthesizer | undefined;
    let noiseRandom: () => number = () => 0; // replaced at the first block
    for (const [index, plan] of plans.entries()) {
      if (index % BLOCK_SIZE === 0) {
        const block = index / BLOCK_SIZE;
        synthesizer = await createSynthesizer({ seed: deriveSeed(settings.seed, splitIndex, block + 1) & 0x7fffffff });
        noiseRandom = mulberry32(deriveSeed(settings.seed, splitIndex, block + 1, 1));
      }
      const samples = render(synthesizer!, plan, settings.sampleRate, noiseRandom);
      const name = `${plan.id}.wav`;
      writeWav(join(folder, name), samples, settings.sampleRate);
      samplesWritten += samples.length;
      const seconds = (samples.length / settings.sampleRate).toFixed(3);
      transcript.push(`${name}\t${tsvField(plan.text)}`);
      metadata.push([name, plan.text, plan.voice, plan.rate, plan.pitch, plan.leadMs, plan.trailMs, plan.snrDb ?? '', seconds].join('\t'));
      overallDone++;
      options.onProgress?.({ split, done: index + 1, total: plans.length, overallDone, overallTotal });
      if (index % 50 === 49) await new Promise((next) => setImmediate(next)); // let timers and I/O callbacks run
    }
    writeFileAtomic(join(folder, 'transcript.tsv'), [transcript.map((line) => `${line}\n`).join('')]);
    writeFileAtomic(join(folder, 'metadata.tsv'), [metadata.map((line) => `${line}\n`).join('')]);
    summaries[split] = {
      utterances: plans.length,
      seconds: Math.round((samplesWritten / settings.sampleRate) * 1000) / 1000,
      transcript: `${split}/transcript.tsv`,
      voices: voices.map((voice) => voice.id),
    };
  }
  const manifest: SpeechManifest = {
    format: 1,
    generator: '@recurrent/datasets-speech',
    espeak: { package: ESPEAK_PACKAGE, version },
    options: settings,
    splits: summaries,
    utterances: overallTotal,
    totalSeconds: Math.round(SPLITS.reduce((sum, split) => sum + summaries[split].seconds, 0) * 1000) / 1000,
  };
  writeFileAtomic(manifestFile, [`${JSON.stringify(manifest, null, 2)}\n`]);
  rmSync(join(dir, MARKER), { force: true });
  return manifest;
}
