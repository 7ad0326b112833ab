/**
 * Batches of token sequences for recurrent models: truncation, length bucketing (sequences of
 * similar length together, so little padding is computed) and padding to a few distinct lengths
 * (kernels and pipelines are compiled per shape, so few shapes should occur).
 */
import { mulberry32, shuffle as shuffled, Tensor } from '@recurrent/core';

/**
 * Which tokens a sequence longer than maxLength keeps: 'head' the first, 'tail' the last, or
 * 'head+tail' the first quarter and the last three quarters (best for long reviews in Sun et
 * al. 2019, "How to Fine-Tune BERT for Text Classification").
 */
export type Truncation = 'head' | 'tail' | 'head+tail';

export function truncate<T>(sequence: readonly T[], maxLength: number, policy: Truncation = 'head'): T[] {
  if (sequence.length <= maxLength) return [...sequence];
  switch (policy) {
    case 'head':
      return sequence.slice(0, maxLength);
    case 'tail':
      return sequence.slice(sequence.length - maxLength);
    case 'head+tail': {
      const head = Math.floor(maxLength / 4);
      return [...sequence.slice(0, head), ...sequence.slice(sequence.length - (maxLength - head))];
    }
    default:
      throw new Error(`unknown truncation ${JSON.stringify(policy)}; expected head, tail or head+tail`);
  }
}

export interface BucketOptions {
  readonly batchSize: number;
  /** Shuffle: random order of batches, and random order among equal lengths. Default true. */
  readonly shuffle?: boolean;
  /** Seed of that order; pass a new one each epoch (e.g. seed + epoch). Default 0. */
  readonly seed?: number;
  /** Leave out the last, smaller batch (training usually does). Default false. */
  readonly dropLast?: boolean;
  /**
   * A second length per example, sorted on among equal first lengths (a pair's target side), so
   * that a batch of pairs pads both sides little. Default: none.
   */
  readonly secondLengths?: readonly number[];
}

/**
 * Groups example indices into batches of similar length: sort by length (then by the second
 * length, if given; equal lengths in a seeded random order), cut into batches, shuffle the
 * batches. Returns the indices of each batch.
 */
export function bucketBatches(lengths: readonly number[], options: BucketOptions): number[][] {
  const { batchSize, secondLengths } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  if (secondLengths && secondLengths.length !== lengths.length) {
    throw new Error(`secondLengths has ${secondLengths.length} entries for ${lengths.length} examples; give one per example`);
  }
  const second = (i: number) => secondLengths?.[i] ?? 0;
  const shuffle = options.shuffle ?? true;
  const random = mulberry32(options.seed ?? 0);
  const tieBreak = lengths.map(() => (shuffle ? random() : 0));
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[a]! - lengths[b]! || second(a) - second(b) || tieBreak[a]! - tieBreak[b]! || a - b);
  const batches: number[][] = [];
  for (let start = 0; start < order.length; start += batchSize) {
    const batch = order.slice(start, start + batchSize);
    if (batch.length < batchSize && options.dropLast) break;
    batches.push(batch);
  }
  return shuffle ? shuffled(batches, random) : batches;
}

export interface PaddedBatch {
  /** [T, B] token indices, time-major, padIndex after each sequence's end. */
  readonly tokens: Tensor;
  /** Valid steps of each sequence (at least 1: an empty sequence is given one pad token). */
  readonly lengths: number[];
}

/**
 * Pads sequences into one [T, B] batch, T being the longest length rounded up to a multiple of
 * `lengthMultiple` (default 8), so that batches share few shapes.
 */
export function padBatch(sequences: ReadonlyArray<ArrayLike<number>>, padIndex: number, lengthMultiple = 8): PaddedBatch {
  if (sequences.length === 0) throw new Error('padBatch: no sequences');
  const lengths = sequences.map((s) => Math.max(1, s.length));
  const longest = Math.max(...lengths);
  const T = Math.ceil(longest / lengthMultiple) * lengthMultiple;
  const B = sequences.length;
  const tokens = Tensor.full([T, B], padIndex);
  sequences.forEach((sequence, b) => {
    for (let t = 0; t < sequence.length; t++) tokens.data[t * B + b] = sequence[t]!;
  });
  return { tokens, lengths };
}
