import { describe, expect, it } from 'vitest';
import {
  classificationReport,
  closestReferences, corpusBleu, editDistance, errorProfile, errorRate, errorRateOf, sentenceBleu, tokenize13a, wordErrorRate, type BleuOptions, type BleuScore,
} from '../src/index.js';
import { formatFixed } from '../src/metrics.js';

/*
 * Expected values computed by the real sacreBLEU 2.6.0 (Python 3.11.7, `python3 -m venv v &&
 * v/bin/pip install sacrebleu==2.6.0`), not by this code. Each case's inputs, as JSON
 * {"corpus": [[name, hypotheses, references, options], ...], "sentence": [[name, hypothesis,
 * references], ...], "tokenize": [line, ...]} (references per hypothesis, as in the tables
 * below), were fed on stdin to `v/bin/python gen.py < cases.json`, where gen.py is:
 *
 *   import json, sys, sacrebleu
 *   from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a
 *   cases = json.load(sys.stdin)
 *   def streams(refs):  # per-hypothesis lists -> sacreBLEU's reference streams, None where a hypothesis has fewer
 *       return [[r[k] if k < len(r) else None for r in refs] for k in range(max(map(len, refs)))]
 *   def out(b):
 *       return {"score": b.score, "counts": list(b.counts), "totals": list(b.totals), "precisions": b.precisions,
 *               "bp": b.bp, "sysLen": b.sys_len, "refLen": b.ref_len, "format": str(b)}
 *   kw = {"lowercase": "lowercase", "tokenize": "tokenize", "smoothMethod": "smooth_method", "effectiveOrder": "use_effective_order"}
 *   res = {"version": sacrebleu.__version__, "corpus": [], "sentence": [], "tokenize": []}
 *   for name, hyps, refs, opts in cases["corpus"]:
 *       if "maxNgramOrder" in opts:
 *           m = sacrebleu.BLEU(max_ngram_order=opts["maxNgramOrder"], effective_order=opts.get("effectiveOrder", False))
 *           b = m.corpus_score(hyps, streams(refs))
 *       else:
 *           b = sacrebleu.corpus_bleu(hyps, streams(refs), **{kw[k]: v for k, v in opts.items()})
 *       res["corpus"].append([name, out(b)])
 *   for name, hyp, refs in cases["sentence"]:
 *       res["sentence"].append([name, out(sacrebleu.sentence_bleu(hyp, refs))])
 *   t = Tokenizer13a()
 *   res["tokenize"] = [t(s) for s in cases["tokenize"]]
 *   print(json.dumps(res, indent=1, ensure_ascii=False))
 *
 * The last sentence case came from `v/bin/python -c 'import sacrebleu; b = sacrebleu.sentence_bleu("It is well-\n",
 * ["It is well-"]); print(b.score, b.counts, b.totals, b.precisions, b.bp, b.sys_len, b.ref_len, b)'`.
 *
 * The "sacreBLEU README example" case is also the example published in sacreBLEU's README
 * (BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)).
 */

interface BleuCase {
  name: string;
  hypotheses: string[];
  references: string[][];
  options: BleuOptions;
  expected: { score: number; counts: number[]; totals: number[]; precisions: number[]; bp: number; sysLen: number; refLen: number; format: string };
}

const CORPUS: BleuCase[] = [
  {
    name: 'perfect match',
    hypotheses: ['The cat sat on the mat.', 'It is raining today.'],
    references: [['The cat sat on the mat.'], ['It is raining today.']],
    options: {},
    expected: { score: 100.00000000000004, counts: [12, 10, 8, 6], totals: [12, 10, 8, 6], precisions: [100, 100, 100, 100], bp: 1, sysLen: 12, refLen: 12, format: 'BLEU = 100.00 100.0/100.0/100.0/100.0 (BP = 1.000 ratio = 1.000 hyp_len = 12 ref_len = 12)' },
  },
  {
    name: 'no overlap',
    hypotheses: ['hello there friend'],
    references: [['completely different words here']],
    options: {},
    expected: { score: 0, counts: [0, 0, 0, 0], totals: [3, 2, 1, 0], precisions: [0, 0, 0, 0], bp: 0.7165313105737893, sysLen: 3, refLen: 4, format: 'BLEU = 0.00 0.0/0.0/0.0/0.0 (BP = 0.717 ratio = 0.750 hyp_len = 3 ref_len = 4)' },
  },
  {
    name: 'short hypotheses (BP < 1)',
    hypotheses: ['The cat sat.', 'a quick brown fox jumps'],
    references: [['The cat sat on the mat.'], ['a quick brown fox jumps over the lazy dog']],
    options: {},
    expected: { score: 37.77708014667846, counts: [9, 6, 4, 2], totals: [9, 7, 5, 3], precisions: [100, 85.71428571428571, 80, 66.66666666666667], bp: 0.45942582403592663, sysLen: 9, refLen: 16, format: 'BLEU = 37.78 100.0/85.7/80.0/66.7 (BP = 0.459 ratio = 0.562 hyp_len = 9 ref_len = 16)' },
  },
  {
    name: 'punctuation and numbers',
    hypotheses: ['It\'s 3.5 km, isn\'t it?', 'The price is $1,000.50 (approx.)', 'Call me at 555-1234 &amp; ask for Dr. Smith.', 'In 1990-2000, U.S. sales rose 5%.'],
    references: [['It is 3.5 km, isn\'t it?'], ['The price is $1,000.50, approximately.'], ['Call me at 555-1234 & ask for Dr. Smith.'], ['In 1990-2000, the U.S. sales rose by 5 %.']],
    options: {},
    expected: { score: 73.7673256175789, counts: [39, 32, 26, 20], totals: [43, 39, 35, 31], precisions: [90.69767441860465, 82.05128205128206, 74.28571428571429, 64.51612903225806], bp: 0.9545534610465889, sysLen: 43, refLen: 45, format: 'BLEU = 73.77 90.7/82.1/74.3/64.5 (BP = 0.955 ratio = 0.956 hyp_len = 43 ref_len = 45)' },
  },
  {
    name: 'sacreBLEU README example (two reference sets)',
    hypotheses: ['The dog bit the man.', 'It wasn\'t surprising.', 'The man had just bitten him.'],
    references: [['The dog bit the man.', 'The dog had bit the man.'], ['It was not unexpected.', 'No one was surprised.'], ['The man bit him first.', 'The man had bitten the dog.']],
    options: {},
    expected: { score: 48.530827009929865, counts: [14, 7, 5, 3], totals: [17, 14, 11, 8], precisions: [82.3529411764706, 50, 45.45454545454545, 37.5], bp: 0.9428731438548749, sysLen: 17, refLen: 18, format: 'BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)' },
  },
  {
    name: 'variable number of references, closest length tie takes the shorter',
    hypotheses: ['a b c d', 'the quick brown fox'],
    references: [['a b c', 'a b c d e'], ['the fast brown fox', 'a quick brown fox jumped', 'quick brown fox', 'the quick brown fox .']],
    options: {},
    expected: { score: 100.00000000000004, counts: [8, 6, 4, 2], totals: [8, 6, 4, 2], precisions: [100, 100, 100, 100], bp: 1, sysLen: 8, refLen: 7, format: 'BLEU = 100.00 100.0/100.0/100.0/100.0 (BP = 1.000 ratio = 1.143 hyp_len = 8 ref_len = 7)' },
  },
  {
    name: 'an empty hypothesis',
    hypotheses: ['', 'the cat'],
    references: [['the cat sat'], ['the cat']],
    options: {},
    expected: { score: 0, counts: [2, 1, 0, 0], totals: [2, 1, 0, 0], precisions: [100, 100, 0, 0], bp: 0.22313016014842982, sysLen: 2, refLen: 5, format: 'BLEU = 0.00 100.0/100.0/0.0/0.0 (BP = 0.223 ratio = 0.400 hyp_len = 2 ref_len = 5)' },
  },
  {
    name: 'all hypotheses empty',
    hypotheses: ['', ''],
    references: [['something here'], ['and here']],
    options: {},
    expected: { score: 0, counts: [0, 0, 0, 0], totals: [0, 0, 0, 0], precisions: [0, 0, 0, 0], bp: 0, sysLen: 0, refLen: 4, format: 'BLEU = 0.00 0.0/0.0/0.0/0.0 (BP = 0.000 ratio = 0.000 hyp_len = 0 ref_len = 4)' },
  },
  {
    name: 'a precision that is an exact tie in printing (6.25 -> 6.2)',
    hypotheses: ['a b c d e f g h i j k l m n o p'],
    references: [['a x y z']],
    options: {},
    expected: { score: 2.445593937240363, counts: [1, 0, 0, 0], totals: [16, 15, 14, 13], precisions: [6.25, 3.3333333333333335, 1.7857142857142858, 0.9615384615384616], bp: 1, sysLen: 16, refLen: 4, format: 'BLEU = 2.45 6.2/3.3/1.8/1.0 (BP = 1.000 ratio = 4.000 hyp_len = 16 ref_len = 4)' },
  },
  {
    name: 'unicode, hyphenated line break, <skipped>, trailing spaces',
    hypotheses: ['Café — naïve “résumé”… well-\nknown <skipped> 東京 \u3000 ', 'Ça va? Oui, très bien!'],
    references: [['Café - naïve "résumé"... well-known'], ['Ça va ? Oui, très bien !']],
    options: {},
    expected: { score: 47.24663349802524, counts: [10, 7, 6, 5], totals: [14, 12, 10, 8], precisions: [71.42857142857143, 58.333333333333336, 60, 62.5], bp: 0.7514772930752859, sysLen: 14, refLen: 18, format: 'BLEU = 47.25 71.4/58.3/60.0/62.5 (BP = 0.751 ratio = 0.778 hyp_len = 14 ref_len = 18)' },
  },
  {
    name: 'lowercase',
    hypotheses: ['THE Cat Sat ON the MAT.'],
    references: [['the cat sat on the mat .']],
    options: { lowercase: true },
    expected: { score: 100.00000000000004, counts: [7, 6, 5, 4], totals: [7, 6, 5, 4], precisions: [100, 100, 100, 100], bp: 1, sysLen: 7, refLen: 7, format: 'BLEU = 100.00 100.0/100.0/100.0/100.0 (BP = 1.000 ratio = 1.000 hyp_len = 7 ref_len = 7)' },
  },
  {
    name: 'tokenize none',
    hypotheses: ['The cat sat on the mat.'],
    references: [['The cat sat on the mat .']],
    options: { tokenize: 'none' },
    expected: { score: 64.31870218238025, counts: [5, 4, 3, 2], totals: [6, 5, 4, 3], precisions: [83.33333333333333, 80, 75, 66.66666666666667], bp: 0.846481724890614, sysLen: 6, refLen: 7, format: 'BLEU = 64.32 83.3/80.0/75.0/66.7 (BP = 0.846 ratio = 0.857 hyp_len = 6 ref_len = 7)' },
  },
  {
    name: 'smooth floor',
    hypotheses: ['the cat the cat on mat'],
    references: [['the cat is on the mat']],
    options: { smoothMethod: 'floor' },
    expected: { score: 10.855926040543839, counts: [5, 1, 0, 0], totals: [6, 5, 4, 3], precisions: [83.33333333333333, 20, 2.5, 3.3333333333333335], bp: 1, sysLen: 6, refLen: 6, format: 'BLEU = 10.86 83.3/20.0/2.5/3.3 (BP = 1.000 ratio = 1.000 hyp_len = 6 ref_len = 6)' },
  },
  {
    name: 'smooth add-k',
    hypotheses: ['the cat the cat on mat'],
    references: [['the cat is on the mat']],
    options: { smoothMethod: 'add-k' },
    expected: { score: 34.32945239845197, counts: [5, 2, 1, 1], totals: [6, 6, 5, 4], precisions: [83.33333333333333, 33.333333333333336, 20, 25], bp: 1, sysLen: 6, refLen: 6, format: 'BLEU = 34.33 83.3/33.3/20.0/25.0 (BP = 1.000 ratio = 1.000 hyp_len = 6 ref_len = 6)' },
  },
  {
    name: 'smooth none',
    hypotheses: ['the cat the cat on mat'],
    references: [['the cat is on the mat']],
    options: { smoothMethod: 'none' },
    expected: { score: 0, counts: [5, 1, 0, 0], totals: [6, 5, 4, 3], precisions: [83.33333333333333, 20, 0, 0], bp: 1, sysLen: 6, refLen: 6, format: 'BLEU = 0.00 83.3/20.0/0.0/0.0 (BP = 1.000 ratio = 1.000 hyp_len = 6 ref_len = 6)' },
  },
  {
    name: 'max order 2 and effective order',
    hypotheses: ['the cat the cat on mat', 'a dog'],
    references: [['the cat is on the mat'], ['a dog ran']],
    options: { maxNgramOrder: 2, effectiveOrder: true },
    expected: { score: 47.66027993999055, counts: [7, 2], totals: [8, 6], precisions: [87.5, 33.333333333333336], bp: 0.8824969025845955, sysLen: 8, refLen: 9, format: 'BLEU = 47.66 87.5/33.3 (BP = 0.882 ratio = 0.889 hyp_len = 8 ref_len = 9)' },
  },
  {
    name: 'effective order on a corpus',
    hypotheses: ['a dog', 'the bird'],
    references: [['a dog ran'], ['the bird flew']],
    options: { effectiveOrder: true },
    expected: { score: 60.653065971263366, counts: [4, 2, 0, 0], totals: [4, 2, 0, 0], precisions: [100, 100, 0, 0], bp: 0.6065306597126334, sysLen: 4, refLen: 6, format: 'BLEU = 60.65 100.0/100.0/0.0/0.0 (BP = 0.607 ratio = 0.667 hyp_len = 4 ref_len = 6)' },
  },
];

const SENTENCE: BleuCase[] = [
  {
    name: 'partial match',
    hypotheses: ['The cat sat on the mat.'],
    references: [['The cat is on the mat.']],
    options: {},
    expected: { score: 48.892302243490086, counts: [6, 4, 2, 1], totals: [7, 6, 5, 4], precisions: [85.71428571428571, 66.66666666666667, 40, 25], bp: 1, sysLen: 7, refLen: 7, format: 'BLEU = 48.89 85.7/66.7/40.0/25.0 (BP = 1.000 ratio = 1.000 hyp_len = 7 ref_len = 7)' },
  },
  {
    name: 'one word',
    hypotheses: ['cat'],
    references: [['the cat']],
    options: {},
    expected: { score: 36.78794411714425, counts: [1, 0, 0, 0], totals: [1, 0, 0, 0], precisions: [100, 0, 0, 0], bp: 0.36787944117144233, sysLen: 1, refLen: 2, format: 'BLEU = 36.79 100.0/0.0/0.0/0.0 (BP = 0.368 ratio = 0.500 hyp_len = 1 ref_len = 2)' },
  },
  {
    name: 'two references',
    hypotheses: ['It wasn\'t surprising.'],
    references: [['It was not unexpected.', 'No one was surprised.']],
    options: {},
    expected: { score: 14.794015674776452, counts: [2, 0, 0, 0], totals: [4, 3, 2, 1], precisions: [50, 16.666666666666668, 12.5, 12.5], bp: 0.7788007830714049, sysLen: 4, refLen: 5, format: 'BLEU = 14.79 50.0/16.7/12.5/12.5 (BP = 0.779 ratio = 0.800 hyp_len = 4 ref_len = 5)' },
  },
  {
    name: 'no match',
    hypotheses: ['xyz'],
    references: [['abc def']],
    options: {},
    expected: { score: 0, counts: [0, 0, 0, 0], totals: [1, 0, 0, 0], precisions: [0, 0, 0, 0], bp: 0.36787944117144233, sysLen: 1, refLen: 2, format: 'BLEU = 0.00 0.0/0.0/0.0/0.0 (BP = 0.368 ratio = 0.500 hyp_len = 1 ref_len = 2)' },
  },
  {
    name: 'trailing line break stripped before 13a (a final "-\\n" is not a hyphenated break)',
    hypotheses: ['It is well-\n'],
    references: [['It is well-']],
    options: {},
    expected: { score: 100.00000000000004, counts: [3, 2, 1, 0], totals: [3, 2, 1, 0], precisions: [100, 100, 100, 0], bp: 1, sysLen: 3, refLen: 3, format: 'BLEU = 100.00 100.0/100.0/100.0/0.0 (BP = 1.000 ratio = 1.000 hyp_len = 3 ref_len = 3)' },
  },
];

const TOKENIZED: Array<[string, string]> = [
  ['It\'s 3.5 km, isn\'t it?', 'It\'s 3.5 km , isn\'t it ?'],
  ['The price is $1,000.50 (approx.)', 'The price is $ 1,000.50 ( approx . )'],
  ['Hello,world.Next 1.5.6 a.b 3,a a,3 ,5 .5 5. 5,', 'Hello , world . Next 1.5.6 a . b 3 , a a , 3 , 5 . 5 5 . 5 ,'],
  ['A-4 1990-2000 x-ray 3-D -5 5-', 'A-4 1990 - 2000 x-ray 3 - D -5 5 -'],
  ['&quot;Tom&quot; &amp; &lt;Jerry&gt; &apos;', '" Tom " & < Jerry > & apos ;'],
  ['{braces} [brackets] back\\slash ^caret_ `tick` ~tilde| #hash @at =eq <lt> *star +plus \'apo !', '{ braces } [ brackets ] back \\ slash ^ caret _ ` tick ` ~ tilde | # hash @ at = eq < lt > * star + plus \'apo !'],
  ['well-\nknown<skipped> two\nlines', 'wellknown two lines'],
  ['tabs\tand\u00a0nbsp\u2003em-space \u0085 done', 'tabs and nbsp em-space done'],
  ['Ünïcödé “quotes” — dash… ¿qué? ½ 😀.', 'Ünïcödé “quotes” — dash… ¿qué ? ½ 😀 .'],
];

function expectScore(actual: BleuScore, expected: BleuCase['expected']): void {
  expect(actual.format()).toBe(expected.format);
  expect(actual.score).toBeCloseTo(expected.score, 10);
  expect(actual.counts).toEqual(expected.counts);
  expect(actual.totals).toEqual(expected.totals);
  expect(actual.precisions.length).toBe(expected.precisions.length);
  actual.precisions.forEach((p, n) => expect(p).toBeCloseTo(expected.precisions[n]!, 10));
  expect(actual.bp).toBeCloseTo(expected.bp, 12);
  expect(actual.sysLen).toBe(expected.sysLen);
  expect(actual.refLen).toBe(expected.refLen);
}

describe('BLEU against sacreBLEU 2.6.0', () => {
  it.each(CORPUS)('corpusBleu: $name', ({ hypotheses, references, options, expected }) => {
    expectScore(corpusBleu(hypotheses, references, options), expected);
  });
  it.each(SENTENCE)('sentenceBleu: $name', ({ hypotheses, references, expected }) => {
    expectScore(sentenceBleu(hypotheses[0]!, references[0]!), expected);
  });
  it.each(TOKENIZED)('13a tokenizer: %j', (line, tokens) => {
    expect(tokenize13a(line)).toBe(tokens);
  });
  it('takes a single reference as a string', () => {
    const a = corpusBleu(['The cat sat.', 'a quick brown fox jumps'], ['The cat sat on the mat.', 'a quick brown fox jumps over the lazy dog']);
    expect(a.format()).toBe(CORPUS[2]!.expected.format);
    expect(sentenceBleu('cat', 'the cat').format()).toBe(SENTENCE[1]!.expected.format);
  });
  it('defaults differ as sacreBLEU: sentence level uses the effective order, corpus level does not', () => {
    // No bigrams at all: sacreBLEU stops at order 1 and counts log(0) for orders 2-4 unless the order is effective.
    expect(corpusBleu(['cat'], ['the cat']).score).toBe(0);
    expect(sentenceBleu('cat', 'the cat', { effectiveOrder: false }).score).toBe(0);
    expect(corpusBleu(['cat'], ['the cat'], { effectiveOrder: true }).score).toBeCloseTo(SENTENCE[1]!.expected.score, 12);
  });
  it('refuses mismatched lengths, a hypothesis without references and unknown options', () => {
    expect(() => corpusBleu(['a', 'b'], ['a'])).toThrow('2 hypotheses but 1 references');
    expect(() => corpusBleu(['a'], [[]])).toThrow('hypothesis 0 has no reference');
    expect(() => corpusBleu(['a'], ['a'], { smoothMethod: 'add-one' as never })).toThrow('unknown smoothMethod "add-one"');
    expect(() => corpusBleu(['a'], ['a'], { tokenize: 'intl' as never })).toThrow('unknown tokenize "intl"');
  });
  it("prints like Python's format: exact ties round to even, toFixed would round them up", () => {
    expect((6.25).toFixed(1)).toBe('6.3');
    expect(formatFixed(6.25, 1)).toBe('6.2');
    expect(formatFixed(6.75, 1)).toBe('6.8');
    expect(formatFixed(0.125, 2)).toBe('0.12');
    expect(formatFixed(2.5, 0)).toBe('2');
    expect(formatFixed(3.5, 0)).toBe('4');
    expect(formatFixed(0.15, 1)).toBe('0.1'); // 0.15 is just below 0.15 in binary: not a tie
    expect(formatFixed(100, 2)).toBe('100.00');
  });
});

describe('edit distance and error rates', () => {
  const chars = (s: string) => [...s];
  it('editDistance is the Levenshtein distance', () => {
    expect(editDistance(chars('kitten'), chars('sitting'))).toBe(3);
    expect(editDistance(chars('sitting'), chars('kitten'))).toBe(3);
    expect(editDistance(chars('flaw'), chars('lawn'))).toBe(2);
    expect(editDistance([], chars('abc'))).toBe(3);
    expect(editDistance(chars('abc'), [])).toBe(3);
    expect(editDistance([], [])).toBe(0);
    expect(editDistance(['HH', 'AH', 'L', 'OW'], ['HH', 'EH', 'L', 'OW'])).toBe(1);
    expect(editDistance([1, 2, 3, 4], [4, 3, 2, 1])).toBe(4);
  });
  it('errorRate: total edits over total reference length', () => {
    // 1 substitution in 4, 1 deletion in 3: 2 / 7.
    expect(errorRate([['HH', 'EH', 'L', 'OW'], ['K', 'AE']], [['HH', 'AH', 'L', 'OW'], ['K', 'AE', 'T']])).toBeCloseTo(2 / 7, 15);
    expect(errorRate([['a', 'b'], []], [['a', 'b'], ['c']])).toBe(1 / 3);
    expect(errorRate([['x', 'y']], [[[], ['x']]])).toBe(1); // an empty reference among several
  });
  it('errorRate with several references scores against the closest, counting its length', () => {
    const hypotheses = [['T', 'AH', 'M', 'EY', 'T', 'OW']];
    const tomato = [['T', 'AH', 'M', 'EY', 'T', 'OW'], ['T', 'AH', 'M', 'AA', 'T', 'OW']];
    expect(errorRate(hypotheses, [tomato])).toBe(0);
    expect(errorRate([['T', 'AH', 'M', 'AA', 'T']], [tomato])).toBeCloseTo(1 / 6, 15);
    // Closest by edits (0 to "a b"), not by length: 1 edit over 2 + 0 over 2.
    expect(errorRate([['x'], ['a', 'b']], [[['x', 'y', 'z', 'w'], ['x', 'q']], [['a', 'b']]])).toBeCloseTo(1 / 4, 15);
  });
  it('wordErrorRate: a word is wrong unless it equals one of its references', () => {
    const tomato = [['T', 'AH', 'M', 'EY', 'T', 'OW'], ['T', 'AH', 'M', 'AA', 'T', 'OW']];
    expect(wordErrorRate([['T', 'AH', 'M', 'AA', 'T', 'OW'], ['K', 'AE']], [tomato, ['K', 'AE', 'T']])).toBe(0.5);
    expect(wordErrorRate([['T', 'AH', 'M', 'AA', 'T']], [tomato])).toBe(1);
    expect(wordErrorRate([['K', 'AE', 'T'], []], [['K', 'AE', 'T'], []])).toBe(0);
  });
  it('closestReferences: the first reference with the fewest edits, and those edits', () => {
    const tomato = [['T', 'AH', 'M', 'EY', 'T', 'OW'], ['T', 'AH', 'M', 'AA', 'T', 'OW']];
    const closest = closestReferences([['T', 'AH', 'M', 'AA', 'T'], ['T', 'AH', 'M', 'IY', 'T', 'OW'], ['K', 'AE']], [tomato, tomato, ['K', 'AE', 'T']]);
    expect(closest).toEqual([
      { edits: 1, reference: tomato[1] },
      { edits: 1, reference: tomato[0] }, // one edit from either: the first
      { edits: 1, reference: ['K', 'AE', 'T'] },
    ]);
    expect(errorRateOf(closest)).toBeCloseTo(3 / 15, 15);
    expect(() => closestReferences([['a']], [])).toThrow('1 hypotheses but 0 references');
  });
  it('errorProfile: exact items, the wrong ones by edits, and the commonest single substitutions', () => {
    const hypotheses = [
      ['K', 'AE', 'T'], // exact
      ['K', 'AH', 'T'], // AE -> AH
      ['B', 'AH', 'T'], // AE -> AH
      ['S', 'IH', 'T'], // IY -> IH
      ['S', 'IY'], // one deletion: not a substitution
      ['S', 'IH', 'T', 'S'], // two edits
      ['Z', 'Z', 'Z', 'Z', 'Z'], // five edits: three or more
    ];
    const references = [['K', 'AE', 'T'], ['K', 'AE', 'T'], ['B', 'AE', 'T'], ['S', 'IY', 'T'], ['S', 'IY', 'T'], ['S', 'IY', 'T'], ['S', 'IY', 'T']];
    const profile = errorProfile(hypotheses, closestReferences(hypotheses, references));
    expect(profile.exact).toBe(1);
    expect(profile.wrongByEdits).toEqual([4, 1, 1]);
    expect(profile.substitutions).toEqual([
      { reference: 'AE', output: 'AH', count: 2 },
      { reference: 'IY', output: 'IH', count: 1 },
    ]);
    // Ties keep their order of first appearance; `top` cuts the list.
    const pairs = [['b'], ['a'], ['c']];
    const wrong = [['x'], ['y'], ['x']];
    expect(errorProfile(wrong, closestReferences(wrong, pairs), 2).substitutions).toEqual([
      { reference: 'b', output: 'x', count: 1 },
      { reference: 'a', output: 'y', count: 1 },
    ]);
    expect(() => errorProfile([['a']], [])).toThrow('1 hypotheses but 0 references');
  });
  it('refuses mismatched lengths, no references and all-empty references', () => {
    expect(() => errorRate([['a']], [])).toThrow('1 hypotheses but 0 references');
    expect(() => wordErrorRate([], [])).toThrow('no items');
    expect(() => errorRate([['a']], [[]])).toThrow('total length 0');
  });
});

describe('classificationReport (scikit-learn\'s, zero_division=0)', () => {
  it('gives precision, recall and F1 per class and their means, by hand', () => {
    // class 2: two rows, none predicted right, one row of class 1 predicted as it
    const report = classificationReport([[5, 1, 0], [2, 3, 1], [0, 2, 0]]);
    const f1 = [10 / 13, 0.5, 0];
    expect(report.classes.map((k) => k.precision)).toEqual([5 / 7, 0.5, 0]);
    expect(report.classes.map((k) => k.recall)).toEqual([5 / 6, 0.5, 0]);
    report.classes.forEach((k, c) => expect(k.f1).toBeCloseTo(f1[c]!, 15));
    expect(report.classes.map((k) => k.support)).toEqual([6, 6, 2]);
    expect(report.accuracy).toBe(8 / 14);
    expect(report.macroF1).toBeCloseTo((10 / 13 + 0.5) / 3, 15);
    expect(report.weightedF1).toBeCloseTo((6 * 10 / 13 + 3) / 14, 15);
    // a class never predicted and never present scores 0, not NaN
    expect(classificationReport([[2, 0], [0, 0]]).classes[1]).toEqual({ precision: 0, recall: 0, f1: 0, support: 0 });
    expect(() => classificationReport([[1, 2], [3]])).toThrow('classificationReport: the confusion matrix must be 2 x 2');
  });
});
