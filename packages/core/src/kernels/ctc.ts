/**
 * The CTC kernels (Graves et al. 2006) behind `ctcLoss`'s kernel path: one time step of the
 * forward variables alpha, one of the backward variables beta, each over every (batch item,
 * extended-label state) cell, and the gradient cells. The float64 twin, with the formulas, is
 * src/reference/ctc.ts.
 *
 * Layout: logProbs [T, N, C] time-major; the extended labels ext [N, S] (S = 2 * maxTargetLength
 * + 1: blank, l1, blank, l2, ..., blank, padded with blanks), skip [N, S] (1 where the transition
 * s-2 -> s may skip a blank: s odd, s >= 3, ext[s] != ext[s-2]), inputLengths [N] and
 * targetLengths [N]; alpha and beta steps [N, S]. Like the recurrent step kernels, the steps run
 * in chunks of at most CTC_TIME_CHUNK frames, one pipeline plan per chunk length: a step kernel
 * reads its chunk's slice of logProbs [L, N, C] at the plain argument `t` (frozen into the plan,
 * relative to the chunk), and `items` [2N + 1] holds the input lengths, the target lengths and
 * the chunk's first frame, so one plan serves every chunk of every sequence length.
 *
 * Everything is float32 log space. -Infinity is represented by NEG = -1e30 (a literal infinity
 * is not portable to WGSL): a log-add whose largest term is below NEG / 10 returns NEG, and
 * every state's value is clamped at NEG, so nothing overflows or turns NaN; the host turns a
 * log-likelihood at NEG back into an infinite loss. Log-probabilities must be clamped to
 * >= NEG by the caller.
 */
import type { Backend, KernelSpec } from '../backend/backend.js';
import { kernelKey, type KernelThis } from './common.js';

/** Stands for -Infinity in the kernels' log space. */
export const CTC_NEG = -1e30;

/**
 * alpha_t [N, S] from alpha_{t-1} (ignored at t = 0):
 * alpha_t(s) = log y_t(l'_s) + logadd(alpha_{t-1}(s), alpha_{t-1}(s-1), alpha_{t-1}(s-2) if skip).
 * States past 2 * targetLength + 1 and frames past the input length hold NEG.
 */
function ctcAlphaSource(
  this: KernelThis, logProbs: Float32Array, prev: Float32Array, ext: Float32Array, skip: Float32Array, items: Float32Array, t: number,
): number {
  const cell = this.thread.x;
  const n = floorDiv(cell, this.constants.S!);
  const s = cell - n * this.constants.S!;
  const neg = this.constants.neg!;
  const frame = items[2 * this.constants.N!]! + t;
  if (frame >= items[n]!) {
    return neg;
  }
  if (s >= 2 * items[this.constants.N! + n]! + 1) {
    return neg;
  }
  const emit = logProbs[(t * this.constants.N! + n) * this.constants.C! + ext[cell]!]!;
  if (frame < 0.5) {
    if (s < 2) {
      return emit;
    }
    return neg;
  }
  const a = prev[cell]!;
  let b = neg;
  if (s >= 1) {
    b = prev[cell - 1]!;
  }
  let c = neg;
  if (skip[cell]! > 0.5) {
    c = prev[cell - 2]!;
  }
  const m = Math.max(a, Math.max(b, c));
  if (m < neg * 0.1) {
    return neg;
  }
  const value = emit + m + Math.log(Math.exp(a - m) + Math.exp(b - m) + Math.exp(c - m));
  return Math.max(value, neg);
}

/**
 * beta_t [N, S] from beta_{t+1} (ignored at t = inputLength - 1, where it starts):
 * beta_t(s) = log y_t(l'_s) + logadd(beta_{t+1}(s), beta_{t+1}(s+1), beta_{t+1}(s+2) if skip(s+2)).
 */
function ctcBetaSource(
  this: KernelThis, logProbs: Float32Array, next: Float32Array, ext: Float32Array, skip: Float32Array, items: Float32Array, t: number,
): number {
  const cell = this.thread.x;
  const n = floorDiv(cell, this.constants.S!);
  const s = cell - n * this.constants.S!;
  const neg = this.constants.neg!;
  const frame = items[2 * this.constants.N!]! + t;
  const length = items[n]!;
  const states = 2 * items[this.constants.N! + n]! + 1;
  if (frame >= length) {
    return neg;
  }
  if (s >= states) {
    return neg;
  }
  const emit = logProbs[(t * this.constants.N! + n) * this.constants.C! + ext[cell]!]!;
  if (frame > length - 1.5) {
    if (s > states - 2.5) {
      return emit;
    }
    return neg;
  }
  const a = next[cell]!;
  let b = neg;
  if (s + 1 < states) {
    b = next[cell + 1]!;
  }
  let c = neg;
  if (s + 2 < states) {
    if (skip[cell + 2]! > 0.5) {
      c = next[cell + 2]!;
    }
  }
  const m = Math.max(a, Math.max(b, c));
  if (m < neg * 0.1) {
    return neg;
  }
  const value = emit + m + Math.log(Math.exp(a - m) + Math.exp(b - m) + Math.exp(c - m));
  return Math.max(value, neg);
}

/**
 * grad [T, N, C] in PyTorch's convention (see src/reference/ctc.ts), times scale_n:
 * (exp(lp) - exp(logsumexp_{s: l'_s = c}(alpha_t(s) + beta_t(s)) + nll_n - lp)) * scale_n for
 * t < inputLength_n, else 0. alpha and beta are [T, N, S]; items [N, 4] holds inputLength,
 * targetLength, nll and scale of each item (one buffer, not four: WebGPU allows 8 storage
 * buffers per stage, output included). A class with log-probability NEG (probability 0) gets 0,
 * the limit of both terms. Items whose gradient must be 0 (infinite or zeroed losses) come with
 * inputLength 0.
 */
function ctcGradSource(
  this: KernelThis, logProbs: Float32Array, alpha: Float32Array, beta: Float32Array, ext: Float32Array, items: Float32Array,
): number {
  const cell = this.thread.x;
  const row = floorDiv(cell, this.constants.C!);
  const c = cell - row * this.constants.C!;
  const t = floorDiv(row, this.constants.N!);
  const n = row - t * this.constants.N!;
  const neg = this.constants.neg!;
  if (t >= items[n * 4]!) {
    return 0;
  }
  const lp = logProbs[cell]!;
  if (lp < neg * 0.1) {
    return 0;
  }
  const states = 2 * items[n * 4 + 1]! + 1;
  const nll = items[n * 4 + 2]!;
  const scale = items[n * 4 + 3]!;
  const base = row * this.constants.S!;
  const extBase = n * this.constants.S!;
  let m = neg;
  for (let s = 0; s < this.constants.S!; s++) {
    if (s < states) {
      if (Math.abs(ext[extBase + s]! - c) < 0.5) {
        m = Math.max(m, alpha[base + s]! + beta[base + s]!);
      }
    }
  }
  const p = Math.exp(lp);
  if (m < neg * 0.1) {
    return p * scale;
  }
  let sum = 0;
  for (let s = 0; s < this.constants.S!; s++) {
    if (s < states) {
      if (Math.abs(ext[extBase + s]! - c) < 0.5) {
        sum += Math.exp(alpha[base + s]! + beta[base + s]! - m);
      }
    }
  }
  return (p - Math.exp(m + Math.log(sum) + nll - lp)) * scale;
}

export interface CtcShape {
  /** Frames. */
  readonly T: number;
  /** Batch items. */
  readonly N: number;
  /** Classes, blank included. */
  readonly C: number;
  /** Extended states per item: 2 * maxTargetLength + 1. */
  readonly S: number;
}

/** One alpha step; the code does not depend on T, so every sequence length shares it. */
export function planCtcAlpha({ N, C, S }: CtcShape): KernelSpec {
  const constants = { N, C, S, neg: CTC_NEG };
  return { key: kernelKey('ctcAlpha', constants), source: ctcAlphaSource, outputSize: N * S, constants };
}

/** One beta step; shared by every sequence length, as alpha's. */
export function planCtcBeta({ N, C, S }: CtcShape): KernelSpec {
  const constants = { N, C, S, neg: CTC_NEG };
  return { key: kernelKey('ctcBeta', constants), source: ctcBetaSource, outputSize: N * S, constants };
}

export function planCtcGrad({ T, N, C, S }: CtcShape): KernelSpec {
  const constants = { N, C, S, neg: CTC_NEG };
  return { key: kernelKey('ctcGrad', { ...constants, T }), source: ctcGradSource, outputSize: T * N * C, constants };
}

/** The device-side inputs shared by the CTC kernels (see the file comment for their layout). */
export interface CtcBuffers {
  /** [T, N, C], every value >= CTC_NEG. */
  readonly logProbs: Float32Array;
  readonly ext: Float32Array;
  readonly skip: Float32Array;
  readonly inputLengths: Float32Array;
  readonly targetLengths: Float32Array;
}

/** Frames per pipeline call of the step kernels (each plan unrolls its steps into code). */
export const CTC_TIME_CHUNK = 64;

/**
 * Runs the alpha steps for t = 0..T-1, or the beta steps for t = T-1..0, in chunks of at most
 * `timeChunk` frames, one pipeline plan per chunk length (cached by the backend), and returns the
 * T steps stacked in time order, [T, N, S].
 */
async function runSteps(backend: Backend, shape: CtcShape, kind: 'alpha' | 'beta', buffers: CtcBuffers, timeChunk: number): Promise<Float32Array> {
  const { T, N, C, S } = shape;
  if (!(Number.isInteger(timeChunk) && timeChunk >= 1)) throw new Error(`ctc: timeChunk must be a positive integer, got ${timeChunk}`);
  const out = new Float32Array(T * N * S);
  if (T === 0 || N * S === 0) return out;
  const step = backend.kernel(kind === 'alpha' ? planCtcAlpha(shape) : planCtcBeta(shape));
  const items = new Float32Array(2 * N + 1);
  items.set(buffers.inputLengths, 0);
  items.set(buffers.targetLengths, N);
  let state: Float32Array = new Float32Array(N * S).fill(CTC_NEG);
  const starts: number[] = [];
  for (let start = 0; start < T; start += timeChunk) starts.push(start);
  if (kind === 'beta') starts.reverse();
  for (const start of starts) {
    const L = Math.min(timeChunk, T - start);
    const key = kernelKey(`ctc-${kind}-steps`, { L, N, C, S });
    const pipeline = backend.pipeline(key, function (logProbs, first, ext, skip, chunkItems) {
      const outputs = [];
      let value = first;
      for (let i = 0; i < L; i++) {
        value = step(logProbs, value, ext, skip, chunkItems, kind === 'alpha' ? i : L - 1 - i);
        outputs.push(value);
      }
      return outputs;
    }, { steps: L });
    items[2 * N] = start;
    const chunk = buffers.logProbs.subarray(start * N * C, (start + L) * N * C);
    const results = (await pipeline(chunk, state, buffers.ext, buffers.skip, items)) as Float32Array[];
    for (let i = 0; i < L; i++) {
      const t = start + (kind === 'alpha' ? i : L - 1 - i);
      out.set(results[i]!, t * N * S);
    }
    state = results[L - 1]!;
  }
  return out;
}

/** alpha for every frame, [T, N, S]. */
export const ctcAlpha = (backend: Backend, shape: CtcShape, buffers: CtcBuffers, timeChunk = CTC_TIME_CHUNK) => runSteps(backend, shape, 'alpha', buffers, timeChunk);
/** beta for every frame, [T, N, S]. */
export const ctcBeta = (backend: Backend, shape: CtcShape, buffers: CtcBuffers, timeChunk = CTC_TIME_CHUNK) => runSteps(backend, shape, 'beta', buffers, timeChunk);

/** The gradient cells, [T, N, C] (see ctcGradSource); nll and scale per item, [N]. */
export async function ctcGrad(
  backend: Backend, shape: CtcShape, buffers: CtcBuffers, alpha: Float32Array, beta: Float32Array, nll: Float32Array, scale: Float32Array,
): Promise<Float32Array> {
  const { T, N, C } = shape;
  if (T * N * C === 0) return new Float32Array(T * N * C);
  const items = new Float32Array(N * 4);
  for (let n = 0; n < N; n++) items.set([buffers.inputLengths[n]!, buffers.targetLengths[n]!, nll[n]!, scale[n]!], n * 4);
  return backend.run(planCtcGrad(shape), [buffers.logProbs, alpha, beta, buffers.ext, items]);
}
