import type { Backend, KernelSpec } from '../backend/backend.js';
import { formatShape, type Shape, type Tensor } from '../tensor.js';
import { expectTensor, kernelKey, opError, runKernel, type KernelThis } from './common.js';

export const BINARY_OPS = ['add', 'sub', 'mul', 'div'] as const;
export type BinaryOp = (typeof BINARY_OPS)[number];
export const UNARY_OPS = ['tanh', 'sigmoid', 'relu'] as const;
export type UnaryOp = (typeof UNARY_OPS)[number];

/** Broadcasting kernels address up to this many axes (after leading ones are dropped). */
const MAX_RANK = 4;

/**
 * out[i0,i1,i2,i3] = a[...] (op) b[...], each operand read through its own strides, with stride 0
 * on an axis it broadcasts along (numpy rules, shapes right-aligned).
 */
function binarySource(this: KernelThis, a: Float32Array, b: Float32Array): number {
  const cell = this.thread.x;
  const i0 = floorDiv(cell, this.constants.p1!);
  let rest = cell - i0 * this.constants.p1!;
  const i1 = floorDiv(rest, this.constants.p2!);
  rest = rest - i1 * this.constants.p2!;
  const i2 = floorDiv(rest, this.constants.p3!);
  const i3 = rest - i2 * this.constants.p3!;
  const x = a[i0 * this.constants.a0! + i1 * this.constants.a1! + i2 * this.constants.a2! + i3 * this.constants.a3!]!;
  const y = b[i0 * this.constants.b0! + i1 * this.constants.b1! + i2 * this.constants.b2! + i3 * this.constants.b3!]!;
  if (this.constants.op === 0) {
    return x + y;
  }
  if (this.constants.op === 1) {
    return x - y;
  }
  if (this.constants.op === 2) {
    return x * y;
  }
  return x / y;
}

/** The shape two operands broadcast to, or a ShapeError naming both. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let axis = 0; axis < rank; axis++) {
    const da = a[a.length - rank + axis] ?? 1;
    const db = b[b.length - rank + axis] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw opError(op, `shapes ${formatShape(a)} and ${formatShape(b)} do not broadcast (axis ${axis}: ${da} vs ${db})`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Row-major strides of `shape` seen from `outRank` right-aligned axes, 0 where it broadcasts. */
function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const strides = new Array<number>(outShape.length).fill(0);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const axis = outShape.length - shape.length + i;
    strides[axis] = shape[i] === 1 && outShape[axis] !== 1 ? 0 : stride;
    stride *= shape[i]!;
  }
  return strides;
}

export function planBinary(op: BinaryOp, aShape: Shape, bShape: Shape): { spec: KernelSpec; outputShape: Shape } {
  const outputShape = broadcastShapes(op, aShape, bShape);
  // Drop leading axes of size one, then pad on the left to exactly MAX_RANK axes.
  const first = outputShape.findIndex((d) => d !== 1);
  const trimmed = first < 0 ? [] : outputShape.slice(first);
  if (trimmed.length > MAX_RANK) {
    throw opError(op, `broadcasting supports up to ${MAX_RANK} axes, got output shape ${formatShape(outputShape)}`);
  }
  const pad = (values: number[], fill: number) => [...new Array<number>(MAX_RANK - values.length).fill(fill), ...values];
  const out = pad(trimmed, 1);
  const aStrides = pad(broadcastStrides(aShape, outputShape).slice(outputShape.length - trimmed.length), 0);
  const bStrides = pad(broadcastStrides(bShape, outputShape).slice(outputShape.length - trimmed.length), 0);
  const constants = {
    op: BINARY_OPS.indexOf(op),
    p1: out[1]! * out[2]! * out[3]!,
    p2: out[2]! * out[3]!,
    p3: out[3]!,
    a0: aStrides[0]!, a1: aStrides[1]!, a2: aStrides[2]!, a3: aStrides[3]!,
    b0: bStrides[0]!, b1: bStrides[1]!, b2: bStrides[2]!, b3: bStrides[3]!,
  };
  const size = out[0]! * constants.p1;
  return {
    spec: { key: kernelKey('binary', { ...constants, size }), source: binarySource, outputSize: size, constants },
    outputShape,
  };
}

async function binary(op: BinaryOp, backend: Backend, a: Tensor, b: Tensor): Promise<Tensor> {
  expectTensor(op, 'a', a);
  expectTensor(op, 'b', b);
  const plan = planBinary(op, a.shape, b.shape);
  return runKernel(backend, plan.spec, plan.outputShape, [a, b]);
}

/** a + b with numpy broadcasting. */
export const add = (backend: Backend, a: Tensor, b: Tensor) => binary('add', backend, a, b);
/** a - b with numpy broadcasting. */
export const sub = (backend: Backend, a: Tensor, b: Tensor) => binary('sub', backend, a, b);
/** a * b with numpy broadcasting. */
export const mul = (backend: Backend, a: Tensor, b: Tensor) => binary('mul', backend, a, b);
/** a / b with numpy broadcasting. */
export const div = (backend: Backend, a: Tensor, b: Tensor) => binary('div', backend, a, b);

/** x [..., H] + bias [H]: the bias broadcast over every leading axis. */
export async function addBias(backend: Backend, x: Tensor, bias: Tensor): Promise<Tensor> {
  expectTensor('addBias', 'x', x);
  expectTensor('addBias', 'bias', bias);
  const features = x.shape[x.rank - 1];
  if (bias.rank !== 1 || features === undefined || bias.shape[0] !== features) {
    throw opError('addBias', `bias must have shape [${features ?? 'H'}] for x ${formatShape(x.shape)}, got ${formatShape(bias.shape)}`);
  }
  return binary('add', backend, x, bias);
}

/**
 * tanh, sigmoid or relu, one cell per thread. Sigmoid is written 1 / (1 + e^-x): for very
 * negative x, e^-x overflows to +inf and the result is the correct limit 0, never NaN.
 */
function unarySource(this: KernelThis, x: Float32Array): number {
  const v = x[this.thread.x]!;
  if (this.constants.op === 0) {
    return Math.tanh(v);
  }
  if (this.constants.op === 1) {
    return 1 / (1 + Math.exp(-v));
  }
  return Math.max(v, 0);
}

export function planUnary(op: UnaryOp, size: number): KernelSpec {
  const constants = { op: UNARY_OPS.indexOf(op) };
  return { key: kernelKey('unary', { ...constants, size }), source: unarySource, outputSize: size, constants };
}

async function unary(op: UnaryOp, backend: Backend, x: Tensor): Promise<Tensor> {
  expectTensor(op, 'x', x);
  return runKernel(backend, planUnary(op, x.size), x.shape, [x]);
}

export const tanh = (backend: Backend, x: Tensor) => unary('tanh', backend, x);
export const sigmoid = (backend: Backend, x: Tensor) => unary('sigmoid', backend, x);
export const relu = (backend: Backend, x: Tensor) => unary('relu', backend, x);
