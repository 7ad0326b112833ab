import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  add, addBias, Backend, createBackend, div, gather, logSoftmax, matmul, mean, mul, relu, scatterAdd,
  sigmoid, softmax, sub, sum, tanh, Tensor,
} from '../src/index.js';
import {
  binaryRef, gatherRef, logSoftmaxRef, matmulRef, reduceRef, scatterAddRef, softmaxRef, unaryRef, widen,
} from '../src/reference/index.js';
import { backendsUnderTest, expectClose, randomTensor } from './helpers.js';
import { splitKMatmulSpecs } from '../src/kernels/matmul.js';

/*
 * Tolerances, f32 against the float64 reference:
 * - one rounding per element (add, mul, gather, relu): 1e-6 absolute on values of size ~1;
 * - transcendental functions (tanh, sigmoid, exp, log): 2e-6 absolute, covering the
 *   few-ulp error of Math.tanh/Math.exp in wasm, JS and WGSL;
 * - dot products and sums of n terms of size ~1: 1e-5 absolute + 1e-5 relative (the error
 *   grows like sqrt(n) ulps; n <= 300 here).
 */
const EXACT = 1e-6;
const TRANSCENDENTAL = 2e-6;
const ACCUMULATED = 1e-5;

const backends = await backendsUnderTest();

describe.each(backends)('kernels on %s', (name) => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await createBackend(name);
  });
  afterAll(async () => {
    await backend.dispose();
  });

  it('runs on the backend it was asked for', () => {
    expect(backend.name).toBe(name);
  });

  describe('matmul', () => {
    const cases: Array<[string, number[], number[], boolean, boolean, number?]> = [
      ['[5,7] x [7,3]', [5, 7], [7, 3], false, false],
      ['a transposed', [7, 5], [7, 3], true, false],
      ['b transposed', [5, 7], [3, 7], false, true],
      ['both transposed', [7, 5], [3, 7], true, true],
      ['batched', [4, 5, 6], [4, 6, 9], false, false],
      ['batched b broadcast', [4, 5, 6], [6, 9], false, false],
      ['batched a broadcast, b transposed', [5, 6], [4, 9, 6], false, true],
      ['larger, 17x33 x 33x65', [17, 33], [33, 65], false, false],
      ['dot products of 300 terms', [8, 300], [300, 8], false, false],
      // On webasm: four rows per thread, then K split in 4 chunks (splitKMatmulSpecs, checked below)
      ['rows in fours, 12x40 x 40x20', [12, 40], [40, 20], false, false],
      // b as column panels, the last one part padding (N not a multiple of 4), from b or b^T
      ['rows in fours, 8x9 x 9x7', [8, 9], [9, 7], false, false],
      ['rows in fours, b transposed, 4x9 x (18x9)^T', [4, 9], [18, 9], false, true],
      // f32 sums of 2,048 terms (partial sums near 15) drift by ~1e-4 in any order
      ['a weight gradient: a transposed, K = 2048', [2048, 12], [2048, 80], true, false, 5e-4],
      ['split K with N not a multiple of 4', [2048, 8], [2048, 78], true, false, 5e-4],
      // N a multiple of 8: on webasm a 4 x 2 tile a thread (two column panels), one pass and split K
      ['4 x 2 tiles, 12x40 x 40x24', [12, 40], [40, 24], false, false],
      ['4 x 2 tiles, b transposed, 8x9 x (16x9)^T', [8, 9], [16, 9], false, true],
      ['4 x 2 tiles, split K', [2048, 8], [2048, 72], true, false, 5e-4],
    ];
    it.each(cases)('%s', async (_, aShape, bShape, transA, transB, atol = ACCUMULATED) => {
      const a = randomTensor(aShape, 1);
      const b = randomTensor(bShape, 2);
      const out = await matmul(backend, a, b, { transA, transB });
      expectClose(out, matmulRef(widen(a), widen(b), transA, transB), atol, ACCUMULATED);
    });

    // The bias option adds [N] to every row: on webasm inside the kernel that lays the product out
    // (packed, split K), elsewhere (and for M not a multiple of 4) as addBias after it.
    it.each([
      ['[5,7] x [7,3]', [5, 7], [7, 3], false, false],
      ['rows in fours, b transposed', [8, 9], [7, 9], false, true],
      ['split K', [2048, 8], [2048, 78], true, false],
      ['4 x 2 tiles', [8, 9], [16, 9], false, true],
      ['4 x 2 tiles, split K', [2048, 8], [2048, 72], true, false],
    ] as const)('with a bias, %s: the same bits as the product then addBias', async (_, aShape, bShape, transA, transB) => {
      const a = randomTensor([...aShape], 1);
      const b = randomTensor([...bShape], 2);
      const N = transB ? bShape[0] : bShape[1];
      const bias = randomTensor([N], 3);
      const fused = await matmul(backend, a, b, { transA, transB, bias });
      const product = await matmul(backend, a, b, { transA, transB });
      const apart = await addBias(backend, product, bias);
      expect(fused.shape).toEqual(apart.shape);
      expect([...fused.data]).toEqual([...apart.data]);
      expect(fused.data[0]).not.toBe(product.data[0]);
    });

    it('refuses a bias that is not [N], or a batched product with one', async () => {
      await expect(matmul(backend, randomTensor([4, 3], 1), randomTensor([3, 5], 2), { bias: Tensor.zeros([4]) })).rejects.toThrow('matmul: bias must have shape [5] for an unbatched product of shape [4, 5], got [4]');
      await expect(matmul(backend, randomTensor([2, 4, 3], 1), randomTensor([3, 5], 2), { bias: Tensor.zeros([5]) })).rejects.toThrow('bias must have shape [5] for an unbatched product of shape [2, 4, 5]');
    });

    it('splits K in chunks only for long products with a transposed', () => {
      expect(splitKMatmulSpecs([2048, 12], [2048, 80], { transA: true })?.sum.constants).toMatchObject({ P: 4, N: 80 });
      expect(splitKMatmulSpecs([12, 2048], [2048, 80])).toBeUndefined();
      expect(splitKMatmulSpecs([64, 12], [64, 80], { transA: true })).toBeUndefined();
      // by K alone: one pass up to 1,024 however wide b is, above it chunks of at most 512
      expect(splitKMatmulSpecs([1024, 8000], [1024, 256], { transA: true })).toBeUndefined();
      expect(splitKMatmulSpecs([1152, 12], [1152, 8], { transA: true })?.sum.constants).toMatchObject({ P: 3 });
      expect(splitKMatmulSpecs([8192, 12], [8192, 8], { transA: true })?.sum.constants).toMatchObject({ P: 16 });
      expect(splitKMatmulSpecs([1031, 12], [1031, 8], { transA: true })).toBeUndefined(); // no divisor: one pass
      // the 4 x 2 tile where asked for and N is a multiple of 8
      expect(splitKMatmulSpecs([2048, 12], [2048, 80], { transA: true }, false, true)?.product.returnType).toBe('Array(8)');
      expect(splitKMatmulSpecs([2048, 12], [2048, 78], { transA: true }, false, true)?.product.returnType).toBe('Array(4)');
    });

    it('gives zeros for an empty inner dimension', async () => {
      const out = await matmul(backend, Tensor.zeros([2, 0]), Tensor.zeros([0, 3]));
      expect(out.shape).toEqual([2, 3]);
      expect([...out.data]).toEqual([0, 0, 0, 0, 0, 0]);
    });
  });

  describe('broadcasting elementwise ops', () => {
    const shapes: Array<[number[], number[]]> = [
      [[3, 4], [3, 4]],
      [[2, 3, 4], [4]],
      [[2, 1, 4], [3, 1]],
      [[2, 3, 4, 5], [1, 3, 1, 5]],
      [[5], []],
      [[1, 1, 2, 3, 4], [2, 1, 4]],
    ];
    it.each(shapes)('%j with %j: add, sub, mul, div', async (aShape, bShape) => {
      const a = randomTensor(aShape, 3);
      const b = randomTensor(bShape, 4);
      // Keep divisors away from zero so the quotient's rounding stays at the ulp level.
      b.data.forEach((v, i) => (b.data[i] = v >= 0 ? v + 0.5 : v - 0.5));
      for (const [op, run] of [['add', add], ['sub', sub], ['mul', mul], ['div', div]] as const) {
        expectClose(await run(backend, a, b), binaryRef(op, widen(a), widen(b)), EXACT, EXACT);
      }
    });

    it('adds a bias to every row', async () => {
      const x = randomTensor([3, 5, 6], 5);
      const bias = randomTensor([6], 6);
      expectClose(await addBias(backend, x, bias), binaryRef('add', widen(x), widen(bias)), EXACT);
    });
  });

  describe('activations', () => {
    // Values from -100 to 100 include the tails where a naive formula overflows to NaN.
    const x = Tensor.from([2, 6], [-100, -20, -5, -1, -0.25, 0, 1e-4, 0.25, 1, 5, 20, 100]);
    it.each(['tanh', 'sigmoid', 'relu'] as const)('%s', async (op) => {
      const run = { tanh, sigmoid, relu }[op];
      expectClose(await run(backend, x), unaryRef(op, widen(x)), TRANSCENDENTAL);
    });
    it('tanh and sigmoid on 5,000 random values (threaded sizes)', async () => {
      const big = randomTensor([50, 100], 7, 8);
      expectClose(await tanh(backend, big), unaryRef('tanh', widen(big)), TRANSCENDENTAL);
      expectClose(await sigmoid(backend, big), unaryRef('sigmoid', widen(big)), TRANSCENDENTAL);
    });
  });

  describe('softmax and log-softmax', () => {
    // rows are read in quarters (columns q, q + 4, ...): widths below 4, with a remainder, and whole
    it.each([[4, 3, 10], [6, 1], [3, 2], [5, 37], [2, 64]].map((shape) => ({ shape })))('match the reference over the last axis, shape $shape', async ({ shape }) => {
      const x = randomTensor(shape, 8, 4);
      expectClose(await softmax(backend, x), softmaxRef(widen(x)), TRANSCENDENTAL);
      expectClose(await logSoftmax(backend, x), logSoftmaxRef(widen(x)), ACCUMULATED);
    });
    it('stay finite for logits of +-1000 (max subtracted first)', async () => {
      const x = Tensor.from([2, 3], [1000, 999, -1000, -1000, -1001, 0]);
      const log = await logSoftmax(backend, x);
      expect([...log.data].every(Number.isFinite)).toBe(true);
      expectClose(log, logSoftmaxRef(widen(x)), ACCUMULATED, ACCUMULATED);
      expectClose(await softmax(backend, x), softmaxRef(widen(x)), TRANSCENDENTAL);
    });
  });

  describe('reductions', () => {
    const x = randomTensor([3, 4, 5], 9);
    it.each([undefined, 0, 1, 2, -1])('sum and mean over axis %s', async (axis) => {
      const options = axis === undefined ? {} : { axis };
      expectClose(await sum(backend, x, options), reduceRef('sum', widen(x), axis), ACCUMULATED, ACCUMULATED);
      expectClose(await mean(backend, x, options), reduceRef('mean', widen(x), axis), ACCUMULATED, ACCUMULATED);
    });
    it('keeps the reduced axis when asked', async () => {
      const out = await sum(backend, x, { axis: 1, keepDims: true });
      expect(out.shape).toEqual([3, 1, 5]);
      expectClose(out.reshape([3, 5]), reduceRef('sum', widen(x), 1), ACCUMULATED, ACCUMULATED);
    });
    it('sums 10,000 values', async () => {
      const big = randomTensor([10_000], 10);
      expectClose(await sum(backend, big), reduceRef('sum', widen(big)), 1e-4, 1e-5);
    });
  });

  describe('gather and scatter-add', () => {
    const table = randomTensor([6, 5], 11);
    const indices = Tensor.from([2, 4], [0, 5, 2, 2, 1, 5, 5, 3]);
    it('gathers rows (an embedding lookup)', async () => {
      const out = await gather(backend, table, indices);
      expect(out.shape).toEqual([2, 4, 5]);
      expectClose(out, gatherRef(widen(table), widen(indices)), 0);
    });
    it('scatter-adds gradients into rows, repeated indices summed, unused rows zero', async () => {
      const gradOut = randomTensor([2, 4, 5], 12);
      const grad = await scatterAdd(backend, gradOut, indices, 6);
      expectClose(grad, scatterAddRef(widen(gradOut), widen(indices), 6), EXACT);
      expect([...grad.data.subarray(4 * 5, 5 * 5)]).toEqual([0, 0, 0, 0, 0]);
    });
  });

  describe('kernel cache', () => {
    it('compiles once per shape and returns fresh results per call', async () => {
      const a = randomTensor([3, 4], 13);
      const b = randomTensor([4, 2], 14);
      const first = await matmul(backend, a, b);
      const count = backend.kernelCount;
      const firstValues = [...first.data];
      const second = await matmul(backend, b, randomTensor([2, 3], 15));
      // A new shape compiles its kernels (on webasm a 4-row product: the packed one and its unpacking).
      const afterSecond = backend.kernelCount;
      expect(afterSecond).toBeGreaterThan(count);
      const again = await matmul(backend, a, b);
      expect(backend.kernelCount).toBe(afterSecond);
      expect([...first.data]).toEqual(firstValues);
      expect([...again.data]).toEqual(firstValues);
      expect(second.shape).toEqual([4, 3]);
    });
  });
});
