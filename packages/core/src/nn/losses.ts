/** Losses, each recording its gradient on the active tape. */
import type { Backend } from '../backend/backend.js';
import { getDefaultBackend } from '../backend/default.js';
import { rowLogSumExp } from '../kernels/softmax.js';
import { formatShape, sameShape, ShapeError, Tensor } from '../tensor.js';
import { Tape } from './tape.js';

export type Reduction = 'mean' | 'sum' | 'none';

export interface CrossEntropyOptions {
  /** Targets equal to this are skipped and excluded from the mean. Default -100 (PyTorch's). */
  readonly ignoreIndex?: number;
  /** ε: the target becomes (1 - ε) one-hot + ε / C uniform (Szegedy et al. 2016). Default 0. */
  readonly labelSmoothing?: number;
  /** 'mean' over non-ignored rows (default), 'sum', or 'none' (one loss per row). */
  readonly reduction?: Reduction;
  /**
   * A weight for each of the C classes (PyTorch's `weight`, for unbalanced classes): row i's loss
   * is scaled by its target's weight, the smoothing term weighs each class by its own, and the
   * mean divides by the sum of the counted rows' target weights. Default: all 1.
   */
  readonly weight?: Tensor | readonly number[];
  readonly backend?: Backend;
}

/** The class weights as numbers, checked against C (undefined: unweighted). */
function classWeights(weight: CrossEntropyOptions['weight'], C: number, op: string): Float64Array | undefined {
  if (weight === undefined) return undefined;
  const values = weight instanceof Tensor ? weight.data : weight;
  if (values.length !== C || (weight instanceof Tensor && weight.rank !== 1)) {
    throw new ShapeError(`${op}: weight must hold one value for each of the ${C} classes, got ${weight instanceof Tensor ? formatShape(weight.shape) : `${values.length} values`}`);
  }
  const w = Float64Array.from(values);
  w.forEach((v, c) => {
    if (!(v >= 0 && Number.isFinite(v))) throw new Error(`${op}: weight[${c}] = ${v} must be a finite number >= 0`);
  });
  return w;
}

/**
 * Softmax cross-entropy, as PyTorch's F.cross_entropy: logits [N, C] (or [..., C]), targets of
 * class indices [N] (or [...]). Returns a scalar tensor, or [N] with reduction 'none'.
 */
export async function crossEntropy(logits: Tensor, targets: Tensor, options: CrossEntropyOptions = {}): Promise<Tensor> {
  const ignoreIndex = options.ignoreIndex ?? -100;
  const epsilon = options.labelSmoothing ?? 0;
  const reduction = options.reduction ?? 'mean';
  if (!(epsilon >= 0 && epsilon <= 1)) throw new Error(`crossEntropy: labelSmoothing must be in [0, 1], got ${epsilon}`);
  const C = logits.shape[logits.rank - 1];
  if (C === undefined || logits.rank < 1 || !sameShape(logits.shape.slice(0, -1), targets.shape)) {
    throw new ShapeError(`crossEntropy: logits ${formatShape(logits.shape)} need targets of shape ${formatShape(logits.shape.slice(0, -1))}, got ${formatShape(targets.shape)}`);
  }
  const N = targets.size;
  checkClassTargets(targets, C, ignoreIndex);
  const w = classWeights(options.weight, C, 'crossEntropy');
  const backend = options.backend ?? (await getDefaultBackend());
  // Per row the max and log-sum-exp, and the probabilities for the backward pass: a log-prob
  // (x - max) - logSum is computed (in f32, as the backend does) only where the loss reads it.
  const { max, logSum, normalised: probs } = N === 0
    ? { max: new Float32Array(0), logSum: new Float32Array(0), normalised: new Float32Array(0) }
    : await rowLogSumExp(backend, logits.data, N, C, 'softmax');
  const logProb = (i: number, c: number) => Math.fround(Math.fround(logits.data[i * C + c]! - max[i]!) - logSum[i]!);
  const perRow = new Float32Array(N);
  // rows counted, or with class weights the sum of their targets' weights: the mean's divisor
  let counted = 0;
  for (let i = 0; i < N; i++) {
    const target = targets.data[i]!;
    if (target === ignoreIndex) continue;
    if (w) {
      counted += w[target]!;
      let uniform = 0;
      if (epsilon > 0) for (let c = 0; c < C; c++) uniform -= w[c]! * logProb(i, c);
      perRow[i] = (1 - epsilon) * w[target]! * -logProb(i, target) + (epsilon * uniform) / C;
      continue;
    }
    counted++;
    let uniform = 0;
    if (epsilon > 0) for (let c = 0; c < C; c++) uniform -= logProb(i, c);
    perRow[i] = (1 - epsilon) * -logProb(i, target) + (epsilon * uniform) / C;
  }
  const total = perRow.reduce((s, v) => s + v, 0);
  const loss = reduction === 'none' ? new Tensor(targets.shape, perRow) : Tensor.from([], [reduction === 'sum' ? total : total / counted]);

  Tape.current()?.record('crossEntropy', [logits], [loss], async ([gradLoss]) => {
    // d loss_i / d logits_i = softmax_i - q_i, with q the smoothed target. Written over the
    // probabilities, which nothing else reads (a tape runs each backward once): an output layer
    // over a vocabulary makes this millions of values a step, not worth a second buffer.
    const grad = probs;
    const weightSum = w ? w.reduce((a, b) => a + b, 0) : 0;
    const offTarget = epsilon / C;
    const onTarget = 1 - epsilon + epsilon / C;
    for (let i = 0; i < N; i++) {
      const row = i * C;
      const target = targets.data[i]!;
      if (target === ignoreIndex) {
        grad.fill(0, row, row + C);
        continue;
      }
      const scale = reduction === 'none' ? gradLoss!.data[i]! : reduction === 'sum' ? gradLoss!.data[0]! : gradLoss!.data[0]! / counted;
      if (w) {
        // d/dz_j = p_j ((1 - ε) w_y + ε/C sum_c w_c) - (1 - ε) w_y [j = y] - ε/C w_j
        const mass = (1 - epsilon) * w[target]! + (epsilon / C) * weightSum;
        for (let c = 0; c < C; c++) grad[row + c] = (grad[row + c]! * mass - (epsilon / C) * w[c]! - (c === target ? (1 - epsilon) * w[target]! : 0)) * scale;
        continue;
      }
      const targetProb = probs[row + target]!;
      for (let c = row; c < row + C; c++) grad[c] = (grad[c]! - offTarget) * scale;
      grad[row + target] = (targetProb - onTarget) * scale;
    }
    return [new Tensor(logits.shape, grad)];
  });
  return loss;
}

/** Every target is a class in 0..C-1 or the ignoreIndex; the first that is not is named. */
export function checkClassTargets(targets: Tensor, C: number, ignoreIndex: number, op = 'crossEntropy'): void {
  targets.data.forEach((target, i) => {
    if (target !== ignoreIndex && !(Number.isInteger(target) && target >= 0 && target < C)) {
      throw new ShapeError(`${op}: targets[${i}] = ${target} is not a class in 0..${C - 1} (or the ignoreIndex ${ignoreIndex})`);
    }
  });
}

export type NllLossOptions = Pick<CrossEntropyOptions, 'ignoreIndex' | 'reduction' | 'weight'>;

/**
 * Negative log-likelihood of log-probabilities, as PyTorch's F.nll_loss (after a LogSoftmax):
 * logProbs [N, C] (or [..., C]: classes on the last axis, as `crossEntropy`), targets of class
 * indices [N] (or [...]). Row i's loss is -w[y_i] logProbs[i, y_i]; 'mean' divides the sum by the
 * counted rows' target weights (their number when unweighted), ignored rows counting nothing.
 */
export function nllLoss(logProbs: Tensor, targets: Tensor, options: NllLossOptions = {}): Tensor {
  const ignoreIndex = options.ignoreIndex ?? -100;
  const reduction = options.reduction ?? 'mean';
  const C = logProbs.shape[logProbs.rank - 1];
  if (C === undefined || logProbs.rank < 1 || !sameShape(logProbs.shape.slice(0, -1), targets.shape)) {
    throw new ShapeError(`nllLoss: logProbs ${formatShape(logProbs.shape)} need targets of shape ${formatShape(logProbs.shape.slice(0, -1))}, got ${formatShape(targets.shape)}`);
  }
  checkClassTargets(targets, C, ignoreIndex, 'nllLoss');
  const w = classWeights(options.weight, C, 'nllLoss');
  const N = targets.size;
  const weightOf = (i: number) => {
    const target = targets.data[i]!;
    return target === ignoreIndex ? 0 : w ? w[target]! : 1;
  };
  const perRow = new Float32Array(N);
  let counted = 0;
  for (let i = 0; i < N; i++) {
    const weight = weightOf(i);
    counted += weight;
    if (weight !== 0) perRow[i] = -weight * logProbs.data[i * C + targets.data[i]!]!;
  }
  const total = perRow.reduce((s, v) => s + v, 0);
  const loss = reduction === 'none' ? new Tensor(targets.shape, perRow) : Tensor.from([], [reduction === 'sum' ? total : total / counted]);
  Tape.current()?.record('nllLoss', [logProbs], [loss], async ([gradLoss]) => {
    const grad = new Float32Array(logProbs.size);
    for (let i = 0; i < N; i++) {
      const weight = weightOf(i);
      if (weight === 0) continue;
      const scale = reduction === 'none' ? gradLoss!.data[i]! : reduction === 'sum' ? gradLoss!.data[0]! : gradLoss!.data[0]! / counted;
      grad[i * C + targets.data[i]!] = -weight * scale;
    }
    return [new Tensor(logProbs.shape, grad)];
  });
  return loss;
}

/**
 * Binary cross-entropy on logits, as PyTorch's F.binary_cross_entropy_with_logits:
 * max(x, 0) - x y + log(1 + exp(-|x|)), stable for any x. logits and targets of one shape.
 */
export async function binaryCrossEntropyWithLogits(logits: Tensor, targets: Tensor, options: { reduction?: Reduction } = {}): Promise<Tensor> {
  if (!sameShape(logits.shape, targets.shape)) {
    throw new ShapeError(`binaryCrossEntropyWithLogits: logits ${formatShape(logits.shape)} and targets ${formatShape(targets.shape)} must have one shape`);
  }
  const reduction = options.reduction ?? 'mean';
  const n = logits.size;
  const perItem = logits.data.map((x, i) => Math.max(x, 0) - x * targets.data[i]! + Math.log1p(Math.exp(-Math.abs(x))));
  const total = perItem.reduce((s, v) => s + v, 0);
  const loss = reduction === 'none' ? new Tensor(logits.shape, perItem) : Tensor.from([], [reduction === 'sum' ? total : total / n]);
  Tape.current()?.record('binaryCrossEntropyWithLogits', [logits], [loss], async ([gradLoss]) => {
    const grad = new Tensor(logits.shape, logits.data.map((x, i) => {
      const scale = reduction === 'none' ? gradLoss!.data[i]! : reduction === 'sum' ? gradLoss!.data[0]! : gradLoss!.data[0]! / n;
      return (1 / (1 + Math.exp(-x)) - targets.data[i]!) * scale;
    }));
    return [grad];
  });
  return loss;
}

export interface RegressionLossOptions {
  /** 'mean' over every element (default), 'sum', or 'none' (the loss of each element). */
  readonly reduction?: Reduction;
}

/**
 * An elementwise loss of d = input - target: `value(d)` per element, reduced; the gradient
 * `slope(d)` times the reduction's scale goes to the input and its negative to the target (both
 * may be differentiated, as in PyTorch). Sums run in double.
 */
function elementwiseLoss(
  name: string, input: Tensor, target: Tensor, options: RegressionLossOptions, value: (d: number) => number, slope: (d: number) => number,
): Tensor {
  if (!(input instanceof Tensor) || !(target instanceof Tensor) || !sameShape(input.shape, target.shape)) {
    const shape = (t: unknown) => (t instanceof Tensor ? formatShape(t.shape) : typeof t);
    throw new ShapeError(`${name}: input ${shape(input)} and target ${shape(target)} must have one shape`);
  }
  const reduction = options.reduction ?? 'mean';
  if (!['mean', 'sum', 'none'].includes(reduction)) throw new Error(`${name}: reduction must be 'mean', 'sum' or 'none', got ${JSON.stringify(reduction)}`);
  const n = input.size;
  const x = input.data;
  const y = target.data;
  let loss: Tensor;
  if (reduction === 'none') {
    const each = new Float32Array(n);
    for (let i = 0; i < n; i++) each[i] = value(x[i]! - y[i]!);
    loss = new Tensor(input.shape, each);
  } else {
    let total = 0;
    for (let i = 0; i < n; i++) total += value(x[i]! - y[i]!);
    // PyTorch's mean of no elements is NaN
    loss = Tensor.from([], [reduction === 'sum' ? total : total / n]);
  }
  Tape.current()?.record(name, [input, target], [loss], async ([gradLoss]) => {
    const dInput = new Float32Array(n);
    const dTarget = new Float32Array(n);
    const scale = reduction === 'none' ? 1 : reduction === 'sum' ? gradLoss!.data[0]! : gradLoss!.data[0]! / n;
    for (let i = 0; i < n; i++) {
      const g = slope(x[i]! - y[i]!) * (reduction === 'none' ? gradLoss!.data[i]! : scale);
      dInput[i] = g;
      dTarget[i] = -g;
    }
    return [new Tensor(input.shape, dInput), new Tensor(target.shape, dTarget)];
  });
  return loss;
}

/** Mean squared error, as PyTorch's F.mse_loss: (input - target)^2. input and target of one shape. */
export async function mseLoss(input: Tensor, target: Tensor, options: RegressionLossOptions = {}): Promise<Tensor> {
  return elementwiseLoss('mseLoss', input, target, options, (d) => d * d, (d) => 2 * d);
}

/** Mean absolute error, as PyTorch's F.l1_loss: |input - target| (gradient sign(d), 0 at 0). */
export async function l1Loss(input: Tensor, target: Tensor, options: RegressionLossOptions = {}): Promise<Tensor> {
  return elementwiseLoss('l1Loss', input, target, options, Math.abs, Math.sign);
}

/** Quadratic within `delta` of the target, linear beyond; as PyTorch's F.huber_loss. */
export async function huberLoss(input: Tensor, target: Tensor, options: RegressionLossOptions & { readonly delta?: number } = {}): Promise<Tensor> {
  const delta = options.delta ?? 1;
  if (!(delta > 0)) throw new Error(`huberLoss: delta must be a positive number, got ${delta}`);
  return elementwiseLoss(
    'huberLoss', input, target, options,
    (d) => (Math.abs(d) < delta ? 0.5 * d * d : delta * (Math.abs(d) - 0.5 * delta)),
    (d) => (Math.abs(d) < delta ? d : delta * Math.sign(d)),
  );
}

/** Huber's loss divided by `beta` (L1 when beta is 0, gradients included), as PyTorch's F.smooth_l1_loss. */
export async function smoothL1Loss(input: Tensor, target: Tensor, options: RegressionLossOptions & { readonly beta?: number } = {}): Promise<Tensor> {
  const beta = options.beta ?? 1;
  if (!(beta >= 0)) throw new Error(`smoothL1Loss: beta must be a non-negative number, got ${beta}`);
  return elementwiseLoss(
    'smoothL1Loss', input, target, options,
    (d) => (Math.abs(d) < beta ? (0.5 * d * d) / beta : Math.abs(d) - 0.5 * beta),
    // beta 0 is L1 (PyTorch's docs): a difference of exactly 0 gets 0, where PyTorch 1.13's kernel
    // gives -1 to both input and target
    (d) => (Math.abs(d) < beta ? d / beta : Math.sign(d)),
  );
}
