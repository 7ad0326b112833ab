/**
 * Float64 reference recurrent networks, forward and backward, in the style of the classic numpy
 * exercise (`rnn_cell_forward` / `rnn_cell_backward`, `lstm_cell_forward` / `lstm_cell_backward`):
 * one cell step at a time, every intermediate kept in a cache, every gradient written out.
 * It follows PyTorch exactly: parameter names and layouts, gate orders (LSTM i,f,g,o; GRU r,z,n
 * with b_hn inside the reset product), h_n ordered layer by layer with the reverse direction
 * after the forward one, and packed-sequence semantics for variable lengths.
 *
 * Shapes (legend in the package README): x [T, B, E] time-major; h, c [B, H]; gates [B, G*H]
 * with G = 1 (RNN), 3 (GRU), 4 (LSTM); weight_ih [G*H, E_l], weight_hh [G*H, H], biases [G*H];
 * output [T, B, D*H]; h_n, c_n [L*D, B, H].
 *
 * An LSTM with projections (PyTorch's proj_size P, Sak et al. 2014) carries h' = W_hr (o tanh(c'))
 * instead of o tanh(c'): h, the output and h_n have P features where the others have H
 * (weight_hh [4H, P], weight_ih [4H, D*P] above layer 0, weight_hr [P, H]); c keeps H.
 */

export type CellKind = 'rnn_tanh' | 'rnn_relu' | 'gru' | 'lstm';

/** Gates per cell kind: the G in [G*H]. */
export const GATES: Readonly<Record<CellKind, number>> = { rnn_tanh: 1, rnn_relu: 1, gru: 3, lstm: 4 };

export interface RecurrentShape {
  readonly kind: CellKind;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bidirectional: boolean;
  readonly bias: boolean;
  /** P, LSTM only: project each h to P < H features with weight_hr [P, H]. 0 or absent: none. */
  readonly projSize?: number;
}

/** R: the features of h, the output and h_n: P with projections, else H. */
export function stateSize(shape: RecurrentShape): number {
  return shape.projSize ? shape.projSize : shape.hiddenSize;
}

/** PyTorch's parameter names, in PyTorch's order: weight_ih_l0, weight_hh_l0, bias_ih_l0, ... */
export function parameterNames(shape: RecurrentShape): string[] {
  const names: string[] = [];
  for (let layer = 0; layer < shape.numLayers; layer++) {
    for (const suffix of shape.bidirectional ? ['', '_reverse'] : ['']) {
      names.push(`weight_ih_l${layer}${suffix}`, `weight_hh_l${layer}${suffix}`);
      if (shape.bias) names.push(`bias_ih_l${layer}${suffix}`, `bias_hh_l${layer}${suffix}`);
      if (shape.projSize) names.push(`weight_hr_l${layer}${suffix}`);
    }
  }
  return names;
}

/** The shape of each named parameter. */
export function parameterShape(shape: RecurrentShape, name: string): number[] {
  const match = /^(weight|bias)_(ih|hh|hr)_l(\d+)(_reverse)?$/.exec(name);
  if (!match || (match[2] === 'hr' && (match[1] === 'bias' || !shape.projSize))) throw new Error(`not a recurrent parameter name: ${name}`);
  const rows = GATES[shape.kind] * shape.hiddenSize;
  const layer = Number(match[3]);
  const R = stateSize(shape);
  const layerInput = layer === 0 ? shape.inputSize : R * (shape.bidirectional ? 2 : 1);
  if (match[2] === 'hr') return [R, shape.hiddenSize];
  if (match[1] === 'bias') return [rows];
  return [rows, match[2] === 'ih' ? layerInput : R];
}

export type Params64 = ReadonlyMap<string, Float64Array>;

interface CellWeights {
  readonly wIh: Float64Array;
  readonly wHh: Float64Array;
  readonly bIh: Float64Array | undefined;
  readonly bHh: Float64Array | undefined;
  /** [P, H]: the LSTM's projection, if any. */
  readonly wHr: Float64Array | undefined;
  readonly inputSize: number;
}

/** What one cell step keeps for its backward pass. */
interface StepCache {
  readonly x: Float64Array; // [B, E]
  readonly hPrev: Float64Array; // [B, R]
  readonly hCell: Float64Array | undefined; // [B, H] = o tanh(c) before the projection, if any
  readonly cPrev: Float64Array | undefined; // [B, H], LSTM only
  readonly gates: Float64Array; // [B, G*H] after their nonlinearities
  readonly c: Float64Array | undefined; // [B, H], LSTM only
  readonly ghN: Float64Array | undefined; // [B, H] = h W_hn^T + b_hn, GRU only
  readonly active: Uint8Array; // [B] 1 where this step is inside the sequence
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** y [B, Out] = x [B, In] W^T + b, W [Out, In]. */
function linear(x: Float64Array, w: Float64Array, b: Float64Array | undefined, batch: number, inSize: number, outSize: number): Float64Array {
  const y = new Float64Array(batch * outSize);
  for (let n = 0; n < batch; n++)
    for (let o = 0; o < outSize; o++) {
      let sum = b ? b[o]! : 0;
      for (let i = 0; i < inSize; i++) sum += x[n * inSize + i]! * w[o * inSize + i]!;
      y[n * outSize + o] = sum;
    }
  return y;
}

/** dW [Out, In] += dy^T x; db += sum over rows of dy; returns dx [B, In] = dy W. */
function linearBackward(
  dy: Float64Array, x: Float64Array, w: Float64Array, dW: Float64Array, dB: Float64Array | undefined,
  batch: number, inSize: number, outSize: number,
): Float64Array {
  const dx = new Float64Array(batch * inSize);
  for (let n = 0; n < batch; n++)
    for (let o = 0; o < outSize; o++) {
      const g = dy[n * outSize + o]!;
      if (g === 0) continue;
      if (dB) dB[o]! += g;
      for (let i = 0; i < inSize; i++) {
        dW[o * inSize + i]! += g * x[n * inSize + i]!;
        dx[n * inSize + i]! += g * w[o * inSize + i]!;
      }
    }
  return dx;
}

/**
 * One cell step for rows where active[b] = 1; inactive rows keep their state (packed semantics).
 * Returns the new h and c and the cache for the backward pass. h has R features (P with a
 * projection `p.wHr`, else H), c has H.
 */
export function cellForward(
  kind: CellKind, p: CellWeights, x: Float64Array, hPrev: Float64Array, cPrev: Float64Array | undefined,
  active: Uint8Array, H: number,
): { h: Float64Array; c: Float64Array | undefined; cache: StepCache } {
  const B = active.length;
  const G = GATES[kind];
  const R = hPrev.length / B;
  const gi = linear(x, p.wIh, p.bIh, B, p.inputSize, G * H);
  const gh = linear(hPrev, p.wHh, p.bHh, B, R, G * H);
  const gates = new Float64Array(B * G * H);
  const h = Float64Array.from(hPrev);
  const hCell = p.wHr ? new Float64Array(B * H) : undefined;
  const c = cPrev ? Float64Array.from(cPrev) : undefined;
  const ghN = kind === 'gru' ? new Float64Array(B * H) : undefined;
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < H; j++) {
      const at = (gate: number) => b * G * H + gate * H + j;
      const pre = (gate: number) => gi[at(gate)]! + gh[at(gate)]!;
      let hNew: number;
      if (kind === 'lstm') {
        const i = sigmoid(pre(0));
        const f = sigmoid(pre(1));
        const g = Math.tanh(pre(2));
        const o = sigmoid(pre(3));
        gates[at(0)] = i; gates[at(1)] = f; gates[at(2)] = g; gates[at(3)] = o;
        const cNew = f * cPrev![b * H + j]! + i * g;
        if (active[b]) c![b * H + j] = cNew;
        hNew = o * Math.tanh(cNew);
      } else if (kind === 'gru') {
        const r = sigmoid(pre(0));
        const z = sigmoid(pre(1));
        ghN![b * H + j] = gh[at(2)]!;
        const n = Math.tanh(gi[at(2)]! + r * gh[at(2)]!);
        gates[at(0)] = r; gates[at(1)] = z; gates[at(2)] = n;
        hNew = (1 - z) * n + z * hPrev[b * H + j]!;
      } else {
        hNew = kind === 'rnn_tanh' ? Math.tanh(pre(0)) : Math.max(0, pre(0));
        gates[at(0)] = hNew;
      }
      if (hCell) hCell[b * H + j] = hNew;
      else if (active[b]) h[b * H + j] = hNew;
    }
  }
  if (hCell) {
    const projected = linear(hCell, p.wHr!, undefined, B, H, R);
    for (let b = 0; b < B; b++) if (active[b]) h.set(projected.subarray(b * R, (b + 1) * R), b * R);
  }
  return { h, c, cache: { x, hPrev, hCell, cPrev, gates, c, ghN, active } };
}

export interface CellGrads {
  readonly dWih: Float64Array;
  readonly dWhh: Float64Array;
  readonly dBih: Float64Array | undefined;
  readonly dBhh: Float64Array | undefined;
  readonly dWhr: Float64Array | undefined;
}

/**
 * Backward through one cell step. dh, dc: gradients reaching this step's new state (from the
 * output at this step and from the step after). Accumulates parameter gradients into `grads`
 * and returns the gradients of x and of the previous state. Inactive rows pass dh, dc through.
 */
export function cellBackward(
  kind: CellKind, p: CellWeights, cache: StepCache, dh: Float64Array, dc: Float64Array | undefined,
  grads: CellGrads, H: number,
): { dx: Float64Array; dhPrev: Float64Array; dcPrev: Float64Array | undefined } {
  const B = cache.active.length;
  const G = GATES[kind];
  const R = cache.hPrev.length / B;
  const dGi = new Float64Array(B * G * H); // gradient of x W_ih^T + b_ih
  const dGh = new Float64Array(B * G * H); // gradient of h W_hh^T + b_hh
  const dhPrev = new Float64Array(B * R);
  const dcPrev = dc ? new Float64Array(B * H) : undefined;
  for (let b = 0; b < B; b++) {
    if (cache.active[b]) continue;
    dhPrev.set(dh.subarray(b * R, (b + 1) * R), b * R);
    if (dcPrev) dcPrev.set(dc!.subarray(b * H, (b + 1) * H), b * H);
  }
  // With a projection, the gradient of o tanh(c') is dh W_hr (active rows only); dW_hr += dh^T o tanh(c')
  let dhCell = dh;
  if (cache.hCell) {
    const dhActive = dh.map((v, i) => (cache.active[Math.floor(i / R)] ? v : 0));
    dhCell = linearBackward(dhActive, cache.hCell, p.wHr!, grads.dWhr!, undefined, B, H, R);
  }
  for (let b = 0; b < B; b++) {
    if (!cache.active[b]) continue;
    for (let j = 0; j < H; j++) {
      const k = b * H + j;
      const at = (gate: number) => b * G * H + gate * H + j;
      if (kind === 'lstm') {
        const [i, f, g, o] = [0, 1, 2, 3].map((gate) => cache.gates[at(gate)]!) as [number, number, number, number];
        const tanhC = Math.tanh(cache.c![k]!);
        const dcTotal = dc![k]! + dhCell[k]! * o * (1 - tanhC * tanhC);
        dGi[at(0)] = dcTotal * g * i * (1 - i);
        dGi[at(1)] = dcTotal * cache.cPrev![k]! * f * (1 - f);
        dGi[at(2)] = dcTotal * i * (1 - g * g);
        dGi[at(3)] = dhCell[k]! * tanhC * o * (1 - o);
        for (let gate = 0; gate < 4; gate++) dGh[at(gate)] = dGi[at(gate)]!;
        dcPrev![k] = dcTotal * f;
      } else if (kind === 'gru') {
        const [r, z, n] = [0, 1, 2].map((gate) => cache.gates[at(gate)]!) as [number, number, number];
        const dn = dhCell[k]! * (1 - z) * (1 - n * n);
        const dz = dhCell[k]! * (cache.hPrev[k]! - n) * z * (1 - z);
        const dr = dn * cache.ghN![k]! * r * (1 - r);
        dGi[at(0)] = dr; dGi[at(1)] = dz; dGi[at(2)] = dn;
        dGh[at(0)] = dr; dGh[at(1)] = dz; dGh[at(2)] = dn * r;
        dhPrev[k] = dhCell[k]! * z;
      } else {
        const hNew = cache.gates[at(0)]!;
        const dPre = kind === 'rnn_tanh' ? dhCell[k]! * (1 - hNew * hNew) : hNew > 0 ? dhCell[k]! : 0;
        dGi[at(0)] = dPre;
        dGh[at(0)] = dPre;
      }
    }
  }
  const dx = linearBackward(dGi, cache.x, p.wIh, grads.dWih, grads.dBih, B, p.inputSize, G * H);
  const dhFromGates = linearBackward(dGh, cache.hPrev, p.wHh, grads.dWhh, grads.dBhh, B, R, G * H);
  for (let k = 0; k < B * R; k++) dhPrev[k]! += dhFromGates[k]!;
  return { dx, dhPrev, dcPrev };
}

/** A batch of sequences; the float64 reference and the f32 engine take the same fields. */
export interface SequenceInputs<A extends Float64Array | Float32Array = Float64Array> {
  /** x [T, B, E], time-major. */
  readonly x: A;
  readonly steps: number;
  readonly batch: number;
  /** Valid steps per sequence (each 1..T); omitted: every sequence has T steps. */
  readonly lengths?: readonly number[];
  /** Initial states h0 [L*D, B, R] and c0 [L*D, B, H] (LSTM only); omitted: zeros. */
  readonly h0?: A;
  readonly c0?: A;
  /**
   * Multipliers applied to each layer's input for layers 1..L-1 (index l-1), [T, B, D*R]: inverted
   * dropout masks (0 or 1/(1-p)) drawn by the caller, so the computation stays deterministic.
   */
  readonly dropoutMasks?: readonly A[];
  /**
   * Multipliers of the state h entering every step of layer l, direction d (index l * D + d),
   * [B, R]: Keras's recurrent_dropout (inverted dropout masks drawn by the caller, one per
   * sequence and unit, the same at every step). The cell reads h ⊙ m wherever it reads h (the
   * recurrent product, and the GRU's z h); a padded step leaves the state unmasked, as it was.
   */
  readonly recurrentMasks?: readonly A[];
}

export interface SequenceForward {
  readonly output: Float64Array; // [T, B, D*R], zero at padded steps
  readonly hN: Float64Array; // [L*D, B, R]
  readonly cN: Float64Array | undefined; // [L*D, B, H], LSTM only
  /** Caches per layer and direction, [l * D + d][t]. */
  readonly caches: StepCache[][];
  readonly layerInputs: Float64Array[];
}

function cellWeights(shape: RecurrentShape, params: Params64, layer: number, reverse: boolean): CellWeights {
  const suffix = `l${layer}${reverse ? '_reverse' : ''}`;
  const get = (name: string) => {
    const value = params.get(name);
    if (!value) throw new Error(`missing parameter ${name}`);
    return value;
  };
  return {
    wIh: get(`weight_ih_${suffix}`),
    wHh: get(`weight_hh_${suffix}`),
    bIh: shape.bias ? get(`bias_ih_${suffix}`) : undefined,
    bHh: shape.bias ? get(`bias_hh_${suffix}`) : undefined,
    wHr: shape.projSize ? get(`weight_hr_${suffix}`) : undefined,
    inputSize: parameterShape(shape, `weight_ih_${suffix}`)[1]!,
  };
}

/** Which rows are inside their sequence at step t. */
function activeRows(lengths: readonly number[] | undefined, batch: number, steps: number, t: number): Uint8Array {
  return Uint8Array.from({ length: batch }, (_, b) => (t < (lengths?.[b] ?? steps) ? 1 : 0));
}

/** A multi-layer, optionally bidirectional recurrent network over a whole sequence. */
export function recurrentForwardRef(shape: RecurrentShape, params: Params64, inputs: SequenceInputs): SequenceForward {
  const { steps: T, batch: B } = inputs;
  const H = shape.hiddenSize;
  const R = stateSize(shape);
  const D = shape.bidirectional ? 2 : 1;
  const isLstm = shape.kind === 'lstm';
  const hN = new Float64Array(shape.numLayers * D * B * R);
  const cN = isLstm ? new Float64Array(shape.numLayers * D * B * H) : undefined;
  const caches: StepCache[][] = [];
  const layerInputs: Float64Array[] = [];
  let layerInput = inputs.x;
  let output = new Float64Array(0);
  for (let layer = 0; layer < shape.numLayers; layer++) {
    if (layer > 0 && inputs.dropoutMasks) {
      const mask = inputs.dropoutMasks[layer - 1]!;
      layerInput = layerInput.map((v, i) => v * mask[i]!);
    }
    layerInputs.push(layerInput);
    const E = layer === 0 ? shape.inputSize : D * R;
    output = new Float64Array(T * B * D * R);
    for (let d = 0; d < D; d++) {
      const p = cellWeights(shape, params, layer, d === 1);
      const slot = layer * D + d;
      let h: Float64Array = inputs.h0 ? inputs.h0.slice(slot * B * R, (slot + 1) * B * R) : new Float64Array(B * R);
      let c: Float64Array | undefined = isLstm ? (inputs.c0 ? inputs.c0.slice(slot * B * H, (slot + 1) * B * H) : new Float64Array(B * H)) : undefined;
      const stepCaches: StepCache[] = new Array(T);
      // The reverse direction walks t = T-1 .. 0; padded steps leave the state at h0, so each
      // sequence starts at its own last token, as a packed sequence does in PyTorch.
      const recurrentMask = inputs.recurrentMasks?.[slot];
      for (let s = 0; s < T; s++) {
        const t = d === 0 ? s : T - 1 - s;
        const x = layerInput.slice(t * B * E, (t + 1) * B * E);
        const active = activeRows(inputs.lengths, B, T, t);
        const step = cellForward(shape.kind, p, x, recurrentMask ? h.map((v, i) => v * recurrentMask[i]!) : h, c, active, H);
        if (recurrentMask) {
          // padded rows keep the state as it was, unmasked
          const kept = h;
          h = step.h;
          for (let b = 0; b < B; b++) if (!active[b]) h.set(kept.subarray(b * R, (b + 1) * R), b * R);
        } else {
          h = step.h;
        }
        c = step.c;
        stepCaches[t] = step.cache;
        for (let b = 0; b < B; b++) {
          if (!active[b]) continue;
          for (let j = 0; j < R; j++) output[(t * B + b) * D * R + d * R + j] = h[b * R + j]!;
        }
      }
      caches.push(stepCaches);
      hN.set(h, slot * B * R);
      if (cN && c) cN.set(c, slot * B * H);
    }
    layerInput = output;
  }
  return { output, hN, cN, caches, layerInputs };
}

export interface SequenceGradients {
  readonly dx: Float64Array; // [T, B, E]
  readonly dh0: Float64Array; // [L*D, B, R]
  readonly dc0: Float64Array | undefined; // [L*D, B, H]
  readonly grads: Map<string, Float64Array>; // by parameter name
}

/**
 * Backpropagation through time for `recurrentForwardRef`: given the gradients of the loss with
 * respect to the output sequence and the final states, returns those of the input, the initial
 * states and every parameter.
 */
export function recurrentBackwardRef(
  shape: RecurrentShape, params: Params64, inputs: SequenceInputs, forward: SequenceForward,
  dOutput: Float64Array, dhN?: Float64Array, dcN?: Float64Array,
): SequenceGradients {
  const { steps: T, batch: B } = inputs;
  const H = shape.hiddenSize;
  const R = stateSize(shape);
  const D = shape.bidirectional ? 2 : 1;
  const isLstm = shape.kind === 'lstm';
  const grads = new Map<string, Float64Array>();
  for (const name of parameterNames(shape)) grads.set(name, new Float64Array(params.get(name)!.length));
  const dh0 = new Float64Array(shape.numLayers * D * B * R);
  const dc0 = isLstm ? new Float64Array(shape.numLayers * D * B * H) : undefined;
  let dLayerOutput = dOutput;
  let dx = new Float64Array(0);
  for (let layer = shape.numLayers - 1; layer >= 0; layer--) {
    const E = layer === 0 ? shape.inputSize : D * R;
    dx = new Float64Array(T * B * E);
    for (let d = 0; d < D; d++) {
      const p = cellWeights(shape, params, layer, d === 1);
      const suffix = `l${layer}${d === 1 ? '_reverse' : ''}`;
      const cellGrads: CellGrads = {
        dWih: grads.get(`weight_ih_${suffix}`)!,
        dWhh: grads.get(`weight_hh_${suffix}`)!,
        dBih: grads.get(`bias_ih_${suffix}`),
        dBhh: grads.get(`bias_hh_${suffix}`),
        dWhr: grads.get(`weight_hr_${suffix}`),
      };
      const slot = layer * D + d;
      let dh: Float64Array = dhN ? dhN.slice(slot * B * R, (slot + 1) * B * R) : new Float64Array(B * R);
      let dc: Float64Array | undefined = isLstm ? (dcN ? dcN.slice(slot * B * H, (slot + 1) * B * H) : new Float64Array(B * H)) : undefined;
      // Walk the steps in the opposite order to the forward pass.
      for (let s = T - 1; s >= 0; s--) {
        const t = d === 0 ? s : T - 1 - s;
        const cache = forward.caches[slot]![t]!;
        const dhStep = Float64Array.from(dh);
        for (let b = 0; b < B; b++) {
          if (!cache.active[b]) continue;
          for (let j = 0; j < R; j++) dhStep[b * R + j]! += dLayerOutput[(t * B + b) * D * R + d * R + j]!;
        }
        const back = cellBackward(shape.kind, p, cache, dhStep, dc, cellGrads, H);
        dh = back.dhPrev;
        const recurrentMask = inputs.recurrentMasks?.[slot];
        if (recurrentMask) {
          // active rows read h ⊙ m; padded rows passed h through unmasked
          for (let b = 0; b < B; b++) {
            if (!cache.active[b]) continue;
            for (let j = 0; j < R; j++) dh[b * R + j]! *= recurrentMask[b * R + j]!;
          }
        }
        dc = back.dcPrev;
        for (let i = 0; i < B * E; i++) dx[t * B * E + i]! += back.dx[i]!;
      }
      dh0.set(dh, slot * B * R);
      if (dc0 && dc) dc0.set(dc, slot * B * H);
    }
    if (layer > 0 && inputs.dropoutMasks) {
      const mask = inputs.dropoutMasks[layer - 1]!;
      dx = dx.map((v, i) => v * mask[i]!);
    }
    dLayerOutput = dx;
  }
  return { dx, dh0, dc0, grads };
}
