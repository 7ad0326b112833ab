/**
 * Float64 references for every kernel, written as plain loops to be read, not to be fast.
 * Kernel tests compare each backend's f32 output with these; the gradients here are checked
 * against finite differences (see test/reference.test.ts).
 */
import { broadcastShapes } from '../kernels/elementwise.js';
import { shapeSize, type Shape, type Tensor } from '../tensor.js';

export interface Tensor64 {
  readonly shape: Shape;
  readonly data: Float64Array;
}

export function tensor64(shape: Shape, values?: ArrayLike<number>): Tensor64 {
  const data = values ? Float64Array.from(values) : new Float64Array(shapeSize(shape));
  if (data.length !== shapeSize(shape)) throw new Error(`tensor64: shape [${shape}] needs ${shapeSize(shape)} values`);
  return { shape: [...shape], data };
}

/** The float64 twin of a float32 Tensor (same values, widened). */
export function widen(t: Tensor): Tensor64 {
  return tensor64(t.shape, t.data);
}

/** Matrix product of [P?, M, K] x [P?, K, N] with optional transposes; a batch of 1 broadcasts. */
export function matmulRef(a: Tensor64, b: Tensor64, transA = false, transB = false): Tensor64 {
  const [aRows, aCols] = a.shape.slice(-2) as [number, number];
  const [bRows, bCols] = b.shape.slice(-2) as [number, number];
  const M = transA ? aCols : aRows;
  const K = transA ? aRows : aCols;
  const N = transB ? bRows : bCols;
  const aBatches = a.shape.length === 3 ? a.shape[0]! : 1;
  const bBatches = b.shape.length === 3 ? b.shape[0]! : 1;
  const P = Math.max(aBatches, bBatches);
  const batched = a.shape.length === 3 || b.shape.length === 3;
  const out = tensor64(batched ? [P, M, N] : [M, N]);
  const aAt = (p: number, m: number, k: number) =>
    a.data[(aBatches === 1 ? 0 : p * M * K) + (transA ? k * M + m : m * K + k)]!;
  const bAt = (p: number, k: number, n: number) =>
    b.data[(bBatches === 1 ? 0 : p * K * N) + (transB ? n * K + k : k * N + n)]!;
  for (let p = 0; p < P; p++)
    for (let m = 0; m < M; m++)
      for (let n = 0; n < N; n++) {
        let sum = 0;
        for (let k = 0; k < K; k++) sum += aAt(p, m, k) * bAt(p, k, n);
        out.data[p * M * N + m * N + n] = sum;
      }
  return out;
}

/** Elementwise a (op) b with numpy broadcasting. */
export function binaryRef(op: 'add' | 'sub' | 'mul' | 'div', a: Tensor64, b: Tensor64): Tensor64 {
  const shape = broadcastShapes(op, a.shape, b.shape);
  const out = tensor64(shape);
  const index = new Array<number>(shape.length).fill(0);
  // Flat offset of the current output index in an operand, reading axis i of size 1 at 0.
  const offset = (t: Tensor64) => {
    let flat = 0;
    const lead = shape.length - t.shape.length;
    t.shape.forEach((dim, i) => (flat = flat * dim + (dim === 1 ? 0 : index[lead + i]!)));
    return flat;
  };
  for (let cell = 0; cell < out.data.length; cell++) {
    let rest = cell;
    for (let axis = shape.length - 1; axis >= 0; axis--) {
      index[axis] = rest % shape[axis]!;
      rest = Math.floor(rest / shape[axis]!);
    }
    const x = a.data[offset(a)]!;
    const y = b.data[offset(b)]!;
    out.data[cell] = op === 'add' ? x + y : op === 'sub' ? x - y : op === 'mul' ? x * y : x / y;
  }
  return out;
}

export const sigmoid64 = (x: number) => 1 / (1 + Math.exp(-x));

export function unaryRef(op: 'tanh' | 'sigmoid' | 'relu', x: Tensor64): Tensor64 {
  const f = op === 'tanh' ? Math.tanh : op === 'sigmoid' ? sigmoid64 : (v: number) => Math.max(v, 0);
  return tensor64(x.shape, x.data.map(f));
}

/** log-softmax over the last axis: x - max - log(sum(exp(x - max))). */
export function logSoftmaxRef(x: Tensor64): Tensor64 {
  const C = x.shape[x.shape.length - 1]!;
  const out = tensor64(x.shape);
  for (let base = 0; base < x.data.length; base += C) {
    const row = x.data.subarray(base, base + C);
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
    for (let c = 0; c < C; c++) out.data[base + c] = row[c]! - lse;
  }
  return out;
}

export function softmaxRef(x: Tensor64): Tensor64 {
  const log = logSoftmaxRef(x);
  return tensor64(x.shape, log.data.map(Math.exp));
}

/** Gradient of sum(gradOut * logSoftmax(x)) wrt x: gradOut - softmax(x) * rowsum(gradOut). */
export function logSoftmaxBackwardRef(x: Tensor64, gradOut: Tensor64): Tensor64 {
  const C = x.shape[x.shape.length - 1]!;
  const p = softmaxRef(x);
  const grad = tensor64(x.shape);
  for (let base = 0; base < x.data.length; base += C) {
    let total = 0;
    for (let c = 0; c < C; c++) total += gradOut.data[base + c]!;
    for (let c = 0; c < C; c++) grad.data[base + c] = gradOut.data[base + c]! - p.data[base + c]! * total;
  }
  return grad;
}

/** Sum (or mean) over one axis, or over all axes when axis is undefined. */
export function reduceRef(kind: 'sum' | 'mean', x: Tensor64, axis?: number): Tensor64 {
  if (axis === undefined) {
    const total = x.data.reduce((s, v) => s + v, 0);
    return tensor64([], [kind === 'sum' ? total : total / x.data.length]);
  }
  const a = axis < 0 ? x.shape.length + axis : axis;
  const outer = shapeSize(x.shape.slice(0, a));
  const n = x.shape[a]!;
  const inner = shapeSize(x.shape.slice(a + 1));
  const out = tensor64(x.shape.filter((_, i) => i !== a));
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      let total = 0;
      for (let k = 0; k < n; k++) total += x.data[(o * n + k) * inner + i]!;
      out.data[o * inner + i] = kind === 'sum' ? total : total / n;
    }
  return out;
}

/** Rows of table [V, E] picked by integer indices: [...indices.shape, E]. */
export function gatherRef(table: Tensor64, indices: Tensor64): Tensor64 {
  const E = table.shape[1]!;
  const out = tensor64([...indices.shape, E]);
  indices.data.forEach((row, i) => out.data.set(table.data.subarray(row * E, row * E + E), i * E));
  return out;
}

/** Gradient of gather wrt its table: each row of gradOut added into the row its index names. */
export function scatterAddRef(gradOut: Tensor64, indices: Tensor64, rows: number): Tensor64 {
  const E = gradOut.shape[gradOut.shape.length - 1]!;
  const out = tensor64([rows, E]);
  indices.data.forEach((row, i) => {
    for (let e = 0; e < E; e++) out.data[row * E + e]! += gradOut.data[i * E + e]!;
  });
  return out;
}

/**
 * Central finite differences of a scalar function: d f / d x[i] ~ (f(x + h e_i) - f(x - h e_i)) / 2h.
 * In float64 with h = 1e-6 this agrees with an exact gradient to about 1e-8.
 */
export function numericGradient(f: (x: Float64Array) => number, x: Float64Array, h = 1e-6): Float64Array {
  const grad = new Float64Array(x.length);
  const probe = Float64Array.from(x);
  for (let i = 0; i < x.length; i++) {
    probe[i] = x[i]! + h;
    const up = f(probe);
    probe[i] = x[i]! - h;
    const down = f(probe);
    probe[i] = x[i]!;
    grad[i] = (up - down) / (2 * h);
  }
  return grad;
}

export * from './recurrent.js';
export { ctcLossReference, logAddExp, type CtcReferenceResult } from './ctc.js';
