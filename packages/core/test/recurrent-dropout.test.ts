import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Backend, createBackend, functional, GRU, LSTM, recurrentFromConfig, RNN, Tape, Tensor, type RecurrentLayer } from '../src/index.js';
import { dropoutMask, mulberry32 } from '../src/random.js';
import { recurrentBackwardRef, recurrentForwardRef, type RecurrentShape } from '../src/reference/recurrent.js';
import { backendsUnderTest, maxDiff, randomTensor } from './helpers.js';

/*
 * recurrentDropout (Keras's recurrent_dropout) on every backend: the layers (the fused pipeline,
 * a mask on the state each step reads) against the float64 reference given the same masks (drawn
 * again here from the layer's own generator, in the layer's order: dropout between layers, weight
 * drop, then one recurrent mask per layer and direction), outputs and every gradient; in eval
 * mode no mask, to the bit.
 */
const TOLERANCE = 2e-5;
const backends = await backendsUnderTest();
const [T, B] = [5, 3];
const lengths = [5, 2, 4];

type Make = (options: { recurrentDropout: number; weightDropout?: number }) => RecurrentLayer;
const layers: Array<[string, Make]> = [
  ['LSTM', (o) => new LSTM({ inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, dropout: 0.25, seed: 3, ...o })],
  ['GRU', (o) => new GRU({ inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, dropout: 0.25, seed: 4, ...o })],
  ['RNN', (o) => new RNN({ inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, dropout: 0.25, seed: 5, ...o })],
];

describe.each(backends)('recurrentDropout on %s', (name) => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await createBackend(name);
  });
  afterAll(async () => {
    await backend.dispose();
  });

  it.each(layers)('%s (two bidirectional layers, lengths, given states, dropout between layers, weight drop): the reference\'s outputs and gradients', async (_, make) => {
    const layer = make({ recurrentDropout: 0.3, weightDropout: 0.2 }).to(backend).train();
    const { config } = layer;
    const isLstm = config.kind === 'lstm';
    const [D, H, L] = [2, config.hiddenSize, config.numLayers];
    const x = randomTensor([T, B, 3], 1);
    const h0 = randomTensor([L * D, B, H], 2, 0.5);
    const c0 = isLstm ? randomTensor([L * D, B, H], 3, 0.5) : undefined;
    // replay the layer's draws
    const random = mulberry32(0);
    random.state = layer.randomStates().random!;
    const dropoutMasks = [dropoutMask(T * B * D * H, 0.75, random)];
    const weightMasks = new Map<string, Float32Array>();
    for (const [param, t] of layer.stateDict()) if (param.startsWith('weight_hh')) weightMasks.set(param, dropoutMask(t.size, 0.8, random));
    const recurrentMasks = Array.from({ length: L * D }, () => dropoutMask(B * H, 0.7, random));

    const tape = new Tape();
    const { output, hN, cN } = await tape.run(() => layer.forward(x, { lengths, h0, ...(c0 ? { c0 } : {}) }));
    const gOut = randomTensor([...output.shape], 4);
    const gH = randomTensor([...hN.shape], 5);
    const gC = cN ? randomTensor([...cN.shape], 6) : undefined;
    const { add, mul, sum } = functional;
    const loss = await tape.run(async () => {
      const main = add(sum(mul(output, gOut)), sum(mul(hN, gH)));
      return cN ? add(main, sum(mul(cN, gC!))) : main;
    });
    const grads = await tape.backward(loss);

    const shape: RecurrentShape = { kind: config.kind, inputSize: 3, hiddenSize: H, numLayers: L, bidirectional: true, bias: true };
    const f64 = (a: Float32Array) => Float64Array.from(a);
    const params = new Map([...layer.stateDict()].map(([param, t]) => [param, f64(weightMasks.has(param) ? t.data.map((v, i) => v * weightMasks.get(param)![i]!) : t.data)]));
    const inputs = {
      x: f64(x.data), steps: T, batch: B, lengths, h0: f64(h0.data), ...(c0 ? { c0: f64(c0.data) } : {}),
      dropoutMasks: dropoutMasks.map(f64), recurrentMasks: recurrentMasks.map(f64),
    };
    const expected = recurrentForwardRef(shape, params, inputs);
    expect(maxDiff(output.data, expected.output)).toBeLessThan(TOLERANCE);
    expect(maxDiff(hN.data, expected.hN)).toBeLessThan(TOLERANCE);
    if (cN) expect(maxDiff(cN.data, expected.cN!)).toBeLessThan(TOLERANCE);
    const back = recurrentBackwardRef(shape, params, inputs, expected, f64(gOut.data), f64(gH.data), gC ? f64(gC.data) : undefined);
    expect(maxDiff(grads.get(x)!.data, back.dx)).toBeLessThan(TOLERANCE);
    expect(maxDiff(grads.get(h0)!.data, back.dh0)).toBeLessThan(TOLERANCE);
    if (c0) expect(maxDiff(grads.get(c0)!.data, back.dc0!)).toBeLessThan(TOLERANCE);
    for (const [param, p] of layer.namedParameters()) {
      const mask = weightMasks.get(param);
      const expectedGrad = mask ? back.grads.get(param)!.map((v, i) => v * mask[i]!) : back.grads.get(param)!;
      expect(maxDiff(p.grad.data, expectedGrad), param).toBeLessThan(TOLERANCE);
    }
  });

  it.each(layers)('%s in eval mode is the plain layer, to the bit', async (_, make) => {
    const x = randomTensor([T, B, 3], 7);
    const plain = await make({ recurrentDropout: 0 }).to(backend).eval().forward(x, { lengths });
    const dropped = await make({ recurrentDropout: 0.5 }).to(backend).eval().forward(x, { lengths });
    expect(dropped.output.data).toEqual(plain.output.data);
    expect(dropped.hN.data).toEqual(plain.hN.data);
  });

  it('a learned initial state, batch-first: its gradient is the batch sum of an explicit state\'s', async () => {
    const make = () => new LSTM({ inputSize: 3, hiddenSize: 4, batchFirst: true, initialState: 'learned', recurrentDropout: 0.4, seed: 9 }).to(backend).train();
    const learned = make();
    learned.stateDict().get('h0')!.data.set([0.1, -0.2, 0.3, 0.05]);
    learned.stateDict().get('c0')!.data.set([0.2, 0.1, -0.1, 0.3]);
    const x = randomTensor([B, T, 3], 8);
    const tape = new Tape();
    const { output } = await tape.run(() => learned.forward(x, { lengths }));
    await tape.backward(output, Tensor.full(output.shape, 1));

    const explicit = make(); // the same seed: the same masks
    const tile = (v: number[]) => new Tensor([1, B, 4], Float32Array.from({ length: B * 4 }, (_, i) => v[i % 4]!));
    const h0 = tile([0.1, -0.2, 0.3, 0.05]);
    const c0 = tile([0.2, 0.1, -0.1, 0.3]);
    const tape2 = new Tape();
    const again = await tape2.run(() => explicit.forward(x, { lengths, h0, c0 }));
    const grads = await tape2.backward(again.output, Tensor.full(again.output.shape, 1));
    expect(maxDiff(output.data, again.output.data)).toBe(0);
    const batchSum = (g: Float32Array) => [0, 1, 2, 3].map((j) => g[j]! + g[4 + j]! + g[8 + j]!);
    const named = new Map(learned.namedParameters());
    expect(maxDiff(named.get('h0')!.grad.data, batchSum(grads.get(h0)!.data))).toBeLessThan(1e-6);
    expect(maxDiff(named.get('c0')!.grad.data, batchSum(grads.get(c0)!.data))).toBeLessThan(1e-6);
  });
});

describe('recurrentDropout options', () => {
  it('round-trips through the config, and refuses values out of range and projSize beside it', () => {
    const gru = new GRU({ inputSize: 2, hiddenSize: 3, recurrentDropout: 0.25 });
    expect(gru.toConfig().recurrentDropout).toBe(0.25);
    expect(recurrentFromConfig(gru.toConfig()).toConfig()).toEqual(gru.toConfig());
    expect(new GRU({ inputSize: 2, hiddenSize: 3 }).toConfig()).not.toHaveProperty('recurrentDropout');
    expect(() => new LSTM({ inputSize: 2, hiddenSize: 3, recurrentDropout: 1 })).toThrow('recurrentDropout');
    expect(() => new LSTM({ inputSize: 2, hiddenSize: 3, projSize: 2, recurrentDropout: 0.2 })).toThrow('recurrentDropout and projSize cannot be combined');
  });
});
