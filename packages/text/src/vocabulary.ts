/**
 * A vocabulary: tokens to indices and back, with padding and unknown tokens, built from a corpus
 * with a minimum frequency and a maximum size, saved beside a model as JSON.
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '@recurrent/core';

export const PAD = '<pad>';
export const UNK = '<unk>';

export interface VocabularyOptions {
  /** Tokens seen fewer times are left out (mapped to <unk>). Default 1. */
  readonly minFrequency?: number;
  /** At most this many tokens, specials included; the most frequent are kept. Default: no limit. */
  readonly maxSize?: number;
  /** Extra special tokens after <pad> and <unk>, e.g. ['<bos>', '<eos>']. Default none. */
  readonly specials?: readonly string[];
}

export class Vocabulary {
  readonly tokens: readonly string[];
  private readonly index: ReadonlyMap<string, number>;

  constructor(tokens: readonly string[]) {
    if (tokens[0] !== PAD || tokens[1] !== UNK) throw new Error(`a vocabulary starts with ${PAD} and ${UNK}, got ${JSON.stringify(tokens.slice(0, 2))}`);
    const index = new Map<string, number>();
    tokens.forEach((token, i) => {
      if (index.has(token)) throw new Error(`the vocabulary lists ${JSON.stringify(token)} twice (entries ${index.get(token)} and ${i})`);
      index.set(token, i);
    });
    this.tokens = tokens;
    this.index = index;
  }

  /**
   * Counts tokens over `sequences` and keeps those seen at least minFrequency times, most frequent
   * first (ties in alphabetical order, so the same corpus always gives the same vocabulary).
   */
  static build(sequences: Iterable<readonly string[]>, options: VocabularyOptions = {}): Vocabulary {
    const specials = [PAD, UNK, ...(options.specials ?? [])];
    const counts = new Map<string, number>();
    for (const sequence of sequences) for (const token of sequence) counts.set(token, (counts.get(token) ?? 0) + 1);
    const minFrequency = options.minFrequency ?? 1;
    const ranked = [...counts]
      .filter(([token, count]) => count >= minFrequency && !specials.includes(token))
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([token]) => token);
    const limit = options.maxSize === undefined ? ranked.length : Math.max(0, options.maxSize - specials.length);
    return new Vocabulary([...specials, ...ranked.slice(0, limit)]);
  }

  get size(): number {
    return this.tokens.length;
  }

  get padIndex(): number {
    return 0;
  }

  get unkIndex(): number {
    return 1;
  }

  indexOf(token: string): number {
    return this.index.get(token) ?? this.unkIndex;
  }

  encode(tokens: readonly string[]): number[] {
    return tokens.map((token) => this.indexOf(token));
  }

  decode(indices: readonly number[]): string[] {
    return indices.map((i) => this.tokens[i] ?? UNK);
  }

  toJSON(): { tokens: readonly string[] } {
    return { tokens: this.tokens };
  }

  save(file: string): void {
    writeFileAtomic(file, [`${JSON.stringify(this.toJSON())}\n`]);
  }

  /** Reads a vocabulary file, naming the file and the fix when it is not one. */
  static load(file: string): Vocabulary {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new Error(`${file}: not a vocabulary file (${(error as Error).message}); write it with Vocabulary.save`);
    }
    const tokens = (parsed as { tokens?: unknown }).tokens;
    if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === 'string')) {
      throw new Error(`${file}: a vocabulary file holds {"tokens": [strings]}; write it with Vocabulary.save`);
    }
    try {
      return new Vocabulary(tokens);
    } catch (error) {
      throw new Error(`${file}: ${(error as Error).message}`);
    }
  }
}
