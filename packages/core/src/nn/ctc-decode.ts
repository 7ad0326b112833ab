/**
 * Decoding CTC outputs (Graves et al. 2006) on the host: greedy (best path) decoding and prefix
 * beam search (Graves 2012, Hannun et al. 2014) with optional language-model shallow fusion.
 * Both take one utterance's log-probabilities, [T, C] row-major (frame t, class c at t * C + c),
 * e.g. one batch item of `functional.logSoftmax` output, and report per-token frame spans.
 */

/** One emitted token and the frames [start, end) it occupies (end is exclusive). */
export interface CtcSpan {
  readonly token: number;
  /** The first frame of the token. */
  readonly start: number;
  /** One past its last frame. */
  readonly end: number;
  /** Greedy decoding: the sum of the token's frame log-probabilities over its run. */
  readonly score?: number;
}

export interface CtcGreedyResult {
  readonly tokens: number[];
  readonly spans: CtcSpan[];
}

export interface CtcDecodeOptions {
  /** The blank class. Default 0. */
  readonly blank?: number;
}

/** A token-level language model: log p(next | prefix). */
export interface CtcLanguageModel {
  score(prefix: readonly number[], next: number): number;
}

export interface CtcBeamSearchOptions extends CtcDecodeOptions {
  /** Prefixes kept after each frame, and hypotheses returned at most. Default 8. */
  readonly beamWidth?: number;
  /** Scores every extension of a prefix by one token (shallow fusion). */
  readonly languageModel?: CtcLanguageModel;
  /** The weight of the language model's log-probability. Default 0.5. */
  readonly lmWeight?: number;
  /** Added to the score per emitted token (counters the language model's bias to short outputs). Default 0. */
  readonly insertionBonus?: number;
  /** Classes whose log-probability at a frame is below this are not tried as extensions there. Default -Infinity (all are). */
  readonly pruneLogProb?: number;
}

export interface CtcHypothesis {
  readonly tokens: number[];
  /** ctcLogProb + lmWeight * lmLogProb + insertionBonus * tokens.length: what the beam is ranked by. */
  readonly logScore: number;
  /** log p(tokens | input) under CTC: every alignment summed (over the alignments the beam kept). */
  readonly ctcLogProb: number;
  /** The language model's log-probability of the tokens (0 without one). */
  readonly lmLogProb: number;
  readonly spans: CtcSpan[];
}

type LogProbs = Float32Array | Float64Array;

function check(where: string, logProbs: LogProbs, T: number, C: number, blank: number): void {
  if (!Number.isInteger(T) || T < 0 || !Number.isInteger(C) || C < 1) throw new RangeError(`${where}: T = ${T} and C = ${C} must be integers, T >= 0 and C >= 1`);
  if (!(logProbs instanceof Float32Array || logProbs instanceof Float64Array) || logProbs.length < T * C) {
    throw new RangeError(`${where}: logProbs must be a Float32Array or Float64Array of at least T * C = ${T * C} values`);
  }
  if (!Number.isInteger(blank) || blank < 0 || blank >= C) throw new RangeError(`${where}: blank = ${blank} is not a class in 0..${C - 1}`);
}

/**
 * Best-path decoding: the most probable class of each frame, repeats collapsed, blanks dropped.
 * Each token's span runs from the first to one past the last frame of its run of frames.
 */
export function ctcGreedyDecode(logProbs: LogProbs, T: number, C: number, options: CtcDecodeOptions = {}): CtcGreedyResult {
  const blank = options.blank ?? 0;
  check('ctcGreedyDecode', logProbs, T, C, blank);
  const tokens: number[] = [];
  const spans: CtcSpan[] = [];
  let previous = blank;
  let run: { token: number; start: number; end: number; score: number } | undefined;
  for (let t = 0; t < T; t++) {
    let best = 0;
    for (let c = 1; c < C; c++) if (logProbs[t * C + c]! > logProbs[t * C + best]!) best = c;
    const lp = logProbs[t * C + best]!;
    if (best !== blank && best === previous && run) {
      run.end = t + 1;
      run.score += lp;
    } else {
      if (run) spans.push(run);
      run = undefined;
      if (best !== blank) {
        tokens.push(best);
        run = { token: best, start: t, end: t + 1, score: lp };
      }
    }
    previous = best;
  }
  if (run) spans.push(run);
  return { tokens, spans };
}

/** Spans as a persistent list: extending or re-ending a prefix's spans costs O(1). */
interface SpanNode {
  readonly token: number;
  readonly start: number;
  readonly end: number;
  readonly previous: SpanNode | undefined;
}

function spansOf(node: SpanNode | undefined): CtcSpan[] {
  const out: CtcSpan[] = [];
  for (let n = node; n; n = n.previous) out.push({ token: n.token, start: n.start, end: n.end });
  return out.reverse();
}

/** A prefix in the beam: the log-probability of its alignments ending in a blank and in its last token. */
interface Beam {
  readonly tokens: number[];
  readonly key: string;
  readonly lm: number;
  blank: number;
  nonBlank: number;
  /** The spans along the most probable contribution to `blank` and to `nonBlank`. */
  blankSpans: SpanNode | undefined;
  nonBlankSpans: SpanNode | undefined;
  /** The largest single contribution so far to each, which chose the spans. */
  blankBest: number;
  nonBlankBest: number;
}

const logAdd = (a: number, b: number) => {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  return a > b ? a + Math.log1p(Math.exp(b - a)) : b + Math.log1p(Math.exp(a - b));
};

const total = (beam: Beam) => logAdd(beam.blank, beam.nonBlank);
/** The spans of the more probable half of a beam. */
const bestSpans = (beam: Beam) => (beam.blank >= beam.nonBlank ? beam.blankSpans : beam.nonBlankSpans);

/**
 * Prefix beam search. Each prefix keeps two log-probabilities, of its alignments so far ending
 * in a blank and ending in its last token; a frame extends each kept prefix by a blank (same
 * prefix), by its last token (same prefix: the repeat collapses, unless it follows a blank, which
 * makes a new token) and by every other token; merged prefixes add their probabilities. Prefixes
 * are ranked by ctcLogProb + lmWeight * lmLogProb + insertionBonus * length, where the language
 * model scores each token when it is appended, and the best `beamWidth` survive each frame.
 * Returns up to `beamWidth` hypotheses, best first.
 *
 * Spans: alongside each of its two probabilities, a prefix keeps the token spans of its largest
 * single contribution (a Viterbi-style back-pointer over the merged prefix paths): a token starts
 * at the frame where that contribution appended it and ends one past the last frame where the
 * contribution stayed on it. When one alignment dominates, these are greedy decoding's spans.
 */
export function ctcPrefixBeamSearch(logProbs: LogProbs, T: number, C: number, options: CtcBeamSearchOptions = {}): CtcHypothesis[] {
  const blank = options.blank ?? 0;
  check('ctcPrefixBeamSearch', logProbs, T, C, blank);
  const beamWidth = options.beamWidth ?? 8;
  if (!Number.isInteger(beamWidth) || beamWidth < 1) throw new RangeError(`ctcPrefixBeamSearch: beamWidth = ${beamWidth} must be a positive integer`);
  const lm = options.languageModel;
  const lmWeight = lm ? (options.lmWeight ?? 0.5) : 0;
  const bonus = options.insertionBonus ?? 0;
  const prune = options.pruneLogProb ?? -Infinity;
  const rank = (beam: Beam) => total(beam) + lmWeight * beam.lm + bonus * beam.tokens.length;
  // The language model sees each (prefix, token) once, however often the beam re-extends it.
  const lmCache = new Map<string, number>();
  const lmScore = (parent: Beam, token: number) => {
    if (!lm) return 0;
    const key = `${parent.key}|${token}`;
    let score = lmCache.get(key);
    if (score === undefined) {
      score = lm.score(parent.tokens, token);
      lmCache.set(key, score);
    }
    return score;
  };
  const fresh = (tokens: number[], key: string, lmValue: number): Beam => ({
    tokens, key, lm: lmValue, blank: -Infinity, nonBlank: -Infinity,
    blankSpans: undefined, nonBlankSpans: undefined, blankBest: -Infinity, nonBlankBest: -Infinity,
  });
  const addBlank = (beam: Beam, value: number, spans: SpanNode | undefined) => {
    beam.blank = logAdd(beam.blank, value);
    if (value > beam.blankBest) {
      beam.blankBest = value;
      beam.blankSpans = spans;
    }
  };
  const addNonBlank = (beam: Beam, value: number, spans: SpanNode | undefined) => {
    beam.nonBlank = logAdd(beam.nonBlank, value);
    if (value > beam.nonBlankBest) {
      beam.nonBlankBest = value;
      beam.nonBlankSpans = spans;
    }
  };

  const root = fresh([], '', 0);
  root.blank = 0;
  let beams: Beam[] = [root];
  for (let t = 0; t < T; t++) {
    const row = t * C;
    const next = new Map<string, Beam>();
    const slot = (tokens: number[], key: string, lmValue: () => number) => {
      let beam = next.get(key);
      if (!beam) {
        beam = fresh(tokens, key, lmValue());
        next.set(key, beam);
      }
      return beam;
    };
    for (const beam of beams) {
      const all = total(beam);
      const same = slot(beam.tokens, beam.key, () => beam.lm);
      // A blank: the prefix stays, now ending in a blank.
      addBlank(same, all + logProbs[row + blank]!, bestSpans(beam));
      const last = beam.tokens[beam.tokens.length - 1];
      if (last !== undefined) {
        // The last token again, straight after itself: it collapses into the same token.
        const spans = beam.nonBlankSpans && { ...beam.nonBlankSpans, end: t + 1 };
        addNonBlank(same, beam.nonBlank + logProbs[row + last]!, spans);
      }
      for (let c = 0; c < C; c++) {
        if (c === blank) continue;
        const lp = logProbs[row + c]!;
        if (lp < prune || lp === -Infinity) continue;
        // A repeat of the last token is a new token only after a blank.
        const from = c === last ? beam.blank : all;
        if (from === -Infinity) continue;
        const parentSpans = c === last ? beam.blankSpans : bestSpans(beam);
        const key = beam.key === '' ? `${c}` : `${beam.key},${c}`;
        const extended = slot([...beam.tokens, c], key, () => beam.lm + lmScore(beam, c));
        addNonBlank(extended, from + lp, { token: c, start: t, end: t + 1, previous: parentSpans });
      }
    }
    // Each frame's beams are new objects: the best-contribution scores arbitrate within a frame.
    beams = [...next.values()].sort((a, b) => rank(b) - rank(a)).slice(0, beamWidth);
  }
  return beams
    .map((beam) => ({
      tokens: beam.tokens,
      logScore: rank(beam),
      ctcLogProb: total(beam),
      lmLogProb: beam.lm,
      spans: spansOf(bestSpans(beam)),
    }))
    .sort((a, b) => b.logScore - a.logScore);
}
