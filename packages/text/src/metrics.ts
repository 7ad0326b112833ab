/**
 * Evaluation metrics for sequence-to-sequence models: BLEU exactly as sacreBLEU computes it
 * (translation), and edit-distance error rates (phoneme and word error rates for G2P, character
 * or word error rates for speech).
 *
 * BLEU follows sacreBLEU 2.x (`sacrebleu.corpus_bleu` / `sentence_bleu` with their defaults):
 * the 13a tokeniser (mteval-v13a's rules, as in sacrebleu/tokenizers/tokenizer_13a.py and
 * tokenizer_re.py), n-grams up to 4 clipped by the largest count in any one reference, the
 * brevity penalty on the sum over sentences of the reference length closest to each hypothesis's
 * length (the shorter one on a tie), 'exp' smoothing (mteval's: the k-th order with no match
 * counts as 1 / (2^k total)), and the score on a 0-100 scale. The same inputs give sacreBLEU's
 * numbers and its printed line, e.g. `BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944
 * hyp_len = 17 ref_len = 18)`. One difference in the call: here `references[i]` holds the
 * reference (or references) of `hypotheses[i]`; sacreBLEU takes one list per reference set.
 */

export type BleuSmoothing = 'exp' | 'floor' | 'add-k' | 'none';

export interface BleuOptions {
  /** '13a' (default; sacreBLEU's and WMT's standard) or 'none' (split on whitespace only, for text tokenised already). */
  readonly tokenize?: '13a' | 'none';
  /** Lower-case hypotheses and references first (sacreBLEU's `lowercase`). Default false. */
  readonly lowercase?: boolean;
  /** Default 'exp'. 'floor' uses `smoothValue` (default 0.1) for orders with no match, 'add-k' adds `smoothValue` (default 1) to orders 2 and up. */
  readonly smoothMethod?: BleuSmoothing;
  readonly smoothValue?: number;
  /** Highest n-gram order. Default 4. */
  readonly maxNgramOrder?: number;
  /** Average only over the orders that have n-grams in the hypotheses. Default false for corpusBleu, true for sentenceBleu (as sacreBLEU). */
  readonly effectiveOrder?: boolean;
}

export interface BleuScore {
  /** BLEU on a 0-100 scale. */
  readonly score: number;
  /** Clipped n-gram matches, order 1 first (after add-k smoothing, as sacreBLEU reports them). */
  readonly counts: readonly number[];
  /** Hypothesis n-grams, order 1 first. */
  readonly totals: readonly number[];
  /** n-gram precisions on a 0-100 scale, smoothed; all 0 when nothing matches. */
  readonly precisions: readonly number[];
  /** Brevity penalty, exp(1 - refLen / sysLen) when the hypotheses are shorter, else 1. */
  readonly bp: number;
  /** Tokens in all hypotheses (sacreBLEU's sys_len, printed as hyp_len). */
  readonly sysLen: number;
  /** Sum over sentences of the closest reference length (sacreBLEU's ref_len). */
  readonly refLen: number;
  /** sysLen / refLen, 0 when refLen is 0. */
  readonly ratio: number;
  /** sacreBLEU's line: `BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)`. */
  format(): string;
}

/** The characters Python's str.isspace() accepts: what sacreBLEU's `split()` and `rstrip()` split on and strip. */
const PY_SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_SPACES = new RegExp(`[${PY_SPACE}]+`);
const PY_TRAILING_SPACES = new RegExp(`[${PY_SPACE}]+$`);

/** Python's `str.split()`: runs of whitespace separate, none at the ends. */
function pySplit(text: string): string[] {
  return text.split(PY_SPACES).filter((token) => token !== '');
}

/** sacrebleu's TokenizerRegexp, applied in this order (mteval-v13a's language-dependent part). */
const RULES_13A: ReadonlyArray<readonly [RegExp, string]> = [
  // Punctuation and symbols: { | } ~  [ \ ] ^ _ `  space ! " # $ % &  ( ) * +  : ; < = > ? @  /
  [/([{-~[-` -&(-+:-@/])/g, ' $1 '],
  // Period and comma unless preceded by a digit.
  [/([^0-9])([.,])/g, '$1 $2 '],
  // Period and comma unless followed by a digit.
  [/([.,])([^0-9])/g, ' $1 $2'],
  // Dash when preceded by a digit.
  [/([0-9])(-)/g, '$1 $2 '],
];

/**
 * sacreBLEU's `13a` tokeniser (mteval-v13a.pl's): drops `<skipped>`, joins lines broken with a
 * hyphen, unescapes `&quot; &amp; &lt; &gt;`, splits off punctuation and symbols, and periods and
 * commas except inside numbers; tokens joined by single spaces.
 */
export function tokenize13a(line: string): string {
  let text = line.replaceAll('<skipped>', '').replaceAll('-\n', '').replaceAll('\n', ' ');
  if (text.includes('&')) {
    text = text.replaceAll('&quot;', '"').replaceAll('&amp;', '&').replaceAll('&lt;', '<').replaceAll('&gt;', '>');
  }
  text = ` ${text} `;
  for (const [pattern, replacement] of RULES_13A) text = text.replace(pattern, replacement);
  return pySplit(text).join(' ');
}

interface ResolvedBleuOptions {
  readonly tokenize: '13a' | 'none';
  readonly lowercase: boolean;
  readonly smoothMethod: BleuSmoothing;
  readonly smoothValue: number;
  readonly maxNgramOrder: number;
  readonly effectiveOrder: boolean;
}

function resolveOptions(options: BleuOptions, effectiveOrder: boolean): ResolvedBleuOptions {
  const smoothMethod = options.smoothMethod ?? 'exp';
  if (!['exp', 'floor', 'add-k', 'none'].includes(smoothMethod)) throw new Error(`unknown smoothMethod "${smoothMethod}"; use 'exp', 'floor', 'add-k' or 'none'`);
  const tokenize = options.tokenize ?? '13a';
  if (tokenize !== '13a' && tokenize !== 'none') throw new Error(`unknown tokenize "${tokenize}"; use '13a' or 'none'`);
  const maxNgramOrder = options.maxNgramOrder ?? 4;
  if (!Number.isInteger(maxNgramOrder) || maxNgramOrder < 1) throw new Error(`maxNgramOrder must be a positive integer, got ${maxNgramOrder}`);
  return {
    tokenize,
    lowercase: options.lowercase ?? false,
    smoothMethod,
    smoothValue: options.smoothValue ?? (smoothMethod === 'floor' ? 0.1 : 1),
    maxNgramOrder,
    effectiveOrder: options.effectiveOrder ?? effectiveOrder,
  };
}

function preprocess(sentence: string, options: ResolvedBleuOptions): string[] {
  const text = (options.lowercase ? sentence.toLowerCase() : sentence).replace(PY_TRAILING_SPACES, '');
  return options.tokenize === '13a' ? pySplit(tokenize13a(text)) : pySplit(text);
}

/** Counts of every n-gram, 1 <= n <= maxOrder, keyed by its tokens joined with spaces (tokens hold none). */
function ngramCounts(tokens: readonly string[], maxOrder: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let n = 1; n <= maxOrder; n++) {
    for (let i = 0; i + n <= tokens.length; i++) {
      const key = tokens.slice(i, i + n).join(' ');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

/** The reference length closest to the hypothesis length; the shorter one on a tie (sacreBLEU's _get_closest_ref_len). */
function closestLength(hypothesisLength: number, referenceLengths: readonly number[]): number {
  let best = -1;
  let bestDiff = -1;
  for (const length of referenceLengths) {
    const diff = Math.abs(hypothesisLength - length);
    if (bestDiff === -1 || diff < bestDiff || (diff === bestDiff && length < best)) {
      bestDiff = diff;
      best = length;
    }
  }
  return best;
}

/** Python's `f"{x:.{digits}f}"`: like toFixed, but an exact tie rounds to the even digit (toFixed rounds it up). */
export function formatFixed(x: number, digits: number): string {
  const fixed = x.toFixed(digits);
  if (!Number.isFinite(x)) return fixed;
  // A tie needs an exact decimal ending in 5 one place further, hence at most digits + 1 binary fraction bits.
  const scaled = Math.abs(x) * 2 ** (digits + 1);
  if (!Number.isInteger(scaled)) return fixed;
  const longer = Math.abs(x).toFixed(digits + 1);
  if (!longer.endsWith('5')) return fixed;
  const down = longer.slice(0, -1).replace(/\.$/, '');
  const lastKept = Number(down.replace('.', '').slice(-1));
  const magnitude = lastKept % 2 === 0 ? down : Math.abs(x).toFixed(digits);
  return x < 0 || Object.is(x, -0) ? `-${magnitude}` : magnitude;
}

/** sacreBLEU's compute_bleu from the summed sufficient statistics. */
function computeBleu(correct: number[], total: number[], sysLen: number, refLen: number, options: ResolvedBleuOptions): BleuScore {
  const { smoothMethod, smoothValue, maxNgramOrder, effectiveOrder } = options;
  let bp = 1;
  if (sysLen < refLen) bp = sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0;
  const precisions = new Array<number>(maxNgramOrder).fill(0);
  let score = 0;
  if (correct.some((c) => c !== 0)) {
    let smoothMteval = 1;
    let order = maxNgramOrder;
    for (let n = 1; n <= maxNgramOrder; n++) {
      if (smoothMethod === 'add-k' && n > 1) {
        correct[n - 1]! += smoothValue;
        total[n - 1]! += smoothValue;
      }
      if (total[n - 1] === 0) break;
      if (effectiveOrder) order = n;
      if (correct[n - 1] === 0) {
        if (smoothMethod === 'exp') {
          smoothMteval *= 2;
          precisions[n - 1] = 100 / (smoothMteval * total[n - 1]!);
        } else if (smoothMethod === 'floor') {
          precisions[n - 1] = (100 * smoothValue) / total[n - 1]!;
        }
      } else {
        precisions[n - 1] = (100 * correct[n - 1]!) / total[n - 1]!;
      }
    }
    // sacreBLEU's my_log floors log(0) to -9999999999.
    const logSum = precisions.slice(0, order).reduce((sum, p) => sum + (p === 0 ? -9999999999 : Math.log(p)), 0);
    score = bp * Math.exp(logSum / order);
  }
  const ratio = refLen ? sysLen / refLen : 0;
  return {
    score,
    counts: correct,
    totals: total,
    precisions,
    bp,
    sysLen,
    refLen,
    ratio,
    format: () =>
      `BLEU = ${formatFixed(score, 2)} ${precisions.map((p) => formatFixed(p, 1)).join('/')} (BP = ${formatFixed(bp, 3)} ratio = ${formatFixed(ratio, 3)} hyp_len = ${sysLen} ref_len = ${refLen})`,
  };
}

function bleu(hypotheses: readonly string[], references: ReadonlyArray<string | readonly string[]>, options: ResolvedBleuOptions): BleuScore {
  if (hypotheses.length !== references.length) {
    throw new Error(`${hypotheses.length} hypotheses but ${references.length} references; give one reference (or list of references) per hypothesis`);
  }
  const order = options.maxNgramOrder;
  const correct = new Array<number>(order).fill(0);
  const total = new Array<number>(order).fill(0);
  let sysLen = 0;
  let refLen = 0;
  hypotheses.forEach((hypothesis, i) => {
    const item = references[i]!;
    const refs = typeof item === 'string' ? [item] : item;
    if (refs.length === 0) throw new Error(`hypothesis ${i} has no reference; give at least one`);
    const referenceNgrams = new Map<string, number>();
    const referenceLengths: number[] = [];
    for (const reference of refs) {
      const tokens = preprocess(reference, options);
      referenceLengths.push(tokens.length);
      for (const [ngram, count] of ngramCounts(tokens, order)) {
        if (count > (referenceNgrams.get(ngram) ?? 0)) referenceNgrams.set(ngram, count);
      }
    }
    const tokens = preprocess(hypothesis, options);
    sysLen += tokens.length;
    refLen += closestLength(tokens.length, referenceLengths);
    for (const [ngram, count] of ngramCounts(tokens, order)) {
      const n = ngram.split(' ').length - 1;
      total[n]! += count;
      correct[n]! += Math.min(count, referenceNgrams.get(ngram) ?? 0);
    }
  });
  return computeBleu(correct, total, sysLen, refLen, options);
}

/**
 * Corpus BLEU, as `sacrebleu.corpus_bleu(hypotheses, streams)` with its defaults. `references[i]`
 * is the reference of `hypotheses[i]`, or a list of its references (any number, at least one).
 */
export function corpusBleu(hypotheses: readonly string[], references: ReadonlyArray<string | readonly string[]>, options: BleuOptions = {}): BleuScore {
  return bleu(hypotheses, references, resolveOptions(options, false));
}

/** Sentence BLEU, as `sacrebleu.sentence_bleu(hypothesis, references)`: 'exp' smoothing and effective order by default. */
export function sentenceBleu(hypothesis: string, references: string | readonly string[], options: BleuOptions = {}): BleuScore {
  return bleu([hypothesis], [references], resolveOptions(options, true));
}

/** Levenshtein distance: the fewest insertions, deletions and substitutions turning `a` into `b` (elements compared with ===). */
export function editDistance<T>(a: readonly T[], b: readonly T[]): number {
  if (a.length < b.length) return editDistance(b, a);
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  let current = new Array<number>(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    const x = a[i - 1];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (x === b[j - 1] ? 0 : 1));
    }
    [previous, current] = [current, previous];
  }
  return previous[b.length]!;
}

/** The references of one item: a sequence (one reference) or a list of sequences (several). Elements of T must not be arrays. */
type References<T> = readonly T[] | ReadonlyArray<readonly T[]>;

function referencesOf<T>(item: References<T>, index: number): ReadonlyArray<readonly T[]> {
  const several = item.length > 0 && item.every((x) => Array.isArray(x));
  const refs = several ? (item as ReadonlyArray<readonly T[]>) : [item as readonly T[]];
  if (refs.length === 0) throw new Error(`item ${index} has no reference; give at least one`);
  return refs;
}

function checkLengths(hypotheses: readonly unknown[], references: readonly unknown[]): void {
  if (hypotheses.length !== references.length) {
    throw new Error(`${hypotheses.length} hypotheses but ${references.length} references; give one reference (or list of references) per hypothesis`);
  }
}

/** A hypothesis's closest reference and the fewest edits turning the hypothesis into it. */
export interface Closest<T> {
  readonly edits: number;
  readonly reference: readonly T[];
}

/**
 * For each hypothesis, the reference of `references[i]` (a sequence, or a list of them) needing
 * the fewest edits, the first of those where several tie.
 */
export function closestReferences<T>(hypotheses: ReadonlyArray<readonly T[]>, references: ReadonlyArray<References<T>>): Closest<T>[] {
  checkLengths(hypotheses, references);
  return hypotheses.map((hypothesis, i) => {
    let closest: Closest<T> | undefined;
    for (const reference of referencesOf(references[i]!, i)) {
      const edits = editDistance(hypothesis, reference);
      if (closest === undefined || edits < closest.edits) closest = { edits, reference };
    }
    return closest!;
  });
}

/**
 * Total edits over total reference length (phoneme error rate for G2P, character or word error
 * rate for speech), on a 0-1 scale. `references[i]` is the reference sequence of `hypotheses[i]`
 * or a list of them; with several, each item is scored against the one needing the fewest edits
 * (the first of those), and that reference's length counts. An empty reference of length 0 is
 * allowed, but a total reference length of 0 is an error.
 */
export function errorRate<T>(hypotheses: ReadonlyArray<readonly T[]>, references: ReadonlyArray<References<T>>): number {
  return errorRateOf(closestReferences(hypotheses, references));
}

/** errorRate from the closest references already found. */
export function errorRateOf(closest: ReadonlyArray<Closest<unknown>>): number {
  let edits = 0;
  let length = 0;
  for (const item of closest) {
    edits += item.edits;
    length += item.reference.length;
  }
  if (length === 0) throw new Error('the references are all empty (total length 0); an error rate needs reference tokens');
  return edits / length;
}

/** What kinds of errors the wrong outputs make (errorProfile). */
export interface ErrorProfile<T> {
  /** Items equal to one of their references. */
  readonly exact: number;
  /** The other items by their edits to the closest reference: one, two, three or more. */
  readonly wrongByEdits: readonly [number, number, number];
  /**
   * Among items one substitution from their closest reference, which token stood for which
   * (`output` where the reference has `reference`), the commonest first (ties in order of first
   * appearance), at most `top` of them. A same-length item one edit away differs in one place.
   */
  readonly substitutions: ReadonlyArray<{ readonly reference: T; readonly output: T; readonly count: number }>;
}

/** Sorts wrong outputs by how far they are from right (G2P: how many phonemes off, and which). */
export function errorProfile<T>(hypotheses: ReadonlyArray<readonly T[]>, closest: ReadonlyArray<Closest<T>>, top = 10): ErrorProfile<T> {
  checkLengths(hypotheses, closest);
  let exact = 0;
  const wrongByEdits: [number, number, number] = [0, 0, 0];
  // each pair once, in order of first appearance, found by reference token then output token
  const pairs: Array<{ reference: T; output: T; count: number }> = [];
  const lookup = new Map<T, Map<T, { count: number }>>();
  hypotheses.forEach((hypothesis, i) => {
    const { edits, reference } = closest[i]!;
    if (edits === 0) {
      exact++;
      return;
    }
    wrongByEdits[Math.min(edits, 3) - 1]!++;
    if (edits !== 1 || hypothesis.length !== reference.length) return;
    const at = reference.findIndex((token, k) => token !== hypothesis[k]);
    const [expected, output] = [reference[at]!, hypothesis[at]!];
    const byOutput = lookup.get(expected) ?? lookup.set(expected, new Map()).get(expected)!;
    const pair = byOutput.get(output);
    if (pair) pair.count++;
    else {
      const added = { reference: expected, output, count: 1 };
      pairs.push(added);
      byOutput.set(output, added);
    }
  });
  // Array.prototype.sort is stable: equal counts keep their order of first appearance.
  return { exact, wrongByEdits, substitutions: pairs.sort((a, b) => b.count - a.count).slice(0, top) };
}

/** Share of items (0-1) whose hypothesis equals none of its references: the word error rate of G2P. */
export function wordErrorRate<T>(hypotheses: ReadonlyArray<readonly T[]>, references: ReadonlyArray<References<T>>): number {
  checkLengths(hypotheses, references);
  if (hypotheses.length === 0) throw new Error('no items; a word error rate needs at least one');
  let wrong = 0;
  hypotheses.forEach((hypothesis, i) => {
    const right = referencesOf(references[i]!, i).some((reference) => reference.length === hypothesis.length && reference.every((x, k) => x === hypothesis[k]));
    if (!right) wrong++;
  });
  return wrong / hypotheses.length;
}

export interface ClassScores {
  /** Of the rows predicted as this class, the share that are (0 when none is predicted, as scikit-learn's zero_division=0). */
  readonly precision: number;
  /** Of the rows of this class, the share predicted so. */
  readonly recall: number;
  readonly f1: number;
  /** Rows of this class. */
  readonly support: number;
}

export interface ClassificationReport {
  readonly classes: readonly ClassScores[];
  readonly accuracy: number;
  /** The unweighted mean of the classes' F1: a rare class counts as much as a common one. */
  readonly macroF1: number;
  /** The classes' F1 weighted by support. */
  readonly weightedF1: number;
}

/**
 * Precision, recall and F1 per class from a confusion matrix (confusion[true][predicted]), with
 * their macro and support-weighted means: scikit-learn's classification_report (zero_division=0).
 */
export function classificationReport(confusion: ReadonlyArray<readonly number[]>): ClassificationReport {
  const C = confusion.length;
  if (!confusion.every((row) => row.length === C)) throw new Error(`classificationReport: the confusion matrix must be ${C} x ${C}`);
  const total = confusion.reduce((s, row) => s + row.reduce((a, b) => a + b, 0), 0);
  const classes = confusion.map((row, c) => {
    const truePositive = row[c]!;
    const support = row.reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((s, r) => s + r[c]!, 0);
    const precision = predicted === 0 ? 0 : truePositive / predicted;
    const recall = support === 0 ? 0 : truePositive / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    return { precision, recall, f1, support };
  });
  return {
    classes,
    accuracy: total === 0 ? 0 : confusion.reduce((s, row, c) => s + row[c]!, 0) / total,
    macroF1: C === 0 ? 0 : classes.reduce((s, k) => s + k.f1, 0) / C,
    weightedF1: total === 0 ? 0 : classes.reduce((s, k) => s + k.f1 * k.support, 0) / total,
  };
}
