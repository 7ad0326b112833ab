/**
 * Utterances for training and evaluation: WAV files and their transcripts, read into normalised
 * log-mel features. The data come from a folder made by `speech synth` (train/, validation/,
 * test/ each with transcript.tsv) or from the user's own transcript file (`file<TAB>text` lines,
 * or a Common Voice CSV with path and sentence columns) naming WAVs relative to it.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AudioError, isSilent, logMelSpectrogram, normalizeFeatures, readWav } from '@recurrent/audio';
import { mulberry32 } from '@recurrent/core';
import { InputError } from '@recurrent/train';
import { normaliseTranscript } from './labels.js';
import { readTranscript } from './transcript.js';

/** How audio becomes model input; stored in config.json so eval and label compute the same. */
export interface FeatureSettings {
  readonly sampleRate: number;
  readonly melBins: number;
  readonly frameMs: number;
  readonly hopMs: number;
}

export const DEFAULT_FEATURES: FeatureSettings = { sampleRate: 16_000, melBins: 40, frameMs: 25, hopMs: 10 };

export interface Utterance {
  readonly file: string;
  /** Where it was listed (transcript.tsv:12), or the file itself. */
  readonly where: string;
  /** Normalised transcript (lower case, single spaces); '' when unknown (labelling). */
  readonly text: string;
  /** [frames, melBins], each bin normalised over the utterance. */
  readonly features: Float32Array;
  readonly frames: number;
  readonly seconds: number;
}

/** Normalised log-mel features of one WAV file. Throws AudioError for a bad or silent file. */
export function audioFeatures(file: string, settings: FeatureSettings): { features: Float32Array; frames: number; seconds: number } {
  const audio = readWav(file, { sampleRate: settings.sampleRate });
  if (audio.samples.length === 0) throw new AudioError(`${file}: no audio samples (zero length); record or export the audio again`);
  if (isSilent(audio.samples)) throw new AudioError(`${file}: silent (below -60 dBFS throughout); check the recording level or the file`);
  const { features, frames } = logMelSpectrogram(audio.samples, settings.sampleRate, { melBins: settings.melBins, frameMs: settings.frameMs, hopMs: settings.hopMs });
  normalizeFeatures(features, settings.melBins);
  return { features, frames, seconds: audio.durationSeconds };
}

export interface LoadOptions {
  readonly features: FeatureSettings;
  /** List bad files on stderr and leave them out, instead of stopping at the first. */
  readonly skipBad: boolean;
  /** Called with a line for each file left out under skipBad. */
  readonly warn?: (line: string) => void;
  /** Read at most this many entries (after any shuffle the caller did). */
  readonly limit?: number;
}

export interface Entry {
  readonly file: string;
  readonly text: string;
  /** Where the entry was listed, for messages: transcript.tsv:12. */
  readonly where: string;
}

/** The entries of a transcript file, every named WAV checked to exist. */
export function transcriptEntries(transcript: string): Entry[] {
  const rows = readTranscript(transcript);
  if (rows.length === 0) throw new InputError(`${transcript}: no transcribed files; give lines of file<TAB>text`);
  return rows.map((row) => ({ file: row.file, text: normaliseTranscript(row.text), where: `${transcript}:${row.line}` }));
}

/** Reads the WAVs of `entries` into features; bad files stop the load, or are listed and skipped. */
export function loadUtterances(entries: readonly Entry[], options: LoadOptions): { utterances: Utterance[]; skipped: string[] } {
  const utterances: Utterance[] = [];
  const skipped: string[] = [];
  for (const entry of options.limit === undefined ? entries : entries.slice(0, options.limit)) {
    try {
      if (!existsSync(entry.file)) throw new InputError(`${entry.where}: ${entry.file} does not exist; fix the path (relative to the transcript's folder) or remove the line`);
      const { features, frames, seconds } = audioFeatures(entry.file, options.features);
      utterances.push({ file: entry.file, where: entry.where, text: entry.text, features, frames, seconds });
    } catch (error) {
      if (!(error instanceof AudioError || error instanceof InputError)) throw error;
      if (!options.skipBad) throw new InputError(`${error.message} (or pass --skip-bad to list and leave out bad files)`);
      skipped.push(error.message);
      options.warn?.(`skipped: ${error.message}`);
    }
  }
  return { utterances, skipped };
}

export type Split = 'train' | 'validation' | 'test';

/**
 * The transcript entries of a data source for a split. `source` is a folder made by `speech synth`
 * (its <split>/transcript.tsv), a folder holding transcript.tsv or transcript.csv, or a transcript
 * file. Own data has no split: for training, a seeded 10% (at least 1) is held out for validation;
 * `test` reads it whole.
 */
export function entriesFor(source: string, split: Split, seed: number): Entry[] {
  if (!existsSync(source)) throw new InputError(`${source}: no such file or folder; give a folder made by \`speech synth\` or a transcript file (file<TAB>text lines)`);
  if (statSync(source).isDirectory()) {
    const splitTranscript = join(source, split, 'transcript.tsv');
    if (existsSync(join(source, 'manifest.json')) || existsSync(splitTranscript)) {
      if (!existsSync(splitTranscript)) throw new InputError(`${source}: no ${split}/transcript.tsv; generate the data again with \`speech synth --out ${source}\``);
      return transcriptEntries(splitTranscript);
    }
    const own = ['transcript.tsv', 'transcript.csv', 'metadata.csv'].map((name) => join(source, name)).find((path) => existsSync(path));
    if (own === undefined) throw new InputError(`${source}: no transcript.tsv (file<TAB>text lines) or transcript.csv (path,sentence columns) in this folder; add one naming its WAV files`);
    return ownSplit(transcriptEntries(own), split, seed);
  }
  return ownSplit(transcriptEntries(source), split, seed);
}

function ownSplit(entries: Entry[], split: Split, seed: number): Entry[] {
  if (split === 'test') return entries;
  const random = mulberry32(seed + 7919);
  const order = entries.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const held = Math.max(1, Math.round(entries.length * 0.1));
  if (entries.length < 2) throw new InputError(`${entries[0]?.where.replace(/:\d+$/, '') ?? 'transcript'}: only ${entries.length} file; training needs at least 2 (one is held out for validation)`);
  const chosen = split === 'validation' ? order.slice(0, held) : order.slice(held);
  return chosen.sort((a, b) => a - b).map((i) => entries[i]!);
}
