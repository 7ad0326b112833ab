import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createBackend, functional, GRU, GRUCell, LSTM, LSTMCell, readSafetensors, RNN, RNNCell, Tape, Tensor, WeightProduct, withBackend, type Backend, type RecurrentCell,
} from '../src/index.js';
import { backendsUnderTest, randomTensor } from './helpers.js';

/*
 * PyTorch's nn.RNNCell, GRUCell and LSTMCell, stepped over a sequence in a loop with the states
 * fed back (fixtures/make_cell_fixture.py, float64, run in f32 here): every state and every
 * gradient (inputs, initial states, parameters) within 1e-5 absolute, on every backend.
 */
const TOLERANCE = 1e-5;
const fixture = readSafetensors(new URL('../fixtures/cells.safetensors', import.meta.url).pathname);
interface CaseSettings {
  cell: 'RNNCell' | 'GRUCell' | 'LSTMCell'; inputSize: number; hiddenSize: number; bias: boolean; nonlinearity: 'tanh' | 'relu' | null;
  steps: number; batch: number | null; givenState: boolean;
}
const cases = JSON.parse(fixture.metadata.cases!) as Record<string, CaseSettings>;
const stored = (name: string) => {
  const t = fixture.tensors.get(name);
  return t && new Tensor(t.shape, Float32Array.from(t.data as Float64Array));
};
const expected = (name: string) => fixture.tensors.get(name)!.data as Float64Array;
const maxError = (actual: Float32Array, wanted: Float64Array) => {
  expect(actual.length).toBe(wanted.length);
  return actual.reduce((m, v, i) => Math.max(m, Math.abs(v - wanted[i]!)), 0);
};

function makeCell(s: CaseSettings): RecurrentCell {
  const options = { inputSize: s.inputSize, hiddenSize: s.hiddenSize, bias: s.bias };
  if (s.cell === 'LSTMCell') return new LSTMCell(options);
  if (s.cell === 'GRUCell') return new GRUCell(options);
  return new RNNCell({ ...options, nonlinearity: s.nonlinearity! });
}

/** Steps a cell over the steps of x ([T, ...]) from `state`, as PyTorch's loop does: the h (and c) of every step. */
async function unroll(cell: RecurrentCell, xs: Tensor[], h0?: Tensor, c0?: Tensor): Promise<{ hs: Tensor[]; cs: Tensor[] }> {
  const hs: Tensor[] = [];
  const cs: Tensor[] = [];
  let h = h0;
  let c = c0;
  for (const x of xs) {
    if (cell instanceof LSTMCell) {
      [h, c] = await cell.forward(x, h && c ? [h, c] : undefined);
      cs.push(c);
    } else {
      h = await (cell as RNNCell | GRUCell).forward(x, h);
    }
    hs.push(h);
  }
  return { hs, cs };
}

const backends = await backendsUnderTest();
const table: Array<{ backend: string; fixture: string; forward: number; backward: number }> = [];

describe.each(backends)('recurrent cells on %s', (name) => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await createBackend(name);
  });
  afterAll(async () => {
    await backend.dispose();
  });

  it.each(Object.keys(cases))('match PyTorch stepped in a loop, with backpropagation through time: %s', async (caseName) => {
    const s = cases[caseName]!;
    const cell = makeCell(s).to(backend);
    const params = new Map(cell.namedParameters().map(([n]) => [n, stored(`${caseName}.${n}`)!]));
    expect([...params.keys()]).toEqual(s.bias ? ['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'] : ['weight_ih', 'weight_hh']);
    expect(cell.loadStateDict(params, { strict: true })).toEqual({ missingKeys: [], unexpectedKeys: [] });
    const x = stored(`${caseName}.x`)!;
    const inner = x.size / s.steps;
    const xs = Array.from({ length: s.steps }, (_, t) => new Tensor(x.shape.slice(1), x.data.slice(t * inner, (t + 1) * inner)));
    const h0 = stored(`${caseName}.h0`);
    const c0 = stored(`${caseName}.c0`);
    const tape = new Tape();
    const { hs, cs } = await tape.run(() => unroll(cell, xs, h0, c0));
    const states = await tape.run(async () => functional.stack([...hs, ...cs]));
    const forward = Math.max(
      maxError(Float32Array.from(hs.flatMap((h) => [...h.data])), expected(`${caseName}.h`)),
      cs.length ? maxError(Float32Array.from(cs.flatMap((c) => [...c.data])), expected(`${caseName}.c`)) : 0,
    );
    const weights = Float32Array.from([...expected(`${caseName}.wh`), ...(cs.length ? expected(`${caseName}.wc`) : [])]);
    const grads = await tape.backward(states, new Tensor(states.shape, weights));
    const errors = [maxError(Float32Array.from(xs.flatMap((xt) => [...grads.get(xt)!.data])), expected(`${caseName}.grad.x`))];
    if (h0) errors.push(maxError(grads.get(h0)!.data, expected(`${caseName}.grad.h0`)));
    if (c0) errors.push(maxError(grads.get(c0)!.data, expected(`${caseName}.grad.c0`)));
    for (const [n, p] of cell.namedParameters()) errors.push(maxError(p.grad.data, expected(`${caseName}.grad.${n}`)));
    const backward = Math.max(...errors);
    table.push({ backend: name, fixture: caseName, forward, backward });
    expect(forward).toBeLessThan(TOLERANCE);
    expect(backward).toBeLessThan(TOLERANCE);
  });

  it('a cell stepped T times is the one-layer network over T steps, forward and backward', async () => {
    const [E, H, T, B] = [3, 4, 5, 2];
    const layers = [
      [new LSTM({ inputSize: E, hiddenSize: H, seed: 3 }), new LSTMCell({ inputSize: E, hiddenSize: H })],
      [new GRU({ inputSize: E, hiddenSize: H, seed: 4 }), new GRUCell({ inputSize: E, hiddenSize: H })],
      [new RNN({ inputSize: E, hiddenSize: H, seed: 5, nonlinearity: 'relu' }), new RNNCell({ inputSize: E, hiddenSize: H, nonlinearity: 'relu' })],
    ] as const;
    for (const [layer, cell] of layers) {
      layer.to(backend);
      cell.to(backend);
      cell.loadStateDict(new Map([...layer.stateDict()].map(([n, t]) => [n.replace(/_l0$/, ''), t])), { strict: true });
      const x = randomTensor([T, B, E], 7);
      const dOut = randomTensor([T, B, H], 8);
      const layerTape = new Tape();
      const { output } = await layerTape.run(() => layer.forward(x));
      const layerGrads = await layerTape.backward(output, dOut);
      const xs = Array.from({ length: T }, (_, t) => new Tensor([B, E], x.data.slice(t * B * E, (t + 1) * B * E)));
      const cellTape = new Tape();
      const { hs } = await cellTape.run(() => unroll(cell, xs));
      const stacked = await cellTape.run(async () => functional.stack(hs));
      const cellGrads = await cellTape.backward(stacked, dOut);
      const close = (a: Float32Array, b: Float32Array, what: string) => {
        const worst = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
        expect(worst, `${cell.typeName} ${what}`).toBeLessThan(1e-6);
      };
      close(stacked.data, output.data, 'outputs');
      close(Float32Array.from(xs.flatMap((xt) => [...cellGrads.get(xt)!.data])), layerGrads.get(x)!.data, 'input gradient');
      const layerParams = new Map(layer.namedParameters());
      for (const [n, p] of cell.namedParameters()) close(p.grad.data, layerParams.get(`${n}_l0`)!.grad.data, `${n} gradient`);
    }
  });
});

describe.each(backends)('a recurrent layer run a step a call on %s', (name) => {
  it('is the layer over all the steps, forward and backward: its weight gradients one product of every call\'s rows', async () => {
    await withBackend(name, async (backend) => {
      const [E, H, T, B] = [3, 4, 5, 2];
      let products = 0;
      for (const [Layer, seed] of [[LSTM, 3], [GRU, 4]] as const) {
        const layer = new Layer({ inputSize: E, hiddenSize: H, numLayers: 2, seed }).to(backend).train();
        const x = randomTensor([T, B, E], 7);
        const dOut = randomTensor([T, B, H], 8);
        const whole = new Tape();
        const { output } = await whole.run(() => layer.forward(x));
        await whole.backward(output, dOut);
        const expected = new Map(layer.namedParameters().map(([n, p]) => [n, Float32Array.from(p.grad.data)]));
        layer.zeroGrad();
        // A decoder's loop (input feeding): one call a step, the state carried.
        const stepped = new Tape();
        const record = stepped.record.bind(stepped);
        stepped.record = (node, inputs, outs, backward) => record(node, inputs, outs, async (g, context) => {
          const result = await backward(g, context);
          products += result.filter((r) => r instanceof WeightProduct).length;
          return result;
        });
        const xs = Array.from({ length: T }, (_, t) => new Tensor([1, B, E], x.data.slice(t * B * E, (t + 1) * B * E)));
        const outputs = await stepped.run(async () => {
          const steps: Tensor[] = [];
          let state: { h0?: Tensor; c0?: Tensor } = {};
          for (const xt of xs) {
            const { output: out, hN, cN } = await layer.forward(xt, state);
            steps.push(out);
            state = { h0: hN, ...(cN ? { c0: cN } : {}) };
          }
          return functional.stack(steps).reshape([T, B, H]);
        });
        expect(outputs.data.every((v, i) => Math.abs(v - output.data[i]!) < 1e-6)).toBe(true);
        await stepped.backward(outputs, dOut);
        for (const [n, p] of layer.namedParameters()) {
          const want = expected.get(n)!;
          const worst = p.grad.data.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i]!)), 0);
          expect(worst, `${layer.constructor.name} ${n}`).toBeLessThan(1e-5);
        }
        // every call handed its four weight gradients (two layers, ih and hh) as products to join
        expect(products).toBe(4 * T);
        products = 0;
      }
    });
  });
});

describe('recurrent cells: options and shapes', () => {
  it('has PyTorch\'s parameter names and shapes, and initialises as PyTorch (U(-1/sqrt(H), 1/sqrt(H)))', () => {
    const cell = new LSTMCell({ inputSize: 3, hiddenSize: 16 });
    expect(cell.namedParameters().map(([n, p]) => [n, p.shape])).toEqual([['weight_ih', [64, 3]], ['weight_hh', [64, 16]], ['bias_ih', [64]], ['bias_hh', [64]]]);
    const values = cell.parameters().flatMap((p) => [...p.value.data]);
    expect(Math.max(...values.map(Math.abs))).toBeLessThanOrEqual(0.25);
    expect(Math.max(...values.map(Math.abs))).toBeGreaterThan(0.2);
    expect(new GRUCell({ inputSize: 2, hiddenSize: 3, bias: false }).namedParameters().map(([n, p]) => [n, p.shape])).toEqual([['weight_ih', [9, 2]], ['weight_hh', [9, 3]]]);
    expect(new RNNCell({ inputSize: 2, hiddenSize: 3 }).namedParameters().map(([n]) => n)).toEqual(['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh']);
  });

  it('refuses bad options and shapes with a message naming what was expected', async () => {
    expect(() => new LSTMCell({ inputSize: 0, hiddenSize: 3 })).toThrow('LSTMCell: inputSize must be a positive integer, got 0');
    expect(() => new RNNCell({ inputSize: 2, hiddenSize: 3, nonlinearity: 'sigmoid' as 'tanh' })).toThrow("RNNCell: nonlinearity must be 'tanh' or 'relu', got \"sigmoid\"");
    const backend = await createBackend('cpu');
    const lstm = new LSTMCell({ inputSize: 2, hiddenSize: 3 }).to(backend);
    await expect(lstm.forward(Tensor.zeros([4, 5]))).rejects.toThrow('LSTMCell: input must have shape [B, 2] or [2], got [4, 5]');
    await expect(lstm.forward(Tensor.zeros([4, 2]), [Tensor.zeros([4, 3]), Tensor.zeros([3])])).rejects.toThrow('LSTMCell: c must have shape [4, 3] for an input of shape [4, 2], got [3]');
    await expect(lstm.forward(Tensor.zeros([2]), [Tensor.zeros([1, 3]), Tensor.zeros([3])])).rejects.toThrow('LSTMCell: h must have shape [3] for an input of shape [2], got [1, 3]');
    await expect(lstm.forward(Tensor.zeros([4, 2]), [Tensor.zeros([4, 3])] as unknown as [Tensor, Tensor])).rejects.toThrow('LSTMCell: the state must be a pair [h, c], got 1 tensors');
    const gru = new GRUCell({ inputSize: 2, hiddenSize: 3 }).to(backend);
    await expect(gru.forward(Tensor.zeros([4, 2]), Tensor.zeros([3, 3]))).rejects.toThrow('GRUCell: hx must have shape [4, 3] for an input of shape [4, 2], got [3, 3]');
    // unbatched in, unbatched out
    expect((await gru.forward(Tensor.zeros([2]))).shape).toEqual([3]);
    await backend.dispose();
  });
});

afterAll(() => {
  const rows = table.map((r) => `| ${r.fixture} | ${r.backend} | ${r.forward.toExponential(1)} | ${r.backward.toExponential(1)} |`);
  console.info(['| cell fixture | backend | max abs error, states | max abs error, gradients |', '|---|---|---|---|', ...rows].join('\n'));
});
