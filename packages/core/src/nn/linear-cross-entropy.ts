/**
 * An output layer and its softmax cross-entropy as one operation, for large vocabularies.
 *
 * `crossEntropy(await linear.forward(x), targets)` moves the [N, C] logits, their probabilities
 * and their gradient between the host and the backend six times a step (the product, the
 * softmax, then dX, dW and the bias's column sums each take the gradient): about 130 MB a step
 * for a translation model's 704 target tokens and 8,000 classes, a third of a step's copying,
 * and new [N, C] arrays for the garbage collector each time. Here on webasm one pipeline does the product, the softmax,
 * the gradient and the three products of the backward pass, and only two values a row, dX,
 * dW and db come back. The gradients are computed in the forward pass for a gradient of 1 on the
 * loss and scaled by the actual one when the tape reaches this node (the loss is a mean or a
 * sum, so the scaling is exact). Without a recording tape only the loss is computed.
 *
 * The same kernels as the unfused path, in the same order: the loss has the same bits; the
 * gradient of the logits is computed in f32 on the backend rather than in double on the host,
 * so the gradients agree to rounding. With label smoothing the loss also needs each row's sum of
 * log-probabilities, summed in f32 on the backend (the host sums it in double): the loss agrees
 * to rounding then. A class count that is not a multiple of 4 is padded to one (classes whose
 * logits are -Infinity; the loss then agrees to rounding too, its sums over the classes taken
 * in other groups). Elsewhere (other backends, reduction 'none', shapes the packed products do
 * not take, such as a row count that is not a multiple of 4) it runs the unfused path.
 */
import { MAX_KERNEL_CELLS, type Backend, type KernelSpec } from '../backend/backend.js';
import { getDefaultBackend } from '../backend/default.js';
import { returnBuffers } from '../backend/scratch.js';
import { kernelKey, type KernelThis } from '../kernels/common.js';
import { packedProductPlan, pooledColumnPanels, type PackedProductPlan } from '../kernels/matmul.js';
import { planReduce } from '../kernels/reduce.js';
import { planNormalise, rowMaxLogSumSteps } from '../kernels/softmax.js';
import { formatShape, ShapeError, Tensor } from '../tensor.js';
import type { Linear } from './layers.js';
import { checkClassTargets, crossEntropy, type CrossEntropyOptions } from './losses.js';
import { Tape } from './tape.js';

export interface LinearCrossEntropyOptions extends CrossEntropyOptions {
  /**
   * Rows a pipeline call takes (a multiple of 4); longer inputs run in parts whose gradients are
   * added up. Default: as many as keep the [rows, C] logits within a kernel's 2^24 cells.
   */
  readonly partRows?: number;
}

export interface LinearCrossEntropyResult {
  /** The loss: a scalar ('mean' or 'sum'), as `crossEntropy` returns it. */
  readonly loss: Tensor;
  /** Rows (not ignored) whose target's logit is the row's largest (ties count). */
  readonly correct: number;
  /** Rows not ignored. */
  readonly counted: number;
}

/** logits[i, targets[i]] - max[i] (0 where the target is the row's largest); 0 for an ignored row (target < 0). */
function targetGapSource(this: KernelThis, logits: Float32Array, max: Float32Array, targets: Float32Array): number {
  const row = this.thread.x;
  const target = targets[row]!;
  if (target < 0) {
    return 0;
  }
  return logits[row * this.constants.C! + target]! - max[row]!;
}

/**
 * d loss / d logits = (softmax - q) * rowScale[row], q the (smoothed) target: onTarget at the
 * target's column, offTarget elsewhere (1 and 0 without smoothing); rowScale is 0 for an ignored row.
 */
function crossEntropyGradSource(this: KernelThis, probs: Float32Array, targets: Float32Array, rowScale: Float32Array): number {
  const cell = this.thread.x;
  const row = floorDiv(cell, this.constants.C!);
  const column = cell - row * this.constants.C!;
  let q = this.constants.offTarget!;
  if (column === targets[row]!) {
    q = this.constants.onTarget!;
  }
  return (probs[cell]! - q) * rowScale[row]!;
}

/**
 * sum over the row's classes (the first `classes` of its C, past them padding) of (logits - max):
 * with `classes` log-sum-exps, the row's sum of log-probabilities (label smoothing's term).
 */
function shiftedRowSumSource(this: KernelThis, logits: Float32Array, max: Float32Array): number {
  const row = this.thread.x;
  const base = row * this.constants.C!;
  let sum = 0;
  for (let c = 0; c < this.constants.classes!; c++) {
    sum += logits[base + c]! - max[row]!;
  }
  return sum;
}

type Call = (...args: unknown[]) => unknown;

/**
 * Softmax cross-entropy of `linear(x)` against `targets` (class indices, [N]), as
 * `crossEntropy(await linear.forward(x), targets, options)`: x [N, inFeatures]. Returns the loss
 * and the rows whose target scored highest.
 */
export async function linearCrossEntropy(x: Tensor, linear: Linear, targets: Tensor, options: LinearCrossEntropyOptions = {}): Promise<LinearCrossEntropyResult> {
  const K = linear.inFeatures;
  const C = linear.outFeatures;
  if (!(x instanceof Tensor) || x.rank !== 2 || x.shape[1] !== K) {
    throw new ShapeError(`linearCrossEntropy: x must have shape [N, ${K}], got ${x instanceof Tensor ? formatShape(x.shape) : typeof x}`);
  }
  const N = x.shape[0]!;
  if (targets.size !== N) throw new ShapeError(`linearCrossEntropy: ${N} rows of x need ${N} targets, got ${formatShape(targets.shape)}`);
  const ignoreIndex = options.ignoreIndex ?? -100;
  const reduction = options.reduction ?? 'mean';
  const backend = options.backend ?? (await getDefaultBackend());
  const bias = linear.bias !== undefined;
  // The kernels' classes, whole vectors of four: padding classes get a weight row of zeros and a
  // bias of -Infinity, so their logits are -Infinity and their probabilities 0.
  const paddedC = Math.ceil(C / 4) * 4;
  const padded = paddedC !== C;
  const withBias = bias || padded;
  // Rows a pipeline call takes: its [rows, C] arrays must stay within a kernel's cells.
  const partRows = options.partRows ?? Math.floor(MAX_KERNEL_CELLS / paddedC / 4) * 4;
  const fusable = backend.name === 'webasm' && N > 0 && partRows >= 4 && partRows % 4 === 0 && N % 4 === 0 && reduction !== 'none' && options.weight === undefined;
  const parts: number[] = [];
  if (fusable) for (let start = 0; start < N; start += partRows) parts.push(Math.min(partRows, N - start));
  const plans = fusable ? [...new Set(parts)].map((rows) => [rows, partPlans(rows, K, paddedC, withBias)] as const) : [];
  const planFor = new Map(plans);
  if (!fusable || plans.some(([, p]) => p === undefined)) return unfused(x, linear, targets, options, backend);

  checkClassTargets(targets, C, ignoreIndex);
  const epsilon = options.labelSmoothing ?? 0;
  if (!(epsilon >= 0 && epsilon <= 1)) throw new Error(`linearCrossEntropy: labelSmoothing must be in [0, 1], got ${epsilon}`);
  // Targets as the kernels read them (-1: ignored).
  const targetRows = targets.data.map((target) => (target === ignoreIndex ? -1 : target));
  const counted = targetRows.reduce((n, target) => (target < 0 ? n : n + 1), 0);
  const tape = Tape.current();
  const withGradients = tape !== undefined;
  // d loss / d loss_i for a gradient of 1 on the loss
  const scale = reduction === 'sum' ? 1 : 1 / counted;
  const rowScale = targetRows.map((t) => (t < 0 ? 0 : scale));
  const weightPanels = pooledColumnPanels(linear.weight.value.data, K, C, true);
  const transposedPanels = withGradients ? pooledColumnPanels(padded ? zeroRows(linear.weight.value.data, C, paddedC, K) : linear.weight.value.data, paddedC, K, false) : undefined;
  const biasData = padded ? paddedBias(bias ? linear.bias!.value.data : undefined, C, paddedC) : bias ? linear.bias!.value.data : new Float32Array(1);
  const dX = withGradients ? new Float32Array(N * K) : undefined;
  let dW: Float32Array | undefined;
  let db: Float32Array | undefined;
  let total = 0;
  let correct = 0;
  try {
    let start = 0;
    for (const rows of parts) {
      const pipeline = fusedPipeline(backend, planFor.get(rows)!, rows, K, paddedC, C, withBias, withGradients, epsilon);
      const xPart = x.data.subarray(start * K, (start + rows) * K);
      const targetPart = targetRows.subarray(start, start + rows);
      const args: Float32Array[] = [xPart, weightPanels, biasData, targetPart];
      const xPanels = withGradients ? pooledColumnPanels(xPart, rows, K, false) : undefined;
      if (withGradients) args.push(rowScale.subarray(start, start + rows), transposedPanels!, xPanels!, new Float32Array(1));
      try {
        const [gap, logSum, shiftedSum, dXPart, dWPart, dbPart] = (await pipeline(...args)) as Float32Array[];
        for (let i = 0; i < rows; i++) {
          if (targetPart[i]! < 0) continue;
          // -log p(target), and with smoothing the mean over the classes of -log p: C logSum - sum (x - max), over C.
          const nll = -Math.fround(gap![i]! - logSum![i]!);
          total += epsilon === 0 ? nll : Math.fround((1 - epsilon) * nll + (epsilon * (C * logSum![i]! - shiftedSum![i]!)) / C);
          if (gap![i] === 0) correct++;
        }
        if (withGradients) {
          dX!.set(dXPart!, start * K);
          dW = add(dW, dWPart!);
          db = bias ? add(db, dbPart!) : undefined;
        }
      } finally {
        returnBuffers(xPanels);
      }
      start += rows;
    }
  } finally {
    returnBuffers(weightPanels, transposedPanels);
  }
  const loss = Tensor.from([], [reduction === 'sum' ? total : total / counted]);
  tape?.record('linearCrossEntropy', [x, linear.weight, linear.bias], [loss], async ([gradLoss]) => {
    const s = gradLoss!.data[0]!;
    const scaled = (values: Float32Array) => (s === 1 ? values : values.map((v) => v * s));
    // The padding classes' rows of dW and db are dropped.
    return [new Tensor(x.shape, scaled(dX!)), new Tensor(linear.weight.shape, scaled(dW!.subarray(0, C * K))), bias ? new Tensor([C], scaled(db!.subarray(0, C))) : undefined];
  });
  return { loss, correct, counted };
}

/** [rows, K] row-major with zero rows appended up to paddedRows. */
function zeroRows(matrix: Float32Array, rows: number, paddedRows: number, K: number): Float32Array {
  const out = new Float32Array(paddedRows * K);
  out.set(matrix.subarray(0, rows * K));
  return out;
}

/** The bias (zeros without one) with -Infinity for the padding classes. */
function paddedBias(bias: Float32Array | undefined, C: number, paddedC: number): Float32Array {
  const out = new Float32Array(paddedC).fill(-Infinity);
  if (bias) out.set(bias);
  else out.fill(0, 0, C);
  return out;
}

/** sum += part (the first part is kept as the sum). */
function add(sum: Float32Array | undefined, part: Float32Array): Float32Array {
  if (!sum) return part;
  for (let i = 0; i < sum.length; i++) sum[i]! += part[i]!;
  return sum;
}

/** The three products of a part of this many rows, or undefined where one has no packed form. */
function partPlans(rows: number, K: number, C: number, bias: boolean): Record<'forward' | 'dX' | 'dW', PackedProductPlan> | undefined {
  const forward = packedProductPlan([rows, K], K, C, false, bias);
  const dX = packedProductPlan([rows, C], C, K, false, false);
  const dW = packedProductPlan([rows, C], rows, K, true, false);
  return forward && dX && dW ? { forward, dX, dW } : undefined;
}

/**
 * The pipeline of a part of N rows: [gap, logSum, shiftedSum, (dX, dW, db)]; without label
 * smoothing the third is the rows' maxima, unread.
 */
function fusedPipeline(backend: Backend, plans: Record<'forward' | 'dX' | 'dW', PackedProductPlan>, N: number, K: number, C: number, classes: number, bias: boolean, withGradients: boolean, epsilon: number) {
  const kernel = (spec: KernelSpec) => backend.kernel(spec) as unknown as Call;
  const forward = kernel(plans.forward.product);
  const finishForward = kernel(plans.forward.finish);
  const maxLogSum = rowMaxLogSumSteps(backend, N, C);
  const targetGap = kernel({ key: kernelKey('targetGap', { R: N, C }), source: targetGapSource, outputSize: N, constants: { C } });
  const smoothed = epsilon !== 0;
  const shiftedRowSum = smoothed ? kernel({ key: kernelKey('shiftedRowSum', { R: N, C, classes }), source: shiftedRowSumSource, outputSize: N, constants: { C, classes } }) : undefined;
  const forwardBias = plans.forward.finishTakesBias;
  const name = `linearCrossEntropy(N=${N},K=${K},C=${C},classes=${classes},bias=${bias},smoothing=${epsilon}`;
  if (!withGradients) {
    return backend.pipeline(`${name},loss)`, function (x: unknown, panels: unknown, b: unknown, targets: unknown) {
      const logits = forwardBias ? finishForward(forward(x, panels), b) : finishForward(forward(x, panels));
      const { max, logSum } = maxLogSum(logits);
      return [targetGap(logits, max, targets), logSum, smoothed ? shiftedRowSum!(logits, max) : max];
    }, { steps: 1 });
  }
  const normalise = kernel(planNormalise('softmax', N, C));
  const [offTarget, onTarget] = [epsilon / classes, 1 - epsilon + epsilon / classes];
  const gradient = kernel({ key: kernelKey('crossEntropyGrad', { R: N, C, offTarget, onTarget }), source: crossEntropyGradSource, outputSize: N * C, constants: { C, offTarget, onTarget } });
  const productX = kernel(plans.dX.product);
  const finishX = kernel(plans.dX.finish);
  const productW = kernel(plans.dW.product);
  const finishW = kernel(plans.dW.finish);
  const columnSums = kernel(planReduce('sum', [N, C], { axis: 0 }).spec);
  const [xBias, wBias] = [plans.dX.finishTakesBias, plans.dW.finishTakesBias];
  return backend.pipeline(`${name},gradients)`, function (...args: unknown[]) {
    const [x, panels, b, targets, rowScale, weightPanels, xPanels, none] = args;
    const logits = forwardBias ? finishForward(forward(x, panels), b) : finishForward(forward(x, panels));
    const { max, logSum } = maxLogSum(logits);
    const g = gradient(normalise(logits, max, logSum), targets, rowScale);
    const dX = xBias ? finishX(productX(g, weightPanels), none) : finishX(productX(g, weightPanels));
    const dW = wBias ? finishW(productW(g, xPanels), none) : finishW(productW(g, xPanels));
    return [targetGap(logits, max, targets), logSum, smoothed ? shiftedRowSum!(logits, max) : max, dX, dW, columnSums(g)];
  }, { argumentCount: 8, steps: 1 });
}

/** The same result through Linear.forward and crossEntropy. */
async function unfused(x: Tensor, linear: Linear, targets: Tensor, options: CrossEntropyOptions, backend: Backend): Promise<LinearCrossEntropyResult> {
  const logits = await linear.forward(x);
  const loss = await crossEntropy(logits, targets, { ...options, backend });
  const ignoreIndex = options.ignoreIndex ?? -100;
  const C = linear.outFeatures;
  let correct = 0;
  let counted = 0;
  targets.data.forEach((target, i) => {
    if (target === ignoreIndex) return;
    counted++;
    let max = -Infinity;
    for (let c = 0; c < C; c++) max = Math.max(max, logits.data[i * C + c]!);
    if (logits.data[i * C + target] === max) correct++;
  });
  return { loss, correct, counted };
}
