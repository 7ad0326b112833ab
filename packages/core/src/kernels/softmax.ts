import type { Backend, KernelSpec } from '../backend/backend.js';
import { formatShape, Tensor } from '../tensor.js';
import { expectTensor, kernelKey, opError, type KernelThis } from './common.js';

/** The maximum of each row of x [R, C]. */
function rowMaxSource(this: KernelThis, x: Float32Array): number {
  const base = this.thread.x * this.constants.C!;
  let m = x[base]!;
  for (let c = 1; c < this.constants.C!; c++) {
    m = Math.max(m, x[base + c]!);
  }
  return m;
}

/**
 * A quarter of a row's maximum: thread (r, q) takes columns q, q + 4, q + 8, ... of row r of
 * x [R, C], so the four threads of a quad read four neighbouring values (one vector load on
 * webasm, where a thread per row gathers four rows' values one at a time). `rowMaxSource` over
 * the [R, 4] quarters gives the rows' maxima. The row's first value starts every quarter, so
 * one with no column (C < 4) changes nothing.
 */
function rowMaxQuarterSource(this: KernelThis, x: Float32Array): number {
  const cell = this.thread.x;
  const r = floorDiv(cell, 4);
  const base = r * this.constants.C! + cell - r * 4;
  let m = x[r * this.constants.C!]!;
  for (let i = 0; i < this.constants.C4!; i++) {
    m = Math.max(m, x[base + i * 4]!);
  }
  if (cell - r * 4 < this.constants.tail!) {
    m = Math.max(m, x[base + this.constants.C4! * 4]!);
  }
  return m;
}

/** A quarter of sum_c exp(x[r, c] - max[r]), over the columns of `rowMaxQuarterSource`. */
function rowSumExpQuarterSource(this: KernelThis, x: Float32Array, max: Float32Array): number {
  const cell = this.thread.x;
  const r = floorDiv(cell, 4);
  const base = r * this.constants.C! + cell - r * 4;
  const m = max[r]!;
  let sum = 0;
  for (let i = 0; i < this.constants.C4!; i++) {
    sum += Math.exp(x[base + i * 4]! - m);
  }
  if (cell - r * 4 < this.constants.tail!) {
    sum += Math.exp(x[base + this.constants.C4! * 4]! - m);
  }
  return sum;
}

/** log of the sum of each row's four quarters, [R, 4] -> [R]. */
function rowLogOfQuartersSource(this: KernelThis, quarters: Float32Array): number {
  const base = this.thread.x * 4;
  return Math.log(((quarters[base]! + quarters[base + 1]!) + quarters[base + 2]!) + quarters[base + 3]!);
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

export function planNormalise(kind: 'logSoftmax' | 'softmax', rows: number, classes: number): KernelSpec {
  const constants = { C: classes, op: kind === 'logSoftmax' ? 0 : 1 };
  return { key: kernelKey('normalise', { ...constants, R: rows }), source: normaliseSource, outputSize: rows * classes, constants };
}

const quarterConstants = (classes: number) => ({ C: classes, C4: Math.floor(classes / 4), tail: classes % 4 });

/** Each row's maximum in quarters, [R, 4] (`rowMaxQuarterSource`); `planRowMax(rows, 4)` folds them. */
export function planRowMaxQuarters(rows: number, classes: number): KernelSpec {
  const constants = quarterConstants(classes);
  return { key: kernelKey('rowMaxQuarter', { ...constants, R: rows }), source: rowMaxQuarterSource, outputSize: 4 * rows, constants };
}

/** Each row's sum of exp(x - max) in quarters, [R, 4]; `planRowLogOfQuarters` folds them. */
export function planRowSumExpQuarters(rows: number, classes: number): KernelSpec {
  const constants = quarterConstants(classes);
  return { key: kernelKey('rowSumExpQuarter', { ...constants, R: rows }), source: rowSumExpQuarterSource, outputSize: 4 * rows, constants };
}

export function planRowLogOfQuarters(rows: number): KernelSpec {
  return { key: kernelKey('rowLogOfQuarters', { R: rows }), source: rowLogOfQuartersSource, outputSize: rows, constants: {} };
}

type Call = (...args: unknown[]) => unknown;

/**
 * For a pipeline's orchestration: each row's maximum and log-sum-exp of x [rows, classes], four
 * kernels (the quarters above), their results left in the pipeline for the kernels after them.
 */
export function rowMaxLogSumSteps(backend: Backend, rows: number, classes: number): (values: unknown) => { max: unknown; logSum: unknown } {
  const kernel = (spec: KernelSpec) => backend.kernel(spec) as unknown as Call;
  const maxQuarters = kernel(planRowMaxQuarters(rows, classes));
  const maxOfQuarters = kernel(planRowMax(rows, 4));
  const sumQuarters = kernel(planRowSumExpQuarters(rows, classes));
  const logOfQuarters = kernel(planRowLogOfQuarters(rows));
  return (values) => {
    const max = maxOfQuarters(maxQuarters(values));
    return { max, logSum: logOfQuarters(sumQuarters(values, max)) };
  };
}

/**
 * The rows' maxima, log-sum-exps and normalised rows of x [R, C], as one pipeline: x goes to the
 * backend once and the per-row values stay there between its kernels.
 */
export async function rowLogSumExp(backend: Backend, x: Float32Array, rows: number, classes: number, kind: 'logSoftmax' | 'softmax'): Promise<{ max: Float32Array; logSum: Float32Array; normalised: Float32Array }> {
  const maxLogSum = rowMaxLogSumSteps(backend, rows, classes);
  const normaliseRows = backend.kernel(planNormalise(kind, rows, classes)) as unknown as Call;
  const pipeline = backend.pipeline(`rowLogSumExp(R=${rows},C=${classes},${kind})`, function (values: unknown) {
    const { max, logSum } = maxLogSum(values);
    return [max, logSum, normaliseRows(values, max, logSum)];
  }, { steps: 1 });
  const [max, logSum, normalised] = (await pipeline(x)) as Float32Array[];
  return { max: max!, logSum: logSum!, normalised: normalised! };
}

async function normalise(kind: 'logSoftmax' | 'softmax', backend: Backend, x: Tensor): Promise<Tensor> {
  expectTensor(kind, 'x', x);
  const classes = x.shape[x.rank - 1];
  if (classes === undefined || classes === 0) {
    throw opError(kind, `x needs a non-empty last axis to normalise over, got shape ${formatShape(x.shape)}`);
  }
  const rows = x.size / classes;
  if (rows === 0) return Tensor.zeros(x.shape);
  return new Tensor(x.shape, (await rowLogSumExp(backend, x.data, rows, classes, kind)).normalised);
}

/** Softmax over the last axis, numerically stable (max subtracted). */
export const softmax = (backend: Backend, x: Tensor) => normalise('softmax', backend, x);
/** Log-softmax over the last axis, numerically stable (log-sum-exp with the max subtracted). */
export const logSoftmax = (backend: Backend, x: Tensor) => normalise('logSoftmax', backend, x);
