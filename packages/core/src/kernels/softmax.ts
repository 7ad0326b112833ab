import type { Backend, KernelSpec } from '../backend/backend.js';
import { formatShape, Tensor } from '../tensor.js';
import { expectTensor, kernelKey, opError, runKernel, type KernelThis } from './common.js';

/** The maximum of each row of x [R, C]. */
function rowMaxSource(this: KernelThis, x: Float32Array): number {
  const base = this.thread.x * this.constants.C!;
  let m = x[base]!;
  for (let c = 1; c < this.constants.C!; c++) {
    m = Math.max(m, x[base + c]!);
  }
  return m;
}

/** log(sum_c exp(x[r, c] - max[r])): every exponent is <= 0, so nothing overflows. */
function rowLogSumExpShiftedSource(this: KernelThis, x: Float32Array, max: Float32Array): number {
  const base = this.thread.x * this.constants.C!;
  const m = max[this.thread.x]!;
  let sum = 0;
  for (let c = 0; c < this.constants.C!; c++) {
    sum += Math.exp(x[base + c]! - m);
  }
  return Math.log(sum);
}

/**
 * log-softmax (op 0) = (x - max) - logSum; softmax (op 1) = exp of that. Subtracting the max
 * first keeps the difference exact, where x - (max + logSum) would lose the bits of logSum
 * next to a large max.
 */
function normaliseSource(this: KernelThis, x: Float32Array, max: Float32Array, logSum: Float32Array): number {
  const cell = this.thread.x;
  const row = floorDiv(cell, this.constants.C!);
  const shifted = x[cell]! - max[row]! - logSum[row]!;
  if (this.constants.op === 0) {
    return shifted;
  }
  return Math.exp(shifted);
}

export function planRowMax(rows: number, classes: number): KernelSpec {
  const constants = { C: classes };
  return { key: kernelKey('rowMax', { ...constants, R: rows }), source: rowMaxSource, outputSize: rows, constants };
}

export function planRowLogSumExpShifted(rows: number, classes: number): KernelSpec {
  const constants = { C: classes };
  return {
    key: kernelKey('rowLogSumExpShifted', { ...constants, R: rows }),
    source: rowLogSumExpShiftedSource,
    outputSize: rows,
    constants,
  };
}

export function planNormalise(kind: 'logSoftmax' | 'softmax', rows: number, classes: number): KernelSpec {
  const constants = { C: classes, op: kind === 'logSoftmax' ? 0 : 1 };
  return { key: kernelKey('normalise', { ...constants, R: rows }), source: normaliseSource, outputSize: rows * classes, constants };
}

async function normalise(kind: 'logSoftmax' | 'softmax', backend: Backend, x: Tensor): Promise<Tensor> {
  expectTensor(kind, 'x', x);
  const classes = x.shape[x.rank - 1];
  if (classes === undefined || classes === 0) {
    throw opError(kind, `x needs a non-empty last axis to normalise over, got shape ${formatShape(x.shape)}`);
  }
  const rows = x.size / classes;
  if (rows === 0) return Tensor.zeros(x.shape);
  const max = await runKernel(backend, planRowMax(rows, classes), [rows], [x]);
  const logSum = await runKernel(backend, planRowLogSumExpShifted(rows, classes), [rows], [x, max]);
  return runKernel(backend, planNormalise(kind, rows, classes), x.shape, [x, max, logSum]);
}

/** Softmax over the last axis, numerically stable (max subtracted). */
export const softmax = (backend: Backend, x: Tensor) => normalise('softmax', backend, x);
/** Log-softmax over the last axis, numerically stable (log-sum-exp with the max subtracted). */
export const logSoftmax = (backend: Backend, x: Tensor) => normalise('logSoftmax', backend, x);
