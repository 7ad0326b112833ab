import { describe, expect, it } from 'vitest';
import { attentionProfile } from '../src/attention-profile.js';
import type { Candidate } from '../src/decode.js';

const output = (attention: number[][]): Candidate => ({ tokens: attention.map((_, i) => i + 4), attention, logProbability: 0 });
const oneHot = (S: number, s: number) => Array.from({ length: S }, (_, k) => (k === s ? 1 : 0));

describe('attentionProfile', () => {
  it('reads hard attention along the diagonal as such', () => {
    const profile = attentionProfile([output([0, 1, 2, 3].map((s) => oneHot(4, s)))])!;
    expect(profile).toEqual({ tokens: 4, entropy: 0, peak: 1, onLastSource: 0.25, diagonalDistance: 0 });
  });

  it('reads attention collapsed onto the last source token as such', () => {
    // three output tokens all looking at source token 4 of 5: |1 - 0|, |1 - 1/2|, |1 - 1| on average
    const profile = attentionProfile([output([oneHot(5, 4), oneHot(5, 4), oneHot(5, 4)])])!;
    expect(profile).toMatchObject({ tokens: 3, entropy: 0, peak: 1, onLastSource: 1 });
    expect(profile.diagonalDistance).toBeCloseTo(0.5, 12);
  });

  it('gives uniform attention the entropy of the uniform distribution', () => {
    const uniform = [0.25, 0.25, 0.25, 0.25];
    const profile = attentionProfile([output([uniform]), output([oneHot(2, 1), oneHot(2, 0)])])!;
    // tokens: the uniform row (mean position 0.5 against output position 0), then two reversed ones
    expect(profile.tokens).toBe(3);
    expect(profile.entropy).toBeCloseTo(Math.log(4) / 3, 12);
    expect(profile.peak).toBeCloseTo((0.25 + 1 + 1) / 3, 12);
    expect(profile.onLastSource).toBeCloseTo(1 / 3, 12); // the uniform row's first largest weight is on token 0
    expect(profile.diagonalDistance).toBeCloseTo((0.5 + 1 + 1) / 3, 12);
  });

  it('has nothing to say without attention, or where every source is one token long', () => {
    expect(attentionProfile([output([]), output([])])).toBeUndefined();
    expect(attentionProfile([output([[1], [1]])])).toBeUndefined();
    expect(attentionProfile([])).toBeUndefined();
  });
});
