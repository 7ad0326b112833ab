/**
 * A multi-layer, optionally bidirectional recurrent network over whole sequences on a backend:
 * forward, and backward through time. Mirrors `recurrentForwardRef` / `recurrentBackwardRef`
 * (the float64 reference), which the tests hold it to on every backend.
 *
 * Per layer, time is cut into chunks of `timeChunk` steps (the last one shorter), and one
 * pipeline runs a chunk of both directions: the chunk's input projection as one matmul
 * (x W_ih^T + b_ih), then per step the fused recurrent kernels of `kernels.ts`, the state passed
 * from chunk to chunk on the host. A compiled plan's size so grows with the chunk, not the
 * sequence, and every sequence length reuses the same one or two plans (compiling one plan per
 * length once filled V8's wasm code space). The forward direction walks chunks first to last,
 * the reverse direction the mirrored chunks last to first. Backward walks the same chunks in the
 * opposite order, after which the weight gradients are a few big matmuls over all steps at once.
 *
 * Shapes: x [T, B, E] time-major; states [L*D, B, H]; output [T, B, D*H].
 */
import { flatResult, type Backend, type KernelSpec } from '../backend/backend.js';
import { borrowBuffer, returnBuffers } from '../backend/scratch.js';
import { planBinary } from '../kernels/elementwise.js';
import { matmul, packedMatmulSpec, planMatmul, pooledColumnPanels, transposeMatrix, unpackRowsSpec } from '../kernels/matmul.js';
import { add } from '../kernels/elementwise.js';
import { sum } from '../kernels/reduce.js';
import { elementwiseProduct } from '../host-loops.js';
import { GATES, parameterShape, type RecurrentShape, type SequenceInputs } from '../reference/recurrent.js';
import { Tensor } from '../tensor.js';
import { projectedBackward, projectedForward, type ProjectedLayerTrace } from './projected.js';
import { planarState, projectionTile, stateRowOffset, stateRows, stepKernelSpecs, usesFusedInference, usesPackedSteps, usesWideGates } from './kernels.js';

/** x [T, B, E] time-major, lengths, initial states [L*D, B, H], dropout masks: as the reference's. */
export type SequenceBatch = SequenceInputs<Float32Array>;

/** What the forward pass of one direction of one layer keeps for its backward pass. */
interface DirectionTrace {
  readonly xProj: Float32Array | undefined; // [T, B, GH], x W_ih^T + b_ih: the GRU's alone
  readonly gates: Float32Array; // [T, B, GH]
  readonly hPrev: Float32Array; // [T, B, H]: the state each step started from
  readonly hNew: Float32Array; // [T, B, H]
  readonly cPrev: Float32Array | undefined;
  readonly cNew: Float32Array | undefined;
}

export interface SequenceResult {
  readonly output: Float32Array; // [T, B, D*H], zero at padded steps
  readonly hN: Float32Array; // [L*D, B, H]
  readonly cN: Float32Array | undefined;
  /** Kept for `recurrentBackward`: per layer, its input and its directions' traces (none without keepTrace). */
  readonly layers: ReadonlyArray<{ readonly input: Float32Array; readonly traces: readonly DirectionTrace[] }>;
  /** Executor kinds the chunk pipelines ran on (e.g. 'fused-threaded'), in the order they ran. */
  readonly executors: readonly string[];
  /** The time chunk the forward pass used; backward uses the same. */
  readonly timeChunk: number;
  /** With projections (projSize), the plain LSTM each layer ran as (projected.ts); `layers` is empty. */
  readonly projected?: readonly ProjectedLayerTrace[];
}

export interface SequenceGradients {
  readonly dx: Float32Array; // [T, B, E]
  readonly dh0: Float32Array; // [L*D, B, H]
  readonly dc0: Float32Array | undefined;
  readonly grads: Map<string, Float32Array>;
  /**
   * With `weightProducts`: each weight_ih / weight_hh gradient as the factors of a^T b (the gate
   * gradients [T B, G H] and the inputs or previous states they multiply), in place of `grads`.
   */
  readonly products?: Map<string, { readonly a: Tensor; readonly b: Tensor }>;
  /** Executor kinds the backward chunk pipelines ran on, in the order they ran (last layer first). */
  readonly executors: readonly string[];
}

/** 1 where step t of sequence b is inside its length, else 0: [T, B]. */
export function sequenceMask(steps: number, batch: number, lengths?: readonly number[]): Float32Array {
  const mask = new Float32Array(steps * batch);
  for (let t = 0; t < steps; t++) for (let b = 0; b < batch; b++) mask[t * batch + b] = t < (lengths?.[b] ?? steps) ? 1 : 0;
  return mask;
}

/**
 * Steps per compiled plan: long enough to amortise a pipeline call (the bench's 64-step workloads
 * run in one call), short enough that a run's few plans stay small. Chunks of 32, 64 and 128 ran
 * within 10% of each other on the sentiment and bench shapes.
 */
export const DEFAULT_TIME_CHUNK = 64;

export interface SequenceOptions {
  /** Steps per pipeline call. Default DEFAULT_TIME_CHUNK. */
  readonly timeChunk?: number;
  /**
   * Keep what `recurrentBackward` needs (default true). false (inference): the plans return only
   * each step's h and the last c, and the result cannot be differentiated.
   */
  readonly keepTrace?: boolean;
  /**
   * Without the trace: the output comes from the buffer pool (backend/scratch.ts), for the caller
   * to give back (a pooled tensor's dispose), and each layer's output below the last goes back as
   * soon as the next layer has read it. Default false.
   */
  readonly pooledOutput?: boolean;
}

/**
 * The chunks of call i: the forward direction covers [start, start + length), the reverse
 * direction the mirrored range. Lengths are `chunk` except the last, which takes the remainder.
 */
export function timeChunks(steps: number, chunk: number): Array<{ start: number; length: number; mirrored: number }> {
  if (!(Number.isInteger(chunk) && chunk >= 1)) throw new Error(`recurrent: timeChunk must be a positive integer, got ${chunk}`);
  const out = [];
  for (let start = 0; start < steps; start += chunk) {
    const length = Math.min(chunk, steps - start);
    out.push({ start, length, mirrored: steps - start - length });
  }
  return out;
}

interface DirectionWeights {
  readonly wIh: Float32Array;
  readonly wHh: Float32Array;
  readonly bIh: Float32Array;
  readonly bHh: Float32Array;
}

function directionWeights(shape: RecurrentShape, params: ReadonlyMap<string, Float32Array>, layer: number, reverse: boolean): DirectionWeights {
  const suffix = `l${layer}${reverse ? '_reverse' : ''}`;
  const get = (name: string) => {
    const value = params.get(name);
    if (!value) throw new Error(`recurrent: missing parameter ${name}`);
    return value;
  };
  const rows = GATES[shape.kind] * shape.hiddenSize;
  return {
    wIh: get(`weight_ih_${suffix}`),
    wHh: get(`weight_hh_${suffix}`),
    // Without biases the kernels add zeros: one code path, no gradient reported for them.
    bIh: shape.bias ? get(`bias_ih_${suffix}`) : new Float32Array(rows),
    bHh: shape.bias ? get(`bias_hh_${suffix}`) : new Float32Array(rows),
  };
}

const slot = (state: Float32Array | undefined, index: number, size: number) =>
  state ? state.slice(index * size, (index + 1) * size) : new Float32Array(size);

type KernelCall = (...args: unknown[]) => unknown;

/** The batch's recurrent dropout masks (one [B, H] per layer and direction), checked; undefined without. */
function recurrentMasksOf(shape: RecurrentShape, batch: SequenceBatch): readonly Float32Array[] | undefined {
  const masks = batch.recurrentMasks;
  if (!masks) return undefined;
  const count = shape.numLayers * (shape.bidirectional ? 2 : 1);
  const size = batch.batch * shape.hiddenSize;
  if (masks.length !== count || masks.some((m) => m.length !== size)) {
    throw new Error(`recurrent: recurrentMasks must be ${count} masks of ${size} values (one [B, H] per layer and direction)`);
  }
  return masks;
}

/** Into trace rows [t, B, H]: the state h [B, H] as step t read it, h m inside each sequence, h on padding rows. */
function maskedState(h: Float32Array, keep: Float32Array, mask: Float32Array, t: number, B: number, H: number, into: Float32Array): void {
  const base = t * B * H;
  for (let b = 0; b < B; b++) {
    const row = b * H;
    if (mask[t * B + b] === 0) into.set(h.subarray(row, row + H), base + row);
    else for (let j = 0; j < H; j++) into[base + row + j] = h[row + j]! * keep[row + j]!;
  }
}

/**
 * A four-rows-per-thread kernel followed by the kernel that unpacks its result to [rows, cols],
 * as one call for a pipeline's orchestration (see `usesPackedSteps`). Each unpacked row reads
 * its own quad, so the unpacking runs in the step kernels' blocks of four rows (`localBlocks`).
 */
function unpacked(backend: Backend, packedSpec: KernelSpec, rows: number, cols: number, tile: 1 | 2 = 1): KernelCall {
  const kernel = backend.kernel(packedSpec) as unknown as KernelCall;
  const unpack = backend.kernel({ ...unpackRowsSpec(rows, cols, false, tile), localBlocks: rows / 4 }) as unknown as KernelCall;
  return (...args) => unpack(kernel(...args));
}

/** The pipeline of one chunk of `T` steps of one layer's forward pass, both directions, cached per shape. */
function forwardPipeline(backend: Backend, shape: RecurrentShape, layer: number, T: number, B: number, trace: boolean, masked: boolean) {
  const { kind, hiddenSize: H } = shape;
  const D = shape.bidirectional ? 2 : 1;
  const E = layer === 0 ? shape.inputSize : D * H;
  const GH = GATES[kind] * H;
  const k = stepKernelSpecs({ kind, steps: T, batch: B, hidden: H });
  // Packed (B, so T B, a multiple of 4): the gates kernel reads x W_ih^T as the packed product
  // leaves it and adds b_ih itself; only the GRU, whose n gate reads x W_ih^T + b_ih again (and
  // keeps it for its backward pass), unpacks it.
  const packed = usesPackedSteps(backend.name, B);
  const keepsProjection = kind === 'gru';
  const addBias = !packed || keepsProjection ? (backend.kernel(planBinary('add', [T * B, GH], [GH]).spec) as unknown as KernelCall) : undefined;
  const tile = projectionTile(H);
  const project = backend.kernel(packed ? packedMatmulSpec([T * B, E], [E, GH], {}, tile === 2)! : planMatmul([T * B, E], [E, GH]).spec) as unknown as KernelCall;
  if (usesFusedInference(backend.name, kind, B, H, trace) && !masked) {
    // One kernel a step (lstmInferenceStepSource, gruInferenceStepSource). Arguments per
    // direction: x and mask of its chunk, the packed W_ih^T and b_ih, the packed W_hh^T and b_hh,
    // the state as planes of c and h (the GRU: h twice). Returns per direction the state (planes,
    // see stateRowOffset) of each step, in walk order.
    const stepKernel = backend.kernel(k.inferenceStep) as unknown as KernelCall;
    return backend.pipeline(`recurrent-forward(${kind},T=${T},B=${B},E=${E},H=${H},D=${D},fused)`, function (...directions) {
      const outputs = [];
      for (let d = 0; d < D; d++) {
        const [x, mask, wIhT, bIh, wHhT, bHh, state0] = directions.slice(d * 7, (d + 1) * 7);
        const xw = project(x, wIhT);
        let state = state0;
        for (let s = 0; s < T; s++) {
          state = stepKernel(xw, bIh, state, wHhT, bHh, mask, d === 0 ? s : T - 1 - s);
          outputs.push(state);
        }
      }
      return outputs;
    }, { argumentCount: D * 7, steps: T, borrowResults: true });
  }
  const unpackProjection = packed && keepsProjection ? (backend.kernel(unpackRowsSpec(T * B, GH, false, tile)) as unknown as KernelCall) : undefined;
  const gatesKernel = !packed
    ? (backend.kernel(k.gates) as unknown as KernelCall)
    : usesWideGates(kind, H)
      ? unpacked(backend, k.packedGatesWide, B, GH, 2)
      : unpacked(backend, k.packedGates, B, GH);
  const lstmCell = kind === 'lstm' ? backend.kernel(k.lstmCell) : undefined;
  const lstmHidden = kind === 'lstm' ? backend.kernel(k.lstmHidden) : undefined;
  const gruHidden = kind === 'gru' ? backend.kernel(k.gruHidden) : undefined;
  const stateMask = masked ? backend.kernel(k.stateMask) : undefined;
  const key = `recurrent-forward(${kind},T=${T},B=${B},E=${E},H=${H},D=${D},trace=${trace}${masked ? ',masked' : ''})`;
  const stateArgs = kind === 'lstm' ? 8 : 7;
  const perDirection = stateArgs + (masked ? 1 : 0);
  // Arguments per direction: x and mask of its chunk, W_ih^T, bIh, W_hh^T, bHh, h0[, c0], then
  // with recurrent dropout (`masked`) the direction's mask. The weights come transposed ([E, GH]
  // and [H, GH]) so that the kernels read them along their rows. Returns per direction: xProj
  // (GRU), then per step (in walk order) gates[, c], h; without `trace`, per step h, then the last
  // c (LSTM).
  return backend.pipeline(key, function (...directions) {
    const outputs = [];
    for (let d = 0; d < D; d++) {
      const [x, mask, wIhT, bIh, wHhT, bHh, h0, c0] = directions.slice(d * perDirection, (d + 1) * perDirection);
      const keep = stateMask ? directions[d * perDirection + stateArgs] : undefined;
      const xw = project(x, wIhT);
      const xProj = !packed ? addBias!(xw, bIh) : keepsProjection ? addBias!(unpackProjection!(xw), bIh) : undefined;
      if (trace && keepsProjection) outputs.push(xProj);
      let h = h0;
      let c = c0;
      for (let s = 0; s < T; s++) {
        const t = d === 0 ? s : T - 1 - s;
        // the state the cell reads: h itself, or h m inside the sequence (recurrent dropout)
        const read = stateMask ? stateMask(h, keep, mask, t) : h;
        const gates = packed ? gatesKernel(xw, bIh, read, wHhT, bHh, mask, t) : gatesKernel(xProj, read, wHhT, bHh, mask, t);
        if (lstmCell && lstmHidden) {
          c = lstmCell(gates, c, mask, t);
          h = lstmHidden(gates, c, read, mask, t);
          if (trace) outputs.push(gates, c);
        } else if (gruHidden) {
          h = gruHidden(gates, xProj, read, mask, t);
          if (trace) outputs.push(gates);
        } else {
          h = gates; // the plain RNN's gate is its new state
        }
        outputs.push(h);
      }
      if (!trace && lstmCell) outputs.push(c);
    }
    return outputs;
  }, { argumentCount: D * perDirection, steps: T, borrowResults: true });
}

/** Runs the network forward over a batch of sequences. */
export async function recurrentForward(
  backend: Backend, shape: RecurrentShape, params: ReadonlyMap<string, Float32Array>, batch: SequenceBatch, options: SequenceOptions = {},
): Promise<SequenceResult> {
  if (shape.projSize && batch.recurrentMasks) throw new Error('recurrent: recurrent dropout is not available with projSize');
  if (shape.projSize) return projectedForward(backend, shape, params, batch, options);
  const { steps: T, batch: B } = batch;
  const H = shape.hiddenSize;
  const D = shape.bidirectional ? 2 : 1;
  const isLstm = shape.kind === 'lstm';
  const isGru = shape.kind === 'gru';
  const GH = GATES[shape.kind] * H;
  const timeChunk = options.timeChunk ?? DEFAULT_TIME_CHUNK;
  const keepTrace = options.keepTrace ?? true;
  const pooledOutput = options.pooledOutput === true && !keepTrace;
  const chunks = timeChunks(T, timeChunk);
  const mask = sequenceMask(T, B, batch.lengths);
  const recurrentMasks = recurrentMasksOf(shape, batch);
  const masked = recurrentMasks !== undefined;
  const hN = new Float32Array(shape.numLayers * D * B * H);
  const cN = isLstm ? new Float32Array(hN.length) : undefined;
  const layers: Array<{ input: Float32Array; traces: DirectionTrace[] }> = [];
  const executors: string[] = [];
  // Results per step (see forwardPipeline): gates[, c], h with the trace, h alone without.
  const perStep = keepTrace ? (isLstm ? 3 : isGru ? 2 : 1) : 1;
  let input = batch.x;
  let output: Float32Array = new Float32Array(0);
  for (let layer = 0; layer < shape.numLayers; layer++) {
    if (layer > 0 && batch.dropoutMasks) {
      const dropout = batch.dropoutMasks[layer - 1]!;
      input = elementwiseProduct(input, dropout);
    }
    const E = layer === 0 ? shape.inputSize : D * H;
    // W_ih^T and W_hh^T, [E, GH] and [H, GH]; as column panels for the packed kernels.
    const packed = usesPackedSteps(backend.name, B);
    const fused = usesFusedInference(backend.name, shape.kind, B, H, keepTrace) && !masked;
    const weights = Array.from({ length: D }, (_, d) => {
      const w = directionWeights(shape, params, layer, d === 1);
      return packed
        ? { ...w, wIhT: pooledColumnPanels(w.wIh, E, GH, true), wHhT: pooledColumnPanels(w.wHh, H, GH, true) }
        : { ...w, wIhT: transposeMatrix(w.wIh, GH, E), wHhT: transposeMatrix(w.wHh, GH, H) };
    });
    const states: Array<{ h: Float32Array; c: Float32Array | undefined }> = Array.from({ length: D }, (_, d) => ({
      h: slot(batch.h0, layer * D + d, B * H),
      c: isLstm ? slot(batch.c0, layer * D + d, B * H) : undefined,
    }));
    // Borrowed (backend/scratch.ts): every value is written below; recurrentBackward returns them.
    const traces: DirectionTrace[] = Array.from({ length: keepTrace ? D : 0 }, () => ({
      xProj: isGru ? borrowBuffer(T * B * GH) : undefined,
      gates: borrowBuffer(T * B * GH),
      hPrev: borrowBuffer(T * B * H),
      hNew: borrowBuffer(T * B * H),
      cPrev: isLstm ? borrowBuffer(T * B * H) : undefined,
      cNew: isLstm ? borrowBuffer(T * B * H) : undefined,
    }));
    const below = layer > 0 ? output : undefined; // this layer's input before any dropout
    output = pooledOutput ? borrowBuffer(T * B * D * H) : new Float32Array(T * B * D * H);
    // padded steps stay zero: the loops below write only the steps inside each length
    if (pooledOutput && batch.lengths) output.fill(0);
    for (const chunk of chunks) {
      const L = chunk.length;
      const starts = [chunk.start, chunk.mirrored];
      const args: Float32Array[] = [];
      for (let d = 0; d < D; d++) {
        const start = starts[d]!;
        const w = weights[d]!;
        args.push(input.subarray(start * B * E, (start + L) * B * E), mask.subarray(start * B, (start + L) * B), w.wIhT, w.bIh, w.wHhT, w.bHh);
        if (fused) args.push(planarState(states[d]!.h, states[d]!.c ?? states[d]!.h, B, H));
        else args.push(states[d]!.h, ...(isLstm ? [states[d]!.c!] : []));
        if (recurrentMasks) args.push(recurrentMasks[layer * D + d]!);
      }
      const pipeline = forwardPipeline(backend, shape, layer, L, B, keepTrace, masked);
      // Views of the pipeline's memory (borrowResults): copied below, before its next call.
      const results = (await pipeline(...args)) as Float32Array[];
      executors.push(pipeline.executorKind);
      if (fused) {
        for (let d = 0; d < D; d++) {
          const start = starts[d]!;
          let state: Float32Array = new Float32Array(0);
          for (let s = 0; s < L; s++) {
            const t = start + (d === 0 ? s : L - 1 - s);
            state = flatResult(results[d * L + s]);
            for (let b = 0; b < B; b++) {
              if (mask[t * B + b] === 0) continue;
              const from = stateRowOffset(b, B, H, 1); // row b's h: H contiguous values
              output.set(state.subarray(from, from + H), (t * B + b) * D * H + d * H);
            }
          }
          // the state after the chunk's last step
          states[d] = { h: stateRows(state, B, H, 1), c: isLstm ? stateRows(state, B, H, 0) : undefined };
        }
        continue;
      }
      // per direction: [xProj] with the GRU's trace, the steps, [the last c] without the trace
      const leading = keepTrace && isGru ? 1 : 0;
      const perDirection = leading + L * perStep + (!keepTrace && isLstm ? 1 : 0);
      for (let d = 0; d < D; d++) {
        const start = starts[d]!;
        const trace = traces[d];
        const base = d * perDirection;
        trace?.xProj?.set(results[base]!, start * B * GH);
        let { h, c } = states[d]!;
        for (let s = 0; s < L; s++) {
          const t = start + (d === 0 ? s : L - 1 - s);
          const step = results.slice(base + leading + s * perStep, base + leading + (s + 1) * perStep);
          if (trace) {
            trace.gates.set(step[0]!, t * B * GH);
            // the state the step read (its weight gradient's factor): masked with recurrent dropout
            if (recurrentMasks) maskedState(h, recurrentMasks[layer * D + d]!, mask, t, B, H, trace.hPrev);
            else trace.hPrev.set(h, t * B * H);
            trace.hNew.set(step[perStep - 1]!, t * B * H);
            if (isLstm) {
              trace.cPrev!.set(c!, t * B * H);
              trace.cNew!.set(step[1]!, t * B * H);
            }
          }
          h = step[perStep - 1]!;
          if (isLstm && keepTrace) c = step[1]!;
          for (let b = 0; b < B; b++) {
            if (mask[t * B + b] === 0) continue;
            output.set(h.subarray(b * H, (b + 1) * H), (t * B + b) * D * H + d * H);
          }
        }
        if (isLstm && !keepTrace) c = results[base + leading + L * perStep]!;
        states[d] = { h: h.slice(), c: c?.slice() };
      }
    }
    if (packed) returnBuffers(...weights.flatMap((w) => [w.wIhT, w.wHhT]));
    for (let d = 0; d < D; d++) {
      hN.set(states[d]!.h, (layer * D + d) * B * H);
      if (cN) cN.set(states[d]!.c!, (layer * D + d) * B * H);
    }
    if (below && pooledOutput) returnBuffers(below);
    layers.push({ input: pooledOutput ? new Float32Array(0) : input, traces });
    input = output;
  }
  return { output, hN, cN, layers, executors, timeChunk };
}

/** The pipeline of one chunk of `T` steps of one layer's backward pass, both directions, cached per shape. */
function backwardPipeline(backend: Backend, shape: RecurrentShape, T: number, B: number, masked: boolean) {
  const { kind, hiddenSize: H } = shape;
  const D = shape.bidirectional ? 2 : 1;
  const k = stepKernelSpecs({ kind, steps: T, batch: B, hidden: H });
  const hiddenGrad = !usesPackedSteps(backend.name, B)
    ? backend.kernel(k.hiddenGrad)
    : projectionTile(H) === 2
      ? unpacked(backend, k.packedHiddenGradWide, B, H, 2)
      : unpacked(backend, k.packedHiddenGrad, B, H);
  const lstmGateGrad = kind === 'lstm' ? backend.kernel(k.lstmGateGrad) : undefined;
  const lstmCellGrad = kind === 'lstm' ? backend.kernel(k.lstmCellGrad) : undefined;
  const gruInput = kind === 'gru' ? backend.kernel(k.gruInputGateGrad) : undefined;
  const gruRecurrent = kind === 'gru' ? backend.kernel(k.gruRecurrentGateGrad) : undefined;
  const rnnGateGrad = kind === 'gru' || kind === 'lstm' ? undefined : backend.kernel(k.rnnGateGrad);
  const stateMask = masked ? backend.kernel(k.stateMask) : undefined;
  const key = `recurrent-backward(${kind},T=${T},B=${B},H=${H},D=${D}${masked ? ',masked' : ''})`;
  const perDirection = masked ? 12 : 11;
  // Arguments per direction, each sequence-wide buffer cut to the chunk: mask, gates, xProj,
  // hPrev, hNew, cPrev, cNew, dOut, then dh and dc flowing in, and wHh (unused ones are one-cell
  // placeholders), then with recurrent dropout (`masked`) the direction's mask. Returns per
  // direction: per step (reverse walk order) dGi[, dGh], then dh[, dc].
  return backend.pipeline(key, function (...directions) {
    const outputs = [];
    for (let d = 0; d < D; d++) {
      const [mask, gates, xProj, hPrev, hNew, cPrev, cNew, dOut, dhN, dcN, wHh, keep] = directions.slice(d * perDirection, (d + 1) * perDirection);
      let dh = dhN;
      let dc = dcN;
      for (let s = T - 1; s >= 0; s--) {
        const t = d === 0 ? s : T - 1 - s;
        if (lstmGateGrad && lstmCellGrad) {
          const dGates = lstmGateGrad(gates, cPrev, cNew, dOut, dh, dc, mask, t);
          dc = lstmCellGrad(gates, cNew, dOut, dh, dc, mask, t);
          dh = hiddenGrad(dGates, wHh, gates, dOut, dh, mask, t);
          // the step read h m: its gradient times m reaches h (padding rows pass it on as it is)
          if (stateMask) dh = stateMask(dh, keep, mask, t);
          outputs.push(dGates);
        } else if (gruInput && gruRecurrent) {
          const dGi = gruInput(gates, hPrev, xProj, dOut, dh, mask, t);
          const dGh = gruRecurrent(gates, hPrev, xProj, dOut, dh, mask, t);
          dh = hiddenGrad(dGh, wHh, gates, dOut, dh, mask, t);
          if (stateMask) dh = stateMask(dh, keep, mask, t);
          outputs.push(dGi, dGh);
        } else if (rnnGateGrad) {
          const dGates = rnnGateGrad(hNew, dOut, dh, mask, t);
          dh = hiddenGrad(dGates, wHh, gates, dOut, dh, mask, t);
          if (stateMask) dh = stateMask(dh, keep, mask, t);
          outputs.push(dGates);
        }
      }
      outputs.push(dh);
      if (lstmGateGrad) outputs.push(dc);
    }
    return outputs;
  }, { argumentCount: D * perDirection, steps: T, borrowResults: true });
}

/** Forward results whose trace a backward pass gave back to the scratch pool. */
const releasedTraces = new WeakSet<SequenceResult>();

/**
 * Backpropagation through time for `recurrentForward`: gradients of the loss with respect to
 * the input, the initial states and every parameter, given those of the output sequence and
 * (optionally) the final states. `releaseTrace`: the forward pass's trace goes back to the
 * scratch pool (backend/scratch.ts) for the next forward to reuse, and this forward result
 * cannot be differentiated again (a tape's node runs its backward once). `weightProducts`: the
 * weight_ih / weight_hh gradients come back as `products` (the factors of one product each, for
 * the tape to join with other calls'; projected layers compute theirs in `grads` regardless).
 */
export async function recurrentBackward(
  backend: Backend, shape: RecurrentShape, params: ReadonlyMap<string, Float32Array>, batch: SequenceBatch,
  forward: SequenceResult, dOutput: Float32Array, dhN?: Float32Array, dcN?: Float32Array,
  options: { releaseTrace?: boolean; weightProducts?: boolean } = {},
): Promise<SequenceGradients> {
  if (forward.layers.some((layer) => layer.traces.length === 0)) {
    throw new Error('recurrent: this forward pass ran with keepTrace: false, so it has nothing to differentiate; run it with the trace');
  }
  if (releasedTraces.has(forward)) {
    throw new Error('recurrent: this forward pass was differentiated already with releaseTrace: true, which gave its trace back; run it again');
  }
  if (options.releaseTrace) releasedTraces.add(forward);
  if (forward.projected) return projectedBackward(backend, shape, params, batch, forward, dOutput, dhN, dcN, options);
  const { steps: T, batch: B } = batch;
  const H = shape.hiddenSize;
  const D = shape.bidirectional ? 2 : 1;
  const G = GATES[shape.kind];
  const isLstm = shape.kind === 'lstm';
  const isGru = shape.kind === 'gru';
  const mask = sequenceMask(T, B, batch.lengths);
  const recurrentMasks = recurrentMasksOf(shape, batch);
  const masked = recurrentMasks !== undefined;
  const chunks = timeChunks(T, forward.timeChunk);
  const grads = new Map<string, Float32Array>();
  // The factors keep the gate gradients and previous states: those stay out of the scratch pool.
  const products = options.weightProducts ? new Map<string, { a: Tensor; b: Tensor }>() : undefined;
  const dh0 = new Float32Array(shape.numLayers * D * B * H);
  const dc0 = isLstm ? new Float32Array(dh0.length) : undefined;
  const placeholder = new Float32Array(1);
  const executors: string[] = [];
  let dLayerOutput = dOutput;
  let dx: Float32Array = new Float32Array(0);
  for (let layer = shape.numLayers - 1; layer >= 0; layer--) {
    const { input, traces } = forward.layers[layer]!;
    const E = layer === 0 ? shape.inputSize : D * H;
    const perStep = isGru ? 2 : 1;
    const perDirection = (L: number) => L * perStep + (isLstm ? 2 : 1);
    const dOuts = Array.from({ length: D }, (_, d) => {
      const dOut = borrowBuffer(T * B * H); // every row written
      for (let row = 0; row < T * B; row++) dOut.set(dLayerOutput.subarray(row * D * H + d * H, row * D * H + (d + 1) * H), row * H);
      return dOut;
    });
    const flowing: Array<{ dh: Float32Array; dc: Float32Array }> = Array.from({ length: D }, (_, d) => ({
      dh: slot(dhN, layer * D + d, B * H),
      dc: isLstm ? slot(dcN, layer * D + d, B * H) : placeholder,
    }));
    // W_hh as the hidden-state gradient kernel reads it: [GH, H], or column panels when packed.
    const packed = usesPackedSteps(backend.name, B);
    const wHhs = Array.from({ length: D }, (_, d) => {
      const wHh = directionWeights(shape, params, layer, d === 1).wHh;
      return packed ? pooledColumnPanels(wHh, G * H, H) : wHh;
    });
    // The per-step gate gradients, [T*B, GH] in time order for the weight products.
    // Every step's rows are written below; given back with dOuts once the layer's products settle.
    const dGis = Array.from({ length: D }, () => borrowBuffer(T * B * G * H));
    const dGhs = isGru ? Array.from({ length: D }, () => borrowBuffer(T * B * G * H)) : dGis;
    for (const chunk of [...chunks].reverse()) {
      const L = chunk.length;
      const starts = [chunk.start, chunk.mirrored];
      const args: Float32Array[] = [];
      for (let d = 0; d < D; d++) {
        const trace = traces[d]!;
        const start = starts[d]!;
        const cut = (buffer: Float32Array | undefined, width: number) => buffer ? buffer.subarray(start * B * width, (start + L) * B * width) : placeholder;
        args.push(
          cut(mask, 1), cut(trace.gates, G * H), cut(trace.xProj, G * H), cut(trace.hPrev, H), cut(trace.hNew, H),
          cut(trace.cPrev, H), cut(trace.cNew, H), cut(dOuts[d], H), flowing[d]!.dh, flowing[d]!.dc, wHhs[d]!,
          ...(recurrentMasks ? [recurrentMasks[layer * D + d]!] : []),
        );
      }
      const pipeline = backwardPipeline(backend, shape, L, B, masked);
      // Views of the pipeline's memory (borrowResults): copied below, before its next call.
      const results = (await pipeline(...args)) as Float32Array[];
      executors.push(pipeline.executorKind);
      for (let d = 0; d < D; d++) {
        const base = d * perDirection(L);
        for (let s = L - 1, i = 0; s >= 0; s--, i++) {
          const t = starts[d]! + (d === 0 ? s : L - 1 - s);
          dGis[d]!.set(results[base + i * perStep]!, t * B * G * H);
          if (isGru) dGhs[d]!.set(results[base + i * perStep + 1]!, t * B * G * H);
        }
        flowing[d] = { dh: results[base + L * perStep]!.slice(), dc: isLstm ? results[base + L * perStep + 1]!.slice() : placeholder };
      }
    }

    if (packed) returnBuffers(...wHhs);
    const xs = new Tensor([T * B, E], input);
    for (let d = 0; d < D; d++) {
      const slotIndex = layer * D + d;
      dh0.set(flowing[d]!.dh, slotIndex * B * H);
      if (dc0) dc0.set(flowing[d]!.dc, slotIndex * B * H);
      const dGi = dGis[d]!;
      const dGh = dGhs[d]!;

      const suffix = `l${layer}${d === 1 ? '_reverse' : ''}`;
      const w = directionWeights(shape, params, layer, d === 1);
      const dGiT = new Tensor([T * B, G * H], dGi);
      const dGhT = new Tensor([T * B, G * H], dGh);
      const hPrev = new Tensor([T * B, H], traces[d]!.hPrev);
      if (products) {
        products.set(`weight_ih_${suffix}`, { a: dGiT, b: xs });
        products.set(`weight_hh_${suffix}`, { a: dGhT, b: hPrev });
      } else {
        grads.set(`weight_ih_${suffix}`, (await matmul(backend, dGiT, xs, { transA: true })).data);
        grads.set(`weight_hh_${suffix}`, (await matmul(backend, dGhT, hPrev, { transA: true })).data);
      }
      if (shape.bias) {
        const dBiasIh = (await sum(backend, dGiT, { axis: 0 })).data;
        grads.set(`bias_ih_${suffix}`, dBiasIh);
        // Only the GRU's two pre-activations differ (in the n rows); the others share one sum.
        grads.set(`bias_hh_${suffix}`, dGh === dGi ? dBiasIh.slice() : (await sum(backend, dGhT, { axis: 0 })).data);
      }
      const dxDirection = await matmul(backend, dGiT, new Tensor(parameterShape(shape, `weight_ih_${suffix}`), w.wIh));
      dx = d === 0 ? dxDirection.data : (await add(backend, new Tensor([T * B, E], dx), dxDirection)).data;
    }
    // every product reading them has settled
    returnBuffers(...dOuts, ...(products ? [] : [...dGis, ...(isGru ? dGhs : [])]));
    if (options.releaseTrace) {
      for (const trace of traces) returnBuffers(trace.xProj, trace.gates, ...(products ? [] : [trace.hPrev]), trace.hNew, trace.cPrev, trace.cNew);
    }
    if (layer > 0 && batch.dropoutMasks) {
      const dropout = batch.dropoutMasks[layer - 1]!;
      dx = elementwiseProduct(dx, dropout);
    }
    dLayerOutput = dx;
  }
  return { dx, dh0, dc0, grads, executors, ...(products ? { products } : {}) };
}
