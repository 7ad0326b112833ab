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
  readonly backend?: Backend;
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
  const backend = options.backend ?? (await getDefaultBackend());
  // Per row the max and log-sum-exp, and the probabilities for the backward pass: a log-prob
  // (x - max) - logSum is computed (in f32, as the backend does) only where the loss reads it.
  const { max, logSum, normalised: probs } = N === 0
    ? { max: new Float32Array(0), logSum: new Float32Array(0), normalised: new Float32Array(0) }
    : await rowLogSumExp(backend, logits.data, N, C, 'softmax');
  const logProb = (i: number, c: number) => Math.fround(Math.fround(logits.data[i * C + c]! - max[i]!) - logSum[i]!);
  const perRow = new Float32Array(N);
  let counted = 0;
  for (let i = 0; i < N; i++) {
    const target = targets.data[i]!;
    if (target === ignoreIndex) continue;
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
      const targetProb = probs[row + target]!;
      for (let c = row; c < row + C; c++) grad[c] = (grad[c]! - offTarget) * scale;
      grad[row + target] = (targetProb - onTarget) * scale;
    }
    return [new Tensor(logits.shape, grad)];
  });
  return loss;
}

/** Every target is a class in 0..C-1 or the ignoreIndex; the first that is not is named. */
export function checkClassTargets(targets: Tensor, C: number, ignoreIndex: number): void {
  targets.data.forEach((target, i) => {
    if (target !== ignoreIndex && !(Number.isInteger(target) && target >= 0 && target < C)) {
      throw new ShapeError(`crossEntropy: targets[${i}] = ${target} is not a class in 0..${C - 1} (or the ignoreIndex ${ignoreIndex})`);
    }
  });
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
