import { describe, expect, it } from 'vitest';
import { createBackend, gather, matmul, selectBackend, ShapeError, softmax, Tensor, add, addBias, sum, scatterAdd } from '../src/index.js';

describe('Tensor', () => {
  it('holds a shape and row-major float32 data', () => {
    const t = Tensor.from([2, 3], [1, 2, 3, 4, 5, 6]);
    expect(t.size).toBe(6);
    expect(t.rank).toBe(2);
    expect(t.at(1, 0)).toBe(4);
    expect(t.toNested()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(t.reshape([3, 2]).at(2, 1)).toBe(6);
    expect(Object.isFrozen(t.shape)).toBe(true);
  });

  it('refuses bad shapes, sizes and dtypes with the expected and actual values', () => {
    expect(() => new Tensor([2, -1])).toThrow('every dimension must be a non-negative integer, got shape [2, -1]');
    expect(() => new Tensor([2, 2], new Float32Array(3))).toThrow('shape [2, 2] needs 4 values, got 3');
    expect(() => new Tensor([2], new Float64Array(2) as unknown as Float32Array)).toThrow(
      'data must be a Float32Array, got Float64Array',
    );
    expect(() => Tensor.from([3], [1, 2])).toThrow(ShapeError);
    expect(() => Tensor.zeros([2, 3]).reshape([4, 2])).toThrow('cannot view [2, 3] (6 values) as [4, 2]');
    expect(() => Tensor.zeros([2, 3]).at(2, 0)).toThrow('index 2 out of range for axis 0 of size 2');
  });
});

describe('ops refuse bad input before touching a backend', () => {
  it('names the op, the argument, the expected and the actual shape', async () => {
    const backend = await createBackend('cpu');
    try {
      await expect(matmul(backend, Tensor.zeros([2, 3]), Tensor.zeros([4, 5]))).rejects.toThrow(
        'matmul: inner dimensions differ: a [2, 3] has K=3, b [4, 5] has K=4',
      );
      await expect(matmul(backend, Tensor.zeros([2, 2, 3]), Tensor.zeros([3, 3, 5]))).rejects.toThrow(
        'matmul: batch sizes differ: a [2, 2, 3] and b [3, 3, 5] (one must be 1)',
      );
      await expect(matmul(backend, Tensor.zeros([3]), Tensor.zeros([3, 1]))).rejects.toThrow(
        'matmul: a must have rank 2 or 3, got shape [3]',
      );
      await expect(add(backend, Tensor.zeros([2, 3]), Tensor.zeros([4]))).rejects.toThrow(
        'add: shapes [2, 3] and [4] do not broadcast (axis 1: 3 vs 4)',
      );
      await expect(addBias(backend, Tensor.zeros([2, 3]), Tensor.zeros([2]))).rejects.toThrow(
        'addBias: bias must have shape [3] for x [2, 3], got [2]',
      );
      await expect(sum(backend, Tensor.zeros([2, 3]), { axis: 2 })).rejects.toThrow('sum: axis 2 is out of range for shape [2, 3]');
      await expect(softmax(backend, Tensor.zeros([2, 0]))).rejects.toThrow('softmax: x needs a non-empty last axis');
      await expect(gather(backend, Tensor.zeros([4, 2]), Tensor.from([3], [0, 4, 1]))).rejects.toThrow(
        'gather: indices[1] = 4 is not a row of a table with 4 rows (valid: 0..3)',
      );
      await expect(gather(backend, Tensor.zeros([4, 2]), Tensor.from([1], [0.5]))).rejects.toThrow('indices[0] = 0.5');
      await expect(scatterAdd(backend, Tensor.zeros([3, 2]), Tensor.from([2], [0, 1]), 4)).rejects.toThrow(
        'scatterAdd: gradOut must have shape [2, 2] for indices [2], got [3, 2]',
      );
      await expect(matmul(backend, [[1]] as unknown as Tensor, Tensor.zeros([1, 1]))).rejects.toThrow(
        'matmul: a must be a Tensor (float32), got Array',
      );
    } finally {
      await backend.dispose();
    }
  });

  it('refuses an unknown backend name with the valid ones', async () => {
    await expect(selectBackend('metal' as never)).rejects.toThrow("unknown backend 'metal'; expected one of auto, webgpu, webasm, cpu");
  });
});
