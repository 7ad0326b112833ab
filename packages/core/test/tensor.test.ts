import { describe, expect, it } from 'vitest';
import { pooledBufferBytes } from '../src/backend/scratch.js';
import { createBackend, DisposedTensorError, gather, LSTM, matmul, selectBackend, ShapeError, softmax, Tape, Tensor, add, addBias, sum, scatterAdd } from '../src/index.js';

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

describe('Tensor.dispose', () => {
  it('marks the tensor: reading it throws, a second dispose does nothing, a reshape keeps its view', () => {
    const t = Tensor.from([2, 2], [1, 2, 3, 4]);
    const view = t.reshape([4]);
    t.dispose();
    t.dispose();
    expect(t.isDisposed).toBe(true);
    expect(view.isDisposed).toBe(false);
    expect(() => t.data).toThrow('a disposed tensor of shape [2, 2] was read');
    expect(() => t.at(0, 0)).toThrow(DisposedTensorError);
    expect(view.toNested()).toEqual([1, 2, 3, 4]);
  });

  it("lends a layer's output made off a tape to the next call once it and its reshapes are disposed; never one made on a tape", async () => {
    const backend = await createBackend('cpu');
    try {
      const lstm = new LSTM({ inputSize: 3, hiddenSize: 4, seed: 1 }).to(backend);
      const x = new Tensor([5, 2, 3], Float32Array.from({ length: 30 }, (_, i) => Math.sin(i)));
      const first = (await lstm.forward(x)).output;
      const buffer = first.data;
      const values = buffer.slice();
      const view = first.reshape([10, 4]);
      first.dispose();
      const second = (await lstm.forward(x)).output;
      expect(second.data).not.toBe(buffer); // the view still owns it
      expect(view.data).toEqual(values);
      view.dispose();
      const third = (await lstm.forward(x)).output;
      expect(third.data).toBe(buffer);
      expect(third.data).toEqual(values);

      const taped = (await new Tape().run(() => lstm.forward(x))).output;
      const pooled = pooledBufferBytes();
      taped.dispose();
      expect(pooledBufferBytes()).toBe(pooled); // a tape may still read it: only marked
    } finally {
      await backend.dispose();
    }
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
