import { describe, expect, it } from 'vitest';
import {
  binaryRef, gatherRef, logSoftmaxBackwardRef, logSoftmaxRef, matmulRef, numericGradient, reduceRef, scatterAddRef, softmaxRef, tensor64,
  unaryRef, type Tensor64,
} from '../src/reference/index.js';
import { mulberry32 } from '../src/random.js';

/** Float64 references checked against finite differences and hand-worked values. */

function random64(shape: number[], seed: number): Tensor64 {
  const random = mulberry32(seed);
  const t = tensor64(shape);
  t.data.forEach((_, i) => (t.data[i] = random() * 2 - 1));
  return t;
}

const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => s + v * b[i]!, 0);

/** Max |a - b|; the FD checks below assert it is below 1e-7 (central differences, h = 1e-6). */
function maxDiff(a: Float64Array, b: Float64Array): number {
  return a.reduce((worst, v, i) => Math.max(worst, Math.abs(v - b[i]!)), 0);
}

describe('float64 references', () => {
  it('matmul agrees with a hand-worked product, and its transposes with each other', () => {
    const a = tensor64([2, 3], [1, 2, 3, 4, 5, 6]);
    const b = tensor64([3, 2], [7, 8, 9, 10, 11, 12]);
    expect([...matmulRef(a, b).data]).toEqual([58, 64, 139, 154]);
    const aT = tensor64([3, 2], [1, 4, 2, 5, 3, 6]);
    const bT = tensor64([2, 3], [7, 9, 11, 8, 10, 12]);
    expect([...matmulRef(aT, bT, true, true).data]).toEqual([58, 64, 139, 154]);
  });

  it('matmul gradients (dA = dY B^T, dB = A^T dY) match finite differences', () => {
    const a = random64([3, 4], 1);
    const b = random64([4, 5], 2);
    const dY = random64([3, 5], 3);
    const loss = (av: Float64Array, bv: Float64Array) =>
      dot(matmulRef({ shape: a.shape, data: av }, { shape: b.shape, data: bv }).data, dY.data);
    const dA = matmulRef(dY, b, false, true);
    const dB = matmulRef(a, dY, true, false);
    expect(maxDiff(dA.data, numericGradient((av) => loss(av, b.data), a.data))).toBeLessThan(1e-7);
    expect(maxDiff(dB.data, numericGradient((bv) => loss(a.data, bv), b.data))).toBeLessThan(1e-7);
  });

  it('log-softmax backward matches finite differences', () => {
    const x = random64([3, 6], 4);
    const g = random64([3, 6], 5);
    const loss = (xv: Float64Array) => dot(logSoftmaxRef({ shape: x.shape, data: xv }).data, g.data);
    expect(maxDiff(logSoftmaxBackwardRef(x, g).data, numericGradient(loss, x.data))).toBeLessThan(1e-7);
  });

  it('softmax rows sum to one and log-softmax is its log', () => {
    const x = random64([4, 7], 6);
    const p = softmaxRef(x);
    for (let r = 0; r < 4; r++) expect(p.data.subarray(r * 7, r * 7 + 7).reduce((s, v) => s + v, 0)).toBeCloseTo(1, 14);
    expect(maxDiff(logSoftmaxRef(x).data, p.data.map(Math.log))).toBeLessThan(1e-14);
  });

  it('scatter-add is the gradient of gather with respect to the table', () => {
    const table = random64([5, 3], 7);
    const indices = tensor64([6], [4, 0, 4, 2, 4, 1]);
    const g = random64([6, 3], 8);
    const loss = (tv: Float64Array) => dot(gatherRef({ shape: table.shape, data: tv }, indices).data, g.data);
    expect(maxDiff(scatterAddRef(g, indices, 5).data, numericGradient(loss, table.data))).toBeLessThan(1e-7);
  });

  it('activation derivatives match finite differences (tanh: 1 - y^2, sigmoid: y(1 - y))', () => {
    const x = random64([10], 9);
    const g = random64([10], 10);
    const tanhGrad = unaryRef('tanh', x).data.map((y, i) => (1 - y * y) * g.data[i]!);
    const sigmoidGrad = unaryRef('sigmoid', x).data.map((y, i) => y * (1 - y) * g.data[i]!);
    expect(maxDiff(tanhGrad, numericGradient((xv) => dot(unaryRef('tanh', { shape: [10], data: xv }).data, g.data), x.data))).toBeLessThan(1e-7);
    expect(maxDiff(sigmoidGrad, numericGradient((xv) => dot(unaryRef('sigmoid', { shape: [10], data: xv }).data, g.data), x.data))).toBeLessThan(1e-7);
  });

  it('broadcasting and reductions agree with hand-worked values', () => {
    const x = tensor64([2, 3], [1, 2, 3, 4, 5, 6]);
    expect([...binaryRef('add', x, tensor64([3], [10, 20, 30])).data]).toEqual([11, 22, 33, 14, 25, 36]);
    expect([...binaryRef('mul', x, tensor64([2, 1], [2, 3])).data]).toEqual([2, 4, 6, 12, 15, 18]);
    expect([...reduceRef('sum', x, 0).data]).toEqual([5, 7, 9]);
    expect([...reduceRef('mean', x, 1).data]).toEqual([2, 5]);
    expect([...reduceRef('sum', x).data]).toEqual([21]);
  });
});
