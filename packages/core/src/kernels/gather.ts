import type { Backend, KernelSpec } from '../backend/backend.js';
import { formatShape, Tensor } from '../tensor.js';
import { expectRank, expectTensor, kernelKey, opError, runKernel, type KernelThis } from './common.js';

/** out[i, e] = table[indices[i], e]: an embedding lookup, one output cell per thread. */
function gatherSource(this: KernelThis, table: Float32Array, indices: Float32Array): number {
  const cell = this.thread.x;
  const i = floorDiv(cell, this.constants.E!);
  const e = cell - i * this.constants.E!;
  return table[indices[i]! * this.constants.E! + e]!;
}

/**
 * grad[v, e] = sum over i with indices[i] == v of gradOut[i, e]. Written gather-style so no two
 * threads write one cell: the host sorts positions by row (`rowStart`, `positions`, as in CSR),
 * and each thread sums only the positions of its own row.
 */
function scatterAddSource(
  this: KernelThis,
  gradOut: Float32Array,
  rowStart: Float32Array,
  positions: Float32Array,
): number {
  const cell = this.thread.x;
  const v = floorDiv(cell, this.constants.E!);
  const e = cell - v * this.constants.E!;
  const start = rowStart[v]!;
  const count = rowStart[v + 1]! - start;
  let sum = 0;
  for (let j = 0; j < count; j++) {
    sum += gradOut[positions[start + j]! * this.constants.E! + e]!;
  }
  return sum;
}

/** Checks that every index is an integer in [0, rows) and names the first that is not. */
function checkIndices(op: string, indices: Tensor, rows: number): void {
  const data = indices.data;
  for (let i = 0; i < data.length; i++) {
    const index = data[i]!;
    if (!Number.isInteger(index) || index < 0 || index >= rows) {
      throw opError(op, `indices[${i}] = ${index} is not a row of a table with ${rows} rows (valid: 0..${rows - 1})`);
    }
  }
}

export function planGather(rows: number, count: number, features: number): KernelSpec {
  const constants = { E: features };
  return { key: kernelKey('gather', { ...constants, V: rows, N: count }), source: gatherSource, outputSize: count * features, constants };
}

export function planScatterAdd(rows: number, count: number, features: number): KernelSpec {
  const constants = { E: features };
  return {
    key: kernelKey('scatterAdd', { ...constants, V: rows, N: count }),
    source: scatterAddSource,
    outputSize: rows * features,
    constants,
    loopMaxIterations: count,
  };
}

/**
 * Embedding lookup. table: [V, E]; indices: any shape, integer values in [0, V).
 * Output: [...indices.shape, E].
 */
export async function gather(backend: Backend, table: Tensor, indices: Tensor): Promise<Tensor> {
  expectTensor('gather', 'table', table);
  expectTensor('gather', 'indices', indices);
  expectRank('gather', 'table', table, [2]);
  const [rows, features] = table.shape as [number, number];
  checkIndices('gather', indices, rows);
  return runKernel(backend, planGather(rows, indices.size, features), [...indices.shape, features], [table, indices]);
}

/**
 * The gradient of `gather` with respect to its table: rows of gradOut added into the rows
 * their indices name. gradOut: [...indices.shape, E]; output: [rows, E].
 */
export async function scatterAdd(backend: Backend, gradOut: Tensor, indices: Tensor, rows: number): Promise<Tensor> {
  expectTensor('scatterAdd', 'gradOut', gradOut);
  expectTensor('scatterAdd', 'indices', indices);
  if (!Number.isInteger(rows) || rows < 1) {
    throw opError('scatterAdd', `rows must be a positive integer, got ${rows}`);
  }
  const features = gradOut.shape[gradOut.rank - 1] ?? 0;
  const expected = [...indices.shape, features];
  if (gradOut.rank !== expected.length || gradOut.size !== indices.size * features) {
    throw opError('scatterAdd', `gradOut must have shape ${formatShape(expected)} for indices ${formatShape(indices.shape)}, got ${formatShape(gradOut.shape)}`);
  }
  checkIndices('scatterAdd', indices, rows);
  // Counting sort of positions by row: rowStart[v]..rowStart[v + 1] are the positions of row v.
  const rowStart = new Float32Array(rows + 1);
  for (const index of indices.data) rowStart[index + 1]! += 1;
  for (let v = 0; v < rows; v++) rowStart[v + 1]! += rowStart[v]!;
  const next = rowStart.slice(0, rows);
  const positions = new Float32Array(indices.size);
  indices.data.forEach((index, i) => {
    positions[next[index]!++] = i;
  });
  return runKernel(backend, planScatterAdd(rows, indices.size, features), [rows, features], [
    gradOut,
    new Tensor([rows + 1], rowStart),
    new Tensor([indices.size], positions),
  ]);
}
