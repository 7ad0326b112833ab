/** Training augmentation and level checks. Randomness comes from the caller's seeded generator. */

export interface SpecAugmentOptions {
  /** Number of time masks (default 2). */
  timeMasks?: number;
  /** Widest time mask in frames (default 20); each width is uniform in [0, timeMaskMax]. */
  timeMaskMax?: number;
  /** Number of frequency masks (default 2). */
  freqMasks?: number;
  /** Widest frequency mask in bins (default 8); each width is uniform in [0, freqMaskMax]. */
  freqMaskMax?: number;
  /** Value written into masked cells (default 0: the mean after `normalizeFeatures`). */
  maskValue?: number;
}

function count(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`specAugment: ${what} must be a whole number >= 0, got ${value}`);
  return value;
}

/** A uniform integer in [0, below), safe against a generator that returns exactly 1. */
function below(random: () => number, limit: number): number {
  return Math.min(limit - 1, Math.floor(random() * limit));
}

/**
 * SpecAugment time and frequency masking (no time warping) of row-major `[frames, bins]`
 * features. Returns a masked copy and leaves `features` untouched. Draws, in order, for each time
 * mask then each frequency mask: a width w uniform in [0, max] (capped at the axis length), then a
 * start uniform in [0, length - w]. Masks may overlap. The same generator state gives the same masks.
 */
export function specAugment(
  features: Float32Array,
  frames: number,
  bins: number,
  random: () => number,
  options: SpecAugmentOptions = {},
): Float32Array {
  if (features.length !== frames * bins) throw new RangeError(`specAugment: features hold ${features.length} values, not ${frames} x ${bins}`);
  const timeMasks = count(options.timeMasks ?? 2, 'timeMasks');
  const timeMaskMax = count(options.timeMaskMax ?? 20, 'timeMaskMax');
  const freqMasks = count(options.freqMasks ?? 2, 'freqMasks');
  const freqMaskMax = count(options.freqMaskMax ?? 8, 'freqMaskMax');
  const maskValue = options.maskValue ?? 0;
  const out = features.slice();
  if (frames === 0 || bins === 0) return out;
  const span = (length: number, max: number): [number, number] => {
    const width = Math.min(below(random, max + 1), length);
    return [below(random, length - width + 1), width];
  };
  for (let i = 0; i < timeMasks; i++) {
    const [start, width] = span(frames, timeMaskMax);
    out.fill(maskValue, start * bins, (start + width) * bins);
  }
  for (let i = 0; i < freqMasks; i++) {
    const [start, width] = span(bins, freqMaskMax);
    for (let f = 0; f < frames; f++) out.fill(maskValue, f * bins + start, f * bins + start + width);
  }
  return out;
}

/**
 * `samples` plus white Gaussian noise at exactly `snrDb` dB below the signal's mean power
 * (the noise is rescaled after it is drawn). Returns a new array, not clipped to [-1, 1]; a silent
 * input has no power to measure against and comes back unchanged.
 */
export function addNoise(samples: Float32Array, snrDb: number, random: () => number): Float32Array {
  if (!Number.isFinite(snrDb)) throw new RangeError(`addNoise: snrDb must be a finite number, got ${snrDb}`);
  const n = samples.length;
  const out = samples.slice();
  let signalPower = 0;
  for (let i = 0; i < n; i++) signalPower += samples[i]! ** 2;
  if (signalPower === 0) return out;
  const noise = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    // Box-Muller; 1 - u keeps the log's argument in (0, 1].
    const radius = Math.sqrt(-2 * Math.log(1 - random()));
    const angle = 2 * Math.PI * random();
    noise[i] = radius * Math.cos(angle);
    if (i + 1 < n) noise[i + 1] = radius * Math.sin(angle);
  }
  let noisePower = 0;
  for (let i = 0; i < n; i++) noisePower += noise[i]! ** 2;
  if (noisePower === 0) return out;
  const gain = Math.sqrt(signalPower / (noisePower * 10 ** (snrDb / 10)));
  for (let i = 0; i < n; i++) out[i] = samples[i]! + gain * noise[i]!;
  return out;
}

/**
 * RMS level in dBFS, where 0 dBFS is the RMS of a full-scale square wave (so a full-scale sine is
 * -3 dBFS; AES17 would call it 0). An empty or all-zero signal is -Infinity.
 */
export function rmsDbfs(samples: Float32Array): number {
  if (samples.length === 0) return -Infinity;
  let squares = 0;
  for (let i = 0; i < samples.length; i++) squares += samples[i]! ** 2;
  return 10 * Math.log10(squares / samples.length);
}

/** True when the RMS level is below `thresholdDb` dBFS (default -60), as for a silent recording. */
export function isSilent(samples: Float32Array, thresholdDb = -60): boolean {
  return rmsDbfs(samples) < thresholdDb;
}
