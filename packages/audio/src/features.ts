import FFT from 'fft.js';

export type WindowName = 'hann' | 'hamming' | 'rectangular';

export interface LogMelOptions {
  /** Frame length in milliseconds (default 25), rounded to whole samples. */
  frameMs?: number;
  /** Hop between frame starts in milliseconds (default 10), rounded to whole samples. */
  hopMs?: number;
  /** FFT length, a power of two >= the frame length (default: the smallest such). */
  fftSize?: number;
  /** Number of mel filters (default 40). */
  melBins?: number;
  /** Lower edge of the first filter in Hz (default 20). */
  fMin?: number;
  /** Upper edge of the last filter in Hz (default sampleRate / 2). */
  fMax?: number;
  /** Periodic window over each frame (default 'hann'). */
  window?: WindowName;
  /** y[t] = x[t] - a * x[t - 1] over the whole signal, y[0] = x[0] (default 0.97; 0 turns it off). */
  preEmphasis?: number;
  /** Mel energies are clamped up to this before the log, so silence gives log(floor) (default 1e-10). */
  floor?: number;
}

/** Features of one utterance, row-major `[frames, bins]`. */
export interface Features {
  features: Float32Array;
  frames: number;
  bins: number;
  /** Seconds between the starts of consecutive frames (the hop, after rounding to samples). */
  hopSeconds: number;
}

/** HTK mel scale. */
export function hzToMel(hz: number): number {
  return 2595 * Math.log10(1 + hz / 700);
}

export function melToHz(mel: number): number {
  return 700 * (10 ** (mel / 2595) - 1);
}

export interface MelFilterbank {
  /** Row-major `[melBins, fftSize / 2 + 1]` weights on the power spectrum. */
  weights: Float64Array;
  /** Centre frequency of each filter in Hz. */
  centresHz: Float64Array;
  melBins: number;
  spectrumBins: number;
}

/**
 * Triangular filters with peak 1 (not area-normalised) whose edges and centres are melBins + 2
 * points equally spaced in HTK mel from fMin to fMax; each triangle is linear in Hz between its
 * points and is evaluated at the FFT bin frequencies k * sampleRate / fftSize. This is
 * librosa.filters.mel(..., htk=True, norm=None) and torchaudio's melscale_fbanks(mel_scale='htk').
 */
export function melFilterbank(sampleRate: number, fftSize: number, melBins: number, fMin: number, fMax: number): MelFilterbank {
  const spectrumBins = fftSize / 2 + 1;
  const lowMel = hzToMel(fMin);
  const step = (hzToMel(fMax) - lowMel) / (melBins + 1);
  const edges = Float64Array.from({ length: melBins + 2 }, (_, i) => melToHz(lowMel + i * step));
  const weights = new Float64Array(melBins * spectrumBins);
  for (let m = 0; m < melBins; m++) {
    const [left, centre, right] = [edges[m]!, edges[m + 1]!, edges[m + 2]!];
    let any = false;
    for (let k = 0; k < spectrumBins; k++) {
      const hz = (k * sampleRate) / fftSize;
      const w = Math.max(0, Math.min((hz - left) / (centre - left), (right - hz) / (right - centre)));
      weights[m * spectrumBins + k] = w;
      any ||= w > 0;
    }
    // An empty filter would give a constant log(floor) channel that looks like data.
    if (!any) {
      throw new RangeError(
        `melFilterbank: mel filter ${m} (${left.toFixed(1)}-${right.toFixed(1)} Hz) falls between FFT bins; use fewer melBins or a larger fftSize`,
      );
    }
  }
  return { weights, centresHz: edges.slice(1, melBins + 1), melBins, spectrumBins };
}

function windowFunction(name: WindowName, length: number): Float64Array {
  // Periodic (DFT-even) windows, as librosa, torch.stft and scipy's get_window use for spectra.
  const cosine = (a: number): Float64Array => Float64Array.from({ length }, (_, i) => a - (1 - a) * Math.cos((2 * Math.PI * i) / length));
  if (name === 'hann') return cosine(0.5);
  if (name === 'hamming') return cosine(0.54);
  if (name === 'rectangular') return new Float64Array(length).fill(1);
  throw new RangeError(`logMelSpectrogram: window must be 'hann', 'hamming' or 'rectangular', got ${String(name)}`);
}

function positive(value: number, what: string): number {
  if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`logMelSpectrogram: ${what} must be a positive number, got ${value}`);
  return value;
}

/** Frames that `n` samples give: whole frames only, but one zero-padded frame for a short signal. */
export function frameCount(n: number, frameLength: number, hop: number): number {
  if (n <= 0) return 0;
  return n < frameLength ? 1 : 1 + Math.floor((n - frameLength) / hop);
}

/**
 * Log-mel spectrogram, row-major `[frames, melBins]`. Conventions: pre-emphasis over the whole
 * signal; frames not centred (frame i covers samples [i * hop, i * hop + frameLength)), so there
 * are 1 + floor((n - frameLength) / hop) of them and trailing samples that do not fill a frame are
 * dropped, except that a signal shorter than one frame gives one frame, zero-padded; no DC
 * removal; periodic window; each frame zero-padded at its end to fftSize; power spectrum |X[k]|^2
 * without 1/N scaling; mel filters as `melFilterbank`; natural log of max(energy, floor).
 */
export function logMelSpectrogram(samples: Float32Array, sampleRate: number, options: LogMelOptions = {}): Features {
  positive(sampleRate, 'sampleRate');
  const frameLength = Math.round((positive(options.frameMs ?? 25, 'frameMs') * sampleRate) / 1000);
  const hop = Math.round((positive(options.hopMs ?? 10, 'hopMs') * sampleRate) / 1000);
  if (frameLength < 1 || hop < 1) {
    throw new RangeError(`logMelSpectrogram: frameMs and hopMs must each span at least one sample at ${sampleRate} Hz`);
  }
  const fftSize = options.fftSize ?? Math.max(2, 2 ** Math.ceil(Math.log2(frameLength)));
  if (!Number.isInteger(Math.log2(fftSize)) || fftSize < 2 || fftSize < frameLength) {
    throw new RangeError(`logMelSpectrogram: fftSize must be a power of two >= the frame length ${frameLength}, got ${fftSize}`);
  }
  const melBins = options.melBins ?? 40;
  if (!Number.isInteger(melBins) || melBins < 1) throw new RangeError(`logMelSpectrogram: melBins must be a positive integer, got ${melBins}`);
  const fMin = options.fMin ?? 20;
  const fMax = options.fMax ?? sampleRate / 2;
  if (!(fMin >= 0 && fMin < fMax && fMax <= sampleRate / 2)) {
    throw new RangeError(`logMelSpectrogram: need 0 <= fMin < fMax <= sampleRate / 2 (${sampleRate / 2}), got fMin ${fMin}, fMax ${fMax}`);
  }
  const preEmphasis = options.preEmphasis ?? 0.97;
  const floor = options.floor ?? 1e-10;
  if (!(floor > 0)) throw new RangeError(`logMelSpectrogram: floor must be positive, got ${floor}`);
  const window = windowFunction(options.window ?? 'hann', frameLength);
  const bank = melFilterbank(sampleRate, fftSize, melBins, fMin, fMax);

  // Each filter's nonzero span, so the mel sums skip the zeros.
  const spans = Array.from({ length: melBins }, (_, m) => {
    const row = bank.weights.subarray(m * bank.spectrumBins, (m + 1) * bank.spectrumBins);
    const first = row.findIndex((w) => w > 0);
    let last = row.length - 1;
    while (row[last] === 0) last--;
    return { first, weights: row.slice(first, last + 1) };
  });

  const n = samples.length;
  const frames = frameCount(n, frameLength, hop);
  const features = new Float32Array(frames * melBins);
  const fft = new FFT(fftSize);
  const frame = new Float64Array(fftSize);
  const spectrum = new Float64Array(2 * fftSize);
  const power = new Float64Array(bank.spectrumBins);
  for (let f = 0; f < frames; f++) {
    const start = f * hop;
    for (let i = 0; i < frameLength; i++) {
      const t = start + i;
      const emphasised = t >= n ? 0 : samples[t]! - (t > 0 ? preEmphasis * samples[t - 1]! : 0);
      frame[i] = emphasised * window[i]!;
    }
    fft.realTransform(spectrum, frame); // fills bins 0..fftSize/2, all that a real signal needs
    for (let k = 0; k < bank.spectrumBins; k++) power[k] = spectrum[2 * k]! ** 2 + spectrum[2 * k + 1]! ** 2;
    for (let m = 0; m < melBins; m++) {
      const { first, weights } = spans[m]!;
      let energy = 0;
      for (let j = 0; j < weights.length; j++) energy += weights[j]! * power[first + j]!;
      features[f * melBins + m] = Math.log(Math.max(energy, floor));
    }
  }
  return { features, frames, bins: melBins, hopSeconds: hop / sampleRate };
}

/**
 * MFCCs: the orthonormal DCT-II of each log-mel frame (scipy.fft.dct(x, type=2, norm='ortho')),
 * first `coefficients` kept (default 13). Coefficient 0 is kept (it tracks loudness) and there is
 * no liftering.
 */
export function mfcc(logMel: Features, options: { coefficients?: number } = {}): Features {
  const { features, frames, bins } = logMel;
  const coefficients = options.coefficients ?? 13;
  if (!Number.isInteger(coefficients) || coefficients < 1 || coefficients > bins) {
    throw new RangeError(`mfcc: coefficients must be an integer from 1 to the ${bins} mel bins, got ${coefficients}`);
  }
  if (features.length !== frames * bins) throw new RangeError(`mfcc: features hold ${features.length} values, not ${frames} x ${bins}`);
  const basis = new Float64Array(coefficients * bins);
  for (let k = 0; k < coefficients; k++) {
    const scale = Math.sqrt((k === 0 ? 1 : 2) / bins);
    for (let i = 0; i < bins; i++) basis[k * bins + i] = scale * Math.cos((Math.PI * k * (2 * i + 1)) / (2 * bins));
  }
  const out = new Float32Array(frames * coefficients);
  for (let f = 0; f < frames; f++) {
    for (let k = 0; k < coefficients; k++) {
      let sum = 0;
      for (let i = 0; i < bins; i++) sum += basis[k * bins + i]! * features[f * bins + i]!;
      out[f * coefficients + k] = sum;
    }
  }
  return { features: out, frames, bins: coefficients, hopSeconds: logMel.hopSeconds };
}

/** Bins whose standard deviation is below this are only centred: silence would otherwise blow up. */
const MIN_STD = 1e-5;

/**
 * Per-utterance normalisation, in place (it returns `features`): each of the `bins` columns of the
 * row-major `[frames, bins]` array gets mean 0 and (population) standard deviation 1. Columns that
 * are constant, or nearly (std < 1e-5, as for digital silence), are divided by 1 instead.
 */
export function normalizeFeatures(features: Float32Array, bins: number): Float32Array {
  if (!Number.isInteger(bins) || bins < 1 || features.length % bins !== 0) {
    throw new RangeError(`normalizeFeatures: ${features.length} values do not split into rows of ${bins} bins`);
  }
  const frames = features.length / bins;
  if (frames === 0) return features;
  for (let b = 0; b < bins; b++) {
    let sum = 0;
    for (let f = 0; f < frames; f++) sum += features[f * bins + b]!;
    const mean = sum / frames;
    let squares = 0;
    for (let f = 0; f < frames; f++) squares += (features[f * bins + b]! - mean) ** 2;
    const std = Math.sqrt(squares / frames);
    const divisor = std < MIN_STD ? 1 : std;
    for (let f = 0; f < frames; f++) features[f * bins + b] = (features[f * bins + b]! - mean) / divisor;
  }
  return features;
}
