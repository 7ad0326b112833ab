import { describe, expect, it } from 'vitest';
import { init, mulberry32, Tensor } from '../src/index.js';

/*
 * torch.nn.init's initialisers: the bounds and spreads PyTorch's formulas give (gains and fans
 * computed as torch.nn.init computes them), orthogonality, and reproducibility from a seed.
 */
const stats = (t: Tensor) => {
  let sum = 0;
  let squares = 0;
  for (const v of t.data) {
    sum += v;
    squares += v * v;
  }
  const mean = sum / t.size;
  return { mean, std: Math.sqrt(squares / t.size - mean * mean), min: Math.min(...t.data), max: Math.max(...t.data) };
};

describe('init', () => {
  it('gives PyTorch\'s gains and fans', () => {
    expect(['linear', 'sigmoid', 'tanh', 'relu', 'selu'].map((n) => init.calculateGain(n as init.Nonlinearity))).toEqual([1, 1, 5 / 3, Math.SQRT2, 0.75]);
    expect(init.calculateGain('leaky_relu')).toBeCloseTo(Math.sqrt(2 / (1 + 0.01 ** 2)), 15);
    expect(init.calculateGain('leaky_relu', 0.2)).toBeCloseTo(Math.sqrt(2 / 1.04), 15);
    expect(init.fans(Tensor.zeros([6, 4]))).toEqual({ fanIn: 4, fanOut: 6 });
    expect(init.fans(Tensor.zeros([6, 4, 3]))).toEqual({ fanIn: 12, fanOut: 18 });
    expect(() => init.xavierUniform_(Tensor.zeros([5]), mulberry32(1))).toThrow('xavierUniform_: fan in and fan out need a tensor of rank 2 or more, got [5]');
    expect(() => init.calculateGain('swish' as init.Nonlinearity)).toThrow('calculateGain: unknown nonlinearity "swish"');
  });

  it('draws uniform and normal values with the bounds and spreads of the formulas', () => {
    const [rows, cols] = [300, 200];
    const xavier = stats(init.xavierUniform_(Tensor.zeros([rows, cols]), mulberry32(1), 2));
    const bound = 2 * Math.sqrt(6 / (rows + cols));
    expect(xavier.max).toBeLessThanOrEqual(bound);
    expect(xavier.min).toBeGreaterThanOrEqual(-bound);
    expect(xavier.std).toBeCloseTo(bound / Math.sqrt(3), 2);
    expect(stats(init.xavierNormal_(Tensor.zeros([rows, cols]), mulberry32(2))).std).toBeCloseTo(Math.sqrt(2 / (rows + cols)), 2);
    const he = stats(init.kaimingUniform_(Tensor.zeros([rows, cols]), mulberry32(3)));
    expect(he.max).toBeLessThanOrEqual(Math.sqrt(6 / cols));
    expect(he.std).toBeCloseTo(Math.sqrt(2 / cols), 2);
    expect(stats(init.kaimingNormal_(Tensor.zeros([rows, cols]), mulberry32(4), { mode: 'fanOut', nonlinearity: 'tanh' })).std).toBeCloseTo((5 / 3) / Math.sqrt(rows), 2);
    const normal = stats(init.normal_(Tensor.zeros([rows, cols]), mulberry32(5), 3, 0.5));
    expect(normal.mean).toBeCloseTo(3, 2);
    expect(normal.std).toBeCloseTo(0.5, 2);
    const uniform = stats(init.uniform_(Tensor.zeros([rows, cols]), mulberry32(6), -2, 1));
    expect(uniform.min).toBeGreaterThanOrEqual(-2);
    expect(uniform.max).toBeLessThan(1);
    expect(uniform.mean).toBeCloseTo(-0.5, 1);
    expect(() => init.kaimingNormal_(Tensor.zeros([2, 2]), mulberry32(1), { mode: 'fan_in' as 'fanIn' })).toThrow("kaimingNormal_: mode must be 'fanIn' or 'fanOut', got \"fan_in\"");
  });

  it('the same seed gives the same values', () => {
    const a = init.xavierUniform_(Tensor.zeros([4, 3]), mulberry32(9));
    const b = init.xavierUniform_(Tensor.zeros([4, 3]), mulberry32(9));
    expect([...a.data]).toEqual([...b.data]);
  });

  it.each([[5, 5], [3, 7], [7, 3], [4, 2, 3]])('orthogonal_ %j: orthonormal rows or columns, times the gain', (...shape) => {
    const t = init.orthogonal_(Tensor.zeros(shape), mulberry32(3), 1.5);
    const rows = shape[0]!;
    const cols = t.size / rows;
    const wide = rows <= cols;
    const [count, length] = wide ? [rows, cols] : [cols, rows];
    const at = (v: number, i: number) => t.data[wide ? v * cols + i : i * cols + v]!;
    for (let u = 0; u < count; u++) {
      for (let v = 0; v < count; v++) {
        let dot = 0;
        for (let i = 0; i < length; i++) dot += at(u, i) * at(v, i);
        expect(dot).toBeCloseTo(u === v ? 2.25 : 0, 5);
      }
    }
  });

  it('fills constants and the identity', () => {
    expect([...init.eye_(Tensor.zeros([2, 3])).data]).toEqual([1, 0, 0, 0, 1, 0]);
    expect([...init.constant_(Tensor.zeros([3]), 0.5).data]).toEqual([0.5, 0.5, 0.5]);
    expect([...init.ones_(Tensor.zeros([2])).data]).toEqual([1, 1]);
    expect([...init.zeros_(Tensor.full([2], 3)).data]).toEqual([0, 0]);
    expect(() => init.eye_(Tensor.zeros([2, 2, 2]))).toThrow('eye_: needs a matrix, got [2, 2, 2]');
  });
});
