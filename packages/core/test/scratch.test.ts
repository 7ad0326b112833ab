import { describe, expect, it } from 'vitest';
import { borrowBuffer, pooledBufferBytes, returnBuffers } from '../src/backend/scratch.js';
import { columnPanels, pooledColumnPanels, transposeMatrix } from '../src/kernels/matmul.js';
import { SimdRows, useSimdRows } from '../src/wasm/rows.js';

describe('the scratch pool (backend/scratch.ts)', () => {
  it('lends a returned buffer again for the same length, once, and never a view of another array', () => {
    const before = pooledBufferBytes();
    const a = borrowBuffer(1000);
    a.fill(7);
    returnBuffers(a, a); // twice: pooled once
    expect(pooledBufferBytes()).toBe(before + 4000);
    const b = borrowBuffer(1000);
    expect(b).toBe(a);
    expect(b[999]).toBe(7); // not zeroed: borrowers write every value
    expect(borrowBuffer(1000)).not.toBe(a);
    const whole = new Float32Array(2000);
    returnBuffers(whole.subarray(0, 1000), undefined);
    expect(borrowBuffer(1000).buffer).not.toBe(whole.buffer);
    expect(pooledBufferBytes()).toBe(before);
  });

  it('keeps at most 128 MB, dropping the least recently returned lengths first', () => {
    const lengths = Array.from({ length: 12 }, (_, i) => 3_000_000 + i); // 12 MB each, 144 MB in all
    returnBuffers(...lengths.map((n) => new Float32Array(n)));
    const total = pooledBufferBytes();
    expect(total).toBeLessThanOrEqual(128 * 2 ** 20);
    borrowBuffer(lengths[0]!); // the oldest length went: this one is new
    expect(pooledBufferBytes()).toBe(total);
    borrowBuffer(lengths[11]!); // the newest is still there
    expect(pooledBufferBytes()).toBe(total - 12_000_044);
  });

  it('column panels into a used buffer: the padding columns are zero again', () => {
    const [K, N] = [5, 7]; // the second panel has one padding column
    const b = Float32Array.from({ length: K * N }, (_, i) => i + 1);
    const dirty = borrowBuffer(Math.ceil(N / 4) * K * 4).fill(Number.NaN);
    returnBuffers(dirty);
    const panels = pooledColumnPanels(b, K, N);
    expect(panels).toBe(dirty);
    expect(panels).toEqual(columnPanels(b, K, N));
    expect(() => columnPanels(b, K, N, false, new Float32Array(3))).toThrow('the output holds 3 values, not 40');
  });

  // [8, 40]: ten panels, two blocks of four and two single ones (wasm/rows.ts's `panels`);
  // [16, 13] and [64, 20]: transposes with K a multiple of 4 (its 4 x 4 blocks, strides past 63)
  it.each([
    [5, 8],
    [3, 9],
    [6, 11],
    [4, 2],
    [8, 40],
    [16, 13],
    [64, 20],
  ])('column panels of b [%i, %i] and of its transpose hold each value where the definition puts it, with WebAssembly SIMD and without', (K, N) => {
    const b = Float32Array.from({ length: K * N }, (_, i) => i + 1);
    const bT = Float32Array.from({ length: K * N }, (_, i) => b[(i % K) * N + Math.floor(i / K)]!); // [N, K]
    const expected = new Float32Array(Math.ceil(N / 4) * K * 4); // zero in the padding columns
    for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) expected[(n >> 2) * K * 4 + k * 4 + (n & 3)] = b[k * N + n]!;
    const dirty = () => new Float32Array(expected.length).fill(Number.NaN);
    expect(SimdRows.get()).toBeDefined();
    try {
      for (const simd of [true, false]) {
        useSimdRows(simd);
        expect(columnPanels(b, K, N, false, dirty())).toEqual(expected);
        expect(columnPanels(bT, K, N, true, dirty())).toEqual(expected);
      }
    } finally {
      useSimdRows(true);
    }
  });
});

describe('transposeMatrix (kernels/matmul.ts)', () => {
  it.each([
    [16, 8],
    [5, 19],
    [64, 3],
  ])('[%i, %i] transposed holds each value where the definition puts it', (rows, cols) => {
    const m = Float32Array.from({ length: rows * cols }, (_, i) => i + 1);
    const expected = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) expected[c * rows + r] = m[r * cols + c]!;
    expect(transposeMatrix(m, rows, cols)).toEqual(expected);
  });
});
