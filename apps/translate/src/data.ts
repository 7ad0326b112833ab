/**
 * The translation app's data: the built-in tasks (English->French sentences, CMUdict
 * grapheme-to-phoneme) and the user's TSV of pairs, tokenised per side into examples. An example
 * has one source and every accepted reference (a word's several pronunciations); training uses
 * each reference as its own pair, evaluation counts any of them as correct.
 */
import { mulberry32, shuffle } from '@recurrent/core';
import { loadCmudict, loadEnglishFrench, loadPairsFile } from '@recurrent/datasets-translation';
import { createTokenizer, type TokenizerKind, type TokenizerOptions } from '@recurrent/text';
import { InputError } from '@recurrent/train';

export interface Example {
  readonly source: string[];
  /** Each accepted output, tokenised. */
  readonly references: string[][];
  /** The accepted outputs as text, for BLEU. */
  readonly referenceTexts: string[];
  /** Where it comes from (`file:line`, or the data set and index), for messages. */
  readonly origin: string;
}

/** How each side is tokenised; stored in the model folder, so run and eval tokenise alike. */
export interface TextSides {
  readonly source: TokenizerOptions;
  readonly target: TokenizerOptions;
}

export type TaskKind = 'en-fr' | 'g2p' | 'pairs';

export interface TaskData {
  readonly kind: TaskKind;
  readonly text: TextSides;
  readonly train: Example[];
  readonly validation: Example[];
  readonly test: Example[];
}

export const EN_FR_TEXT: TextSides = {
  source: { kind: 'reversible', lowercase: false, stripHtml: false },
  target: { kind: 'reversible', lowercase: false, stripHtml: false },
};
export const G2P_TEXT: TextSides = {
  source: { kind: 'characters', lowercase: true, stripHtml: false },
  target: { kind: 'symbols', lowercase: false, stripHtml: false },
};

export interface TaskOptions {
  /** en-fr: most English words per sentence. */
  readonly maxWords?: number;
  /** g2p: keep the stress digits. */
  readonly stress?: boolean;
  /** pairs: tokenisers of the two sides. */
  readonly sourceTokens?: TokenizerKind;
  readonly targetTokens?: TokenizerKind;
  readonly lowercase?: boolean;
  /** pairs: seed of the 90/10 train/validation split. */
  readonly seed?: number;
}

/** Tokenises text pairs, refusing a side that gives no tokens (naming where it comes from). */
export function tokenizePairs(pairs: ReadonlyArray<{ source: string; target: string }>, origins: readonly string[], text: TextSides): Example[] {
  const source = createTokenizer(text.source);
  const target = createTokenizer(text.target);
  return pairs.map((pair, i) => {
    const sourceTokens = source(pair.source);
    const targetTokens = target(pair.target);
    for (const [side, tokens, value] of [['source', sourceTokens, pair.source], ['target', targetTokens, pair.target]] as const) {
      if (tokens.length === 0) throw new InputError(`${origins[i]}: the ${side} has no tokens after tokenising (${JSON.stringify(value.slice(0, 40))}); give it text or delete the line`);
    }
    return { source: sourceTokens, references: [targetTokens], referenceTexts: [pair.target], origin: origins[i]! };
  });
}

/** en-fr, g2p, or a TSV path (split 90/10 into train/validation, seeded; no test part). */
export function loadTask(task: string, options: TaskOptions = {}): TaskData {
  if (task === 'en-fr') {
    const split = loadEnglishFrench({ maxWords: options.maxWords ?? 10 });
    const part = (name: string, pairs: typeof split.train) => tokenizePairs(pairs, pairs.map((_, i) => `en-fr ${name} pair ${i + 1}`), EN_FR_TEXT);
    return { kind: 'en-fr', text: EN_FR_TEXT, train: part('train', split.train), validation: part('validation', split.validation), test: part('test', split.test) };
  }
  if (task === 'g2p') {
    const split = loadCmudict({ stress: options.stress ?? false });
    const part = (name: string, words: typeof split.train) => words.map((w, i) => ({
      source: [...w.word], references: w.pronunciations, referenceTexts: w.pronunciations.map((p) => p.join(' ')), origin: `cmudict ${name} word ${i + 1} (${w.word})`,
    }));
    return { kind: 'g2p', text: G2P_TEXT, train: part('train', split.train), validation: part('validation', split.validation), test: part('test', split.test) };
  }
  const text: TextSides = {
    source: { kind: options.sourceTokens ?? 'reversible', lowercase: options.lowercase ?? false, stripHtml: false },
    target: { kind: options.targetTokens ?? 'reversible', lowercase: options.lowercase ?? false, stripHtml: false },
  };
  const data = loadPairsFile(task);
  const examples = shuffle(tokenizePairs(data.pairs, data.origins, text), mulberry32(options.seed ?? 1));
  if (examples.length < 2) throw new InputError(`${task}: ${examples.length} pair, too few to train on (some are held out for validation); give more lines`);
  const validationSize = Math.max(1, Math.round(examples.length / 10));
  return { kind: 'pairs', text, train: examples.slice(validationSize), validation: examples.slice(0, validationSize), test: [] };
}

/** The examples of a TSV (all of it), tokenised as a model's folder says: for eval. */
export function loadPairsExamples(file: string, text: TextSides): Example[] {
  const data = loadPairsFile(file);
  return tokenizePairs(data.pairs, data.origins, text);
}
