import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Backend, createBackend, JordanRNN, Tape, Tensor } from '../src/index.js';
import { numericGradient } from '../src/reference/index.js';
import { backendsUnderTest, randomTensor } from './helpers.js';

/** A float64 Jordan network, written out for the finite-difference check. */
function jordanLoss64(
  params: Record<string, Float64Array>, x: Float64Array, y0: Float64Array, weights: Float64Array, T: number, B: number, E: number, H: number, O: number,
  outputActivation: 'identity' | 'tanh' | 'sigmoid',
): number {
  let y = Float64Array.from(y0);
  let loss = 0;
  for (let t = 0; t < T; t++) {
    const h = new Float64Array(B * H);
    for (let b = 0; b < B; b++)
      for (let j = 0; j < H; j++) {
        let pre = params.bias_h![j]!;
        for (let e = 0; e < E; e++) pre += x[(t * B + b) * E + e]! * params.weight_ih![j * E + e]!;
        for (let o = 0; o < O; o++) pre += y[b * O + o]! * params.weight_yh![j * O + o]!;
        h[b * H + j] = Math.tanh(pre);
      }
    const next = new Float64Array(B * O);
    for (let b = 0; b < B; b++)
      for (let o = 0; o < O; o++) {
        let z = params.bias_y![o]!;
        for (let j = 0; j < H; j++) z += h[b * H + j]! * params.weight_hy![o * H + j]!;
        next[b * O + o] = outputActivation === 'tanh' ? Math.tanh(z) : outputActivation === 'sigmoid' ? 1 / (1 + Math.exp(-z)) : z;
        loss += next[b * O + o]! * weights[(t * B + b) * O + o]!;
      }
    y = next;
  }
  return loss;
}

const backends = await backendsUnderTest();

describe.each(backends)('JordanRNN on %s', (name) => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await createBackend(name);
  });
  afterAll(async () => {
    await backend.dispose();
  });

  it.each(['identity', 'tanh', 'sigmoid'] as const)('gradients through the output feedback match finite differences (%s output)', async (outputActivation) => {
    const [T, B, E, H, O] = [4, 2, 3, 5, 2];
    const jordan = new JordanRNN({ inputSize: E, hiddenSize: H, outputSize: O, outputActivation, seed: 3 }).to(backend);
    const x = randomTensor([T, B, E], 1);
    const y0 = randomTensor([B, O], 2, 0.5);
    const weights = randomTensor([T, B, O], 3);
    const tape = new Tape();
    const { output } = await tape.run(() => jordan.forward(x, { y0 }));
    const grads = await tape.backward(output, weights);
    const params = Object.fromEntries(jordan.namedParameters().map(([n, p]) => [n, Float64Array.from(p.value.data)]));
    const w64 = Float64Array.from(weights.data);
    const loss = (overrides: Record<string, Float64Array>, xv: Float64Array = Float64Array.from(x.data), y0v: Float64Array = Float64Array.from(y0.data)) =>
      jordanLoss64({ ...params, ...overrides }, xv, y0v, w64, T, B, E, H, O, outputActivation);
    for (const [param, p] of jordan.namedParameters()) {
      const numeric = numericGradient((v) => loss({ [param]: v }), params[param]!);
      const worst = Math.max(...p.grad.data.map((g, i) => Math.abs(g - numeric[i]!)));
      expect(worst, param).toBeLessThan(2e-5);
    }
    const dx = numericGradient((v) => loss({}, v), Float64Array.from(x.data));
    expect(Math.max(...grads.get(x)!.data.map((g, i) => Math.abs(g - dx[i]!)))).toBeLessThan(2e-5);
    const dy0 = numericGradient((v) => loss({}, undefined, v), Float64Array.from(y0.data));
    expect(Math.max(...grads.get(y0)!.data.map((g, i) => Math.abs(g - dy0[i]!)))).toBeLessThan(2e-5);
  });

  it('feeds back its output, not its hidden state', async () => {
    const jordan = new JordanRNN({ inputSize: 1, hiddenSize: 2, outputSize: 1, seed: 1 }).to(backend);
    jordan.weightIh.value.data.fill(0);
    jordan.biasH.value.data.fill(0);
    jordan.biasY.value.data.fill(0);
    jordan.weightYh.value.data.set([1, 1]);
    // With no input and no biases, activity can only come from y0 through W_yh.
    const silent = await jordan.forward(Tensor.zeros([3, 1, 1]), { y0: Tensor.from([1, 1], [0]) });
    expect([...silent.output.data]).toEqual([0, 0, 0]);
    const { output } = await jordan.forward(Tensor.zeros([3, 1, 1]), { y0: Tensor.from([1, 1], [1]) });
    expect([...output.data].every((v) => Math.abs(v) > 1e-3)).toBe(true);
  });
});
