/** Batches, CTC training, transcription with token times, and error rates of the speech model. */
import { join } from 'node:path';
import { specAugment } from '@recurrent/audio';
import { Adam, ctcGreedyDecode, ctcLoss, ctcPrefixBeamSearch, loadStateDictFile, mulberry32, type Backend, type Tensor } from '@recurrent/core';
import type { Section } from '@recurrent/plot';
import { bucketBatches, errorRate } from '@recurrent/text';
import { epochSchedule, InputError, train, type ScheduleKind, type TrainingSummary } from '@recurrent/train';
import type { FeatureSettings, Utterance } from './data.js';
import { saveModelFolder } from './folder.js';
import { BLANK, LabelSet, split, type LabelUnit } from './labels.js';
import { batchInput, SpeechModel, type SpeechConfig } from './model.js';

export interface Batch {
  readonly input: Tensor; // [T', B, stack x melBins]
  readonly lengths: number[];
  readonly targets: number[][];
}

/** The fewest steps CTC needs for a target: one per label, plus a blank between repeated labels. */
export function minimumSteps(target: readonly number[]): number {
  let steps = target.length;
  for (let i = 1; i < target.length; i++) if (target[i] === target[i - 1]) steps++;
  return steps;
}

export interface Augmentation {
  /** SpecAugment time masks per utterance (and the widest, in frames). */
  readonly timeMasks: number;
  readonly timeMaskMax: number;
  readonly freqMasks: number;
  readonly freqMaskMax: number;
}

export function makeBatches(utterances: readonly Utterance[], targets: readonly number[][], model: SpeechModel, batchSize: number, options: { shuffle: boolean; seed: number; dropLast?: boolean; augment?: Augmentation }): Batch[] {
  const { melBins, stack } = model.config;
  const random = mulberry32(options.seed + 104_729);
  return bucketBatches(utterances.map((u) => u.frames), { batchSize, shuffle: options.shuffle, seed: options.seed, dropLast: options.dropLast ?? false }).map((indices) => {
    const items = indices.map((i) => {
      const u = utterances[i]!;
      if (!options.augment) return u;
      return { frames: u.frames, features: specAugment(u.features, u.frames, melBins, random, { ...options.augment, timeMaskMax: Math.min(options.augment.timeMaskMax, Math.floor(u.frames / 5)) }) };
    });
    const { input, lengths } = batchInput(items, melBins, stack);
    return { input, lengths, targets: indices.map((i) => targets[i]!) };
  });
}

export async function batchLoss(model: SpeechModel, batch: Batch, backend: Backend): Promise<Tensor> {
  const logProbs = await model.forward(batch.input, batch.lengths);
  return ctcLoss(logProbs, batch.targets, batch.lengths, undefined, { blank: BLANK, reduction: 'mean', zeroInfinity: true, backend });
}

/** One recognised label with its time in the audio. */
export interface TimedToken {
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

export interface Transcription {
  readonly text: string;
  /** Each emitted label (character or word), with start and end in seconds. */
  readonly tokens: TimedToken[];
  /** Words (characters grouped at spaces) with their times. */
  readonly words: TimedToken[];
  /** [steps, outputs] log-probabilities, kept when asked (plots). */
  readonly logProbs?: Float32Array;
  readonly steps: number;
  readonly stepSeconds: number;
}

export interface DecodeSettings {
  /** 1: greedy; more: prefix beam search. */
  readonly beam: number;
  readonly batchSize: number;
  readonly keepPosteriors?: boolean;
}

/** Groups character tokens into words at spaces (word tokens are words already). */
function wordsOf(tokens: readonly TimedToken[], unit: LabelUnit): TimedToken[] {
  if (unit === 'words') return [...tokens];
  const words: TimedToken[] = [];
  let current: { text: string; start: number; end: number } | undefined;
  for (const token of tokens) {
    if (token.text === ' ') {
      if (current) words.push(current);
      current = undefined;
    } else if (current) {
      current.text += token.text;
      current.end = token.end;
    } else {
      current = { ...token };
    }
  }
  if (current) words.push(current);
  return words;
}

/** Transcribes utterances in batches of similar length; results in the order given. */
export async function transcribe(model: SpeechModel, labels: LabelSet, utterances: readonly Utterance[], features: FeatureSettings, settings: DecodeSettings): Promise<Transcription[]> {
  model.eval();
  const { melBins, stack, outputs: C } = model.config;
  const stepSeconds = (stack * Math.round((features.hopMs * features.sampleRate) / 1000)) / features.sampleRate;
  const results: Transcription[] = new Array(utterances.length);
  for (const indices of bucketBatches(utterances.map((u) => u.frames), { batchSize: settings.batchSize, shuffle: false, seed: 0 })) {
    const { input, lengths } = batchInput(indices.map((i) => utterances[i]!), melBins, stack);
    const logProbs = await model.forward(input, lengths);
    const B = indices.length;
    indices.forEach((index, b) => {
      const T = lengths[b]!;
      const rows = new Float32Array(T * C);
      for (let t = 0; t < T; t++) rows.set(logProbs.data.subarray((t * B + b) * C, (t * B + b + 1) * C), t * C);
      const decoded = settings.beam > 1 ? ctcPrefixBeamSearch(rows, T, C, { beamWidth: settings.beam, blank: BLANK })[0]! : ctcGreedyDecode(rows, T, C, { blank: BLANK });
      const tokens = decoded.spans.map((span) => ({ text: labels.text(span.token), start: span.start * stepSeconds, end: span.end * stepSeconds }));
      results[index] = {
        text: labels.decode(decoded.tokens).trim(), tokens, words: wordsOf(tokens, labels.unit), steps: T, stepSeconds,
        ...(settings.keepPosteriors ? { logProbs: rows } : {}),
      };
    });
  }
  return results;
}

export interface Evaluation {
  /** Character error rate, 0-1 (edit distance over the reference's characters, spaces included). */
  readonly cer: number;
  /** Word error rate, 0-1. */
  readonly wer: number;
  readonly transcriptions: Transcription[];
}

export async function evaluate(model: SpeechModel, labels: LabelSet, utterances: readonly Utterance[], features: FeatureSettings, settings: DecodeSettings): Promise<Evaluation> {
  const transcriptions = await transcribe(model, labels, utterances, features, settings);
  const hypotheses = transcriptions.map((t) => t.text);
  const references = utterances.map((u) => u.text);
  return {
    cer: errorRate(hypotheses.map((h) => split(h, 'characters')), references.map((r) => [split(r, 'characters')])),
    wer: errorRate(hypotheses.map((h) => split(h, 'words')), references.map((r) => [split(r, 'words')])),
    transcriptions,
  };
}

export interface TrainOptions {
  readonly backend: Backend;
  readonly out: string;
  readonly train: readonly Utterance[];
  readonly validation: readonly Utterance[];
  readonly features: FeatureSettings;
  readonly unit: LabelUnit;
  readonly model: Omit<SpeechConfig, 'outputs' | 'melBins'>;
  readonly batchSize: number;
  readonly epochs: number;
  readonly lr: number;
  readonly schedule: ScheduleKind;
  readonly clipNorm: number;
  readonly augment: Augmentation | undefined;
  readonly patience?: number;
  /** Average the weights of the last this many epochs (TrainerOptions.averageLast). */
  readonly averageLast?: number;
  /** Batches whose gradients make one optimiser step (TrainerOptions.accumulate). Default 1. */
  readonly accumulate?: number;
  /** Run the learning-rate range test instead of training (TrainerOptions.findLr); nothing is written but run/lr-find.*. */
  readonly findLr?: boolean;
  readonly timeLimitSeconds?: number;
  readonly resume: boolean;
  readonly checkpointEvery: number;
  readonly progress: boolean;
  readonly signal?: AbortSignal;
  /** Where the data came from, kept in config.json. */
  readonly data: string;
  readonly reportSections?: (model: SpeechModel, labels: LabelSet) => Promise<Section[]>;
}

export interface TrainResult {
  readonly summary: TrainingSummary;
  readonly model: SpeechModel;
  readonly labels: LabelSet;
  /** Training utterances too short in steps for their transcripts (left out). */
  readonly tooShort: number;
}

/** Trains and writes the model folder `out` (the best model by validation CER); the run goes to out/run. */
export async function trainSpeech(options: TrainOptions): Promise<TrainResult> {
  const labels = LabelSet.build(options.train.map((u) => u.text), options.unit);
  if (labels.labels.length === 0) throw new InputError('the training transcripts are all empty; give each WAV its text');
  const config: SpeechConfig = { ...options.model, melBins: options.features.melBins, outputs: labels.size };
  const model = new SpeechModel(config).to(options.backend);
  const usable = (utterances: readonly Utterance[], where: string) => {
    const kept: Utterance[] = [];
    const targets: number[][] = [];
    for (const u of utterances) {
      const target = labels.encode(u.text, `${where} ${u.file}`);
      if (target.length === 0 || minimumSteps(target) > model.steps(u.frames)) continue;
      kept.push(u);
      targets.push(target);
    }
    return { kept, targets, dropped: utterances.length - kept.length };
  };
  const training = usable(options.train, 'training');
  if (training.kept.length < options.batchSize) {
    throw new InputError(`${training.kept.length} usable training utterances (${training.dropped} too short for their transcripts at --stack ${config.stack}, or empty), fewer than --batch-size ${options.batchSize}: lower --batch-size or --stack, or give more data`);
  }
  const validation = options.validation.filter((u) => labels.covers(u.text));
  const optimizer = new Adam(model.parameters(), { lr: options.lr });
  const monitor = validation.length > 0 ? { metric: 'cer', mode: 'min' as const } : { metric: 'loss', mode: 'min' as const };
  const schedule = epochSchedule(options.schedule, optimizer, options.epochs, monitor.mode);
  const runDir = join(options.out, 'run');
  const decodeSettings = { beam: 1, batchSize: options.batchSize };
  const summary = await train(
    {
      model,
      batches: (epoch) => makeBatches(training.kept, training.targets, model, options.batchSize, { shuffle: true, seed: config.seed * 1000 + epoch, dropLast: true, ...(options.augment ? { augment: options.augment } : {}) }),
      step: async (batch: Batch) => {
        model.train();
        const loss = await batchLoss(model, batch, options.backend);
        return { loss, examples: batch.lengths.length, tokens: batch.lengths.reduce((s, l) => s + l, 0) };
      },
      validate: async (): Promise<Record<string, number>> => {
        if (validation.length === 0) return {};
        const result = await evaluate(model, labels, validation, options.features, decodeSettings);
        return { cer: 100 * result.cer, wer: 100 * result.wer };
      },
    },
    {
      outDir: runDir, epochs: options.epochs, optimizer, clipNorm: options.clipNorm, resume: options.resume, checkpointEvery: options.checkpointEvery, schedule,
      monitor, patience: options.patience, averageLast: options.averageLast, accumulate: options.accumulate, ...(options.findLr ? { findLr: {} } : {}),
      timeLimitSeconds: options.timeLimitSeconds, progress: options.progress, signal: options.signal,
      report: {
        title: `speech: ${training.kept.length.toLocaleString('en-US')} training utterances, bidirectional ${config.cell.toUpperCase()} x ${config.layers}, CTC over ${labels.labels.length} ${options.unit}`,
        settings: { ...config, ...options.features, unit: options.unit, batchSize: options.batchSize, lr: options.lr, schedule: options.schedule, clipNorm: options.clipNorm, augment: options.augment ? 'SpecAugment' : 'none', validationUtterances: validation.length },
        ...(options.reportSections ? { sections: () => options.reportSections!(model, labels) } : {}),
      },
    },
  );
  if (summary.interrupted || summary.lrFinder) return { summary, model, labels, tooShort: training.dropped };
  model.loadStateDict(loadStateDictFile(join(runDir, 'best.safetensors')).tensors);
  saveModelFolder(options.out, model, labels, {
    features: options.features,
    training: {
      data: options.data, epochs: options.epochs, batchSize: options.batchSize, lr: options.lr, schedule: options.schedule, clipNorm: options.clipNorm,
      augment: options.augment ?? null, trainUtterances: training.kept.length, leftOut: training.dropped, validationUtterances: validation.length,
    },
  });
  return { summary, model, labels, tooShort: training.dropped };
}
