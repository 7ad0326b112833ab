import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Attention, createBackend, crossEntropy, functional, gradCheck, GRU, GRUCell, Linear, LSTM, mseLoss, Parameter, Tape, Tensor, type Backend,
} from '../src/index.js';
import { randomTensor } from './helpers.js';

describe('gradCheck', () => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await createBackend('cpu');
  });
  afterAll(async () => {
    await backend.dispose();
  });

  it('passes the layers, cells, attention and losses, inputs and parameters alike', async () => {
    const lstm = new LSTM({ inputSize: 3, hiddenSize: 4, bidirectional: true, numLayers: 2, seed: 1 }).to(backend);
    const x = randomTensor([5, 2, 3], 2);
    const h0 = randomTensor([4, 2, 4], 3);
    const c0 = randomTensor([4, 2, 4], 4);
    const checks = [
      await gradCheck(async () => (await lstm.forward(x, { lengths: [5, 3], h0, c0 })).output, new Map<string, Tensor | Parameter>([
        ['x', x], ['h0', h0], ['c0', c0], ...lstm.namedParameters(),
      ])),
      await gradCheck(async () => new GRUCell({ inputSize: 3, hiddenSize: 4, seed: 5 }).to(backend).forward(x.reshape([10, 3])), [x]),
      await gradCheck(async () => (await new GRU({ inputSize: 3, hiddenSize: 4, seed: 6 }).to(backend).forward(x)).hN, [x]),
    ];
    const attention = new Attention({ queryFeatures: 4, memoryFeatures: 4, score: 'additive', attentionFeatures: 3, seed: 7 });
    const query = randomTensor([2, 3, 4], 8);
    const memory = randomTensor([2, 5, 4], 9);
    checks.push(await gradCheck(async () => (await attention.forward(query, await attention.keys(memory), memory, [5, 2])).context, [query, memory, ...attention.parameters()]));
    const head = new Linear({ inFeatures: 4, outFeatures: 6, seed: 10 }).to(backend);
    const features = randomTensor([8, 4], 11);
    const targets = Tensor.from([8], [0, 5, 2, 2, -100, 1, 3, 4]);
    checks.push(await gradCheck(async () => crossEntropy(await head.forward(features), targets, { labelSmoothing: 0.1, backend }), [features, ...head.parameters()]));
    const target = randomTensor([8, 6], 12);
    checks.push(await gradCheck(async () => mseLoss(functional.tanh(await head.forward(features)), target), [features, target]));
    for (const result of checks) {
      expect(result.ok, JSON.stringify(result.worst)).toBe(true);
      expect(result.worstRatio).toBeLessThan(0.5);
    }
    // every value of an input of at most 32, 32 chosen of a larger one
    expect(checks[0]!.checked).toBe([x, h0, c0, ...lstm.parameters().map((p) => p.value)].reduce((sum, t) => sum + Math.min(t.size, 32), 0));
  });

  it('finds a wrong backward function and names the input and value', async () => {
    const x = randomTensor([6], 1);
    const y = randomTensor([6], 2);
    // x * y with d/dy given as x * 2 (a typical slip)
    const product = async () => {
      const out = new Tensor([6], x.data.map((v, i) => v * y.data[i]!));
      Tape.current()?.record('product', [x, y], [out], async ([g]) => [
        new Tensor([6], g!.data.map((v, i) => v * y.data[i]!)),
        new Tensor([6], g!.data.map((v, i) => v * x.data[i]! * 2)),
      ]);
      return out;
    };
    const result = await gradCheck(product, new Map([['x', x], ['y', y]]));
    expect(result.ok).toBe(false);
    expect(result.worst!.input).toBe('y');
    expect(result.worst!.analytic).toBeCloseTo(2 * result.worst!.numeric, 2);
    // a gradient never recorded counts as zero
    const untracked = await gradCheck(async () => new Tensor([6], x.data.map((v) => 3 * v)), [x]);
    expect(untracked).toMatchObject({ ok: false, worst: { input: '0', analytic: 0 } });
  });
});
