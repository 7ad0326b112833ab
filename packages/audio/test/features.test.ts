import { mulberry32 } from '@recurrent/core';
import { describe, expect, it } from 'vitest';
import { frameCount, logMelSpectrogram, melFilterbank, mfcc, normalizeFeatures, type LogMelOptions } from '../src/index.js';
import { sine } from './helpers.js';

const mel = (hz: number): number => 2595 * Math.log10(1 + hz / 700);
const hz = (m: number): number => 700 * (10 ** (m / 2595) - 1);

/** The log-mel spectrogram the slow, obvious way, in float64: a naive DFT of each frame. */
function reference(x: Float32Array, sr: number, o: Required<Omit<LogMelOptions, 'fftSize'>> & { fftSize: number }): number[][] {
  const frameLength = Math.round((o.frameMs * sr) / 1000);
  const hop = Math.round((o.hopMs * sr) / 1000);
  const N = o.fftSize;
  const y = Array.from(x, (v, t) => v - (t > 0 ? o.preEmphasis * x[t - 1]! : 0));
  const a = o.window === 'hann' ? 0.5 : o.window === 'hamming' ? 0.54 : 1;
  const window = Array.from({ length: frameLength }, (_, i) => a - (1 - a) * Math.cos((2 * Math.PI * i) / frameLength));
  const points = Array.from({ length: o.melBins + 2 }, (_, i) => hz(mel(o.fMin) + (i * (mel(o.fMax) - mel(o.fMin))) / (o.melBins + 1)));
  const filter = (m: number, k: number): number => {
    const f = (k * sr) / N;
    const [l, c, r] = [points[m]!, points[m + 1]!, points[m + 2]!];
    if (f <= l || f >= r) return 0;
    return f <= c ? (f - l) / (c - l) : (r - f) / (r - c);
  };
  const frames = x.length < frameLength ? 1 : 1 + Math.floor((x.length - frameLength) / hop);
  const out: number[][] = [];
  for (let fr = 0; fr < frames; fr++) {
    const frame = Array.from({ length: frameLength }, (_, i) => (y[fr * hop + i] ?? 0) * window[i]!);
    const power = Array.from({ length: N / 2 + 1 }, (_, k) => {
      let re = 0;
      let im = 0;
      frame.forEach((v, n) => {
        re += v * Math.cos((2 * Math.PI * k * n) / N);
        im -= v * Math.sin((2 * Math.PI * k * n) / N);
      });
      return re * re + im * im;
    });
    out.push(
      Array.from({ length: o.melBins }, (_, m) => Math.log(Math.max(o.floor, power.reduce((sum, p, k) => sum + filter(m, k) * p, 0)))),
    );
  }
  return out;
}

function noisyChord(n: number, sr: number, seed: number): Float32Array {
  const random = mulberry32(seed);
  const a = sine(n, 300, sr, 0.3);
  const b = sine(n, 2500, sr, 0.1, 0.5);
  return Float32Array.from(a, (v, i) => v + b[i]! + 0.05 * (random() - 0.5));
}

describe('logMelSpectrogram', () => {
  it('equals a float64 naive-DFT reference within 1e-4 (defaults)', () => {
    const x = noisyChord(4800, 16000, 1);
    const got = logMelSpectrogram(x, 16000);
    const want = reference(x, 16000, {
      frameMs: 25, hopMs: 10, fftSize: 512, melBins: 40, fMin: 20, fMax: 8000, window: 'hann', preEmphasis: 0.97, floor: 1e-10,
    });
    expect(got.frames).toBe(28);
    expect(got.bins).toBe(40);
    expect(got.hopSeconds).toBeCloseTo(0.01, 12);
    let worst = 0;
    want.forEach((row, f) => row.forEach((v, m) => (worst = Math.max(worst, Math.abs(got.features[f * 40 + m]! - v)))));
    expect(worst).toBeLessThan(1e-4);
  });

  it('equals the reference with other options (fftSize, Hamming, no pre-emphasis, band limits)', () => {
    const x = noisyChord(3000, 16000, 2);
    const options = { frameMs: 20, hopMs: 15, fftSize: 1024, melBins: 64, fMin: 100, fMax: 7000, window: 'hamming', preEmphasis: 0, floor: 1e-8 } as const;
    const got = logMelSpectrogram(x, 16000, options);
    const want = reference(x, 16000, options);
    expect(got.frames).toBe(want.length);
    let worst = 0;
    want.forEach((row, f) => row.forEach((v, m) => (worst = Math.max(worst, Math.abs(got.features[f * 64 + m]! - v)))));
    expect(worst).toBeLessThan(1e-4);
  });

  it('puts a 1 kHz sine in the mel bin whose centre is nearest 1 kHz', () => {
    const { features, frames, bins } = logMelSpectrogram(Float32Array.from(sine(16000, 1000, 16000)), 16000);
    const mean = Array.from({ length: bins }, (_, m) => {
      let sum = 0;
      for (let f = 0; f < frames; f++) sum += features[f * bins + m]!;
      return sum / frames;
    });
    const step = (mel(8000) - mel(20)) / (bins + 1);
    const centres = Array.from({ length: bins }, (_, m) => hz(mel(20) + (m + 1) * step));
    const nearest = centres.reduce((best, c, m) => (Math.abs(c - 1000) < Math.abs(centres[best]! - 1000) ? m : best), 0);
    expect(mean.indexOf(Math.max(...mean))).toBe(nearest);
    expect(melFilterbank(16000, 512, 40, 20, 8000).centresHz[nearest]).toBeCloseTo(centres[nearest]!, 9);
  });

  it('counts frames without centring, zero-pads a short signal to one frame, and floors silence', () => {
    expect([0, 1, 399, 400, 559, 560, 16000].map((n) => frameCount(n, 400, 160))).toEqual([0, 1, 1, 1, 1, 2, 98]);
    expect(logMelSpectrogram(new Float32Array(16000), 16000).frames).toBe(98);
    const short = noisyChord(100, 16000, 3);
    const got = logMelSpectrogram(short, 16000);
    expect(got.frames).toBe(1);
    const want = reference(short, 16000, {
      frameMs: 25, hopMs: 10, fftSize: 512, melBins: 40, fMin: 20, fMax: 8000, window: 'hann', preEmphasis: 0.97, floor: 1e-10,
    })[0]!;
    want.forEach((v, m) => expect(Math.abs(got.features[m]! - v)).toBeLessThan(1e-4));
    expect(logMelSpectrogram(new Float32Array(0), 16000).frames).toBe(0);
    const silence = logMelSpectrogram(new Float32Array(800), 16000);
    for (const v of silence.features) expect(v).toBeCloseTo(Math.log(1e-10), 4);
  });

  it('refuses impossible settings with RangeErrors', () => {
    const x = new Float32Array(1000);
    expect(() => logMelSpectrogram(x, 16000, { fftSize: 256 })).toThrow(/fftSize must be a power of two >= the frame length 400/);
    expect(() => logMelSpectrogram(x, 16000, { fftSize: 600 })).toThrow(RangeError);
    expect(() => logMelSpectrogram(x, 16000, { fMax: 9000 })).toThrow(RangeError);
    expect(() => logMelSpectrogram(x, 16000, { melBins: 200 })).toThrow(/falls between FFT bins/);
    expect(() => logMelSpectrogram(x, 16000, { hopMs: 0 })).toThrow(RangeError);
  });
});

describe('mfcc', () => {
  it('is the orthonormal DCT-II of each frame (scipy.fft.dct(x, type=2, norm="ortho"))', () => {
    // scipy.fft.dct([1, 2, 3, 4], norm='ortho') = [5, -2.2304425, 0, -0.15851267]
    const known = mfcc({ features: Float32Array.from([1, 2, 3, 4]), frames: 1, bins: 4, hopSeconds: 0.01 }, { coefficients: 4 });
    [5, -2.2304425, 0, -0.15851267].forEach((v, k) => expect(known.features[k]).toBeCloseTo(v, 6));
    // scipy 1.17: dct([0.3, -1.2, 2.5, 0.7, -0.1, 4.0], type=2, norm='ortho')
    const six = mfcc({ features: Float32Array.from([0.3, -1.2, 2.5, 0.7, -0.1, 4.0]), frames: 1, bins: 6, hopSeconds: 0.01 }, { coefficients: 6 });
    [2.5311394008759502, -2.2435073604130924, 0.55, -1.7962924780409975, 2.9156188594076093, 0.9000044761586524].forEach((v, k) =>
      expect(six.features[k]).toBeCloseTo(v, 6),
    );

    const logMel = logMelSpectrogram(noisyChord(4000, 16000, 4), 16000);
    const got = mfcc(logMel);
    expect(got.bins).toBe(13);
    expect(got.frames).toBe(logMel.frames);
    const N = logMel.bins;
    for (let f = 0; f < logMel.frames; f++) {
      for (let k = 0; k < 13; k++) {
        let sum = 0;
        for (let n = 0; n < N; n++) sum += logMel.features[f * N + n]! * Math.cos((Math.PI * k * (2 * n + 1)) / (2 * N));
        expect(Math.abs(got.features[f * 13 + k]! - sum * Math.sqrt((k === 0 ? 1 : 2) / N))).toBeLessThan(1e-4);
      }
    }
    // Orthonormal: all coefficients keep each frame's energy.
    const all = mfcc(logMel, { coefficients: N });
    const energy = (a: Float32Array, from: number, n: number): number => a.subarray(from, from + n).reduce((s, v) => s + v * v, 0);
    expect(energy(all.features, 0, N)).toBeCloseTo(energy(logMel.features, 0, N), 1);
    expect(() => mfcc(logMel, { coefficients: 41 })).toThrow(RangeError);
  });
});

describe('normalizeFeatures', () => {
  it('gives each bin mean 0 and std 1, in place, and leaves constant bins at 0', () => {
    const random = mulberry32(5);
    const frames = 300;
    const bins = 4;
    const x = new Float32Array(frames * bins);
    for (let f = 0; f < frames; f++) {
      x[f * bins] = 3 + 2 * random();
      x[f * bins + 1] = -20 + 50 * random();
      x[f * bins + 2] = Math.log(1e-10); // silence
      x[f * bins + 3] = 1e-3 * random();
    }
    const out = normalizeFeatures(x, bins);
    expect(out).toBe(x);
    for (let b = 0; b < bins; b++) {
      const column = Array.from({ length: frames }, (_, f) => x[f * bins + b]!);
      const mean = column.reduce((s, v) => s + v, 0) / frames;
      const std = Math.sqrt(column.reduce((s, v) => s + (v - mean) ** 2, 0) / frames);
      expect(Math.abs(mean)).toBeLessThan(1e-5);
      if (b === 2) expect(column.every((v) => v === 0)).toBe(true);
      else expect(std).toBeCloseTo(1, 4);
    }
    expect(() => normalizeFeatures(new Float32Array(5), 2)).toThrow(RangeError);
  });
});
