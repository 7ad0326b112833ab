/** Vocabularies, batches, training and evaluation of the translation model. */
import { join } from 'node:path';
import { Adam, crossEntropy, linearCrossEntropy, loadStateDictFile, Tensor, type Backend } from '@recurrent/core';
import {
  bucketBatches, closestReferences, corpusBleu, createTokenizer, detokenize, errorProfile, errorRateOf, padBatch, Vocabulary, wordErrorRate, type BleuScore, type ErrorProfile,
} from '@recurrent/text';
import type { Section } from '@recurrent/plot';
import { epochSchedule, InputError, train, type ScheduleKind, type TrainingSummary } from '@recurrent/train';
import { attentionProfile, type AttentionProfile } from './attention-profile.js';
import type { Example, TaskKind, TextSides } from './data.js';
import { decodeBatch, gatherEncoding, gatherState, lengthNormalised, logSoftmaxRows, membersOf, type Candidate, type Decoded } from './decode.js';
import { argmaxRow, BOS, BOS_INDEX, EOS, EOS_INDEX, TranslateModel, type TranslateConfig } from './model.js';
import { saveModelFolder, type Limits } from './folder.js';

export interface Vocabularies {
  readonly source: Vocabulary;
  readonly target: Vocabulary;
}

/** Built from the training examples only; the target's has <bos> and <eos> at 2 and 3. */
export function buildVocabularies(train: readonly Example[], options: { maxSize: number; minFrequency: number }): Vocabularies {
  const source = Vocabulary.build(train.map((e) => e.source), options);
  const target = Vocabulary.build(train.flatMap((e) => e.references), { ...options, specials: [BOS, EOS] });
  if (target.indexOf(BOS) !== BOS_INDEX || target.indexOf(EOS) !== EOS_INDEX) throw new Error('the target vocabulary must hold <bos> and <eos> at 2 and 3');
  return { source, target };
}

/**
 * Token pairs (source, target without <bos> and <eos>) in two flat Int32Arrays with offsets.
 * A corpus held as one array per side and pair was most of the heap (about 26 MB of small arrays
 * for CMUdict), which the garbage collector marked again at every major collection of a run.
 */
export class PairSet {
  readonly size: number;
  private readonly sourceTokens: Int32Array;
  private readonly targetTokens: Int32Array;
  /** Pair i's source is sourceTokens[sourceStarts[i] .. sourceStarts[i + 1]), likewise the target. */
  private readonly sourceStarts: Int32Array;
  private readonly targetStarts: Int32Array;

  constructor(pairs: ReadonlyArray<{ readonly source: ArrayLike<number>; readonly target: ArrayLike<number> }>) {
    this.size = pairs.length;
    this.sourceStarts = new Int32Array(pairs.length + 1);
    this.targetStarts = new Int32Array(pairs.length + 1);
    pairs.forEach((pair, i) => {
      this.sourceStarts[i + 1] = this.sourceStarts[i]! + pair.source.length;
      this.targetStarts[i + 1] = this.targetStarts[i]! + pair.target.length;
    });
    this.sourceTokens = new Int32Array(this.sourceStarts[pairs.length]!);
    this.targetTokens = new Int32Array(this.targetStarts[pairs.length]!);
    pairs.forEach((pair, i) => {
      this.sourceTokens.set(pair.source, this.sourceStarts[i]!);
      this.targetTokens.set(pair.target, this.targetStarts[i]!);
    });
  }

  source(i: number): Int32Array {
    return this.sourceTokens.subarray(this.sourceStarts[i]!, this.sourceStarts[i + 1]!);
  }

  target(i: number): Int32Array {
    return this.targetTokens.subarray(this.targetStarts[i]!, this.targetStarts[i + 1]!);
  }

  sourceLength(i: number): number {
    return this.sourceStarts[i + 1]! - this.sourceStarts[i]!;
  }

  targetLength(i: number): number {
    return this.targetStarts[i + 1]! - this.targetStarts[i]!;
  }
}

/**
 * One pair per reference; pairs beyond the length limits are left out (and counted). With
 * `reverseTarget` each target is stored last token first, for a right-to-left model.
 */
export function trainingPairs(examples: readonly Example[], vocabularies: Vocabularies, limits: Limits, reverseTarget = false): { pairs: PairSet; skipped: number } {
  const pairs: Array<{ source: number[]; target: number[] }> = [];
  let skipped = 0;
  for (const example of examples) {
    for (const reference of example.references) {
      if (example.source.length > limits.maxSourceLength || reference.length + 1 > limits.maxTargetLength) {
        skipped++;
        continue;
      }
      const target = vocabularies.target.encode(reference);
      pairs.push({ source: vocabularies.source.encode(example.source), target: reverseTarget ? target.reverse() : target });
    }
  }
  return { pairs: new PairSet(pairs), skipped };
}

export interface Batch {
  readonly source: Tensor; // [S, B]
  readonly sourceLengths: number[];
  readonly targetIn: Tensor; // [T, B]: <bos> y_1 ..
  readonly targetOut: Tensor; // [T, B]: y_1 .. <eos>, 0 after
  readonly targetLengths: number[];
}

/**
 * Batches pad each side up to a multiple of this many steps. Every padded length compiles its own
 * recurrent plans, so a multiple keeps their number small; 4 rather than text's default 8 computes
 * 12-15% fewer padded steps on CMUdict's words (see the README).
 */
export const LENGTH_MULTIPLE = 4;

/** Batches bucketed by source length, then target length: both sides pad little. */
export function makeBatches(pairs: PairSet, batchSize: number, options: { shuffle: boolean; seed: number; dropLast?: boolean }): Batch[] {
  const indices = Array.from({ length: pairs.size }, (_, i) => i);
  const secondLengths = indices.map((i) => pairs.targetLength(i));
  return bucketBatches(indices.map((i) => pairs.sourceLength(i)), { batchSize, secondLengths, ...options })
    .map((chosen) => teacherForcedBatch(chosen.map((i) => pairs.source(i)), chosen.map((i) => pairs.target(i))));
}

/** Sources and targets (without <bos> and <eos>) as a padded batch: <bos> y in, y <eos> out. */
function teacherForcedBatch(sources: ReadonlyArray<ArrayLike<number>>, targets: ReadonlyArray<Iterable<number>>): Batch {
  const source = padBatch(sources, 0, LENGTH_MULTIPLE);
  return { source: source.tokens, sourceLengths: source.lengths, ...teacherForcedTargets(targets) };
}

/** The target side of `teacherForcedBatch`. */
function teacherForcedTargets(targets: ReadonlyArray<Iterable<number>>): Pick<Batch, 'targetIn' | 'targetOut' | 'targetLengths'> {
  const targetIn = padBatch(targets.map((t) => [BOS_INDEX, ...t]), 0, LENGTH_MULTIPLE);
  const targetOut = padBatch(targets.map((t) => [...t, EOS_INDEX]), 0, LENGTH_MULTIPLE);
  return { targetIn: targetIn.tokens, targetOut: targetOut.tokens, targetLengths: targetOut.lengths };
}

export interface StepLoss {
  readonly loss: Tensor;
  /** Target tokens predicted right (teacher-forced), and their count. */
  readonly correct: number;
  readonly tokens: number;
}

/**
 * Teacher-forced cross-entropy per target token (padding ignored), and token accuracy. Under
 * full teacher forcing the output layer and the loss run as one operation (`linearCrossEntropy`:
 * the [T B, V] logits never leave the backend); a token counts as right when its logit is the
 * row's largest.
 */
export async function batchLoss(model: TranslateModel, batch: Batch, backend: Backend, options: { labelSmoothing?: number; teacherForcing?: number; random?: () => number } = {}): Promise<StepLoss> {
  const lossOptions = { ignoreIndex: 0, labelSmoothing: options.labelSmoothing ?? 0, backend };
  if ((options.teacherForcing ?? 1) >= 1) {
    const features = await model.outputFeatures(batch.source, batch.sourceLengths, batch.targetIn, batch.targetLengths);
    const { loss, correct, counted } = await linearCrossEntropy(features, model.output, batch.targetOut.reshape([batch.targetOut.size]), lossOptions);
    return { loss, correct, tokens: counted };
  }
  const logits = await model.forward(batch.source, batch.sourceLengths, batch.targetIn, batch.targetLengths, options);
  const [T, B, V] = logits.shape as [number, number, number];
  const flat = logits.reshape([T * B, V]);
  const loss = await crossEntropy(flat, batch.targetOut.reshape([T * B]), lossOptions);
  let correct = 0;
  let tokens = 0;
  for (let i = 0; i < T * B; i++) {
    const target = batch.targetOut.data[i]!;
    if (target === 0) continue;
    tokens++;
    if (argmaxRow(flat, i) === target) correct++;
  }
  return { loss, correct, tokens };
}

export interface Evaluation {
  /** Corpus BLEU of the detokenised outputs against the reference texts (sacreBLEU's defaults). */
  readonly bleu: BleuScore;
  /** Token (phoneme, character or word) error rate against the closest reference, 0-1. */
  readonly tokenErrorRate: number;
  /** Share of outputs matching no reference exactly (G2P's word error rate), 0-1. */
  readonly sequenceErrorRate: number;
  /** The wrong outputs by their edits to the closest reference, and the commonest single substitutions. */
  readonly errors: ErrorProfile<string>;
  readonly outputs: Decoded[];
  /** The outputs as text. */
  readonly texts: string[];
  readonly examples: number;
  /**
   * Beam search only: the n-best oracle, the sequence error rate if each input's best candidate
   * (`Decoded.candidates`, rescoring's pool included) were chosen, and the candidates an input on
   * average: how much a better choice among them could gain.
   */
  readonly oracle?: { readonly sequenceErrorRate: number; readonly candidates: number };
  /** Where the outputs looked (absent without attention). */
  readonly attention?: AttentionProfile;
}

export interface DecodeSettings {
  readonly beam: number;
  readonly lengthPenalty: number;
  /** Most output tokens per input. Default 200. */
  readonly maxTokens?: number;
  readonly batchSize: number;
  /**
   * Models (same vocabularies; either target order) that rescore the beam's candidates: each
   * candidate's score becomes a weighted mean of its log-probability under every decoding model
   * and every rescorer, length-normalised as the beam ranks. Needs beam > 1.
   */
  readonly rescorers?: readonly TranslateModel[];
  /**
   * The rescorers' share of that mean, in [0, 1]; the decoding models share the rest, the models
   * of each side equally. Default: every model the same weight (rescorers / all models).
   */
  readonly rescoreWeight?: number;
  /**
   * The rescorers also run a beam search of their own (as one ensemble, so they must write
   * targets in the same order), and their candidates join the decoders' before the rescoring:
   * a right-to-left model then proposes endings the left-to-right beam lost. Default false.
   */
  readonly rescorersDecode?: boolean;
}

/**
 * Decodes sources (token lists, already within the model's limit) in batches of similar length;
 * outputs come back in the order given. Unknown tokens map to <unk>.
 */
export async function translateTokens(models: TranslateModel | readonly TranslateModel[], vocabularies: Vocabularies, sources: ReadonlyArray<readonly string[]>, settings: DecodeSettings): Promise<Decoded[]> {
  const rescorers = settings.rescorers ?? [];
  if (rescorers.length > 0 && settings.beam < 2) throw new Error('translateTokens: rescoring chooses among the candidates of a beam: beam must be 2 or more');
  if ((settings.rescoreWeight !== undefined || settings.rescorersDecode) && rescorers.length === 0) throw new Error('translateTokens: rescoreWeight and rescorersDecode concern rescorers, and none were given');
  const ids = sources.map((tokens) => vocabularies.source.encode(tokens));
  const outputs: Decoded[] = new Array(ids.length);
  const order = bucketBatches(ids.map((s) => s.length), { batchSize: settings.batchSize, shuffle: false, seed: 0 });
  for (const indices of order) {
    const { tokens, lengths } = padBatch(indices.map((i) => ids[i]!), 0, LENGTH_MULTIPLE);
    const options = { beam: settings.beam, lengthPenalty: settings.lengthPenalty, ...(settings.maxTokens ? { maxTokens: settings.maxTokens } : {}) };
    let decoded = await decodeBatch(models, tokens, lengths, options);
    if (rescorers.length > 0) {
      const proposed = settings.rescorersDecode ? await decodeBatch(rescorers, tokens, lengths, options) : undefined;
      decoded = await rescoreCandidates(models, rescorers, indices.map((i) => ids[i]!), decoded, settings, proposed);
    }
    indices.forEach((i, k) => (outputs[i] = decoded[k]!));
  }
  return outputs;
}

/**
 * Each source's output (sources[b] gave decoded[b], decoded by `decoders`) becomes the beam
 * candidate of the best weighted mean log-probability under the decoders and the `rescorers`
 * (`settings.rescoreWeight`; default equal weights), one term a model, length-normalised as beam
 * search ranks (first of equals); its logProbability is that mean. With `proposed` (the
 * rescorers' own decodes of the same sources), their candidates join each source's pool (first of
 * equal token lists kept). The output's `candidates` are the pool ranked so, best first (equals
 * in pool order), each with its mean as logProbability and every model's own score
 * (`modelScores`): the n-best list. A model scores the
 * candidates teacher-forced, except where it is the only model of its side and its own beam found
 * the candidate: there the beam's score is the same sum (an ensemble's beam scores the log of the
 * members' mean probability, so its members score again).
 */
export async function rescoreCandidates(
  decoders: TranslateModel | readonly TranslateModel[], rescorers: readonly TranslateModel[], sources: ReadonlyArray<readonly number[]>, decoded: readonly Decoded[],
  settings: Pick<DecodeSettings, 'lengthPenalty' | 'batchSize' | 'rescoreWeight'>, proposed?: readonly Decoded[],
): Promise<Decoded[]> {
  const pools = decoded.map((d, b) => joinedPool(d, proposed?.[b]));
  const owners = pools.flatMap((pool, b) => pool.map(() => b));
  const entries = pools.flat();
  const members = membersOf(decoders);
  const share = settings.rescoreWeight ?? rescorers.length / (members.length + rescorers.length);
  if (!(share >= 0 && share <= 1)) throw new Error(`rescoreCandidates: rescoreWeight must lie in [0, 1], got ${share}`);
  const sides = [{ models: members, weight: (1 - share) / members.length }, { models: rescorers, weight: share / rescorers.length }];
  const means = new Float64Array(entries.length);
  const modelScores: number[][] = []; // [model][entry]
  for (const [side, { models, weight }] of sides.entries()) {
    for (const model of models) {
      const scores = entries.map((entry) => (models.length === 1 ? entry.beamScores[side] : undefined));
      const missing = scores.flatMap((score, i) => (score === undefined ? [i] : []));
      const forced = await targetLogProbabilities(model, missing.map((i) => sources[owners[i]!]!), missing.map((i) => entries[i]!.candidate.tokens), settings.batchSize);
      missing.forEach((i, k) => (scores[i] = forced[k]));
      scores.forEach((score, i) => (means[i] = means[i]! + score! * weight));
      modelScores.push(scores as number[]);
    }
  }
  const rank = (i: number) => lengthNormalised(means[i]!, entries[i]!.candidate.tokens.length + 1, settings.lengthPenalty);
  const ranked: number[][] = decoded.map(() => []);
  owners.forEach((b, i) => ranked[b]!.push(i));
  return ranked.map((indices) => {
    // a stable sort: equals keep their pool order, so the first of equals wins
    const candidates = indices.sort((i, j) => rank(j) - rank(i)).map((i) => ({ ...entries[i]!.candidate, logProbability: means[i]!, modelScores: modelScores.map((scores) => scores[i]!) }));
    return { ...candidates[0]!, candidates };
  });
}

/** A candidate of the pool, with its score from the decoders' beam and from the rescorers' beam where that found it. */
interface PoolEntry {
  readonly candidate: Candidate;
  readonly beamScores: [number | undefined, number | undefined];
}

/** A source's candidates: the decoders' beam's, then those of the rescorers' (if any) that it lacked. */
function joinedPool(decoded: Decoded, proposed: Decoded | undefined): PoolEntry[] {
  const pool = new Map<string, PoolEntry>();
  for (const [side, d] of [decoded, proposed].entries()) {
    for (const c of d === undefined ? [] : (d.candidates ?? [d])) {
      const key = c.tokens.join(' ');
      if (!pool.has(key)) pool.set(key, { candidate: c, beamScores: [undefined, undefined] });
      pool.get(key)!.beamScores[side] ??= c.logProbability;
    }
  }
  return [...pool.values()];
}

/**
 * Teacher-forced log-probability of each target (token ids in reading order, without <eos>) after
 * its source under `model`: the sum over its tokens and <eos>. A right-to-left model reads the
 * target reversed, as it was trained. Consecutive targets of the same source (a beam's
 * candidates) share one encoding: a pass encodes `batchSize` sources and scores all their
 * targets. Both sides keep few batch shapes (the sources of the last pass filled up with copies
 * of its last, the targets of a pass with copies of its last up to a multiple of `batchSize`):
 * every new batch shape compiles new kernels, which cost far more than the rows of filling.
 */
export async function targetLogProbabilities(model: TranslateModel, sources: ReadonlyArray<readonly number[]>, targets: ReadonlyArray<readonly number[]>, batchSize: number): Promise<number[]> {
  model.eval();
  const reversed = model.config.reverseTarget === true;
  // firsts[g]: the first target of source group g (a run of equal sources); then targets.length.
  const firsts: number[] = [];
  const groupOf = targets.map((_, i) => {
    if (i === 0 || !sameTokens(sources[i]!, sources[i - 1]!)) firsts.push(i);
    return firsts.length - 1;
  });
  firsts.push(targets.length);
  const groups = firsts.length - 1;
  const scores: number[] = [];
  for (let start = 0; start < groups; start += batchSize) {
    const end = Math.min(groups, start + batchSize);
    const source = padBatch(Array.from({ length: batchSize }, (_, k) => sources[firsts[Math.min(start + k, end - 1)]!]!), 0, LENGTH_MULTIPLE);
    const { encoded, state } = await model.encode(source.tokens, source.lengths);
    const [first, last] = [firsts[start]!, firsts[end]! - 1];
    const rows = Array.from({ length: Math.ceil((last + 1 - first) / batchSize) * batchSize }, (_, k) => Math.min(first + k, last));
    const owners = rows.map((i) => groupOf[i]! - start);
    const batch = teacherForcedTargets(rows.map((i) => (reversed ? [...targets[i]!].reverse() : targets[i]!)));
    const logits = await model.forwardEncoded(gatherEncoding(encoded, owners), gatherState(state, owners), batch.targetIn, batch.targetLengths);
    const [T, B, V] = logits.shape as [number, number, number];
    const logProbs = logSoftmaxRows(logits.reshape([T * B, V]));
    for (let b = 0; b <= last - first; b++) {
      let sum = 0;
      for (let t = 0; t < batch.targetLengths[b]!; t++) sum += logProbs[(t * B + b) * V + batch.targetOut.data[t * B + b]!]!;
      scores.push(sum);
    }
  }
  return scores;
}

const sameTokens = (a: readonly number[], b: readonly number[]) => a === b || (a.length === b.length && a.every((token, i) => token === b[i]));

export async function evaluate(models: TranslateModel | readonly TranslateModel[], vocabularies: Vocabularies, text: TextSides, examples: readonly Example[], settings: DecodeSettings, maxSourceLength: number): Promise<Evaluation> {
  const sources = examples.map((e) => e.source.slice(0, maxSourceLength));
  const outputs = await translateTokens(models, vocabularies, sources, settings);
  const hypotheses = outputs.map((o) => vocabularies.target.decode(o.tokens));
  const kind = text.target.kind ?? 'treebank';
  const texts = hypotheses.map((tokens) => detokenize(tokens, kind));
  const references = examples.map((e) => e.references);
  const closest = closestReferences(hypotheses, references);
  const attention = attentionProfile(outputs);
  return {
    bleu: corpusBleu(texts, examples.map((e) => e.referenceTexts)),
    tokenErrorRate: errorRateOf(closest),
    sequenceErrorRate: wordErrorRate(hypotheses, references),
    errors: errorProfile(hypotheses, closest),
    outputs,
    texts,
    examples: examples.length,
    ...(settings.beam > 1 ? { oracle: nbestOracle(outputs.map((o) => (o.candidates ?? [o]).map((c) => vocabularies.target.decode(c.tokens))), references) } : {}),
    ...(attention ? { attention } : {}),
  };
}

/** Whether an output is one of its references, token for token (what the word error rate counts right). */
export const matchesReference = (output: readonly string[], references: ReadonlyArray<readonly string[]>) => wordErrorRate([output], [references]) === 0;

/** The sequence error rate of the best of each input's candidates, and their mean number. */
export function nbestOracle(candidates: ReadonlyArray<ReadonlyArray<readonly string[]>>, references: ReadonlyArray<ReadonlyArray<readonly string[]>>): { sequenceErrorRate: number; candidates: number } {
  const wrong = candidates.filter((list, i) => !list.some((c) => matchesReference(c, references[i]!))).length;
  return { sequenceErrorRate: wrong / candidates.length, candidates: candidates.reduce((n, list) => n + list.length, 0) / candidates.length };
}

/** Mean teacher-forced loss per target token over pairs (eval mode). */
export async function validationLoss(model: TranslateModel, pairs: PairSet, batchSize: number, backend: Backend): Promise<number> {
  model.eval();
  let sum = 0;
  let count = 0;
  for (const batch of makeBatches(pairs, batchSize, { shuffle: false, seed: 0 })) {
    const { loss, tokens } = await batchLoss(model, batch, backend);
    sum += loss.data[0]! * tokens;
    count += tokens;
  }
  return sum / count;
}

/** Which validation metric picks the best model: BLEU for text, the sequence error rate for symbols. */
export function monitorFor(kind: TaskKind, text: TextSides): { metric: 'bleu' | 'wer'; mode: 'max' | 'min' } {
  const symbolic = kind === 'g2p' || text.target.kind === 'symbols' || text.target.kind === 'characters';
  return symbolic ? { metric: 'wer', mode: 'min' } : { metric: 'bleu', mode: 'max' };
}

export interface PrepareSettings {
  readonly vocabularySize: number;
  readonly minFrequency: number;
  /** Training and validation pairs longer than these are left out. */
  readonly limits: Limits;
  /** Targets last token first, for a right-to-left model (TranslateConfig.reverseTarget). */
  readonly reverseTarget?: boolean;
}

/** What training reads of its examples: the vocabularies of the training side, both sides encoded. */
export interface TrainingData {
  /** The settings the data was prepared with, which config.json records. */
  readonly settings: PrepareSettings;
  readonly vocabularies: Vocabularies;
  readonly pairs: PairSet;
  /** Training pairs beyond the length limits, left out. */
  readonly skipped: number;
  readonly validationPairs: PairSet;
  /** The validation examples decoded (greedy) after each epoch for BLEU / error rates. */
  readonly decoded: readonly Example[];
  readonly validationExamples: number;
}

/**
 * Encodes the examples for `trainTranslation`, which keeps nothing else of them: a caller that
 * lets go of its examples (as strings, CMUdict's training words take 67 MB of heap) spares the
 * garbage collector marking them again at every major collection of the run.
 */
export function prepareTraining(train: readonly Example[], validation: readonly Example[], settings: PrepareSettings & { validationDecodes: number }): TrainingData {
  const { vocabularySize, minFrequency, limits } = settings;
  const reverseTarget = settings.reverseTarget ?? false;
  const vocabularies = buildVocabularies(train, { maxSize: vocabularySize, minFrequency });
  const { pairs, skipped } = trainingPairs(train, vocabularies, limits, reverseTarget);
  const validationPairs = trainingPairs(validation, vocabularies, limits, reverseTarget).pairs;
  return {
    settings: { vocabularySize, minFrequency, limits, reverseTarget }, vocabularies, pairs, skipped, validationPairs,
    decoded: validation.slice(0, settings.validationDecodes), validationExamples: validation.length,
  };
}

export interface TrainOptions {
  readonly backend: Backend;
  readonly out: string;
  readonly task: TaskKind;
  readonly text: TextSides;
  readonly data: TrainingData;
  /** The architecture; the vocabulary sizes and the target order come from `data`. */
  readonly model: Omit<TranslateConfig, 'sourceVocabularySize' | 'targetVocabularySize' | 'reverseTarget'>;
  readonly batchSize: number;
  readonly epochs: number;
  readonly lr: number;
  readonly schedule: ScheduleKind;
  readonly clipNorm: number;
  readonly labelSmoothing: number;
  readonly teacherForcing: number;
  readonly patience?: number;
  /** Average the weights of the last this many epochs (TrainerOptions.averageLast). */
  readonly averageLast?: number;
  /** Batches whose gradients make one optimiser step (TrainerOptions.accumulate). Default 1. */
  readonly accumulate?: number;
  /** Run the learning-rate range test instead of training (TrainerOptions.findLr); nothing is written but run/lr-find.*. */
  readonly findLr?: boolean;
  /** Stop after this many seconds of training steps (the epoch under way is validated). */
  readonly timeLimitSeconds?: number;
  readonly resume: boolean;
  readonly checkpointEvery: number;
  readonly progress: boolean;
  readonly signal?: AbortSignal;
  /** The task's own settings (en-fr's maxWords, g2p's stress), kept in config.json for eval. */
  readonly taskSettings?: Readonly<Record<string, unknown>>;
  /** More sections for the run's HTML report, made with the model at each epoch's end. */
  readonly reportSections?: (model: TranslateModel, vocabularies: Vocabularies) => Promise<Section[]>;
}

export interface TrainResult {
  readonly summary: TrainingSummary;
  readonly model: TranslateModel;
  readonly vocabularies: Vocabularies;
  readonly skipped: number;
  readonly pairs: number;
}

/**
 * Trains and writes the model folder `out` (the best validation model by BLEU or sequence error
 * rate), with the run's checkpoints, metrics and report in `out/run`.
 */
export async function trainTranslation(options: TrainOptions): Promise<TrainResult> {
  const { vocabularies, pairs, skipped, validationPairs, decoded, settings } = options.data;
  const { limits } = settings;
  if (pairs.size < options.batchSize) {
    throw new InputError(`${pairs.size} training pairs within the length limits (${skipped} longer ones left out), fewer than --batch-size ${options.batchSize}: lower --batch-size, raise --max-source-length / --max-target-length, or give more data`);
  }
  const config: TranslateConfig = {
    ...options.model, sourceVocabularySize: vocabularies.source.size, targetVocabularySize: vocabularies.target.size, ...(settings.reverseTarget ? { reverseTarget: true } : {}),
  };
  const model = new TranslateModel(config).to(options.backend);
  const optimizer = new Adam(model.parameters(), { lr: options.lr });
  const monitor = decoded.length > 0 ? monitorFor(options.task, options.text) : { metric: 'loss', mode: 'min' as const };
  const schedule = epochSchedule(options.schedule, optimizer, options.epochs, monitor.mode);
  const runDir = join(options.out, 'run');
  const summary = await train(
    {
      model,
      batches: (epoch) => makeBatches(pairs, options.batchSize, { shuffle: true, seed: config.seed * 1000 + epoch, dropLast: true }),
      step: async (batch: Batch) => {
        model.train();
        const { loss, correct, tokens } = await batchLoss(model, batch, options.backend, { labelSmoothing: options.labelSmoothing, teacherForcing: options.teacherForcing });
        const sourceTokens = batch.sourceLengths.reduce((s, l) => s + l, 0);
        return { loss, correct, examples: tokens, tokens: tokens + sourceTokens };
      },
      validate: async (): Promise<Record<string, number>> => {
        const loss = validationPairs.size > 0 ? await validationLoss(model, validationPairs, options.batchSize, options.backend) : NaN;
        if (decoded.length === 0) return { loss };
        const result = await evaluate(model, vocabularies, options.text, decoded, { beam: 1, lengthPenalty: 0, batchSize: options.batchSize }, limits.maxSourceLength);
        return { loss, bleu: result.bleu.score, wer: 100 * result.sequenceErrorRate, ter: 100 * result.tokenErrorRate };
      },
    },
    {
      outDir: runDir, epochs: options.epochs, optimizer, clipNorm: options.clipNorm, resume: options.resume, checkpointEvery: options.checkpointEvery, schedule,
      monitor, patience: options.patience, averageLast: options.averageLast, accumulate: options.accumulate, ...(options.findLr ? { findLr: {} } : {}), timeLimitSeconds: options.timeLimitSeconds, progress: options.progress, signal: options.signal,
      report: {
        title: `translate ${options.task}: ${pairs.size.toLocaleString('en-US')} training pairs, ${config.cell.toUpperCase()} encoder-decoder, ${config.attention} attention`,
        settings: {
          ...config, ...limits, batchSize: options.batchSize, lr: options.lr, schedule: options.schedule, clipNorm: options.clipNorm, labelSmoothing: options.labelSmoothing,
          teacherForcing: options.teacherForcing, validationPairs: validationPairs.size, validationDecodes: decoded.length, ...options.taskSettings,
        },
        ...(options.reportSections ? { sections: () => options.reportSections!(model, vocabularies) } : {}),
      },
    },
  );
  if (summary.interrupted || summary.lrFinder) return { summary, model, vocabularies, skipped, pairs: pairs.size };
  model.loadStateDict(loadStateDictFile(join(runDir, 'best.safetensors')).tensors);
  saveModelFolder(options.out, model, vocabularies, {
    task: options.task, text: options.text, limits,
    training: {
      epochs: options.epochs, batchSize: options.batchSize, lr: options.lr, schedule: options.schedule, clipNorm: options.clipNorm, labelSmoothing: options.labelSmoothing,
      teacherForcing: options.teacherForcing, vocabularySize: settings.vocabularySize, minFrequency: settings.minFrequency, trainPairs: pairs.size, skippedPairs: skipped,
      validationExamples: options.data.validationExamples, ...options.taskSettings,
    },
  });
  return { summary, model, vocabularies, skipped, pairs: pairs.size };
}

/** Tokenises input lines as the model's source side. */
export function sourceTokenizer(text: TextSides): (line: string) => string[] {
  return createTokenizer(text.source);
}
