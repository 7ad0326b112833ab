/**
 * English/French sentence pairs: the English sentences of the npm package `nlp-corpus` (4.4.0:
 * 100,000 sentences of many kinds, in builds/doc-0.json .. doc-99.json) and their French
 * translations in `fr-corpus` (0.0.1: 100,000 `[french, key]` pairs, machine-translated with AWS
 * Translate in June 2022), where `key` is the hex md5 of the English sentence.
 *
 * The keying, found by hashing every English sentence: the md5 is taken over the sentence's
 * UTF-16 code units truncated to one byte each (what a JavaScript md5 that skips UTF-8 encoding
 * computes; Node's `latin1` encoding), not over its UTF-8 bytes. The two agree on ASCII text:
 * 93,554 sentences match by the UTF-8 md5 and all of them are ASCII; 5,490 more, all with
 * non-ASCII characters (’ – “ é ...), match only by the byte-truncated md5; 956 (with curly
 * quotes, ellipses, Arabic and Bengali script ...) match neither and are left out. No key
 * matches a sentence other than the one at the same position of the other package.
 *
 * Both sides have runs of whitespace collapsed to one space and are trimmed (fr-corpus has
 * trailing spaces on about a fifth of its sentences); an English sentence that repeats one seen
 * before is dropped (47, differing only by whitespace). That gives 98,997 pairs.
 */
import { createHash } from 'node:crypto';
import { all as englishSentences } from 'nlp-corpus';
import { all as frenchTranslations } from 'fr-corpus';
import { seededSplit, type Split } from './split.js';
import { countWords, normaliseSpaces, type TextPair } from './text.js';

export interface EnglishFrenchOptions {
  /** Keep pairs whose English side has at most this many words (space-separated). Default 10; Infinity keeps all. */
  readonly maxWords?: number;
  /** Seed of the split. Default 42. */
  readonly seed?: number;
}

/** Shares of the whole aligned corpus (before the word limit) given to test and validation. */
export const ENGLISH_FRENCH_TEST_SHARE = 0.05;
export const ENGLISH_FRENCH_VALIDATION_SHARE = 0.05;

const md5 = (text: string, encoding: 'utf8' | 'latin1') => createHash('md5').update(text, encoding).digest('hex');

// Held weakly: a training process keeps its split, and the whole corpus beside it only made
// every major collection mark twice the data. Calls close together still share one build.
let aligned: WeakRef<readonly TextPair[]> | undefined;

/** Every aligned, normalised, deduplicated pair, in the corpus's order (98,997). */
export function alignEnglishFrench(): readonly TextPair[] {
  const cached = aligned?.deref();
  if (cached) return cached;
  const french = new Map(frenchTranslations().map(([text, key]) => [key, text]));
  const seen = new Set<string>();
  const pairs: TextPair[] = [];
  for (const english of englishSentences()) {
    const translation = french.get(md5(english, 'utf8')) ?? french.get(md5(english, 'latin1'));
    if (translation === undefined) continue;
    const source = normaliseSpaces(english);
    const target = normaliseSpaces(translation);
    if (source === '' || target === '' || seen.has(source)) continue;
    seen.add(source);
    pairs.push({ source, target });
  }
  aligned = new WeakRef(pairs);
  return pairs;
}

/**
 * English -> French pairs with a seeded split. The whole aligned corpus is shuffled with
 * mulberry32(seed); the first 5% goes to test, the next 5% to validation, the other 90% to train;
 * then each part keeps the pairs of at most `maxWords` English words. A sentence's part so
 * depends only on the seed, never on `maxWords` (the 10-word test set is the short part of the
 * full one). With the defaults: 37,560 / 2,031 / 2,039 of 41,630 pairs; with maxWords Infinity,
 * 89,097 / 4,950 / 4,950 of 98,997.
 */
export function loadEnglishFrench(options: EnglishFrenchOptions = {}): Split<TextPair> {
  const maxWords = options.maxWords ?? 10;
  const seed = options.seed ?? 42;
  if (!(maxWords === Infinity || (Number.isInteger(maxWords) && maxWords >= 1))) throw new RangeError(`maxWords must be a whole number >= 1 or Infinity, got ${maxWords}`);
  const pairs = alignEnglishFrench();
  const test = Math.round(pairs.length * ENGLISH_FRENCH_TEST_SHARE);
  const validation = Math.round(pairs.length * ENGLISH_FRENCH_VALIDATION_SHARE);
  const split = seededSplit(pairs, seed, test, validation);
  const short = (pair: TextPair) => countWords(pair.source) <= maxWords;
  return { train: split.train.filter(short), validation: split.validation.filter(short), test: split.test.filter(short) };
}
