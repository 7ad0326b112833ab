import { describe, expect, it } from 'vitest';
import { concatFeatures, poolSequence, Tape, Tensor } from '../src/index.js';
import { randomTensor } from './helpers.js';

describe('sequence pooling over valid steps', () => {
  const x = randomTensor([4, 3, 2], 1);
  const lengths = [4, 1, 2];
  const weights = randomTensor([3, 2], 2);

  it.each(['mean', 'max', 'last'] as const)('%s: values and the gradient (checked by finite differences)', async (mode) => {
    const tape = new Tape();
    const pooled = await tape.run(async () => poolSequence(x, lengths, mode));
    const grads = await tape.backward(pooled, weights);
    const loss = (data: Float32Array) => {
      const p = poolSequence(new Tensor(x.shape, data), lengths, mode);
      return p.data.reduce((s, v, i) => s + v * weights.data[i]!, 0);
    };
    const h = 1e-2; // f32 data; pooling is piecewise linear, so a large step is exact away from ties
    for (let i = 0; i < x.size; i++) {
      const up = Float32Array.from(x.data);
      const down = Float32Array.from(x.data);
      up[i]! += h;
      down[i]! -= h;
      expect(grads.get(x)!.data[i]).toBeCloseTo((loss(up) - loss(down)) / (2 * h), 4);
    }
    // Padded steps (t >= length) never contribute.
    expect(grads.get(x)!.data[(1 * 3 + 1) * 2]).toBe(0);
  });

  it('concatenates features and splits the gradient back', async () => {
    const a = Tensor.from([2, 1], [1, 2]);
    const b = Tensor.from([2, 2], [3, 4, 5, 6]);
    const tape = new Tape();
    const c = await tape.run(async () => concatFeatures([a, b]));
    expect(c.toNested()).toEqual([[1, 3, 4], [2, 5, 6]]);
    const grads = await tape.backward(c, Tensor.from([2, 3], [10, 20, 30, 40, 50, 60]));
    expect([...grads.get(a)!.data]).toEqual([10, 40]);
    expect([...grads.get(b)!.data]).toEqual([20, 30, 50, 60]);
  });

  it('refuses lengths outside 1..T', () => {
    expect(() => poolSequence(x, [4, 0, 2], 'mean')).toThrow('poolSequence: lengths[1] = 0 must be an integer in 1..4');
  });
});
