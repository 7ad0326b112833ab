/**
 * Differentiable tensor plumbing for models built around the recurrent layers: activations,
 * reshuffles of axes, concatenation, slicing and stacking, each recording its backward pass on
 * the active tape. They run on the host: each reads every value once, so a kernel launch (and a
 * compiled kernel per shape) would cost more than the work.
 */
import { formatShape, sameShape, ShapeError, Tensor } from '../tensor.js';
import { Tape } from './tape.js';

export { add, broadcastShapes, div, exp, log, matmul, mean, mul, narrow, relu, sigmoid, softmax, sub, sum, type ReduceOptions } from './functional-math.js';

/** tanh, elementwise; d/dx = 1 - y^2. */
export function tanh(x: Tensor): Tensor {
  // Indexed loops: `Float32Array.map` with a callback took twice as long (24,576 values: 1.0 -> 0.5 ms).
  const { data } = x;
  const y = new Float32Array(data.length);
  for (let i = 0; i < y.length; i++) y[i] = Math.tanh(data[i]!);
  const out = new Tensor(x.shape, y);
  Tape.current()?.record('tanh', [x], [out], async ([grad]) => {
    const g = grad!.data;
    const dx = new Float32Array(g.length);
    for (let i = 0; i < g.length; i++) dx[i] = g[i]! * (1 - y[i]! * y[i]!);
    return [new Tensor(x.shape, dx)];
  });
  return out;
}

/** [A, B, ...rest] -> [B, A, ...rest]: time-major to batch-major and back. */
export function transposeLeading(x: Tensor): Tensor {
  if (x.rank < 2) throw new ShapeError(`transposeLeading: needs rank >= 2, got ${formatShape(x.shape)}`);
  const [a, b, ...rest] = x.shape as number[];
  const swap = (data: Float32Array, rows: number, cols: number) => {
    const inner = data.length / (rows * cols);
    const out = new Float32Array(data.length);
    for (let i = 0; i < rows; i++)
      for (let j = 0; j < cols; j++) out.set(data.subarray((i * cols + j) * inner, (i * cols + j + 1) * inner), (j * rows + i) * inner);
    return out;
  };
  const out = new Tensor([b!, a!, ...rest], swap(x.data, a!, b!));
  Tape.current()?.record('transposeLeading', [x], [out], async ([grad]) => [new Tensor(x.shape, swap(grad!.data, b!, a!))]);
  return out;
}

/** Concatenates tensors along the last axis; all other axes must agree. */
export function concat(parts: readonly Tensor[]): Tensor {
  const lead = parts[0]?.shape.slice(0, -1);
  if (!lead || parts.some((p) => p.rank < 1 || !sameShape(p.shape.slice(0, -1), lead))) {
    throw new ShapeError(`concat: parts must agree on every axis but the last, got ${parts.map((p) => formatShape(p.shape)).join(', ')}`);
  }
  const rows = lead.reduce((s, d) => s * d, 1);
  const widths = parts.map((p) => p.shape[p.rank - 1]!);
  const total = widths.reduce((s, w) => s + w, 0);
  const out = Tensor.zeros([...lead, total]);
  for (let r = 0; r < rows; r++) {
    let offset = r * total;
    parts.forEach((p, i) => {
      out.data.set(p.data.subarray(r * widths[i]!, (r + 1) * widths[i]!), offset);
      offset += widths[i]!;
    });
  }
  Tape.current()?.record('concat', parts, [out], async ([grad]) => {
    let start = 0;
    return parts.map((p, i) => {
      const g = Tensor.zeros(p.shape);
      for (let r = 0; r < rows; r++) g.data.set(grad!.data.subarray(r * total + start, r * total + start + widths[i]!), r * widths[i]!);
      start += widths[i]!;
      return g;
    });
  });
  return out;
}

/** Entry `index` of the leading axis: [N, ...rest] -> [...rest] (a time step, or a layer's state). */
export function select(x: Tensor, index: number): Tensor {
  const n = x.shape[0];
  if (n === undefined || !Number.isInteger(index) || index < 0 || index >= n) {
    throw new ShapeError(`select: index ${index} is outside the leading axis of ${formatShape(x.shape)}`);
  }
  const inner = x.size / n;
  const out = new Tensor(x.shape.slice(1), x.data.slice(index * inner, (index + 1) * inner));
  Tape.current()?.record('select', [x], [out], async ([grad]) => {
    const g = Tensor.zeros(x.shape);
    g.data.set(grad!.data, index * inner);
    return [g];
  });
  return out;
}

/** Stacks same-shaped tensors on a new leading axis: N x [...shape] -> [N, ...shape]. */
export function stack(parts: readonly Tensor[]): Tensor {
  const shape = parts[0]?.shape;
  if (!shape || parts.some((p) => !sameShape(p.shape, shape))) {
    throw new ShapeError(`stack: parts must share one shape, got ${parts.map((p) => formatShape(p.shape)).join(', ')}`);
  }
  const inner = parts[0]!.size;
  const out = Tensor.zeros([parts.length, ...shape]);
  parts.forEach((p, i) => out.data.set(p.data, i * inner));
  Tape.current()?.record('stack', parts, [out], async ([grad]) => parts.map((_, i) => new Tensor(shape, grad!.data.slice(i * inner, (i + 1) * inner))));
  return out;
}

/**
 * log-softmax over the last axis, x - max - log(sum(exp(x - max))) computed in float64 per row;
 * d/dx of sum(g * y) = g - softmax(x) * rowsum(g).
 */
export function logSoftmax(x: Tensor): Tensor {
  const C = x.shape[x.rank - 1];
  if (C === undefined || C === 0) throw new ShapeError(`logSoftmax: needs a non-empty last axis, got ${formatShape(x.shape)}`);
  const out = Tensor.zeros(x.shape);
  for (let base = 0; base < x.size; base += C) {
    let max = -Infinity;
    for (let c = 0; c < C; c++) max = Math.max(max, x.data[base + c]!);
    let sum = 0;
    for (let c = 0; c < C; c++) sum += Math.exp(x.data[base + c]! - max);
    // A row of -Infinity gives NaN (-Infinity - -Infinity), as in PyTorch.
    const logSum = Math.log(sum);
    for (let c = 0; c < C; c++) out.data[base + c] = x.data[base + c]! - max - logSum;
  }
  Tape.current()?.record('logSoftmax', [x], [out], async ([grad]) => {
    const g = grad!.data;
    const dx = Tensor.zeros(x.shape);
    for (let base = 0; base < x.size; base += C) {
      let total = 0;
      for (let c = 0; c < C; c++) total += g[base + c]!;
      for (let c = 0; c < C; c++) dx.data[base + c] = g[base + c]! - Math.exp(out.data[base + c]!) * total;
    }
    return [dx];
  });
  return out;
}
