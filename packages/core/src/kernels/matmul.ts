import type { Backend, KernelSpec } from '../backend/backend.js';
import { borrowBuffer, returnBuffers } from '../backend/scratch.js';
import { formatShape, Tensor, type Shape } from '../tensor.js';
import { expectRank, expectTensor, kernelKey, opError, runKernel, type KernelThis } from './common.js';
import { addBias } from './elementwise.js';
import { SimdRows } from '../wasm/rows.js';

export interface MatmulOptions {
  /** Use a's last two axes transposed: a is [.., K, M] instead of [.., M, K]. */
  readonly transA?: boolean;
  /** Use b's last two axes transposed: b is [.., N, K] instead of [.., K, N]. */
  readonly transB?: boolean;
  /**
   * [N], added to every row of an unbatched product: a Linear layer's x W^T + b. On webasm the
   * kernel that lays the product out adds it (no pass of its own); the same bits as `addBias`.
   */
  readonly bias?: Tensor;
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

/**
 * `matmulSource` for four output rows per thread (register tiling), over one chunk of K: thread
 * (chunk, q, col) returns the sums of out[4q..4q+3, col] over k in [chunk Kc, (chunk + 1) Kc), so
 * each value of b loaded serves four products. b comes as column panels (`columnPanels`), so the
 * four threads of a vector walk 16 contiguous bytes a step. With one chunk (Kc = K) each output
 * sums the same products in the same order as `matmulSource`: the same bits, packed (see
 * `unpackRowsSource`). With several (split-K), every row passes over one chunk of b while it stays
 * in cache, and `sumChunksSource` adds the partial sums.
 */
function packedMatmulSource(this: KernelThis, a: Float32Array, b: Float32Array): number[] {
  const cell = this.thread.x;
  const chunk = floorDiv(cell, this.constants.QN!);
  const rest = cell - chunk * this.constants.QN!;
  const quad = floorDiv(rest, this.constants.N!);
  const col = rest - quad * this.constants.N!;
  const panel = floorDiv(col, 4);
  const kStart = chunk * this.constants.Kc!;
  const aBase = quad * 4 * this.constants.aRow! + kStart * this.constants.aK!;
  const bBase = panel * 4 * this.constants.K! + col - panel * 4 + kStart * 4;
  let sum0 = 0;
  let sum1 = 0;
  let sum2 = 0;
  let sum3 = 0;
  for (let k = 0; k < this.constants.Kc!; k++) {
    const bk = b[bBase + k * 4]!;
    sum0 += a[aBase + k * this.constants.aK!]! * bk;
    sum1 += a[aBase + this.constants.aRow! + k * this.constants.aK!]! * bk;
    sum2 += a[aBase + 2 * this.constants.aRow! + k * this.constants.aK!]! * bk;
    sum3 += a[aBase + 3 * this.constants.aRow! + k * this.constants.aK!]! * bk;
  }
  return [sum0, sum1, sum2, sum3];
}

/**
 * `packedMatmulSource` with a 4 x 2 tile: thread (chunk, q, c) returns out[4q..4q+3, n] then
 * out[4q..4q+3, n + 4], n = 8 (c div 4) + c mod 4, from two neighbouring column panels (N is a
 * multiple of 8). Each value of a loaded serves two products and each vector of b four: 6 loads
 * per 8 vector multiply-adds, against 5 per 4. Each output sums the same products in the same
 * order as `packedMatmulSource`: the same bits, in another layout (see `packedIndex`).
 */
function packedMatmulWideSource(this: KernelThis, a: Float32Array, b: Float32Array): number[] {
  const cell = this.thread.x;
  const chunk = floorDiv(cell, this.constants.QN!);
  const rest = cell - chunk * this.constants.QN!;
  const quad = floorDiv(rest, this.constants.N2!);
  const c = rest - quad * this.constants.N2!;
  const pair = floorDiv(c, 4);
  const kStart = chunk * this.constants.Kc!;
  const aBase = quad * 4 * this.constants.aRow! + kStart * this.constants.aK!;
  // (the next panel's loads add 4 K to bBase: the patch versions a loop for at most two such
  // lane-dependent bases, here aBase and bBase)
  const bBase = pair * 8 * this.constants.K! + c - pair * 4 + kStart * 4;
  let sum00 = 0;
  let sum10 = 0;
  let sum20 = 0;
  let sum30 = 0;
  let sum01 = 0;
  let sum11 = 0;
  let sum21 = 0;
  let sum31 = 0;
  for (let k = 0; k < this.constants.Kc!; k++) {
    const b0 = b[bBase + k * 4]!;
    const b1 = b[bBase + 4 * this.constants.K! + k * 4]!;
    const a0 = a[aBase + k * this.constants.aK!]!;
    sum00 += a0 * b0;
    sum01 += a0 * b1;
    const a1 = a[aBase + this.constants.aRow! + k * this.constants.aK!]!;
    sum10 += a1 * b0;
    sum11 += a1 * b1;
    const a2 = a[aBase + 2 * this.constants.aRow! + k * this.constants.aK!]!;
    sum20 += a2 * b0;
    sum21 += a2 * b1;
    const a3 = a[aBase + 3 * this.constants.aRow! + k * this.constants.aK!]!;
    sum30 += a3 * b0;
    sum31 += a3 * b1;
  }
  return [sum00, sum10, sum20, sum30, sum01, sum11, sum21, sum31];
}

/*
 * Where value (row, col) of a packed product lies, for tile width C = 1 (`packedMatmulSource`:
 * cell q N + n holds rows 4q..4q+3 of column n) or 2 (`packedMatmulWideSource`: cell q N/2 + c
 * holds them for columns n and n + 4, n = 8 (c div 4) + c mod 4):
 *   group = col div 4C, within = col - 4C group, half = within div 4,
 *   at = (q N/C + 4 group + within - 4 half) 4C + 4 half + row mod 4.
 * The kernels below spell it out (a helper called with lane-varying arguments would run once per
 * lane on webasm, see `floorDiv`).
 */

/**
 * [R, N] row-major: the packed partial sums of `packedMatmulSource` (C = 1) or the wide form
 * (C = 2) added chunk by chunk, in order, then bias[col] where the constant `bias` is 1 (else
 * `bias` is a placeholder, never read).
 */
function sumChunksSource(this: KernelThis, partial: Float32Array, bias: Float32Array): number {
  const cell = this.thread.x;
  const row = floorDiv(cell, this.constants.N!);
  const col = cell - row * this.constants.N!;
  const quad = floorDiv(row, 4);
  const group = floorDiv(col, 4 * this.constants.C!);
  const within = col - group * 4 * this.constants.C!;
  const half = floorDiv(within, 4);
  const at = (quad * this.constants.NC! + group * 4 + within - half * 4) * 4 * this.constants.C! + half * 4 + row - quad * 4;
  let sum = 0;
  for (let chunk = 0; chunk < this.constants.P!; chunk++) {
    sum += partial[chunk * this.constants.QN4! + at]!;
  }
  if (this.constants.bias === 1) {
    return sum + bias[col]!;
  }
  return sum;
}

/** [R, N] row-major from the packed result of a four-rows-per-thread kernel of tile width C (see above). */
function unpackRowsSource(this: KernelThis, packed: Float32Array): number {
  const cell = this.thread.x;
  const row = floorDiv(cell, this.constants.N!);
  const col = cell - row * this.constants.N!;
  const quad = floorDiv(row, 4);
  const group = floorDiv(col, 4 * this.constants.C!);
  const within = col - group * 4 * this.constants.C!;
  const half = floorDiv(within, 4);
  return packed[(quad * this.constants.NC! + group * 4 + within - half * 4) * 4 * this.constants.C! + half * 4 + row - quad * 4]!;
}

/** `unpackRowsSource` plus bias[col]. */
function unpackRowsBiasSource(this: KernelThis, packed: Float32Array, bias: Float32Array): number {
  const cell = this.thread.x;
  const row = floorDiv(cell, this.constants.N!);
  const col = cell - row * this.constants.N!;
  const quad = floorDiv(row, 4);
  const group = floorDiv(col, 4 * this.constants.C!);
  const within = col - group * 4 * this.constants.C!;
  const half = floorDiv(within, 4);
  return packed[(quad * this.constants.NC! + group * 4 + within - half * 4) * 4 * this.constants.C! + half * 4 + row - quad * 4]! + bias[col]!;
}

/**
 * The unpacking kernel of a packed [rows, cols] result of tile width `tile` (1, or 2 for
 * `packedMatmulSpec(..., true)`); with `bias`, it also takes a [cols] bias to add.
 */
export function unpackRowsSpec(rows: number, cols: number, bias = false, tile: 1 | 2 = 1): KernelSpec {
  const constants = { N: cols, C: tile, NC: cols / tile };
  const name = bias ? 'unpackRowsBias' : 'unpackRows';
  return { key: kernelKey(name, { R: rows, ...constants }), source: bias ? unpackRowsBiasSource : unpackRowsSource, outputSize: rows * cols, constants };
}

/**
 * b [K, N] (or [N, K] when `transposed`) as panels of four columns, [ceil(N / 4), K, 4]: panel p
 * holds columns 4p..4p+3 one k after the other, the last padded with zeros. The four-rows
 * product reads b so on webasm: a vector of four threads walks its panel 16 bytes a step, where
 * [K, N] would have it stride N values (4 KB for N = 1,024, which also puts every step in one
 * cache set). Products ran 20-35% faster so (bench/docs/history.md, round five).
 */
export function columnPanels(b: Float32Array, K: number, N: number, transposed = false, out: Float32Array = new Float32Array(Math.ceil(N / 4) * K * 4)): Float32Array {
  if (out.length !== Math.ceil(N / 4) * K * 4) throw new Error(`columnPanels: the output holds ${out.length} values, not ${Math.ceil(N / 4) * K * 4}`);
  const fullPanels = N >> 2;
  // The full panels as WebAssembly SIMD loops (wasm/rows.ts) where the engine has them (and, for
  // a transpose, K is a multiple of 4), the copies in and out included: with zeroGrad's pending
  // zeros they took about 5% off a translation training step (bench/README.md, "A translation
  // training step"). The last panel's columns and padding are JavaScript's either way.
  const simd = fullPanels > 0 && (!transposed || K % 4 === 0) ? SimdRows.get() : undefined;
  const loopPanels = simd ? 0 : fullPanels; // the full panels the loops below still write
  if (simd) {
    const values = fullPanels * K * 4;
    const [to, from] = simd.stage(values, b) as [number, number];
    if (transposed) simd.panelsTransposed(to, from, K * 4, fullPanels);
    else simd.panels(to, from, N * 4, K, fullPanels);
    simd.readInto(to, out, values);
  }
  // A panel at a time, its four values of each k together, written in order: a column at a
  // time walked the panel (or b's rows) four times, from further out in the caches once they
  // outgrew L1.
  if (transposed) {
    // b's rows are the columns
    for (let p = 0; p < loopPanels; p++) {
      const base = p * K * 4;
      const row = p * 4 * K;
      for (let k = 0; k < K; k++) {
        const to = base + k * 4;
        out[to] = b[row + k]!;
        out[to + 1] = b[row + K + k]!;
        out[to + 2] = b[row + 2 * K + k]!;
        out[to + 3] = b[row + 3 * K + k]!;
      }
    }
    for (let n = fullPanels * 4; n < N; n++) {
      const base = (n >> 2) * K * 4 + (n & 3);
      for (let k = 0; k < K; k++) out[base + k * 4] = b[n * K + k]!;
    }
  } else {
    for (let p = 0; p < loopPanels; p++) {
      const base = p * K * 4;
      for (let k = 0; k < K; k++) {
        const from = k * N + p * 4;
        const to = base + k * 4;
        out[to] = b[from]!;
        out[to + 1] = b[from + 1]!;
        out[to + 2] = b[from + 2]!;
        out[to + 3] = b[from + 3]!;
      }
    }
    for (let n = fullPanels * 4; n < N; n++) {
      const base = (n >> 2) * K * 4 + (n & 3);
      for (let k = 0; k < K; k++) out[base + k * 4] = b[k * N + n]!;
    }
  }
  // the last panel's padding columns (a reused buffer may hold anything there)
  for (let n = N; n % 4 !== 0; n++) {
    const base = (n >> 2) * K * 4 + (n & 3);
    for (let k = 0; k < K; k++) out[base + k * 4] = 0;
  }
  return out;
}

/** `columnPanels` into a borrowed buffer (see backend/scratch.ts): `returnBuffers` it once no call reads it. */
export function pooledColumnPanels(b: Float32Array, K: number, N: number, transposed = false): Float32Array {
  return columnPanels(b, K, N, transposed, borrowBuffer(Math.ceil(N / 4) * K * 4));
}

/** Whether a product with N columns runs the 4 x 2 tile (`packedMatmulWideSource`). */
export function wideTile(N: number): boolean {
  return N % 8 === 0;
}

/** The packed product's kernel spec, tile width 1 or 2, with K cut into `chunks`. */
function packedSpec(key: string, plan: MatmulPlan, M: number, N: number, K: number, chunks: number, tile: 1 | 2): KernelSpec {
  const QN = (M / 4) * (N / tile);
  const constants = { ...plan.spec.constants!, QN, Kc: K / chunks, ...(tile === 2 ? { N2: N / 2 } : {}) };
  return tile === 2
    ? { key: `${key}-wide`, source: packedMatmulWideSource, outputSize: chunks * QN, constants, returnType: 'Array(8)' }
    : { key, source: packedMatmulSource, outputSize: chunks * QN, constants, returnType: 'Array(4)' };
}

/**
 * The four-rows-per-thread form of a single (unbatched) product, for a fused webasm pipeline;
 * undefined when M is not a multiple of 4. It reads b as `columnPanels` leave it; its output is
 * packed: follow it with `unpackRowsSpec(M, N, false, tile)`. `wide` asks for the 4 x 2 tile
 * where N allows it (`wideTile`).
 */
export function packedMatmulSpec(aShape: Shape, bShape: Shape, options: MatmulOptions = {}, wide = false): KernelSpec | undefined {
  const plan = planMatmul(aShape, bShape, options);
  if (plan.outputShape.length !== 2) return undefined;
  const [M, N] = plan.outputShape as [number, number];
  if (M % 4 !== 0) return undefined;
  return packedSpec(`packed-${plan.spec.key}`, plan, M, N, plan.spec.constants!.K!, 1, wide && wideTile(N) ? 2 : 1);
}

/**
 * Split-K on webasm, for products with a transposed a (the weight gradients x^T dy: K is the long
 * batch-times-steps axis). Transposed, a thread's four rows of a lie side by side at each k, a
 * whole row of a apart from the next k's: one pass over K touches K cache lines of a, and every
 * vector of threads of the same four rows walks them again. Past about SPLIT_K_ABOVE values of K
 * those lines fall out of the nearest cache, and cutting K into chunks of at most K_CHUNK (their
 * partial sums, [chunks, M, N] values, then added up) pays; up to it one pass is faster however
 * large b is (bench/docs/history.md, round thirteen: [8,000, 704] x [704, 256] 35 ms one pass against
 * 46 split in 4, while a^T [1,024, 2,048] x [2,048, 128] takes 9 split in 4 against 15). A
 * product without the transpose ([1024, 2048] [2048, 128]) ran slower split, so it is not split.
 */
const SPLIT_K_ABOVE = 1024;
const K_CHUNK = 512;
const MAX_K_CHUNKS = 16;

/** Chunks of K for a transposed-a product, or undefined where one pass is better. */
function kChunks(K: number): number | undefined {
  if (K <= SPLIT_K_ABOVE) return undefined;
  for (let chunks = Math.min(MAX_K_CHUNKS, Math.ceil(K / K_CHUNK)); chunks <= MAX_K_CHUNKS; chunks++) {
    if (K % chunks === 0) return chunks;
  }
  return undefined;
}

/**
 * The split-K form of `packedMatmulSpec` and the kernel that adds its partial sums into [M, N],
 * or undefined where the shape gains nothing from it (see `kChunks`). The sums are in another
 * order than one pass's: the same to rounding, not the same bits.
 */
export function splitKMatmulSpecs(aShape: Shape, bShape: Shape, options: MatmulOptions = {}, bias = false, wide = false): { product: KernelSpec; sum: KernelSpec } | undefined {
  const plan = planMatmul(aShape, bShape, options);
  if (plan.outputShape.length !== 2) return undefined;
  const [M, N] = plan.outputShape as [number, number];
  const K = plan.spec.constants!.K!;
  const chunks = options.transA ? kChunks(K) : undefined;
  if (M % 4 !== 0 || chunks === undefined) return undefined;
  const tile = wide && wideTile(N) ? 2 : 1;
  // QN4: the values of one chunk's partial sums, M N in either layout
  const sumConstants = { N, C: tile, NC: N / tile, P: chunks, QN4: M * N, bias: bias ? 1 : 0 };
  return {
    product: packedSpec(`splitK-${plan.spec.key}-P${chunks}`, plan, M, N, K, chunks, tile),
    sum: { key: kernelKey('sumChunks', { R: M, ...sumConstants }), source: sumChunksSource, outputSize: M * N, constants: sumConstants },
  };
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

/** Columns `transposeMatrix` copies a pass. */
const TRANSPOSE_STRIP = 8;

/** A row-major [rows, cols] matrix transposed to [cols, rows], on the host. */
export function transposeMatrix(matrix: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  // Eight columns at a time: a row of the input then writes into eight rows of the result, whose
  // cache lines fill before they are evicted; all cols of them at once thrash the cache when
  // `rows` is a power of two (each a 4 KB multiple apart). [1,024, 128]: 1.0 -> 0.4 ms.
  for (let c0 = 0; c0 < cols; c0 += TRANSPOSE_STRIP) {
    const c1 = Math.min(cols, c0 + TRANSPOSE_STRIP);
    for (let r = 0; r < rows; r++) {
      const from = r * cols;
      for (let c = c0; c < c1; c++) out[c * rows + r] = matrix[from + c]!;
    }
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
  const { bias } = options;
  if (bias) {
    expectTensor('matmul', 'bias', bias);
    const N = plan.outputShape[plan.outputShape.length - 1];
    if (plan.outputShape.length !== 2 || bias.rank !== 1 || bias.shape[0] !== N) {
      throw opError('matmul', `bias must have shape [${N}] for an unbatched product of shape ${formatShape(plan.outputShape)}, got ${formatShape(bias.shape)}`);
    }
  }
  if (backend.name === 'webasm' && a.size > 0 && b.size > 0) {
    const packed = await packedProduct(backend, plan, a, b, options);
    if (packed) return packed;
  }
  const product = await plainProduct(backend, plan, a, b, options);
  return bias ? addBias(backend, product, bias) : product;
}

async function plainProduct(backend: Backend, plan: MatmulPlan, a: Tensor, b: Tensor, options: MatmulOptions): Promise<Tensor> {
  const rows = options.transA ? a.shape[a.rank - 1]! : a.shape[a.rank - 2]!;
  if (options.transB && b.rank === 2 && rows >= TRANSPOSE_B_FROM_ROWS) {
    // Same products summed in the same order: the result is bit for bit the transposed kernel's.
    const [n, k] = b.shape as [number, number];
    const bT = new Tensor([k, n], transposeMatrix(b.data, n, k));
    return runKernel(backend, planMatmul(a.shape, bT.shape, { transA: options.transA ?? false }).spec, plan.outputShape, [a, bT]);
  }
  return runKernel(backend, plan.spec, plan.outputShape, [a, b]);
}

/** The two kernels of a packed product (see `packedProductPlan`). */
export interface PackedProductPlan {
  readonly product: KernelSpec;
  /** Unpacks the product's tiles, or adds up its split-K partial sums, into [M, N]. */
  readonly finish: KernelSpec;
  /** `finish` takes a second argument: the bias, or a placeholder cell (the split-K sum always takes one). */
  readonly finishTakesBias: boolean;
}

/**
 * The kernels of the product of a [aShape] (transposed with `transA`) and b as [K, N] column
 * panels on webasm: split-K where that pays, else four rows (and two columns where N allows) a
 * thread; undefined where the shape allows neither (batched, or M not a multiple of 4).
 */
export function packedProductPlan(aShape: Shape, K: number, N: number, transA: boolean, bias: boolean): PackedProductPlan | undefined {
  const split = splitKMatmulSpecs(aShape, [K, N], { transA }, bias, true);
  if (split) return { product: split.product, finish: split.sum, finishTakesBias: true };
  const packed = packedMatmulSpec(aShape, [K, N], { transA }, true);
  if (!packed) return undefined;
  const [M] = planMatmul(aShape, [K, N], { transA }).outputShape as [number, number];
  return { product: packed, finish: unpackRowsSpec(M, N, bias, wideTile(N) ? 2 : 1), finishTakesBias: bias };
}

/**
 * The product on webasm with four output rows per thread (each value of b loaded once serves four
 * rows: the same bits), two columns too where N allows (`wideTile`), split-K where that pays, b
 * laid out in column panels on the host first;
 * undefined where the shape does not allow it (batched, or M not a multiple of 4).
 */
async function packedProduct(backend: Backend, plan: MatmulPlan, a: Tensor, b: Tensor, options: MatmulOptions): Promise<Tensor | undefined> {
  if (plan.outputShape.length !== 2) return undefined;
  const N = plan.outputShape[1]!;
  const K = plan.spec.constants!.K!;
  // The kernels read b as panels whichever way it came: plan them for b as [K, N].
  const kernels = packedProductPlan(a.shape, K, N, options.transA ?? false, options.bias !== undefined);
  if (!kernels) return undefined;
  const panels = pooledColumnPanels(b.data, K, N, options.transB ?? false);
  const finishInputs = kernels.finishTakesBias ? [options.bias?.data ?? new Float32Array(1)] : [];
  try {
    const result = await backend.runPacked(kernels.product, kernels.finish, [a.data, panels], finishInputs);
    return new Tensor(plan.outputShape, result);
  } finally {
    returnBuffers(panels);
  }
}
