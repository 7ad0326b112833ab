import { describe, expect, it } from 'vitest';
import { ctcGreedyDecode, ctcPrefixBeamSearch, type CtcLanguageModel } from '../src/index.js';
import { mulberry32 } from '../src/random.js';
import { ctcLossReference } from '../src/reference/index.js';

/**
 * A posterior [T, C] whose frame t puts `peak` on classes[t] and spreads the rest evenly, as log
 * probabilities.
 */
function posterior(classes: number[], C: number, peak: number): Float64Array {
  const out = new Float64Array(classes.length * C).fill(Math.log((1 - peak) / (C - 1)));
  classes.forEach((c, t) => (out[t * C + c] = Math.log(peak)));
  return out;
}

/** log-probabilities from rows of probabilities. */
const logOf = (rows: number[][]) => Float64Array.from(rows.flat(), Math.log);

/** The spans without their scores. */
const bare = (spans: ReadonlyArray<{ token: number; start: number; end: number }>) => spans.map(({ token, start, end }) => ({ token, start, end }));

describe('ctcGreedyDecode', () => {
  const frames = [0, 1, 1, 0, 2, 2, 1, 0, 1, 1, 3];
  const lp = posterior(frames, 4, 0.7);

  it('collapses repeats, drops blanks and reports each run as a span', () => {
    const { tokens, spans } = ctcGreedyDecode(lp, frames.length, 4);
    expect(tokens).toEqual([1, 2, 1, 1, 3]);
    expect(bare(spans)).toEqual([
      { token: 1, start: 1, end: 3 },
      { token: 2, start: 4, end: 6 },
      { token: 1, start: 6, end: 7 },
      { token: 1, start: 8, end: 10 },
      { token: 3, start: 10, end: 11 },
    ]);
    expect(spans[0]!.score).toBeCloseTo(2 * Math.log(0.7), 12);
  });

  it('takes another blank index and float32 input', () => {
    // With blank = 3, class 0 is a label.
    const { tokens, spans } = ctcGreedyDecode(Float32Array.from(lp), frames.length, 4, { blank: 3 });
    expect(tokens).toEqual([0, 1, 0, 2, 1, 0, 1]);
    expect(spans.at(-1)).toMatchObject({ token: 1, start: 8, end: 10 });
  });

  it('decodes nothing from no frames and refuses a bad blank', () => {
    expect(ctcGreedyDecode(new Float32Array(0), 0, 3)).toEqual({ tokens: [], spans: [] });
    expect(() => ctcGreedyDecode(lp, frames.length, 4, { blank: 4 })).toThrow(/blank = 4 is not a class in 0\.\.3/);
    expect(() => ctcGreedyDecode(lp, frames.length + 1, 4)).toThrow(/at least T \* C = 48 values/);
  });
});

describe('ctcPrefixBeamSearch', () => {
  it('equals greedy decoding, spans included, when one path dominates', () => {
    const frames = [0, 1, 1, 0, 2, 2, 1, 0, 1, 1, 3, 0];
    const lp = posterior(frames, 4, 0.97);
    const greedy = ctcGreedyDecode(lp, frames.length, 4);
    const [best] = ctcPrefixBeamSearch(lp, frames.length, 4, { beamWidth: 4 });
    expect(best!.tokens).toEqual(greedy.tokens);
    expect(best!.spans).toEqual(bare(greedy.spans));
    expect(best!.logScore).toBe(best!.ctcLogProb);
  });

  it('finds the most probable labelling where it is not the best path', () => {
    // Two frames, p(blank) = 0.6, p(a) = 0.4 each: the best path is blank blank (0.36), so greedy
    // decodes nothing; but "a" has three paths, a a, a -, - a: 0.16 + 0.24 + 0.24 = 0.64.
    const lp = logOf([[0.6, 0.4], [0.6, 0.4]]);
    expect(ctcGreedyDecode(lp, 2, 2).tokens).toEqual([]);
    const hypotheses = ctcPrefixBeamSearch(lp, 2, 2);
    expect(hypotheses.map((h) => h.tokens)).toEqual([[1], []]);
    expect(hypotheses[0]!.ctcLogProb).toBeCloseTo(Math.log(0.64), 12);
    expect(hypotheses[1]!.ctcLogProb).toBeCloseTo(Math.log(0.36), 12);
    // The span follows the larger half, ending in a (a a 0.16 + - a 0.24 against a - 0.24), and
    // within it the largest contribution, - a: frame 1.
    expect(hypotheses[0]!.spans).toEqual([{ token: 1, start: 1, end: 2 }]);
  });

  it('beats greedy on a longer constructed example and keeps a repeat apart by its blank', () => {
    // Frames where b is never the top class but "b" is the most probable labelling of them.
    const lp = logOf([
      [0.5, 0.2, 0.3],
      [0.5, 0.2, 0.3],
      [0.5, 0.2, 0.3],
      [0.1, 0.9, 0.0],
      [0.9, 0.1, 0.0],
      [0.1, 0.9, 0.0],
    ]);
    const greedy = ctcGreedyDecode(lp, 6, 3);
    expect(greedy.tokens).toEqual([1, 1]);
    const [best] = ctcPrefixBeamSearch(lp, 6, 3, { beamWidth: 16 });
    expect(best!.tokens).toEqual([2, 1, 1]);
    const exact = (tokens: number[]) => -ctcLossReference(lp, 6, 1, 3, [tokens], [6], [tokens.length]).nll[0]!;
    expect(best!.ctcLogProb).toBeCloseTo(exact([2, 1, 1]), 10);
    expect(exact([2, 1, 1])).toBeGreaterThan(exact([1, 1]));
    expect(best!.spans.slice(1)).toEqual([{ token: 1, start: 3, end: 4 }, { token: 1, start: 5, end: 6 }]);
  });

  it('with a wide beam, matches brute-force enumeration of every path', () => {
    const [T, C] = [5, 3];
    const random = mulberry32(3);
    const lp = new Float64Array(T * C);
    for (let t = 0; t < T; t++) {
      const p = Array.from({ length: C }, () => random() + 0.1);
      const sum = p.reduce((s, v) => s + v, 0);
      p.forEach((v, c) => (lp[t * C + c] = Math.log(v / sum)));
    }
    // Sum every path's probability into its collapsed labelling.
    const byLabelling = new Map<string, number>();
    for (let path = 0; path < C ** T; path++) {
      let rest = path;
      let logP = 0;
      const labels: number[] = [];
      let previous = 0;
      for (let t = 0; t < T; t++) {
        const c = rest % C;
        rest = Math.floor(rest / C);
        logP += lp[t * C + c]!;
        if (c !== 0 && c !== previous) labels.push(c);
        previous = c;
      }
      byLabelling.set(labels.join(','), (byLabelling.get(labels.join(',')) ?? 0) + Math.exp(logP));
    }
    const ranked = [...byLabelling.entries()].sort((a, b) => b[1] - a[1]);
    const hypotheses = ctcPrefixBeamSearch(lp, T, C, { beamWidth: 200 });
    expect(hypotheses.length).toBe(byLabelling.size);
    hypotheses.slice(0, 10).forEach((h, i) => {
      expect(h.tokens.join(',')).toBe(ranked[i]![0]);
      expect(h.ctcLogProb).toBeCloseTo(Math.log(ranked[i]![1]), 10);
    });
  });

  it('lets a weighted language model change the winner', () => {
    // Acoustically "1" (0.5) beats "2" (0.4); the language model much prefers 2.
    const lp = logOf([[0.1, 0.5, 0.4]]);
    const calls: Array<[number[], number]> = [];
    const languageModel: CtcLanguageModel = {
      score(prefix, next) {
        calls.push([[...prefix], next]);
        return Math.log(next === 2 ? 0.9 : 0.1);
      },
    };
    expect(ctcPrefixBeamSearch(lp, 1, 3)[0]!.tokens).toEqual([1]);
    expect(ctcPrefixBeamSearch(lp, 1, 3, { languageModel, lmWeight: 0 })[0]!.tokens).toEqual([1]);
    const [best] = ctcPrefixBeamSearch(lp, 1, 3, { languageModel, lmWeight: 1 });
    expect(best!.tokens).toEqual([2]);
    expect(best!.lmLogProb).toBeCloseTo(Math.log(0.9), 12);
    expect(best!.logScore).toBeCloseTo(Math.log(0.4) + Math.log(0.9), 12);
    expect(calls).toContainEqual([[], 2]);
    // The default weight 0.5 still flips it: log 0.5 + 0.5 log 0.1 < log 0.4 + 0.5 log 0.9.
    expect(ctcPrefixBeamSearch(lp, 1, 3, { languageModel })[0]!.tokens).toEqual([2]);
  });

  it('adds the insertion bonus per token', () => {
    const lp = logOf([[0.6, 0.4], [0.9, 0.1]]);
    const [plain] = ctcPrefixBeamSearch(lp, 2, 2);
    expect(plain!.tokens).toEqual([]);
    const [bonus] = ctcPrefixBeamSearch(lp, 2, 2, { insertionBonus: 2 });
    expect(bonus!.tokens).toEqual([1]);
    expect(bonus!.logScore).toBeCloseTo(bonus!.ctcLogProb + 2, 12);
  });

  it('returns the empty hypothesis for no frames and refuses a bad beam width', () => {
    expect(ctcPrefixBeamSearch(new Float32Array(0), 0, 3)).toEqual([{ tokens: [], logScore: 0, ctcLogProb: 0, lmLogProb: 0, spans: [] }]);
    expect(() => ctcPrefixBeamSearch(new Float32Array(3), 1, 3, { beamWidth: 0 })).toThrow(/beamWidth = 0/);
  });
});
