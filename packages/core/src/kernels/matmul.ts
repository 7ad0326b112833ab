import type { Backend, KernelSpec } from '../backend/backend.js';
import { formatShape, Tensor, type Shape } from '../tensor.js';
import { expectRank, expectTensor, kernelKey, opError, runKernel, type KernelThis } from './common.js';

export interface MatmulOptions {
  /** Use a's last two axes transposed: a is [.., K, M] instead of [.., M, K]. */
  readonly transA?: boolean;
  /** Use b's last two axes transposed: b is [.., N, K] instead of [.., K, N]. */
  readonly transB?: boolean;
}

/**
 * out[p, m, n] = sum_k a[p, m, k] * b[p, k, n]. Each operand is addressed through strides, so
 * transposes and a batch of one broadcast against many (stride 0) need no copies.
 */
function matmulSource(this: KernelThis, a: Float32Array, b: Float32Array): number {
  const cell = this.thread.x;
  const batch = floorDiv(cell, this.constants.MN!);
  const rest = cell - batch * this.constants.MN!;
  const row = floorDiv(rest, this.constants.N!);
  const col = rest - row * this.constants.N!;
  const aBase = batch * this.constants.aBatch! + row * this.constants.aRow!;
  const bBase = batch * this.constants.bBatch! + col * this.constants.bCol!;
  let sum = 0;
  for (let k = 0; k < this.constants.K!; k++) {
    sum += a[aBase + k * this.constants.aK!]! * b[bBase + k * this.constants.bK!]!;
  }
  return sum;
}

export interface MatmulPlan {
  readonly spec: KernelSpec;
  readonly outputShape: Shape;
}

/**
 * Checks shapes and builds the kernel spec for a (batched) matrix product.
 * a: [M, K] or [P, M, K]; b: [K, N] or [P, N, K]-style per the transpose flags; a batch of 1
 * (or a rank-2 operand) broadcasts. Output: [M, N], or [P, M, N] when either operand is batched.
 */
export function planMatmul(aShape: Shape, bShape: Shape, options: MatmulOptions = {}): MatmulPlan {
  const op = 'matmul';
  const transA = options.transA ?? false;
  const transB = options.transB ?? false;
  const aRank = aShape.length;
  const bRank = bShape.length;
  const [aRows, aCols] = aShape.slice(-2) as [number, number];
  const [bRows, bCols] = bShape.slice(-2) as [number, number];
  const M = transA ? aCols : aRows;
  const K = transA ? aRows : aCols;
  const bK = transB ? bCols : bRows;
  const N = transB ? bRows : bCols;
  if (K !== bK) {
    throw opError(
      op,
      `inner dimensions differ: a ${formatShape(aShape)}${transA ? ' (transposed)' : ''} has K=${K}, ` +
        `b ${formatShape(bShape)}${transB ? ' (transposed)' : ''} has K=${bK}`,
    );
  }
  const aBatches = aRank === 3 ? aShape[0]! : 1;
  const bBatches = bRank === 3 ? bShape[0]! : 1;
  if (aBatches !== bBatches && aBatches !== 1 && bBatches !== 1) {
    throw opError(op, `batch sizes differ: a ${formatShape(aShape)} and b ${formatShape(bShape)} (one must be 1)`);
  }
  const batches = Math.max(aBatches, bBatches);
  const batched = aRank === 3 || bRank === 3;
  const constants = {
    MN: M * N,
    N,
    K,
    aBatch: aBatches === 1 ? 0 : M * K,
    aRow: transA ? 1 : K,
    aK: transA ? M : 1,
    bBatch: bBatches === 1 ? 0 : K * N,
    bCol: transB ? K : 1,
    bK: transB ? 1 : N,
  };
  return {
    spec: { key: kernelKey(op, { ...constants, P: batches }), source: matmulSource, outputSize: batches * M * N, constants },
    outputShape: batched ? [batches, M, N] : [M, N],
  };
}

/** A row-major [rows, cols] matrix transposed to [cols, rows], on the host. */
export function transposeMatrix(matrix: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = matrix[r * cols + c]!;
  }
  return out;
}

/**
 * Rows of the product from which a transposed b is worth transposing first: neighbouring output
 * cells then read neighbouring cells of b (one vector load on webasm, coalesced reads on a GPU)
 * instead of cells K apart. The copy costs N*K; the product M*N*K.
 */
const TRANSPOSE_B_FROM_ROWS = 8;

/** Matrix product with optional transposes and batching; see `planMatmul` for shapes. */
export async function matmul(backend: Backend, a: Tensor, b: Tensor, options: MatmulOptions = {}): Promise<Tensor> {
  expectTensor('matmul', 'a', a);
  expectTensor('matmul', 'b', b);
  expectRank('matmul', 'a', a, [2, 3]);
  expectRank('matmul', 'b', b, [2, 3]);
  const plan = planMatmul(a.shape, b.shape, options);
  const rows = options.transA ? a.shape[a.rank - 1]! : a.shape[a.rank - 2]!;
  if (options.transB && b.rank === 2 && rows >= TRANSPOSE_B_FROM_ROWS) {
    // Same products summed in the same order: the result is bit for bit the transposed kernel's.
    const [n, k] = b.shape as [number, number];
    const bT = new Tensor([k, n], transposeMatrix(b.data, n, k));
    return runKernel(backend, planMatmul(a.shape, bT.shape, { transA: options.transA ?? false }).spec, plan.outputShape, [a, bT]);
  }
  return runKernel(backend, plan.spec, plan.outputShape, [a, b]);
}
