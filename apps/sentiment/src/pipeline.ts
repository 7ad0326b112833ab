/** Texts to batches, training and evaluation of the sentiment model. */
import { join } from 'node:path';
import { Adam, crossEntropy, loadStateDictFile, Tensor, type Backend } from '@recurrent/core';
import type { LabelledText } from '@recurrent/datasets-text';
import { bucketBatches, createTokenizer, padBatch, truncate, Vocabulary, type TokenizerOptions, type Truncation } from '@recurrent/text';
import { epochSchedule, train, type ScheduleKind, type TrainingSummary } from '@recurrent/train';
import { InputError, saveModelFolder } from './folder.js';
import { SentimentModel, type SentimentConfig } from './model.js';

/**
 * Batches are padded to a multiple of 32 steps: every distinct length compiles its own pipelines,
 * so coarse buckets keep compilation (and wasm code space) small for a little extra padding.
 */
const LENGTH_MULTIPLE = 32;

export interface Prepared {
  readonly ids: number[][];
  readonly labels: number[];
}

export interface Batch {
  readonly tokens: Tensor; // [T, B]
  readonly lengths: number[];
  readonly labels: Tensor; // [B]
}

/**
 * Tokenises, encodes and truncates; a text with no tokens is refused, naming it. `tokenize` gets
 * each example's index too, so tokens made already (for the vocabulary) are not made again.
 */
export function prepare(
  examples: readonly LabelledText[], tokenize: (text: string, index: number) => string[], vocabulary: Vocabulary, maxLength: number, truncation: Truncation, source: string,
): Prepared {
  const ids = examples.map((example, i) => {
    const tokens = tokenize(example.text, i);
    if (tokens.length === 0) {
      const excerpt = JSON.stringify(example.text.slice(0, 40));
      throw new InputError(example.origin
        ? `${example.origin}: the text has no tokens after tokenising (${excerpt}); remove the row or give it text`
        : `${source}: example ${i + 1} has no tokens after tokenising (${excerpt}); remove it or give it text`);
    }
    return truncate(vocabulary.encode(tokens), maxLength, truncation);
  });
  return { ids, labels: examples.map((e) => e.label) };
}

export function makeBatches(data: Prepared, batchSize: number, options: { shuffle: boolean; seed: number; dropLast?: boolean }): Batch[] {
  return bucketBatches(data.ids.map((s) => s.length), { batchSize, ...options }).map((indices) => ({
    ...padBatch(indices.map((i) => data.ids[i]!), 0, LENGTH_MULTIPLE),
    labels: Tensor.from([indices.length], indices.map((i) => data.labels[i]!)),
  }));
}

/** The most likely class of each row of logits [B, C]. */
export function predictedClasses(logits: Tensor): number[] {
  const [B, C] = logits.shape as [number, number];
  return Array.from({ length: B }, (_, b) => {
    const row = logits.data.subarray(b * C, (b + 1) * C);
    return row.indexOf(Math.max(...row));
  });
}

/** sklearn's 'balanced' class weights: N / (C x count), 0 for a class with no examples. */
export function balancedClassWeights(labels: readonly number[], classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (const label of labels) counts[label]!++;
  return counts.map((count) => (count === 0 ? 0 : labels.length / (classes * count)));
}

export interface Evaluation {
  readonly loss: number;
  readonly accuracy: number;
  /** confusion[true][predicted] counts. */
  readonly confusion: number[][];
}

export async function evaluate(model: SentimentModel, data: Prepared, batchSize: number, backend: Backend): Promise<Evaluation> {
  model.eval();
  const C = model.config.classes;
  const confusion = Array.from({ length: C }, () => new Array<number>(C).fill(0));
  let lossSum = 0;
  let count = 0;
  for (const batch of makeBatches(data, batchSize, { shuffle: false, seed: 0 })) {
    const logits = await model.forward(batch.tokens, batch.lengths);
    const B = batch.lengths.length;
    lossSum += (await crossEntropy(logits, batch.labels, { reduction: 'sum', backend })).data[0]!;
    predictedClasses(logits).forEach((predicted, b) => (confusion[batch.labels.data[b]!]![predicted]! += 1));
    count += B;
  }
  const correct = confusion.reduce((s, row, i) => s + row[i]!, 0);
  return { loss: lossSum / count, accuracy: correct / count, confusion };
}

/** Softmax probabilities [B, C] of texts (in the order given). */
export async function predict(model: SentimentModel, texts: readonly string[], tokenize: (t: string) => string[], vocabulary: Vocabulary, maxLength: number, truncation: Truncation): Promise<number[][]> {
  model.eval();
  const data = prepare(texts.map((text) => ({ text, label: 0 })), tokenize, vocabulary, maxLength, truncation, 'input');
  const C = model.config.classes;
  const out: number[][] = new Array(texts.length);
  for (let start = 0; start < texts.length; start += 32) {
    const ids = data.ids.slice(start, start + 32);
    const { tokens, lengths } = padBatch(ids, 0, LENGTH_MULTIPLE);
    const logits = await model.forward(tokens, lengths);
    ids.forEach((_, b) => {
      const row = [...logits.data.subarray(b * C, (b + 1) * C)];
      const max = Math.max(...row);
      const exps = row.map((v) => Math.exp(v - max));
      const total = exps.reduce((s, v) => s + v, 0);
      out[start + b] = exps.map((v) => v / total);
    });
  }
  return out;
}

export interface TrainOptions {
  readonly backend: Backend;
  readonly out: string;
  /** The data's name (imdb, or the user's path), for messages. */
  readonly source: string;
  readonly labels: readonly string[];
  readonly train: readonly LabelledText[];
  readonly validation: readonly LabelledText[];
  readonly model: Omit<SentimentConfig, 'vocabularySize' | 'classes'>;
  readonly tokenizer: TokenizerOptions;
  readonly vocabularySize: number;
  readonly minFrequency: number;
  readonly maxLength: number;
  readonly truncation: Truncation;
  readonly batchSize: number;
  readonly epochs: number;
  readonly lr: number;
  /** Learning rate over the epochs: constant, or cosine annealing from lr to 0 at the last epoch. */
  readonly schedule: ScheduleKind;
  readonly clipNorm: number;
  /** Stop after this many epochs without a better validation accuracy. Default: never. */
  readonly patience?: number;
  /** 'balanced': each class's loss weighted N / (C x its training count), so rare classes count as much as common ones. Default 'none'. */
  readonly classWeights?: 'none' | 'balanced';
  /** Average the weights of the last this many epochs (TrainerOptions.averageLast). */
  readonly averageLast?: number;
  /** Batches whose gradients make one optimiser step (TrainerOptions.accumulate). Default 1. */
  readonly accumulate?: number;
  /** Run the learning-rate range test instead of training (TrainerOptions.findLr); nothing is written but run/lr-find.*. */
  readonly findLr?: boolean;
  /** Stop after this many seconds of training steps (the epoch under way is validated and ends the run). */
  readonly timeLimitSeconds?: number;
  readonly resume: boolean;
  readonly checkpointEvery: number;
  readonly progress: boolean;
  /** Aborting it stops training after the step under way, with a checkpoint to --resume from. */
  readonly signal?: AbortSignal;
}

/**
 * Trains and writes the model folder `out` (the best validation model), with the run's
 * checkpoints and metrics in `out/run`. The vocabulary is built from the training texts only.
 */
export async function trainSentiment(options: TrainOptions): Promise<{ summary: TrainingSummary; validation: Evaluation | undefined; model: SentimentModel }> {
  const tokenize = createTokenizer(options.tokenizer);
  const tokenized = options.train.map((e) => tokenize(e.text));
  const vocabulary = Vocabulary.build(tokenized, { minFrequency: options.minFrequency, maxSize: options.vocabularySize });
  const trainData = prepare(options.train, (_, i) => tokenized[i]!, vocabulary, options.maxLength, options.truncation, 'training data');
  const validationData = prepare(options.validation, tokenize, vocabulary, options.maxLength, options.truncation, 'validation data');
  if (trainData.ids.length < options.batchSize) {
    throw new InputError(`${options.source}: ${trainData.ids.length} training examples (validation held out), fewer than --batch-size ${options.batchSize}: no batch to train on; lower --batch-size or give more data`);
  }
  const config: SentimentConfig = { ...options.model, vocabularySize: vocabulary.size, classes: options.labels.length };
  const model = new SentimentModel(config).to(options.backend);
  const optimizer = new Adam(model.parameters(), { lr: options.lr });
  const weight = options.classWeights === 'balanced' ? balancedClassWeights(options.train.map((e) => e.label), options.labels.length) : undefined;
  const schedule = epochSchedule(options.schedule, optimizer, options.epochs, 'max');
  const runDir = join(options.out, 'run');
  const summary = await train(
    {
      model,
      // dropLast: one batch size in training, so one set of pipelines per length.
      batches: (epoch) => makeBatches(trainData, options.batchSize, { shuffle: true, seed: config.seed * 1000 + epoch, dropLast: true }),
      step: async (batch: Batch) => {
        const logits = await model.forward(batch.tokens, batch.lengths);
        const loss = await crossEntropy(logits, batch.labels, { backend: options.backend, ...(weight ? { weight } : {}) });
        const correct = predictedClasses(logits).filter((predicted, b) => predicted === batch.labels.data[b]).length;
        return { loss, correct, examples: batch.lengths.length, tokens: batch.lengths.reduce((s, l) => s + l, 0) };
      },
      validate: async () => {
        const { loss, accuracy } = await evaluate(model, validationData, options.batchSize, options.backend);
        return { loss, accuracy };
      },
    },
    {
      outDir: runDir, epochs: options.epochs, optimizer, clipNorm: options.clipNorm, resume: options.resume, checkpointEvery: options.checkpointEvery, schedule,
      monitor: { metric: 'accuracy', mode: 'max' }, patience: options.patience, averageLast: options.averageLast, accumulate: options.accumulate, ...(options.findLr ? { findLr: {} } : {}), timeLimitSeconds: options.timeLimitSeconds,
      progress: options.progress, signal: options.signal,
      report: {
        title: `sentiment: ${options.train.length.toLocaleString('en-US')} training texts, ${config.bidirectional ? 'bidirectional ' : ''}${config.cell.toUpperCase()}`,
        settings: {
          ...config, maxLength: options.maxLength, truncation: options.truncation, batchSize: options.batchSize, lr: options.lr, schedule: options.schedule, clipNorm: options.clipNorm,
          validationTexts: options.validation.length, ...(weight ? { classWeights: weight.map((w) => Number(w.toPrecision(4))) } : {}),
        },
      },
    },
  );
  // Interrupted: the checkpoint in runDir continues the run; the model folder is written when it ends.
  if (summary.interrupted || summary.lrFinder) return { summary, validation: undefined, model };
  // The model folder gets the best validation weights.
  model.loadStateDict(loadStateDictFile(join(runDir, 'best.safetensors')).tensors);
  saveModelFolder(options.out, model, vocabulary, {
    labels: options.labels, tokenizer: options.tokenizer, maxLength: options.maxLength, truncation: options.truncation,
    training: {
      epochs: options.epochs, batchSize: options.batchSize, lr: options.lr, schedule: options.schedule, clipNorm: options.clipNorm, vocabularySize: options.vocabularySize,
      minFrequency: options.minFrequency, trainExamples: options.train.length, validationExamples: options.validation.length, ...(weight ? { classWeights: weight } : {}),
    },
  });
  const validation = await evaluate(model, validationData, options.batchSize, options.backend);
  return { summary, validation, model };
}
