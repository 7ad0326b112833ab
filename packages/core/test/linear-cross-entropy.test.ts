import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createBackend, crossEntropy, Linear, linearCrossEntropy, Tape, Tensor, type Backend } from '../src/index.js';
import { randomTensor } from './helpers.js';

/** The loss and every gradient through Linear.forward and crossEntropy, as the fused op must give them. */
async function unfusedRun(linear: Linear, x: Tensor, targets: Tensor, reduction: 'mean' | 'sum', backend: Backend, labelSmoothing = 0) {
  linear.zeroGrad();
  const tape = new Tape();
  const { loss, logits } = await tape.run(async () => {
    const logits = await linear.forward(x);
    return { loss: await crossEntropy(logits, targets, { ignoreIndex: 0, reduction, labelSmoothing, backend }), logits };
  });
  const grads = await tape.backward(loss, Tensor.from([], [0.75]));
  return { loss: loss.data[0]!, logits, dX: grads.get(x)!.data, dW: Float32Array.from(linear.weight.grad.data), db: linear.bias ? Float32Array.from(linear.bias.grad.data) : undefined };
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((worst, v, i) => Math.max(worst, Math.abs(v - b[i]!)), 0);
/** Within rounding: 1e-6 of the largest value (the f32 logit gradient against the host's double one). */
const expectNear = (actual: Float32Array, expected: Float32Array) =>
  expect(maxDiff(actual, expected)).toBeLessThan(1e-6 * expected.reduce((largest, v) => Math.max(largest, Math.abs(v)), 1));

describe('linearCrossEntropy (an output layer and its loss in one pipeline)', () => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await createBackend('webasm');
  });
  afterAll(() => backend.dispose());

  // C = 24 runs the one-column tile, C = 32 and 40 the two-column one; 256 rows and K = 520
  // give dW's product the split-K form (its b, x, holds more than 2 x 65,536 values).
  // The last case runs in parts of 16, 16 and 4 rows (a [rows, C] array past a kernel's 2^24
  // cells is split so), its gradients added up. With label smoothing the loss's sum over the
  // classes is an f32 sum on the backend: the loss agrees to rounding, not bit for bit. C = 22
  // and 43 run padded to 24 and 44 classes (the softmax's sums then group the classes otherwise:
  // to rounding too).
  it.each([
    [8, 12, 24, true, 'mean', undefined, 0],
    [256, 520, 40, true, 'sum', undefined, 0],
    [12, 16, 32, false, 'mean', undefined, 0],
    [36, 12, 24, true, 'mean', 16, 0],
    [8, 12, 24, true, 'mean', undefined, 0.1],
    [36, 12, 24, true, 'sum', 16, 0.25],
    [8, 12, 22, true, 'mean', undefined, 0],
    [12, 16, 43, false, 'sum', undefined, 0.1],
    [36, 12, 22, true, 'mean', 16, 0],
  ] as const)('N %i, K %i, C %i, bias %s, %s, parts of %s rows, label smoothing %s: the loss bit for bit (to rounding with smoothing), the gradients to rounding, the hits', async (N, K, C, bias, reduction, partRows, labelSmoothing) => {
    const linear = new Linear({ inFeatures: K, outFeatures: C, bias, seed: 3 }).to(backend);
    const x = randomTensor([N, K], 5, 2);
    // Class 0 is the ignored padding (rows 1 and 5); every third row's target is its top class.
    const first = (await linear.forward(x)).data;
    const top = (i: number) => first.subarray(i * C, (i + 1) * C).reduce((best, v, c, row) => (v > row[best]! ? c : best), 0);
    const targets = Tensor.from([N], Array.from({ length: N }, (_, i) => (i === 1 || i === 5 ? 0 : Math.max(1, i % 3 === 0 ? top(i) : (top(i) + 1 + i) % C))));
    const expected = await unfusedRun(linear, x, targets, reduction, backend, labelSmoothing);
    const expectLoss = (loss: number) => (labelSmoothing || C % 4 !== 0 ? expect(Math.abs(loss - expected.loss)).toBeLessThan(1e-6 * Math.abs(expected.loss)) : expect(loss).toBe(expected.loss));

    linear.zeroGrad();
    const forward = vi.spyOn(linear, 'forward');
    const tape = new Tape();
    const result = await tape.run(() => linearCrossEntropy(x, linear, targets, { ignoreIndex: 0, reduction, labelSmoothing, backend, ...(partRows ? { partRows } : {}) }));
    expect(forward).not.toHaveBeenCalled(); // the fused path, not the fallback
    forward.mockRestore();
    expectLoss(result.loss.data[0]!);
    const grads = await tape.backward(result.loss, Tensor.from([], [0.75]));
    expectNear(grads.get(x)!.data, expected.dX);
    expectNear(linear.weight.grad.data, expected.dW);
    if (bias) expectNear(linear.bias!.grad.data, expected.db!);

    let correct = 0;
    targets.data.forEach((t, i) => {
      const row = expected.logits.data.subarray(i * C, (i + 1) * C);
      if (t !== 0 && row[t] === Math.max(...row)) correct++;
    });
    expect(result).toMatchObject({ correct, counted: N - 2 });
    expect(correct).toBeGreaterThan(0);

    // Without a tape only the loss: the same bits.
    const lossOnly = await linearCrossEntropy(x, linear, targets, { ignoreIndex: 0, reduction, labelSmoothing, backend, ...(partRows ? { partRows } : {}) });
    expectLoss(lossOnly.loss.data[0]!);
    expect(lossOnly.correct).toBe(correct);
  });

  it('falls back to Linear and crossEntropy where the pipeline does not apply, with the same result', async () => {
    const linear = new Linear({ inFeatures: 6, outFeatures: 10, seed: 4 }).to(backend); // 6 rows: not a multiple of 4
    const x = randomTensor([6, 6], 8);
    const targets = Tensor.from([6], [1, 2, 0, 4, 5, 9]);
    const expected = await unfusedRun(linear, x, targets, 'mean', backend);
    linear.zeroGrad();
    const tape = new Tape();
    const result = await tape.run(() => linearCrossEntropy(x, linear, targets, { ignoreIndex: 0, backend }));
    await tape.backward(result.loss, Tensor.from([], [0.75]));
    expect(result.loss.data[0]).toBe(expected.loss);
    expect(linear.weight.grad.data).toEqual(expected.dW);
    expect(result.counted).toBe(5);
    // Parts too small for the pipeline (0 rows, or not a multiple of 4) take the same path.
    for (const partRows of [0, 6]) {
      const other = await linearCrossEntropy(x, linear, targets, { ignoreIndex: 0, backend, partRows });
      expect(other.loss.data[0]).toBe(expected.loss);
    }
  });

  it('names a target that is not a class', async () => {
    const linear = new Linear({ inFeatures: 4, outFeatures: 8, seed: 1 }).to(backend);
    await expect(linearCrossEntropy(randomTensor([4, 4], 1), linear, Tensor.from([4], [1, 2, 8, 3]), { backend })).rejects.toThrow('targets[2] = 8 is not a class in 0..7');
    await expect(linearCrossEntropy(randomTensor([4, 3], 1), linear, Tensor.from([4], [1, 2, 3, 3]), { backend })).rejects.toThrow('x must have shape [N, 4], got [4, 3]');
  });
});
