/**
 * An LSTM with projections (PyTorch's proj_size P) on the recurrent engine, with no kernels of
 * its own. Each step carries h = W_hr m, m = o tanh(c) (H features), and the gates read
 * h W_hh^T = m (W_hh W_hr)^T; so each layer runs as a plain LSTM of hidden size H whose
 * recurrent weights are W_eff = W_hh W_hr, and its outputs and final states are projected
 * afterwards with one product per direction. The gradient of W_eff splits back into
 * dW_hh = dW_eff W_hr^T and dW_hr += W_hh^T dW_eff.
 *
 * The initial state h0 (P features) has no m to stand for it, so it enters through the input:
 * P extra input columns per direction hold h0 at the direction's first step (t = 0 forward,
 * each sequence's last step in reverse) and zeros elsewhere, weighted by W_hh, while the plain
 * LSTM starts from zeros. That step's pre-activations so get exactly h0 W_hh^T, and the input's
 * gradient in those columns is h0's.
 *
 * The cost against a kernel of its own: the recurrent product runs over H features instead of P.
 */
import type { Backend } from '../backend/backend.js';
import { borrowBuffer } from '../backend/scratch.js';
import { elementwiseProduct } from '../host-loops.js';
import { matmul } from '../kernels/matmul.js';
import type { RecurrentShape } from '../reference/recurrent.js';
import { Tensor } from '../tensor.js';
import { recurrentBackward, recurrentForward, type SequenceBatch, type SequenceGradients, type SequenceOptions, type SequenceResult } from './sequence.js';

/** What the forward pass of one projected layer keeps for its backward pass. */
export interface ProjectedLayerTrace {
  /** The plain LSTM it ran: one layer, its input widened by D*P columns. */
  readonly inner: RecurrentShape;
  readonly params: Map<string, Float32Array>;
  readonly batch: SequenceBatch;
  readonly result: SequenceResult;
  /** F: the layer's own input features (E, or D*P above layer 0). */
  readonly inputWidth: number;
}

/** Checks PyTorch's rule for proj_size: an LSTM's, a positive integer below hidden_size. */
export function checkProjection(shape: RecurrentShape): void {
  const P = shape.projSize;
  if (!P) return;
  if (shape.kind !== 'lstm') throw new Error(`recurrent: projSize is for the LSTM only, got a ${shape.kind} network`);
  if (!(Number.isInteger(P) && P > 0 && P < shape.hiddenSize)) {
    throw new Error(`recurrent: projSize must be an integer in 1..hiddenSize - 1 (${shape.hiddenSize - 1}), got ${P}`);
  }
}

const suffixOf = (layer: number, d: number) => `l${layer}${d === 1 ? '_reverse' : ''}`;

function param(params: ReadonlyMap<string, Float32Array>, name: string): Float32Array {
  const value = params.get(name);
  if (!value) throw new Error(`recurrent: missing parameter ${name}`);
  return value;
}

/** Columns [from, from + width) of a row-major [rows, cols] matrix. */
function columns(data: Float32Array, rows: number, cols: number, from: number, width: number): Float32Array {
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) out.set(data.subarray(r * cols + from, r * cols + from + width), r * width);
  return out;
}

/** Writes a [rows, width] matrix into columns [from, from + width) of a row-major [rows, cols] one. */
function setColumns(target: Float32Array, rows: number, cols: number, from: number, block: Float32Array, width: number): void {
  for (let r = 0; r < rows; r++) target.set(block.subarray(r * width, (r + 1) * width), r * cols + from);
}

/** The step at which direction d starts sequence b: 0 forward, its last step in reverse. */
const firstStep = (d: number, b: number, T: number, lengths: readonly number[] | undefined) => (d === 0 ? 0 : (lengths?.[b] ?? T) - 1);

async function product(backend: Backend, a: Float32Array, aShape: [number, number], b: Float32Array, bShape: [number, number], options: { transA?: boolean; transB?: boolean } = {}): Promise<Float32Array> {
  return (await matmul(backend, new Tensor(aShape, a), new Tensor(bShape, b), options)).data;
}

export async function projectedForward(
  backend: Backend, shape: RecurrentShape, params: ReadonlyMap<string, Float32Array>, batch: SequenceBatch,
  options: SequenceOptions = {},
): Promise<SequenceResult> {
  checkProjection(shape);
  const { steps: T, batch: B } = batch;
  const H = shape.hiddenSize;
  const P = shape.projSize!;
  const D = shape.bidirectional ? 2 : 1;
  const hN = new Float32Array(shape.numLayers * D * B * P);
  const cN = new Float32Array(shape.numLayers * D * B * H);
  const traces: ProjectedLayerTrace[] = [];
  const executors: string[] = [];
  let timeChunk = 0;
  let input = batch.x;
  let output: Float32Array = new Float32Array(0);
  for (let layer = 0; layer < shape.numLayers; layer++) {
    if (layer > 0 && batch.dropoutMasks) input = elementwiseProduct(input, batch.dropoutMasks[layer - 1]!);
    const F = layer === 0 ? shape.inputSize : D * P;
    const width = F + D * P;
    // the input widened by each direction's h0 at its first step
    const x = new Float32Array(T * B * width);
    setColumns(x, T * B, width, 0, input, F);
    for (let d = 0; d < D; d++) {
      if (!batch.h0) break;
      const h0 = batch.h0.subarray((layer * D + d) * B * P, (layer * D + d + 1) * B * P);
      for (let b = 0; b < B; b++) x.set(h0.subarray(b * P, (b + 1) * P), (firstStep(d, b, T, batch.lengths) * B + b) * width + F + d * P);
    }
    const inner: RecurrentShape = { kind: 'lstm', inputSize: width, hiddenSize: H, numLayers: 1, bidirectional: shape.bidirectional, bias: shape.bias };
    const innerParams = new Map<string, Float32Array>();
    for (let d = 0; d < D; d++) {
      const suffix = suffixOf(layer, d);
      const wHh = param(params, `weight_hh_${suffix}`);
      const wIh = new Float32Array(4 * H * width);
      setColumns(wIh, 4 * H, width, 0, param(params, `weight_ih_${suffix}`), F);
      setColumns(wIh, 4 * H, width, F + d * P, wHh, P);
      innerParams.set(`weight_ih_${suffixOf(0, d)}`, wIh);
      innerParams.set(`weight_hh_${suffixOf(0, d)}`, await product(backend, wHh, [4 * H, P], param(params, `weight_hr_${suffix}`), [P, H]));
      if (shape.bias) {
        innerParams.set(`bias_ih_${suffixOf(0, d)}`, param(params, `bias_ih_${suffix}`));
        innerParams.set(`bias_hh_${suffixOf(0, d)}`, param(params, `bias_hh_${suffix}`));
      }
    }
    const innerBatch: SequenceBatch = {
      x, steps: T, batch: B,
      ...(batch.lengths ? { lengths: batch.lengths } : {}),
      ...(batch.c0 ? { c0: batch.c0.subarray(layer * D * B * H, (layer + 1) * D * B * H) } : {}),
    };
    const result = await recurrentForward(backend, inner, innerParams, innerBatch, {
      ...(options.timeChunk ? { timeChunk: options.timeChunk } : {}),
      keepTrace: options.keepTrace ?? true,
    });
    executors.push(...result.executors);
    timeChunk = result.timeChunk;
    output = new Float32Array(T * B * D * P);
    for (let d = 0; d < D; d++) {
      const wHr = param(params, `weight_hr_${suffixOf(layer, d)}`);
      const m = columns(result.output, T * B, D * H, d * H, H);
      setColumns(output, T * B, D * P, d * P, await product(backend, m, [T * B, H], wHr, [P, H], { transB: true }), P);
      const mLast = result.hN.subarray(d * B * H, (d + 1) * B * H);
      hN.set(await product(backend, mLast, [B, H], wHr, [P, H], { transB: true }), (layer * D + d) * B * P);
    }
    cN.set(result.cN!, layer * D * B * H);
    traces.push({ inner, params: innerParams, batch: innerBatch, result, inputWidth: F });
    input = output;
  }
  if (options.pooledOutput && options.keepTrace === false) {
    // the caller gives the output back to the pool (as the plain path's)
    const pooled = borrowBuffer(output.length);
    pooled.set(output);
    output = pooled;
  }
  return { output, hN, cN, layers: [], executors, timeChunk, projected: traces };
}

export async function projectedBackward(
  backend: Backend, shape: RecurrentShape, params: ReadonlyMap<string, Float32Array>, batch: SequenceBatch,
  forward: SequenceResult, dOutput: Float32Array, dhN: Float32Array | undefined, dcN: Float32Array | undefined,
  options: { releaseTrace?: boolean },
): Promise<SequenceGradients> {
  const traces = forward.projected!;
  const { steps: T, batch: B } = batch;
  const H = shape.hiddenSize;
  const P = shape.projSize!;
  const D = shape.bidirectional ? 2 : 1;
  const dh0 = new Float32Array(shape.numLayers * D * B * P);
  const dc0 = new Float32Array(shape.numLayers * D * B * H);
  const grads = new Map<string, Float32Array>();
  const executors: string[] = [];
  let dLayerOutput = dOutput;
  let dx: Float32Array = new Float32Array(0);
  for (let layer = shape.numLayers - 1; layer >= 0; layer--) {
    const trace = traces[layer]!;
    const F = trace.inputWidth;
    const width = F + D * P;
    // back through the projections: dm = dh W_hr, dW_hr = dh^T m (outputs and final states)
    const dInnerOutput = new Float32Array(T * B * D * H);
    const dInnerHN = dhN ? new Float32Array(D * B * H) : undefined;
    const dWhrs: Float32Array[] = [];
    for (let d = 0; d < D; d++) {
      const wHr = param(params, `weight_hr_${suffixOf(layer, d)}`);
      const dR = columns(dLayerOutput, T * B, D * P, d * P, P);
      setColumns(dInnerOutput, T * B, D * H, d * H, await product(backend, dR, [T * B, P], wHr, [P, H]), H);
      const m = columns(trace.result.output, T * B, D * H, d * H, H);
      const dWhr = await product(backend, dR, [T * B, P], m, [T * B, H], { transA: true });
      if (dhN && dInnerHN) {
        const dLast = dhN.subarray((layer * D + d) * B * P, (layer * D + d + 1) * B * P);
        dInnerHN.set(await product(backend, dLast, [B, P], wHr, [P, H]), d * B * H);
        const mLast = trace.result.hN.subarray(d * B * H, (d + 1) * B * H);
        const fromLast = await product(backend, dLast, [B, P], mLast, [B, H], { transA: true });
        for (let i = 0; i < dWhr.length; i++) dWhr[i]! += fromLast[i]!;
      }
      dWhrs.push(dWhr);
    }
    const dcLayer = dcN?.subarray(layer * D * B * H, (layer + 1) * D * B * H);
    const inner = await recurrentBackward(backend, trace.inner, trace.params, trace.batch, trace.result, dInnerOutput, dInnerHN, dcLayer, options);
    executors.push(...inner.executors);
    dc0.set(inner.dc0!, layer * D * B * H);
    for (let d = 0; d < D; d++) {
      const suffix = suffixOf(layer, d);
      const innerSuffix = suffixOf(0, d);
      const wHh = param(params, `weight_hh_${suffix}`);
      const wHr = param(params, `weight_hr_${suffix}`);
      const dWeff = inner.grads.get(`weight_hh_${innerSuffix}`)!;
      const dWihInner = inner.grads.get(`weight_ih_${innerSuffix}`)!;
      // dW_hh: through W_eff, and from the columns that carried h0
      const dWhh = await product(backend, dWeff, [4 * H, H], wHr, [P, H], { transB: true });
      const fromH0 = columns(dWihInner, 4 * H, width, F + d * P, P);
      for (let i = 0; i < dWhh.length; i++) dWhh[i]! += fromH0[i]!;
      const dWhr = dWhrs[d]!;
      const throughWeff = await product(backend, wHh, [4 * H, P], dWeff, [4 * H, H], { transA: true });
      for (let i = 0; i < dWhr.length; i++) dWhr[i]! += throughWeff[i]!;
      grads.set(`weight_ih_${suffix}`, columns(dWihInner, 4 * H, width, 0, F));
      grads.set(`weight_hh_${suffix}`, dWhh);
      if (shape.bias) {
        grads.set(`bias_ih_${suffix}`, inner.grads.get(`bias_ih_${innerSuffix}`)!);
        grads.set(`bias_hh_${suffix}`, inner.grads.get(`bias_hh_${innerSuffix}`)!);
      }
      grads.set(`weight_hr_${suffix}`, dWhr);
      // h0's gradient: the input's gradient in its columns at the direction's first step
      for (let b = 0; b < B; b++) {
        const at = (firstStep(d, b, T, batch.lengths) * B + b) * width + F + d * P;
        dh0.set(inner.dx.subarray(at, at + P), ((layer * D + d) * B + b) * P);
      }
    }
    dx = columns(inner.dx, T * B, width, 0, F);
    if (layer > 0 && batch.dropoutMasks) dx = elementwiseProduct(dx, batch.dropoutMasks[layer - 1]!);
    dLayerOutput = dx;
  }
  return { dx, dh0, dc0, grads, executors };
}
