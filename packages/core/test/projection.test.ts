import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Adam, Backend, createBackend, functional, GRU, LSTM, recurrentFromConfig, Tape, Tensor } from '../src/index.js';
import { backendsUnderTest, maxDiff, randomTensor } from './helpers.js';
import { batchToTimeMajor, loadFixture } from './fixtures.js';

/*
 * The LSTM with projections (projSize, PyTorch's proj_size) as a layer: PyTorch's weights load
 * by name, and outputs, final states and every gradient match PyTorch 1.13's (fixtures
 * lstm_proj_*, fixtures/make_fixtures.py), on every backend. The engine underneath is held to
 * the float64 reference in recurrent-kernels.test.ts, the reference to finite differences in
 * recurrent-reference.test.ts.
 */

const backends = await backendsUnderTest();

describe('LSTM projSize: options, names, config', () => {
  it('lists weight_hr after the biases, in PyTorch order and shapes', () => {
    const lstm = new LSTM({ inputSize: 4, hiddenSize: 5, numLayers: 2, bidirectional: true, projSize: 3 });
    const shapes = [...lstm.stateDict()].map(([name, t]) => `${name} ${t.shape.join('x')}`);
    expect(shapes.slice(0, 5)).toEqual(['weight_ih_l0 20x4', 'weight_hh_l0 20x3', 'bias_ih_l0 20', 'bias_hh_l0 20', 'weight_hr_l0 3x5']);
    expect(shapes).toContain('weight_ih_l1_reverse 20x6');
    expect(shapes).toContain('weight_hr_l1_reverse 3x5');
    expect(shapes).toHaveLength(20);
  });

  it('round-trips through its config; a learned state has P features for h and H for c', () => {
    const lstm = new LSTM({ inputSize: 2, hiddenSize: 6, projSize: 2, initialState: 'learned', seed: 4 });
    const config = lstm.toConfig();
    expect(config.projSize).toBe(2);
    const again = recurrentFromConfig(config);
    expect(again.toConfig()).toEqual(config);
    expect(lstm.stateDict().get('h0')!.shape).toEqual([1, 2]);
    expect(lstm.stateDict().get('c0')!.shape).toEqual([1, 6]);
    expect(new LSTM({ inputSize: 2, hiddenSize: 6 }).toConfig()).not.toHaveProperty('projSize');
  });

  it('refuses a projection not below hiddenSize, a fractional one, and the orthogonal init', () => {
    expect(() => new LSTM({ inputSize: 2, hiddenSize: 4, projSize: 4 })).toThrow('projSize');
    expect(() => new LSTM({ inputSize: 2, hiddenSize: 4, projSize: 1.5 })).toThrow('an integer in 0..3');
    expect(() => new LSTM({ inputSize: 2, hiddenSize: 4, projSize: 2, recurrentInit: 'orthogonal' })).toThrow("Leave recurrentInit at 'default'");
    expect(() => recurrentFromConfig({ ...new GRU({ inputSize: 2, hiddenSize: 4 }).toConfig(), projSize: 2 })).toThrow('projections are for the LSTM only');
  });
});

describe.each(backends)('LSTM projSize on %s', (name) => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await createBackend(name);
  });
  afterAll(async () => {
    await backend.dispose();
  });

  it.each([
    ['lstm_proj_bidirectional_2_layers_packed', { inputSize: 4, hiddenSize: 5, numLayers: 2, bidirectional: true, projSize: 3 }],
    ['lstm_proj_batch_first_no_bias', { inputSize: 3, hiddenSize: 4, projSize: 2, bias: false, batchFirst: true }],
  ] as const)('%s: PyTorch weights give its outputs, final states and every gradient', async (fixture, options) => {
    const f = loadFixture(fixture);
    const lstm = new LSTM(options).to(backend);
    lstm.loadStateDict(new Map([...f.params].map(([n, v]) => [n, new Tensor(lstm.stateDict().get(n)!.shape, Float32Array.from(v))])));
    const { steps: T, batch: B } = f.config;
    const D = f.config.bidirectional ? 2 : 1;
    const P = options.projSize;
    const layout = (data: Float64Array) => Float32Array.from('batchFirst' in options ? batchToTimeMajor(data, T, B) : data);
    const x = new Tensor('batchFirst' in options ? [B, T, options.inputSize] : [T, B, options.inputSize], layout(f.x));
    const h0 = f.h0 ? new Tensor([f.config.numLayers * D, B, P], Float32Array.from(f.h0)) : undefined;
    const c0 = f.c0 ? new Tensor([f.config.numLayers * D, B, options.hiddenSize], Float32Array.from(f.c0)) : undefined;
    const tape = new Tape();
    const { output, hN, cN } = await tape.run(() => lstm.forward(x, { ...(f.lengths ? { lengths: f.lengths } : {}), ...(h0 ? { h0 } : {}), ...(c0 ? { c0 } : {}) }));
    expect(output.shape).toEqual('batchFirst' in options ? [B, T, D * P] : [T, B, D * P]);
    expect(hN.shape).toEqual([f.config.numLayers * D, B, P]);
    expect(cN!.shape).toEqual([f.config.numLayers * D, B, options.hiddenSize]);
    expect(maxDiff(output.data, layout(f.output))).toBeLessThan(1e-5);
    expect(maxDiff(hN.data, f.hN)).toBeLessThan(1e-5);
    expect(maxDiff(cN!.data, f.cN!)).toBeLessThan(1e-5);
    // the fixture's loss: sum(output * grad_output) + sum(h_n * grad_h_n) + sum(c_n * grad_c_n)
    const { add, mul, sum } = functional;
    const loss = await tape.run(async () => add(add(
      sum(mul(output, new Tensor(output.shape, layout(f.gradOutput)))),
      sum(mul(hN, new Tensor(hN.shape, Float32Array.from(f.gradHN))))),
      sum(mul(cN!, new Tensor(cN!.shape, Float32Array.from(f.gradCN!))))));
    const grads = await tape.backward(loss);
    for (const [param, p] of lstm.namedParameters()) expect(maxDiff(p.grad.data, f.gradParams.get(param)!), param).toBeLessThan(1e-5);
    expect(maxDiff(grads.get(x)!.data, layout(f.gradInput))).toBeLessThan(1e-5);
    if (h0) expect(maxDiff(grads.get(h0)!.data, f.gradH0!)).toBeLessThan(1e-5);
    if (c0) expect(maxDiff(grads.get(c0)!.data, f.gradC0!)).toBeLessThan(1e-5);
  });

  it('learns: Adam steps on a projected two-layer LSTM lower a regression loss', async () => {
    const lstm = new LSTM({ inputSize: 3, hiddenSize: 8, numLayers: 2, projSize: 2, dropout: 0.1, initialState: 'learned', seed: 9 }).to(backend);
    const optimizer = new Adam(lstm.parameters(), { lr: 0.02 });
    const x = randomTensor([6, 4, 3], 3);
    const target = randomTensor([4, 2], 5);
    const lossAt = async (train: boolean) => {
      lstm.train(train);
      const tape = new Tape();
      const { hN } = await tape.run(() => lstm.forward(x));
      const last = hN.data.subarray(4 * 2); // layer 1's state [B, P]
      const diff = Float32Array.from(last, (v, i) => v - target.data[i]!);
      const loss = diff.reduce((s, v) => s + v * v, 0) / diff.length;
      if (train) {
        const dhN = new Float32Array(hN.size);
        diff.forEach((v, i) => { dhN[8 + i] = (2 * v) / diff.length; });
        optimizer.zeroGrad();
        await tape.backward(hN, new Tensor(hN.shape, dhN));
        optimizer.step();
      }
      return loss;
    };
    const before = await lossAt(false);
    for (let step = 0; step < 40; step++) await lossAt(true);
    const after = await lossAt(false);
    expect(after).toBeLessThan(before * 0.5);
  });
});
