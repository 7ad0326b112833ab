/**
 * Differentiable arithmetic for the glue of custom models, as torch's functions of the same
 * names: elementwise operations with NumPy broadcasting, activations, softmax, sums and means,
 * and matrix products. Each runs on the host in float32 and records its backward pass on the
 * active tape. For the heavy products of a model use the layers (Linear, the recurrent layers,
 * Attention), whose kernels run on the backend; these are for what lies between them (a residual
 * sum, a gate, a pooled score).
 */
import { formatShape, ShapeError, Tensor, type Shape } from '../tensor.js';
import { Tape } from './tape.js';

/** The shape two shapes broadcast to (NumPy's rules: align the trailing axes; 1 stretches). */
export function broadcastShapes(a: Shape, b: Shape, op = 'broadcast'): number[] {
  const rank = Math.max(a.length, b.length);
  return Array.from({ length: rank }, (_, i) => {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new ShapeError(`${op}: shapes ${formatShape(a)} and ${formatShape(b)} do not broadcast (axis ${i}: ${da} and ${db})`);
    return Math.max(da, db);
  });
}

/** For each element of `out` (row-major), the index of the element of a tensor of `shape` it reads. */
function broadcastIndex(shape: Shape, out: readonly number[]): Int32Array {
  const rank = out.length;
  const strides = new Array<number>(rank).fill(0);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const axis = rank - shape.length + i;
    strides[axis] = shape[i] === 1 ? 0 : stride;
    stride *= shape[i]!;
  }
  const size = out.reduce((s, d) => s * d, 1);
  const index = new Int32Array(size);
  const counter = new Array<number>(rank).fill(0);
  let at = 0;
  for (let o = 0; o < size; o++) {
    index[o] = at;
    for (let axis = rank - 1; axis >= 0; axis--) {
      counter[axis]!++;
      at += strides[axis]!;
      if (counter[axis]! < out[axis]!) break;
      at -= strides[axis]! * counter[axis]!;
      counter[axis] = 0;
    }
  }
  return index;
}

type Operand = Tensor | number;
const asTensor = (x: Operand) => (typeof x === 'number' ? Tensor.from([], [x]) : x);

/**
 * One elementwise binary operation with broadcasting: `value(x, y)` and its partial derivatives
 * `dx(x, y, z)`, `dy(x, y, z)` (z the result). Gradients of broadcast operands are summed over the
 * axes they were stretched along, as autograd does; a number operand gets none.
 */
function binary(
  name: string, a: Operand, b: Operand, value: (x: number, y: number) => number,
  dx: (x: number, y: number, z: number) => number, dy: (x: number, y: number, z: number) => number,
): Tensor {
  const ta = asTensor(a);
  const tb = asTensor(b);
  const shape = broadcastShapes(ta.shape, tb.shape, name);
  const ia = broadcastIndex(ta.shape, shape);
  const ib = broadcastIndex(tb.shape, shape);
  const x = ta.data;
  const y = tb.data;
  const z = new Float32Array(ia.length);
  for (let o = 0; o < z.length; o++) z[o] = value(x[ia[o]!]!, y[ib[o]!]!);
  const out = new Tensor(shape, z);
  Tape.current()?.record(name, [typeof a === 'number' ? undefined : ta, typeof b === 'number' ? undefined : tb], [out], async ([grad]) => {
    const g = grad!.data;
    // float64 sums: a broadcast operand's gradient adds up many values
    const ga = new Float64Array(x.length);
    const gb = new Float64Array(y.length);
    for (let o = 0; o < g.length; o++) {
      const xo = x[ia[o]!]!;
      const yo = y[ib[o]!]!;
      ga[ia[o]!]! += g[o]! * dx(xo, yo, z[o]!);
      gb[ib[o]!]! += g[o]! * dy(xo, yo, z[o]!);
    }
    return [new Tensor(ta.shape, Float32Array.from(ga)), new Tensor(tb.shape, Float32Array.from(gb))];
  });
  return out;
}

/** a + b, broadcasting (torch.add); either may be a number. */
export function add(a: Operand, b: Operand): Tensor {
  return binary('add', a, b, (x, y) => x + y, () => 1, () => 1);
}

/** a - b, broadcasting (torch.sub). */
export function sub(a: Operand, b: Operand): Tensor {
  return binary('sub', a, b, (x, y) => x - y, () => 1, () => -1);
}

/** a * b, broadcasting (torch.mul). */
export function mul(a: Operand, b: Operand): Tensor {
  return binary('mul', a, b, (x, y) => x * y, (_, y) => y, (x) => x);
}

/** a / b, broadcasting (torch.div). */
export function div(a: Operand, b: Operand): Tensor {
  return binary('div', a, b, (x, y) => x / y, (_, y) => 1 / y, (_, y, z) => -z / y);
}

/** One elementwise function and its derivative `d(x, y)` (y the result). */
function unary(name: string, x: Tensor, value: (x: number) => number, d: (x: number, y: number) => number): Tensor {
  const input = x.data;
  const y = new Float32Array(input.length);
  for (let i = 0; i < y.length; i++) y[i] = value(input[i]!);
  const out = new Tensor(x.shape, y);
  Tape.current()?.record(name, [x], [out], async ([grad]) => {
    const g = grad!.data;
    const dx = new Float32Array(g.length);
    for (let i = 0; i < g.length; i++) dx[i] = g[i]! * d(input[i]!, y[i]!);
    return [new Tensor(x.shape, dx)];
  });
  return out;
}

/** 1 / (1 + e^-x) (torch.sigmoid), without overflow for large |x|. */
export function sigmoid(x: Tensor): Tensor {
  return unary('sigmoid', x, (v) => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v))), (_, y) => y * (1 - y));
}

/** max(x, 0) (torch.relu; the gradient at 0 is 0, as PyTorch's). */
export function relu(x: Tensor): Tensor {
  return unary('relu', x, (v) => (v > 0 ? v : 0), (v) => (v > 0 ? 1 : 0));
}

/** e^x (torch.exp). */
export function exp(x: Tensor): Tensor {
  return unary('exp', x, Math.exp, (_, y) => y);
}

/** The natural logarithm (torch.log): -Infinity at 0, NaN below. */
export function log(x: Tensor): Tensor {
  return unary('log', x, Math.log, (v) => 1 / v);
}

/** The axis `dim` of a tensor of `rank` axes, negative counting from the end (PyTorch's convention). */
function axisOf(op: string, dim: number, shape: Shape): number {
  const rank = shape.length;
  if (!Number.isInteger(dim) || dim < -rank || dim >= rank) throw new ShapeError(`${op}: dim ${dim} is outside the ${rank} axes of ${formatShape(shape)}`);
  return dim < 0 ? dim + rank : dim;
}

/** outer x axis x inner: the loops that run along one axis of a row-major tensor. */
function split(shape: Shape, axis: number): [number, number, number] {
  const outer = shape.slice(0, axis).reduce((s, d) => s * d, 1);
  const inner = shape.slice(axis + 1).reduce((s, d) => s * d, 1);
  return [outer, shape[axis]!, inner];
}

/** softmax along `dim` (default the last; torch.softmax), each row shifted by its maximum. */
export function softmax(x: Tensor, dim = -1): Tensor {
  const axis = axisOf('softmax', dim, x.shape);
  const [outer, n, inner] = split(x.shape, axis);
  const y = new Float32Array(x.size);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      let max = -Infinity;
      for (let k = 0; k < n; k++) max = Math.max(max, x.data[base + k * inner]!);
      let total = 0;
      for (let k = 0; k < n; k++) total += Math.exp(x.data[base + k * inner]! - max);
      for (let k = 0; k < n; k++) y[base + k * inner] = Math.exp(x.data[base + k * inner]! - max) / total;
    }
  }
  const out = new Tensor(x.shape, y);
  Tape.current()?.record('softmax', [x], [out], async ([grad]) => {
    // d/dx of sum(g * y) = y * (g - sum(g * y)) along the axis
    const g = grad!.data;
    const dx = new Float32Array(x.size);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const base = o * n * inner + i;
        let dot = 0;
        for (let k = 0; k < n; k++) dot += g[base + k * inner]! * y[base + k * inner]!;
        for (let k = 0; k < n; k++) dx[base + k * inner] = y[base + k * inner]! * (g[base + k * inner]! - dot);
      }
    }
    return [new Tensor(x.shape, dx)];
  });
  return out;
}

export interface ReduceOptions {
  /** The axis to reduce (negative: from the end). Default: every axis, to a scalar. */
  readonly dim?: number;
  /** Keep the reduced axis with size 1. Default false. */
  readonly keepdim?: boolean;
}

/** The sum (or, `averaged`, the mean: each value scaled by 1/n) over one axis or all, summed in float64. */
function reduce(name: string, x: Tensor, options: ReduceOptions, averaged: boolean): Tensor {
  const all = options.dim === undefined;
  const axis = all ? 0 : axisOf(name, options.dim!, x.shape);
  const [outer, n, inner] = all ? [1, x.size, 1] : split(x.shape, axis);
  const scale = averaged ? 1 / n : 1;
  const values = new Float32Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let total = 0;
      for (let k = 0; k < n; k++) total += x.data[(o * n + k) * inner + i]!;
      values[o * inner + i] = total * scale;
    }
  }
  const shape = all
    ? options.keepdim ? x.shape.map(() => 1) : []
    : options.keepdim ? x.shape.map((d, i) => (i === axis ? 1 : d)) : x.shape.filter((_, i) => i !== axis);
  const out = new Tensor(shape, values);
  Tape.current()?.record(name, [x], [out], async ([grad]) => {
    const g = grad!.data;
    const dx = new Float32Array(x.size);
    for (let o = 0; o < outer; o++) for (let k = 0; k < n; k++) for (let i = 0; i < inner; i++) dx[(o * n + k) * inner + i] = g[o * inner + i]! * scale;
    return [new Tensor(x.shape, dx)];
  });
  return out;
}

/** The sum over `dim`, or of every value (torch.sum). */
export function sum(x: Tensor, options: ReduceOptions = {}): Tensor {
  return reduce('sum', x, options, false);
}

/** The mean over `dim`, or of every value (torch.mean). */
export function mean(x: Tensor, options: ReduceOptions = {}): Tensor {
  if (x.size === 0) throw new ShapeError(`mean: ${formatShape(x.shape)} holds no values`);
  return reduce('mean', x, options, true);
}

/**
 * Matrix products as torch.matmul for rank 2 and up: a [..., M, K] x b [..., K, N] -> [..., M, N],
 * the leading (batch) axes broadcast; a rank-2 b is one matrix for every batch. Accumulates in
 * float64 per output value.
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.rank < 2 || b.rank < 2) throw new ShapeError(`matmul: needs matrices (rank >= 2), got ${formatShape(a.shape)} and ${formatShape(b.shape)}`);
  const [M, K] = a.shape.slice(-2) as [number, number];
  const [K2, N] = b.shape.slice(-2) as [number, number];
  if (K !== K2) throw new ShapeError(`matmul: ${formatShape(a.shape)} x ${formatShape(b.shape)}: the inner sizes ${K} and ${K2} differ`);
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2), 'matmul');
  const ia = broadcastIndex(a.shape.slice(0, -2), batch);
  const ib = broadcastIndex(b.shape.slice(0, -2), batch);
  const x = a.data;
  const y = b.data;
  const z = new Float32Array(ia.length * M * N);
  for (let p = 0; p < ia.length; p++) {
    const xa = ia[p]! * M * K;
    const yb = ib[p]! * K * N;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let total = 0;
        for (let k = 0; k < K; k++) total += x[xa + m * K + k]! * y[yb + k * N + n]!;
        z[(p * M + m) * N + n] = total;
      }
    }
  }
  const out = new Tensor([...batch, M, N], z);
  Tape.current()?.record('matmul', [a, b], [out], async ([grad]) => {
    // dA = G B^T, dB = A^T G, each summed over the batches an operand was broadcast to
    const g = grad!.data;
    const ga = new Float64Array(x.length);
    const gb = new Float64Array(y.length);
    for (let p = 0; p < ia.length; p++) {
      const xa = ia[p]! * M * K;
      const yb = ib[p]! * K * N;
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          const gv = g[(p * M + m) * N + n]!;
          if (gv === 0) continue;
          for (let k = 0; k < K; k++) {
            ga[xa + m * K + k]! += gv * y[yb + k * N + n]!;
            gb[yb + k * N + n]! += gv * x[xa + m * K + k]!;
          }
        }
      }
    }
    return [new Tensor(a.shape, Float32Array.from(ga)), new Tensor(b.shape, Float32Array.from(gb))];
  });
  return out;
}

/** The `length` entries of axis `dim` from `start` (torch.narrow): a copy, differentiable. */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  const axis = axisOf('narrow', dim, x.shape);
  const [outer, n, inner] = split(x.shape, axis);
  if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 0 || start + length > n) {
    throw new ShapeError(`narrow: entries ${start} to ${start + length} are outside axis ${axis} (size ${n}) of ${formatShape(x.shape)}`);
  }
  const y = new Float32Array(outer * length * inner);
  for (let o = 0; o < outer; o++) y.set(x.data.subarray((o * n + start) * inner, (o * n + start + length) * inner), o * length * inner);
  const out = new Tensor(x.shape.map((d, i) => (i === axis ? length : d)), y);
  Tape.current()?.record('narrow', [x], [out], async ([grad]) => {
    const dx = new Float32Array(x.size);
    for (let o = 0; o < outer; o++) dx.set(grad!.data.subarray(o * length * inner, (o + 1) * length * inner), (o * n + start) * inner);
    return [new Tensor(x.shape, dx)];
  });
  return out;
}
