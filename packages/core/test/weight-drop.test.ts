import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackend, GRU, gradCheck, LSTM, recurrentFromConfig, Tape, Tensor, type Backend } from '../src/index.js';
import { backendsUnderTest, randomTensor } from './helpers.js';

/*
 * Weight drop (DropConnect on W_hh, AWD-LSTM's): in training the layer runs with W_hh times a
 * scaled mask drawn per call, and W_hh's gradient is masked alike; in eval it is the plain layer.
 */
const backends = await backendsUnderTest();

describe.each(backends)('weightDropout on %s', (name) => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await createBackend(name);
  });
  afterAll(async () => {
    await backend.dispose();
  });
  const options = { inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, seed: 5 };
  const x = randomTensor([6, 2, 3], 1);
  const lengths = [6, 4];

  it('runs the layer with masked, rescaled W_hh and masks its gradient; eval is the plain layer', async () => {
    const p = 0.5;
    const dropped = new LSTM({ ...options, weightDropout: p }).to(backend);
    const plain = new LSTM(options).to(backend);
    // eval: no drop
    dropped.eval();
    plain.eval();
    expect([...(await dropped.forward(x, { lengths })).output.data]).toEqual([...(await plain.forward(x, { lengths })).output.data]);
    dropped.train();
    const tape = new Tape();
    const { output } = await tape.run(() => dropped.forward(x, { lengths }));
    await tape.backward(output, randomTensor(output.shape as number[], 2));
    // the mask, read off the gradient: exactly zero where a weight was dropped
    const effective = new Map(dropped.namedParameters().map(([n, param]) => {
      if (!n.startsWith('weight_hh')) return [n, param.value];
      const kept = param.grad.data.map((g) => (g === 0 ? 0 : 1 / (1 - p)));
      const share = kept.filter((k) => k === 0).length / kept.length;
      expect(share, n).toBeGreaterThan(0.3);
      expect(share, n).toBeLessThan(0.7);
      return [n, new Tensor(param.value.shape, param.value.data.map((v, i) => v * kept[i]!))];
    }));
    plain.loadStateDict(effective);
    expect([...(await plain.forward(x, { lengths })).output.data]).toEqual([...output.data]);
    // a second call draws another mask
    const again = await dropped.forward(x, { lengths });
    expect([...again.output.data]).not.toEqual([...output.data]);
  });

  it('passes gradCheck with the mask held fixed, and round-trips through its config', async () => {
    const layer = new GRU({ ...options, weightDropout: 0.3 }).to(backend);
    const states = layer.randomStates();
    const run = async () => {
      layer.setRandomStates(states); // the same mask every call
      return (await layer.forward(x, { lengths })).output;
    };
    const result = await gradCheck(run, new Map(layer.namedParameters().filter(([n]) => n.startsWith('weight_hh'))), { maxChecks: 16 });
    expect(result.ok, JSON.stringify(result.worst)).toBe(true);
    expect(layer.toConfig()).toMatchObject({ type: 'GRU', weightDropout: 0.3 });
    expect(recurrentFromConfig(layer.toConfig()).config.weightDropout).toBe(0.3);
    expect(new GRU(options).toConfig()).not.toHaveProperty('weightDropout');
    expect(() => new LSTM({ ...options, weightDropout: 1 })).toThrow('LSTM: weightDropout must be a number in [0, 1), got 1');
  });
});
