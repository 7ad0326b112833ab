import type { Backend, KernelSpec } from '../backend/backend.js';
import { formatShape, Tensor, type Shape } from '../tensor.js';
import { expectTensor, kernelKey, opError, runKernel, type KernelThis } from './common.js';

export interface ReduceOptions {
  /** Axis to reduce (negative counts from the end); omitted: every axis, giving a scalar. */
  readonly axis?: number;
  /** Keep the reduced axis with size 1. Default false. */
  readonly keepDims?: boolean;
}

/**
 * The input viewed as [outer, n, inner]; each thread sums the n values of one (outer, inner)
 * pair and multiplies by `scale` (1 for sum, 1/n for mean).
 */
function reduceSource(this: KernelThis, x: Float32Array): number {
  const cell = this.thread.x;
  const outer = floorDiv(cell, this.constants.inner!);
  const inner = cell - outer * this.constants.inner!;
  const base = outer * this.constants.n! * this.constants.inner! + inner;
  let sum = 0;
  for (let k = 0; k < this.constants.n!; k++) {
    sum += x[base + k * this.constants.inner!]!;
  }
  return sum * this.constants.scale!;
}

export function planReduce(kind: 'sum' | 'mean', shape: Shape, options: ReduceOptions = {}): { spec: KernelSpec; outputShape: Shape } {
  let outer = 1;
  let n: number;
  let inner = 1;
  let outputShape: number[];
  if (options.axis === undefined) {
    n = shape.reduce((size, dim) => size * dim, 1);
    outputShape = options.keepDims ? shape.map(() => 1) : [];
  } else {
    const axis = options.axis < 0 ? shape.length + options.axis : options.axis;
    if (!Number.isInteger(axis) || axis < 0 || axis >= shape.length) {
      throw opError(kind, `axis ${options.axis} is out of range for shape ${formatShape(shape)}`);
    }
    shape.forEach((dim, i) => {
      if (i < axis) outer *= dim;
      if (i > axis) inner *= dim;
    });
    n = shape[axis]!;
    outputShape = options.keepDims ? shape.map((dim, i) => (i === axis ? 1 : dim)) : shape.filter((_, i) => i !== axis);
  }
  const scale = kind === 'sum' || n === 0 ? 1 : 1 / n;
  const constants = { n, inner, scale };
  return {
    spec: { key: kernelKey('reduce', { ...constants, outer }), source: reduceSource, outputSize: outer * inner, constants },
    outputShape,
  };
}

async function reduce(kind: 'sum' | 'mean', backend: Backend, x: Tensor, options: ReduceOptions): Promise<Tensor> {
  expectTensor(kind, 'x', x);
  const plan = planReduce(kind, x.shape, options);
  // Reducing an empty axis: the sum of nothing is 0 and its mean NaN, as in numpy and PyTorch.
  if (x.size === 0) return Tensor.full(plan.outputShape, kind === 'sum' ? 0 : Number.NaN);
  return runKernel(backend, plan.spec, plan.outputShape, [x]);
}

/** Sum over one axis or all of them. */
export const sum = (backend: Backend, x: Tensor, options: ReduceOptions = {}) => reduce('sum', backend, x, options);
/** Mean over one axis or all of them. */
export const mean = (backend: Backend, x: Tensor, options: ReduceOptions = {}) => reduce('mean', backend, x, options);
