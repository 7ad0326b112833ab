/**
 * Band-limited resampling with a Kaiser-windowed sinc (the method of libsamplerate and resampy).
 *
 * Written here rather than taken from wavefile: its `toSampleRate` is a method of a WaveFile, so
 * Float32 samples would go through its pure-JS 32-bit float encoder and decoder and back (most of
 * its run time: about 5 s per minute of 44.1 kHz audio), and its resampler module is not exported
 * from the package. Its quality (cubic interpolation after a 16-stage Butterworth low-pass) was
 * fine; this filter is comparable in the passband and has a deeper stopband.
 */

/** Zero crossings of the sinc on each side: sets the transition band (about 1.3 kHz at 16 kHz). */
const ZERO_CROSSINGS = 32;
/** Kaiser window shape: about 86 dB of stopband attenuation. */
const KAISER_BETA = 8.6;
/** Cutoff as a fraction of the lower Nyquist frequency, so the transition band ends near it. */
const ROLLOFF = 0.945;
/** Kernel table points per zero crossing; linear interpolation between them errs by < 1e-6. */
const TABLE_RESOLUTION = 512;
/** Largest phase table worth precomputing (phases x taps weights); odd rate pairs compute per sample. */
const MAX_CACHED_WEIGHTS = 1 << 22;

let kernelTable: Float64Array | undefined;

/** Modified Bessel function of the first kind, order 0 (power series; converges fast for beta < 20). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 50; k++) {
    term *= (x / (2 * k)) ** 2;
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

/** The windowed sinc sampled on [0, ZERO_CROSSINGS] (it is symmetric), one extra point for interpolation. */
function kernel(): Float64Array {
  if (kernelTable) return kernelTable;
  const points = ZERO_CROSSINGS * TABLE_RESOLUTION;
  const table = new Float64Array(points + 2);
  const norm = besselI0(KAISER_BETA);
  for (let i = 0; i <= points; i++) {
    const u = i / TABLE_RESOLUTION;
    const sinc = u === 0 ? 1 : Math.sin(Math.PI * u) / (Math.PI * u);
    const r = u / ZERO_CROSSINGS;
    table[i] = (sinc * besselI0(KAISER_BETA * Math.sqrt(Math.max(0, 1 - r * r)))) / norm;
  }
  kernelTable = table;
  return table;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

function checkRate(rate: number, what: string): void {
  if (!Number.isInteger(rate) || rate < 1 || rate > 0xffffffff) {
    throw new RangeError(`resample: ${what} must be a whole number of Hz from 1 to 4294967295, got ${rate}`);
  }
}

/**
 * `samples` at `fromRate` resampled to `toRate` (both whole Hz); a new array either way.
 * Output sample j sits at input time j * fromRate / toRate (no delay); the signal is taken as zero
 * outside its ends; the length is round(n * toRate / fromRate). Downsampling low-passes at
 * 0.945 x the new Nyquist frequency first, so nothing above it folds back as aliasing.
 */
export function resample(samples: Float32Array, fromRate: number, toRate: number): Float32Array {
  checkRate(fromRate, 'fromRate');
  checkRate(toRate, 'toRate');
  if (fromRate === toRate) return samples.slice();
  const n = samples.length;
  const divisor = gcd(fromRate, toRate);
  const up = toRate / divisor; // output j lies at input position j * down / up
  const down = fromRate / divisor;
  const cutoff = ROLLOFF * Math.min(1, toRate / fromRate); // fraction of the input Nyquist
  const reach = Math.ceil(ZERO_CROSSINGS / cutoff); // taps each side, in input samples
  const taps = 2 * reach;
  const table = kernel();

  // Weights for the output that lies `phase / up` past input sample `base`, normalised to sum
  // to 1 so that a constant signal stays exactly constant.
  const weightsFor = (phase: number, into: Float64Array, offset: number): void => {
    const fraction = phase / up;
    let sum = 0;
    for (let k = 0; k < taps; k++) {
      const position = Math.abs(fraction + reach - 1 - k) * cutoff * TABLE_RESOLUTION;
      const i = Math.floor(position);
      const w = i >= ZERO_CROSSINGS * TABLE_RESOLUTION ? 0 : table[i]! + (position - i) * (table[i + 1]! - table[i]!);
      into[offset + k] = w;
      sum += w;
    }
    for (let k = 0; k < taps; k++) into[offset + k]! /= sum;
  };
  const cached = up * taps <= MAX_CACHED_WEIGHTS;
  const weights = new Float64Array(cached ? up * taps : taps);
  if (cached) for (let phase = 0; phase < up; phase++) weightsFor(phase, weights, phase * taps);

  const outLength = Math.round((n * toRate) / fromRate);
  const out = new Float32Array(outLength);
  let base = 0;
  let phase = 0;
  for (let j = 0; j < outLength; j++) {
    let offset = 0;
    if (cached) offset = phase * taps;
    else weightsFor(phase, weights, 0);
    const first = base - reach + 1;
    let acc = 0;
    if (first >= 0 && first + taps <= n) {
      for (let k = 0; k < taps; k++) acc += weights[offset + k]! * samples[first + k]!;
    } else {
      const from = Math.max(0, -first);
      const to = Math.min(taps, n - first);
      for (let k = from; k < to; k++) acc += weights[offset + k]! * samples[first + k]!;
    }
    out[j] = acc;
    phase += down; // step by down/up input samples without accumulating rounding error
    if (phase >= up) {
      base += Math.floor(phase / up);
      phase %= up;
    }
  }
  return out;
}
