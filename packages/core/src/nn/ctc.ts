/**
 * Connectionist temporal classification loss (Graves et al. 2006) with PyTorch's nn.CTCLoss
 * semantics: time-major log-probabilities [T, N, C], one label list per batch item, input and
 * target lengths, a blank class, reductions 'mean' | 'sum' | 'none' and zero_infinity.
 *
 * Two implementations compute the same thing:
 * - the kernel path: GPU.js kernels (src/kernels/ctc.ts), one alpha step and one beta step over
 *   every (batch item, extended state) cell, run T times each (pipelines of up to 64 steps), then
 *   one kernel for the gradient cells; float32 log space.
 * - the host path: the float64 reference (src/reference/ctc.ts) in plain JavaScript.
 * The recursion is sequential in time and each step touches only N * (2L + 1) cells, too little
 * work to amortise a kernel launch per step on the CPU-side backends. Measured on two cores for
 * T = 100, N = 32, C = 30, L = 20, forward + backward, warm: the host path takes 20-30 ms, the
 * kernel path 45-65 ms on 'cpu' and 65-110 ms on 'webasm' (and 0.4-1 s on the first call of a
 * shape, while its kernels and pipelines compile). The host path is also float64. So
 * `path: 'auto'` (the default) takes the host path on 'cpu' and 'webasm' and the kernel path on
 * 'webgpu', where a model's log-probabilities come from and a pipeline's steps go out as one
 * submit. Either path can be forced with `path`; the tests run both on every backend.
 */
import type { Backend } from '../backend/backend.js';
import { getDefaultBackend } from '../backend/default.js';
import { ctcAlpha, ctcBeta, ctcGrad, CTC_NEG, type CtcBuffers, type CtcShape } from '../kernels/ctc.js';
import { ctcLossReference } from '../reference/ctc.js';
import { formatShape, ShapeError, Tensor } from '../tensor.js';
import type { Reduction } from './losses.js';
import { Tape } from './tape.js';

export interface CtcLossOptions {
  /** The blank class. Default 0. */
  readonly blank?: number;
  /**
   * 'mean' (default): each loss divided by its target length (clamped to >= 1), then averaged
   * over the batch, as PyTorch; 'sum'; or 'none' (one loss per batch item, [N]).
   */
  readonly reduction?: Reduction;
  /**
   * Replace infinite losses (inputs too short to align with their targets) and their gradients
   * by 0. Default false: the loss is +Infinity and, as in PyTorch, its gradient NaN.
   */
  readonly zeroInfinity?: boolean;
  /** The backend of the kernel path (default: the default backend). */
  readonly backend?: Backend;
  /**
   * 'kernel' (GPU.js kernels on the backend), 'host' (float64 JavaScript), or 'auto' (default):
   * kernels on 'webgpu', host on 'cpu' and 'webasm' (see the file comment).
   */
  readonly path?: 'auto' | 'kernel' | 'host';
  /** Kernel path: frames per pipeline call of the step kernels. Default CTC_TIME_CHUNK (64). */
  readonly timeChunk?: number;
}

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value);

function validate(
  logProbs: Tensor, targets: readonly (readonly number[])[], inputLengths: readonly number[], targetLengths: readonly number[], blank: number,
): void {
  if (!(logProbs instanceof Tensor) || logProbs.rank !== 3) {
    const shape = logProbs instanceof Tensor ? formatShape(logProbs.shape) : String(logProbs);
    throw new ShapeError(`ctcLoss: logProbs must be a [T, N, C] tensor of log-probabilities, got ${shape}`);
  }
  const [T, N, C] = logProbs.shape as [number, number, number];
  if (!isCount(blank) || blank < 0 || blank >= C) throw new ShapeError(`ctcLoss: blank = ${blank} is not a class of logProbs ${formatShape(logProbs.shape)} (0..${C - 1})`);
  for (const [name, list] of [['targets', targets], ['inputLengths', inputLengths], ['targetLengths', targetLengths]] as const) {
    if (!Array.isArray(list) || list.length !== N) {
      throw new ShapeError(`ctcLoss: ${name} must have one entry per batch item (N = ${N} from logProbs ${formatShape(logProbs.shape)}), got ${Array.isArray(list) ? list.length : String(list)}`);
    }
  }
  for (let n = 0; n < N; n++) {
    const length = inputLengths[n];
    if (!isCount(length) || length < 0) throw new ShapeError(`ctcLoss: inputLengths[${n}] = ${length} must be a non-negative integer`);
    if (length > T) throw new ShapeError(`ctcLoss: inputLengths[${n}] = ${length} exceeds the ${T} frames of logProbs ${formatShape(logProbs.shape)}`);
    const target = targets[n];
    if (!Array.isArray(target)) throw new ShapeError(`ctcLoss: targets[${n}] must be an array of labels, got ${String(target)}`);
    const L = targetLengths[n];
    if (!isCount(L) || L < 0) throw new ShapeError(`ctcLoss: targetLengths[${n}] = ${L} must be a non-negative integer`);
    if (L > target.length) throw new ShapeError(`ctcLoss: targetLengths[${n}] = ${L} exceeds the ${target.length} labels of targets[${n}]`);
    for (let i = 0; i < L; i++) {
      const label = target[i];
      if (label === blank) throw new ShapeError(`ctcLoss: targets[${n}][${i}] = ${label} is the blank class; targets hold labels only`);
      if (!isCount(label) || label < 0 || label >= C) throw new ShapeError(`ctcLoss: targets[${n}][${i}] = ${label} is not a class in 0..${C - 1}`);
    }
  }
}

/** The kernels' inputs: extended labels, skip flags and lengths as f32, log-probs clamped at CTC_NEG. */
function kernelBuffers(
  logProbs: Tensor, targets: readonly (readonly number[])[], inputLengths: readonly number[], targetLengths: readonly number[], blank: number,
): { shape: CtcShape; buffers: CtcBuffers } {
  const [T, N, C] = logProbs.shape as [number, number, number];
  const S = 2 * Math.max(0, ...targetLengths) + 1;
  const ext = new Float32Array(N * S).fill(blank);
  const skip = new Float32Array(N * S);
  for (let n = 0; n < N; n++) {
    for (let i = 0; i < targetLengths[n]!; i++) {
      const s = 2 * i + 1;
      ext[n * S + s] = targets[n]![i]!;
      if (i > 0 && targets[n]![i] !== targets[n]![i - 1]) skip[n * S + s] = 1;
    }
  }
  const clamped = new Float32Array(logProbs.size);
  for (let i = 0; i < clamped.length; i++) {
    const v = logProbs.data[i]!;
    clamped[i] = v < CTC_NEG ? CTC_NEG : v;
  }
  return {
    shape: { T, N, C, S },
    buffers: { logProbs: clamped, ext, skip, inputLengths: Float32Array.from(inputLengths), targetLengths: Float32Array.from(targetLengths) },
  };
}

/** The negative log-likelihood of each item from the kernels' alpha [T, N, S] (+Infinity where none). */
function nllFromAlpha(alpha: Float32Array, shape: CtcShape, inputLengths: readonly number[], targetLengths: readonly number[]): Float64Array {
  const { N, S } = shape;
  const nll = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    const length = inputLengths[n]!;
    const L = targetLengths[n]!;
    if (length === 0) {
      nll[n] = L === 0 ? 0 : Infinity;
      continue;
    }
    const base = ((length - 1) * N + n) * S;
    const a = alpha[base + 2 * L]!;
    const b = L > 0 ? alpha[base + 2 * L - 1]! : CTC_NEG;
    const m = Math.max(a, b);
    nll[n] = m < CTC_NEG / 10 ? Infinity : -(m + Math.log(Math.exp(a - m) + Math.exp(b - m)));
  }
  return nll;
}

/**
 * CTC loss, as PyTorch's F.ctc_loss / nn.CTCLoss. logProbs: [T, N, C] time-major
 * log-probabilities (normally `functional.logSoftmax` of the logits); targets[n]: the labels of
 * item n, without blanks; inputLengths[n] <= T: its frames; targetLengths[n] (default
 * targets[n].length): how many of its labels count. Returns a scalar, or [N] with reduction
 * 'none'.
 *
 * On a recording tape the gradient with respect to logProbs follows PyTorch's convention
 * (exp(lp) - occupation, see src/reference/ctc.ts): it is the gradient with respect to the logits
 * when logProbs is a log-softmax output, so composing with `functional.logSoftmax` gives the true
 * logits gradient, as in PyTorch.
 */
export async function ctcLoss(
  logProbs: Tensor,
  targets: readonly (readonly number[])[],
  inputLengths: readonly number[],
  targetLengths?: readonly number[],
  options: CtcLossOptions = {},
): Promise<Tensor> {
  const blank = options.blank ?? 0;
  const reduction = options.reduction ?? 'mean';
  const zeroInfinity = options.zeroInfinity ?? false;
  if (!['mean', 'sum', 'none'].includes(reduction)) throw new Error(`ctcLoss: reduction must be 'mean', 'sum' or 'none', got ${String(reduction)}`);
  const lengths = targetLengths ?? (Array.isArray(targets) ? targets.map((t) => (Array.isArray(t) ? t.length : NaN)) : []);
  validate(logProbs, targets, inputLengths, lengths, blank);
  const [T, N, C] = logProbs.shape as [number, number, number];

  let path = options.path ?? 'auto';
  let backend = options.backend;
  if (path === 'auto') {
    backend ??= await getDefaultBackend();
    path = backend.name === 'webgpu' ? 'kernel' : 'host';
  }
  const tape = Tape.current();

  // Per item: nll (float64), and a way to get the unscaled PyTorch-convention gradient.
  let nll: Float64Array;
  let gradient: (scale: Float64Array) => Promise<Float32Array>;
  if (path === 'host') {
    const ref = ctcLossReference(logProbs.data, T, N, C, targets, inputLengths, lengths, blank, { gradient: tape !== undefined });
    nll = ref.nll;
    gradient = async (scale) => {
      const out = new Float32Array(T * N * C);
      for (let t = 0; t < T; t++)
        for (let n = 0; n < N; n++) {
          const live = !(zeroInfinity && nll[n] === Infinity);
          for (let c = 0; c < C; c++) {
            const i = (t * N + n) * C + c;
            out[i] = live ? ref.grad[i]! * scale[n]! : 0;
          }
        }
      return out;
    };
  } else {
    backend ??= await getDefaultBackend();
    const device = backend;
    const { shape, buffers } = kernelBuffers(logProbs, targets, inputLengths, lengths, blank);
    const alpha = await ctcAlpha(device, shape, buffers, options.timeChunk);
    nll = nllFromAlpha(alpha, shape, inputLengths, lengths);
    gradient = async (scale) => {
      const finite = nll.map((v) => (Number.isFinite(v) ? 1 : 0));
      // Items with an infinite loss take no part in the kernels (input length 0: all zeros); as in
      // PyTorch their live frames' gradient is NaN unless zeroInfinity.
      const live: CtcBuffers = { ...buffers, inputLengths: Float32Array.from(inputLengths, (l, n) => (finite[n] ? l : 0)) };
      const beta = await ctcBeta(device, shape, live, options.timeChunk);
      const grad = await ctcGrad(device, shape, live, alpha, beta, Float32Array.from(nll, (v) => (Number.isFinite(v) ? v : 0)), Float32Array.from(scale));
      for (let n = 0; n < N; n++) {
        if (finite[n] || zeroInfinity) continue;
        for (let t = 0; t < inputLengths[n]!; t++) grad.fill(NaN, (t * N + n) * C, (t * N + n + 1) * C);
      }
      return grad;
    };
  }

  const losses = nll.map((v) => (zeroInfinity && v === Infinity ? 0 : v));
  const divisor = (n: number) => (reduction === 'mean' ? N * Math.max(lengths[n]!, 1) : 1);
  let loss: Tensor;
  if (reduction === 'none') {
    loss = Tensor.from([N], losses);
  } else {
    let total = 0;
    for (let n = 0; n < N; n++) total += losses[n]! / divisor(n);
    // PyTorch's mean over an empty batch is NaN.
    loss = Tensor.from([], [reduction === 'mean' && N === 0 ? NaN : total]);
  }

  tape?.record('ctcLoss', [logProbs], [loss], async ([gradLoss]) => {
    const scale = new Float64Array(N);
    for (let n = 0; n < N; n++) scale[n] = (reduction === 'none' ? gradLoss!.data[n]! : gradLoss!.data[0]!) / divisor(n);
    return [new Tensor(logProbs.shape, await gradient(scale))];
  });
  return loss;
}
