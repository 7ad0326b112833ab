import { mulberry32 } from '@recurrent/core';
import { describe, expect, it } from 'vitest';
import { addNoise, isSilent, rmsDbfs, specAugment } from '../src/index.js';
import { sine } from './helpers.js';

const MASK = -7;

/** Which frames and which bins `masked` blanked out completely. */
function masks(masked: Float32Array, frames: number, bins: number): { frames: number[]; bins: number[] } {
  const isMasked = (f: number, b: number): boolean => masked[f * bins + b] === MASK;
  const fullFrames = Array.from({ length: frames }, (_, f) => f).filter((f) => Array.from({ length: bins }, (_, b) => b).every((b) => isMasked(f, b)));
  const fullBins = Array.from({ length: bins }, (_, b) => b).filter((b) => Array.from({ length: frames }, (_, f) => f).every((f) => isMasked(f, b)));
  // Every masked cell belongs to a masked frame or a masked bin.
  const [frameSet, binSet] = [new Set(fullFrames), new Set(fullBins)];
  let stray = 0;
  for (let f = 0; f < frames; f++) for (let b = 0; b < bins; b++) if (isMasked(f, b) && !frameSet.has(f) && !binSet.has(b)) stray++;
  expect(stray).toBe(0);
  return { frames: fullFrames, bins: fullBins };
}

/** Lengths of the runs of consecutive numbers in sorted `xs`. */
function runs(xs: number[]): number[] {
  const out: number[] = [];
  xs.forEach((x, i) => (i > 0 && xs[i - 1] === x - 1 ? (out[out.length - 1]! += 1) : out.push(1)));
  return out;
}

describe('specAugment', () => {
  const frames = 100;
  const bins = 40;
  const features = Float32Array.from({ length: frames * bins }, (_, i) => (i % 13) + 1);

  it('is deterministic for a seed, leaves its input alone, and masks no more than configured', () => {
    const options = { maskValue: MASK };
    const a = specAugment(features, frames, bins, mulberry32(42), options);
    expect(specAugment(features, frames, bins, mulberry32(42), options)).toEqual(a);
    expect(features.every((v, i) => v === (i % 13) + 1)).toBe(true);
    let differs = false;
    for (let seed = 0; seed < 200; seed++) {
      const masked = specAugment(features, frames, bins, mulberry32(seed), options);
      differs ||= masked.some((v, i) => v !== a[i]);
      const found = masks(masked, frames, bins);
      expect(found.frames.length).toBeLessThanOrEqual(2 * 20);
      expect(found.bins.length).toBeLessThanOrEqual(2 * 8);
    }
    expect(differs).toBe(true);
  });

  it('one mask per axis is one run of at most the maximum width, and reaches it', () => {
    let widest = [0, 0];
    for (let seed = 0; seed < 300; seed++) {
      const masked = specAugment(features, frames, bins, mulberry32(seed), { timeMasks: 1, freqMasks: 1, timeMaskMax: 10, freqMaskMax: 5, maskValue: MASK });
      const found = masks(masked, frames, bins);
      const [t, f] = [runs(found.frames), runs(found.bins)];
      expect(t.length).toBeLessThanOrEqual(1);
      expect(f.length).toBeLessThanOrEqual(1);
      expect(t[0] ?? 0).toBeLessThanOrEqual(10);
      expect(f[0] ?? 0).toBeLessThanOrEqual(5);
      widest = [Math.max(widest[0]!, t[0] ?? 0), Math.max(widest[1]!, f[0] ?? 0)];
    }
    expect(widest).toEqual([10, 5]);
    // A generator at its top end draws the widest masks, ending at the last frame and bin.
    const top = specAugment(features, frames, bins, () => 0.9999999, { timeMasks: 1, freqMasks: 1, timeMaskMax: 10, freqMaskMax: 5, maskValue: MASK });
    expect(masks(top, frames, bins)).toEqual({ frames: [90, 91, 92, 93, 94, 95, 96, 97, 98, 99], bins: [35, 36, 37, 38, 39] });
  });

  it('caps masks at the axis length and refuses a wrong shape', () => {
    const small = new Float32Array(3 * 2).fill(1);
    const masked = specAugment(small, 3, 2, () => 0.9999999, { timeMaskMax: 50, freqMasks: 0, maskValue: MASK });
    expect(Array.from(masked)).toEqual(new Array(6).fill(MASK));
    expect(() => specAugment(small, 4, 2, Math.random)).toThrow(RangeError);
  });
});

describe('addNoise', () => {
  it('adds noise at exactly the requested SNR, the same for the same seed, without touching its input', () => {
    const x = Float32Array.from(sine(16000, 440, 16000, 0.5));
    const copy = x.slice();
    const noisy = addNoise(x, 10, mulberry32(9));
    expect(x).toEqual(copy);
    expect(addNoise(x, 10, mulberry32(9))).toEqual(noisy);
    expect(addNoise(x, 10, mulberry32(10))).not.toEqual(noisy);
    let signal = 0;
    let noise = 0;
    for (let i = 0; i < x.length; i++) {
      signal += x[i]! ** 2;
      noise += (noisy[i]! - x[i]!) ** 2;
    }
    expect(10 * Math.log10(signal / noise)).toBeCloseTo(10, 3);
    expect(addNoise(new Float32Array(10), 0, mulberry32(1))).toEqual(new Float32Array(10));
  });
});

describe('isSilent', () => {
  it('compares the RMS level in dBFS with the threshold', () => {
    expect(isSilent(new Float32Array(1000))).toBe(true);
    expect(isSilent(new Float32Array(0))).toBe(true);
    expect(rmsDbfs(new Float32Array(100).fill(1))).toBe(0);
    expect(rmsDbfs(Float32Array.from(sine(16000, 440, 16000, 1)))).toBeCloseTo(-3.0103, 3);
    const quiet = Float32Array.from(sine(16000, 440, 16000, 1e-4)); // -83 dBFS
    const speech = Float32Array.from(sine(16000, 440, 16000, 0.01)); // -43 dBFS
    expect(isSilent(quiet)).toBe(true);
    expect(isSilent(speech)).toBe(false);
    expect(isSilent(speech, -40)).toBe(true);
  });
});
