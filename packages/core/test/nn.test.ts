import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Adam, AdamW, Backend, binaryCrossEntropyWithLogits, clipGradNorm, clipGradValue, createBackend, crossEntropy, detach, Dropout,
  Embedding, Gradients, GRU, Linear, LSTM, Module, Parameter, RNN, SGD, Tape, Tensor, WeightProduct, withBackend,
} from '../src/index.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { sumOfSquares } from '../src/host-loops.js';
import { dropoutMask, mulberry32 } from '../src/random.js';
import { useSimdRows } from '../src/wasm/rows.js';
import { recurrentBackwardRef, recurrentForwardRef } from '../src/reference/recurrent.js';
import { useSimdAdam } from '../src/optim/adam-simd.js';
import { backendsUnderTest, maxDiff, randomTensor } from './helpers.js';
import { batchToTimeMajor, loadFixture } from './fixtures.js';

const pieces = readSafetensors(new URL('../fixtures/training_pieces.safetensors', import.meta.url).pathname);
const piece = (name: string) => {
  const t = pieces.tensors.get(name);
  if (!t) throw new Error(`training_pieces lacks ${name}`);
  return { shape: t.shape, data: t.data as Float64Array };
};
const f32 = (name: string) => new Tensor(piece(name).shape, Float32Array.from(piece(name).data));

/** PyTorch's two-layer bidirectional batch-first LSTM fixture: the layer with its weights, input and states. */
function bidirectionalFixtureLstm(backend: Backend) {
  const f = loadFixture('lstm_bidirectional_2_layers_packed_batch_first');
  const lstm = new LSTM({ inputSize: 4, hiddenSize: 3, numLayers: 2, bidirectional: true, batchFirst: true }).to(backend);
  lstm.loadStateDict(new Map([...f.params].map(([n, v]) => [n, new Tensor(lstm.stateDict().get(n)!.shape, Float32Array.from(v))])));
  const B = f.config.batch;
  const T = f.config.steps;
  // The fixture helper made everything time-major; the layer takes the batch-first original.
  const x = new Tensor([B, T, 4], Float32Array.from(batchToTimeMajor(f.x, T, B)));
  const h0 = new Tensor([4, B, 3], Float32Array.from(f.h0!));
  const c0 = new Tensor([4, B, 3], Float32Array.from(f.c0!));
  return { f, lstm, B, T, x, h0, c0 };
}

const backends = await backendsUnderTest();

describe.each(backends)('layers and losses on %s', (name) => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await createBackend(name);
  });
  afterAll(async () => {
    await backend.dispose();
  });

  it('off a tape, disposed outputs lend their buffers to the next call, whose values stay exact (padded steps zero, two layers, batch-first)', async () => {
    const { f, lstm, B, T, x, h0, c0 } = bidirectionalFixtureLstm(backend);
    // every step of every sequence: no zero left in the buffers that go back
    const full = await lstm.forward(x, { h0, c0 });
    expect(full.output.data.every((v) => v !== 0)).toBe(true);
    full.output.dispose();
    const { output, hN, cN } = await lstm.forward(x, { lengths: f.lengths!, h0, c0 });
    expect(maxDiff(output.data, batchToTimeMajor(f.output, T, B))).toBeLessThan(1e-5);
    expect(maxDiff(hN.data, f.hN)).toBeLessThan(1e-5);
    expect(maxDiff(cN!.data, f.cN!)).toBeLessThan(1e-5);
  });

  it('LSTM loads PyTorch weights and reproduces its outputs and gradients (batch-first, packed, given states)', async () => {
    const { f, lstm, B, T, x, h0, c0 } = bidirectionalFixtureLstm(backend);
    const tape = new Tape();
    const { output, hN, cN } = await tape.run(() => lstm.forward(x, { lengths: f.lengths!, h0, c0 }));
    expect(output.shape).toEqual([B, T, 6]);
    expect(maxDiff(output.data, batchToTimeMajor(f.output, T, B))).toBeLessThan(1e-5);
    expect(maxDiff(hN.data, f.hN)).toBeLessThan(1e-5);
    expect(maxDiff(cN!.data, f.cN!)).toBeLessThan(1e-5);
    // The fixture's loss weighs output, h_n and c_n; backward from the output alone here, and
    // compare with the float64 reference given the same single source of gradient.
    const dOut = Float32Array.from(batchToTimeMajor(f.gradOutput, T, B));
    const grads = await tape.backward(output, new Tensor([B, T, 6], dOut));
    const inputs = { x: f.x, steps: T, batch: B, lengths: f.lengths!, h0: f.h0!, c0: f.c0! };
    const ref = recurrentForwardRef(f.config, f.params, inputs);
    const refGrads = recurrentBackwardRef(f.config, f.params, inputs, ref, f.gradOutput);
    for (const [param, p] of lstm.namedParameters()) expect(maxDiff(p.grad.data, refGrads.grads.get(param)!), param).toBeLessThan(1e-5);
    expect(maxDiff(grads.get(x)!.data, batchToTimeMajor(refGrads.dx, T, B))).toBeLessThan(1e-5);
    expect(maxDiff(grads.get(h0)!.data, refGrads.dh0)).toBeLessThan(1e-5);
    expect(maxDiff(grads.get(c0)!.data, refGrads.dc0!)).toBeLessThan(1e-5);
  });

  it('learned initial states get the batch-summed gradient of h0', async () => {
    const gru = new GRU({ inputSize: 2, hiddenSize: 3, initialState: 'learned', seed: 3 }).to(backend);
    expect([...gru.stateDict().keys()]).toEqual(['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0', 'h0']);
    gru.stateDict().get('h0')!.data.set([0.1, -0.2, 0.3]);
    const x = randomTensor([4, 2, 2], 5);
    const tape = new Tape();
    const { hN } = await tape.run(() => gru.forward(x));
    await tape.backward(hN, Tensor.full(hN.shape, 1));
    // Same network with the state given explicitly for both sequences.
    const explicit = new GRU({ inputSize: 2, hiddenSize: 3, seed: 3 }).to(backend);
    const h0 = new Tensor([1, 2, 3], Float32Array.from([0.1, -0.2, 0.3, 0.1, -0.2, 0.3]));
    const tape2 = new Tape();
    const again = await tape2.run(() => explicit.forward(x, { h0 }));
    const grads = await tape2.backward(again.hN, Tensor.full(hN.shape, 1));
    const dh0 = grads.get(h0)!.data;
    expect(maxDiff(hN.data, again.hN.data)).toBe(0);
    expect(maxDiff(gru.namedParameters().find(([n]) => n === 'h0')![1].grad.data, [0, 1, 2].map((j) => dh0[j]! + dh0[3 + j]!))).toBeLessThan(1e-6);
  });

  it('detach cuts the graph between chunks (truncated BPTT)', async () => {
    const rnn = new RNN({ inputSize: 2, hiddenSize: 2, seed: 1 }).to(backend);
    const tape = new Tape();
    const first = await tape.run(() => rnn.forward(randomTensor([3, 1, 2], 1)));
    const carried = detach(first.hN);
    const second = await tape.run(() => rnn.forward(randomTensor([3, 1, 2], 2), { h0: carried }));
    const grads = await tape.backward(second.output, Tensor.full(second.output.shape, 1));
    expect(grads.has(carried)).toBe(true);
    expect(grads.has(first.hN)).toBe(false);
    expect(grads.has(first.output)).toBe(false);
  });

  it('cross-entropy (ignoreIndex, label smoothing, mean and sum) matches PyTorch, loss and gradient', async () => {
    const logits = f32('ce.logits');
    const targets = f32('ce.targets');
    for (const smoothing of ['plain', 'smoothed'] as const) {
      for (const reduction of ['mean', 'sum'] as const) {
        const tape = new Tape();
        const loss = await tape.run(() => crossEntropy(logits, targets, { labelSmoothing: smoothing === 'smoothed' ? 0.1 : 0, reduction, backend }));
        const grads = await tape.backward(loss);
        expect(Math.abs(loss.data[0]! - piece(`ce.${smoothing}.${reduction}.loss`).data[0]!)).toBeLessThan(1e-5);
        expect(maxDiff(grads.get(logits)!.data, piece(`ce.${smoothing}.${reduction}.grad`).data)).toBeLessThan(1e-6);
      }
    }
  });

  it('Linear and Embedding backpropagate into their parameters; the padding row stays zero', async () => {
    const embedding = new Embedding({ numEmbeddings: 5, embeddingDim: 3, paddingIdx: 0, seed: 2 }).to(backend);
    const linear = new Linear({ inFeatures: 3, outFeatures: 4, seed: 3 }).to(backend);
    expect([...embedding.weight.value.data.subarray(0, 3)]).toEqual([0, 0, 0]);
    const indices = Tensor.from([2, 3], [1, 0, 4, 4, 2, 0]);
    const targets = Tensor.from([2, 3], [0, 1, 2, 3, 0, 1]);
    const tape = new Tape();
    const loss = await tape.run(async () => crossEntropy(await linear.forward(await embedding.forward(indices)), targets, { backend }));
    await tape.backward(loss);
    // Float64 check of the same composition by hand.
    const E = embedding.weight.value.data;
    const W = linear.weight.value.data;
    const b = linear.bias!.value.data;
    const dW = new Float64Array(12);
    const dE = new Float64Array(15);
    indices.data.forEach((row, i) => {
      const h = [0, 1, 2].map((k) => E[row * 3 + k]!);
      const z = [0, 1, 2, 3].map((o) => b[o]! + h.reduce((s, v, k) => s + v * W[o * 3 + k]!, 0));
      const m = Math.max(...z);
      const p = z.map((v) => Math.exp(v - m));
      const total = p.reduce((s, v) => s + v, 0);
      const dz = p.map((v, o) => (v / total - (o === targets.data[i] ? 1 : 0)) / 6);
      dz.forEach((g, o) => h.forEach((v, k) => (dW[o * 3 + k]! += g * v)));
      if (row !== 0) [0, 1, 2].forEach((k) => (dE[row * 3 + k]! += dz.reduce((s, g, o) => s + g * W[o * 3 + k]!, 0)));
    });
    expect(maxDiff(linear.weight.grad.data, dW)).toBeLessThan(1e-6);
    expect(maxDiff(embedding.weight.grad.data, dE)).toBeLessThan(1e-6);
  });

  it('Dropout zeroes about p of the values in training, scales the rest, and is the identity in eval', async () => {
    const dropout = new Dropout(0.25, 9).to(backend);
    const x = Tensor.full([4000], 1);
    const y = await dropout.forward(x);
    const zeros = y.data.filter((v) => v === 0).length;
    expect(zeros / 4000).toBeGreaterThan(0.2);
    expect(zeros / 4000).toBeLessThan(0.3);
    expect(y.data.filter((v) => v !== 0).every((v) => Math.abs(v - 1 / 0.75) < 1e-6)).toBe(true);
    expect(await dropout.eval().forward(x)).toBe(x);
  });

  it('Dropout multiplies by its mask in f32, forward and backward (the same mask)', async () => {
    const dropout = new Dropout(0.3, 4).to(backend);
    const x = randomTensor([5, 40], 2);
    const tape = new Tape();
    const y = await tape.run(() => dropout.forward(x));
    const g = randomTensor([5, 40], 3);
    const dx = (await tape.backward(y, g)).get(x)!.data;
    const scale = Math.fround(1 / 0.7);
    const mask = y.data.map((v) => (v === 0 ? 0 : scale));
    expect(mask.filter((m) => m === 0).length).toBeGreaterThan(30);
    y.data.forEach((v, i) => expect(v).toBe(Math.fround(x.data[i]! * mask[i]!)));
    dx.forEach((v, i) => expect(v).toBe(Math.fround(g.data[i]! * mask[i]!)));
  });
});

describe('dropoutMask', () => {
  it("is the mask a loop of random() < keep draws, and leaves the generator where that loop would", () => {
    for (const [size, keep, seed] of [[1, 0.5, 0], [1000, 0.7, 9], [4099, 0.25, 0xffffffff]] as const) {
      const stepped = mulberry32(seed);
      const called = mulberry32(seed);
      const mask = dropoutMask(size, keep, stepped);
      const expected = Float32Array.from({ length: size }, () => (called() < keep ? 1 / keep : 0));
      expect(mask).toEqual(expected);
      expect(stepped.state).toBe(called.state);
      expect(stepped()).toBe(called());
    }
  });
});

describe('sumOfSquares (the gradients\' norm)', () => {
  it('gives the same number to the last bit in WebAssembly as in JavaScript, tails included', () => {
    const random = mulberry32(3);
    for (const size of [4096, 4099, 100_003]) {
      // magnitudes over many octaves, so that the order of the additions shows in the result
      const values = Float32Array.from({ length: size }, () => (random() - 0.5) * 2 ** Math.floor(random() * 40 - 20));
      useSimdRows(false);
      const plain = sumOfSquares(values);
      useSimdRows(true);
      expect(sumOfSquares(values)).toBe(plain);
      expect(Math.abs(plain - values.reduce((s, v) => s + v * v, 0)) / plain).toBeLessThan(1e-12);
    }
  });
});

describe('binary cross-entropy, optimisers and clipping against PyTorch', () => {
  it('binary cross-entropy with logits', async () => {
    const logits = f32('bce.logits');
    const tape = new Tape();
    const loss = await tape.run(() => binaryCrossEntropyWithLogits(logits, f32('bce.targets')));
    const grads = await tape.backward(loss);
    expect(Math.abs(loss.data[0]! - piece('bce.loss').data[0]!)).toBeLessThan(1e-6);
    expect(maxDiff(grads.get(logits)!.data, piece('bce.grad').data)).toBeLessThan(1e-6);
  });

  const optimisers = {
    sgd_nesterov: (p: Parameter) => new SGD([p], { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 }),
    sgd_momentum_dampening: (p: Parameter) => new SGD([p], { lr: 0.05, momentum: 0.5, dampening: 0.3 }),
    adam: (p: Parameter) => new Adam([p], { lr: 0.01, weightDecay: 0.1 }),
    adamw: (p: Parameter) => new AdamW([p], { lr: 0.01, betas: [0.8, 0.99], weightDecay: 0.1 }),
  };
  // Adam's WebAssembly SIMD loop, and the plain loop taken where WebAssembly SIMD is missing.
  it.each((Object.keys(optimisers) as Array<keyof typeof optimisers>).flatMap((key) => [[key, true], [key, false]] as const))('%s (SIMD %s): five steps land where PyTorch lands', (key, simd) => {
    useSimdAdam(simd);
    try {
      const p = new Parameter(f32('optim.start'));
      const optimiser = optimisers[key](p);
      const grads = piece('optim.grads').data;
      for (let step = 0; step < 5; step++) {
        p.grad.data.set(grads.subarray(step * 7, step * 7 + 7));
        optimiser.step();
      }
      expect(maxDiff(p.value.data, piece(`optim.${key}`).data)).toBeLessThan(1e-6);
    } finally {
      useSimdAdam(true);
    }
  });

  it('an optimiser resumes exactly from its state', () => {
    const run = (resumeAt?: number) => {
      const p = new Parameter(f32('optim.start'));
      let optimiser = new Adam([p], { lr: 0.01 });
      const grads = piece('optim.grads').data;
      for (let step = 0; step < 5; step++) {
        if (step === resumeAt) {
          const saved = optimiser.stateDict();
          optimiser = new Adam([p], { lr: 0.5 });
          optimiser.loadStateDict(saved);
        }
        p.grad.data.set(grads.subarray(step * 7, step * 7 + 7));
        optimiser.step();
      }
      return p.value.data;
    };
    expect([...run(3)]).toEqual([...run()]);
  });

  it('clipGradNorm scales all gradients together as PyTorch does; clipGradValue clamps', () => {
    const a = new Parameter(Tensor.zeros([2, 3]));
    const b = new Parameter(Tensor.zeros([4]));
    a.grad.data.set(piece('clip.grad_a').data);
    b.grad.data.set(piece('clip.grad_b').data);
    const norm = clipGradNorm([a, b], 1.5);
    expect(Math.abs(norm - piece('clip.norm').data[0]!)).toBeLessThan(1e-5);
    expect(maxDiff(a.grad.data, piece('clip.clipped_a').data)).toBeLessThan(1e-6);
    expect(maxDiff(b.grad.data, piece('clip.clipped_b').data)).toBeLessThan(1e-6);
    a.grad.data.set([5, -5, 0.5, 0, 2, -2]);
    clipGradValue([a], 1);
    expect([...a.grad.data]).toEqual([1, -1, 0.5, 0, 1, -1]);
  });
});

describe('layer options and state dicts', () => {
  it('refuses bad options naming the layer, the option and the value', () => {
    expect(() => new LSTM({ inputSize: 0, hiddenSize: 4 })).toThrow('LSTM: inputSize must be a positive integer, got 0');
    expect(() => new GRU({ inputSize: 3, hiddenSize: 4, dropout: 1 })).toThrow('GRU: dropout must be a number in [0, 1), got 1');
    expect(() => new RNN({ inputSize: 3, hiddenSize: 4, nonlinearity: 'sigmoid' as never })).toThrow("RNN: nonlinearity must be 'tanh' or 'relu', got \"sigmoid\"");
    expect(() => new RNN({ inputSize: 3, hiddenSize: 4, recurrentInit: 'identity', nonlinearity: 'tanh' })).toThrow("needs nonlinearity 'relu'");
    expect(() => new LSTM({ inputSize: 3, hiddenSize: 4, initialState: 'ones' as never })).toThrow("initialState must be 'zeros', 'learned' or 'random'");
  });

  it('names missing, unexpected and mis-shaped tensors as PyTorch does', () => {
    const lstm = new LSTM({ inputSize: 3, hiddenSize: 2 });
    const dict = lstm.stateDict();
    const missing = new Map(dict);
    missing.delete('bias_hh_l0');
    missing.set('weight_ih_l1', Tensor.zeros([8, 2]));
    expect(() => lstm.loadStateDict(missing)).toThrow(
      'Error(s) in loading state_dict for LSTM:\n\tMissing key(s) in state_dict: "bias_hh_l0".\n\tUnexpected key(s) in state_dict: "weight_ih_l1".',
    );
    expect(lstm.loadStateDict(missing, { strict: false })).toEqual({ missingKeys: ['bias_hh_l0'], unexpectedKeys: ['weight_ih_l1'] });
    const wrong = new Map(dict).set('weight_hh_l0', Tensor.zeros([8, 3]));
    expect(() => lstm.loadStateDict(wrong)).toThrow(
      'size mismatch for weight_hh_l0: copying a param with shape [8, 3] from checkpoint, the shape in current model is [8, 2].',
    );
  });

  it('refuses inputs, lengths and states of the wrong shape, naming both shapes', async () => {
    const backend = await createBackend('cpu');
    const lstm = new LSTM({ inputSize: 3, hiddenSize: 2, numLayers: 2 }).to(backend);
    await expect(lstm.forward(Tensor.zeros([5, 2, 4]))).rejects.toThrow('LSTM: input must have shape [T, B, 3], got [5, 2, 4]');
    await expect(lstm.forward(Tensor.zeros([5, 2, 3]), { lengths: [5, 6] })).rejects.toThrow('LSTM: lengths[1] = 6 must be an integer in 1..5');
    await expect(lstm.forward(Tensor.zeros([5, 2, 3]), { h0: Tensor.zeros([1, 2, 2]) })).rejects.toThrow('LSTM: h0 must have shape [2, 2, 2], got [1, 2, 2]');
    const gru = new GRU({ inputSize: 3, hiddenSize: 2 }).to(backend);
    await expect(gru.forward(Tensor.zeros([5, 2, 3]), { c0: Tensor.zeros([1, 2, 2]) })).rejects.toThrow('GRU: c0 is for the LSTM only');
    await backend.dispose();
  });

  it('initialisers: PyTorch uniform bound, orthogonal blocks, IRNN identity, forget-gate bias', () => {
    const bound = 1 / Math.sqrt(16);
    const lstm = new LSTM({ inputSize: 5, hiddenSize: 16, forgetBias: 1, recurrentInit: 'orthogonal', seed: 4 });
    const dict = lstm.stateDict();
    expect(dict.get('weight_ih_l0')!.data.every((v) => Math.abs(v) <= bound)).toBe(true);
    const whh = dict.get('weight_hh_l0')!.data;
    for (let gate = 0; gate < 4; gate++) {
      for (let r = 0; r < 16; r++)
        for (let s = 0; s < 16; s++) {
          let dot = 0;
          for (let k = 0; k < 16; k++) dot += whh[(gate * 16 + r) * 16 + k]! * whh[(gate * 16 + s) * 16 + k]!;
          expect(Math.abs(dot - (r === s ? 1 : 0))).toBeLessThan(1e-5);
        }
    }
    expect([...dict.get('bias_ih_l0')!.data.subarray(16, 32)].every((v) => v === 1)).toBe(true);
    expect([...dict.get('bias_hh_l0')!.data.subarray(16, 32)].every((v) => v === 0)).toBe(true);
    const irnn = new RNN({ inputSize: 3, hiddenSize: 4, recurrentInit: 'identity' });
    expect(irnn.config.kind).toBe('rnn_relu');
    expect([...irnn.stateDict().get('weight_hh_l0')!.data]).toEqual([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
    expect([...irnn.stateDict().get('bias_ih_l0')!.data]).toEqual([0, 0, 0, 0]);
    expect(irnn.stateDict().get('weight_ih_l0')!.data.every((v) => Math.abs(v) < 0.01)).toBe(true);
  });

  it('random initial states differ per call in training and are zeros in eval', async () => {
    const backend = await createBackend('cpu');
    const rnn = new RNN({ inputSize: 1, hiddenSize: 3, initialState: 'random', initialStateStd: 0.5, seed: 11 }).to(backend);
    const x = Tensor.zeros([1, 1, 1]);
    const a = (await rnn.forward(x)).hN.data;
    const b = (await rnn.forward(x)).hN.data;
    expect([...a]).not.toEqual([...b]);
    rnn.eval();
    const c = (await rnn.forward(x)).hN.data;
    const zerosState = new RNN({ inputSize: 1, hiddenSize: 3, seed: 0 }).to(backend);
    zerosState.loadStateDict(rnn.stateDict());
    expect([...c]).toEqual([...(await zerosState.forward(x)).hN.data]);
    await backend.dispose();
  });
});

describe('Parameter gradients (nn/tape.ts)', () => {
  const gradient = (values: number[]) => new Tensor([2, 2], Float32Array.from(values));

  it('accumulate across backward passes and read as zeros after zeroGrad until the next one', () => {
    const p = new Parameter(Tensor.zeros([2, 2]));
    p.accumulate(gradient([1, 2, 3, 4]));
    p.accumulate(gradient([0.5, 0.5, -0, -1]));
    expect([...p.grad.data]).toEqual([1.5, 2.5, 3, 3]);
    p.zeroGrad();
    expect([...p.grad.data]).toEqual([0, 0, 0, 0]); // a parameter no backward pass reached
    p.zeroGrad();
    p.accumulate(gradient([-1, 0, 2, -0]));
    p.accumulate(gradient([1, 1, 1, 1]));
    expect([...p.grad.data]).toEqual([0, 1, 3, 1]);
  });

  it('keep values written into grad after zeroGrad, and add the next backward pass to them', () => {
    const p = new Parameter(Tensor.zeros([2, 2]));
    p.accumulate(gradient([9, 9, 9, 9]));
    p.zeroGrad();
    p.grad.data[1] = 5;
    p.accumulate(gradient([1, 1, 1, 1]));
    expect([...p.grad.data]).toEqual([1, 6, 1, 1]);
  });

  it('take a first gradient after zeroGrad as is, negative zeros included (PyTorch assigns it)', () => {
    const p = new Parameter(Tensor.zeros([2, 2]));
    p.zeroGrad();
    p.accumulate(gradient([-0, 1, -0, 2]));
    expect(Object.is(p.grad.data[0], -0)).toBe(true);
    const frozen = new Parameter(Tensor.zeros([2, 2]));
    frozen.accumulate(gradient([1, 1, 1, 1]));
    frozen.requiresGrad = false;
    frozen.zeroGrad();
    frozen.accumulate(gradient([3, 3, 3, 3]));
    expect([...frozen.grad.data]).toEqual([0, 0, 0, 0]);
  });
});

describe.each(backends)('WeightProduct (nn/tape.ts) on %s', (name) => {
  it("a parameter several nodes read gets the sum of their products a^T b, joined into one; a frozen one none", async () => {
    await withBackend(name, async (backend) => {
      // A Linear applied to three inputs of different rows (a decoder's per-step layer), and a
      // frozen one applied twice: every node sees its weight as shared.
      const linear = new Linear({ inFeatures: 3, outFeatures: 2, seed: 1 }).to(backend);
      const frozen = new Linear({ inFeatures: 2, outFeatures: 2, seed: 2 }).to(backend);
      frozen.weight.requiresGrad = false;
      const xs = [randomTensor([2, 3], 1), randomTensor([1, 3], 2), randomTensor([4, 3], 3)];
      const dYs = [randomTensor([2, 2], 4), randomTensor([1, 2], 5), randomTensor([4, 2], 6)];
      const seen: boolean[] = [];
      let products = 0;
      const tape = new Tape();
      const record = tape.record.bind(tape);
      tape.record = (node, inputs, outputs, backward) => record(node, inputs, outputs, async (g, context) => {
        if (node === 'Linear') seen.push(context.shared(inputs[1]));
        const result = await backward(g, context);
        if (result[1] instanceof WeightProduct) products++;
        return result;
      });
      const outputs = await tape.run(async () => Promise.all(xs.map(async (x) => frozen.forward(await linear.forward(x)))));
      // the three outputs' gradients as one root: outputs concatenated by rows
      const root = new Tensor([7, 2], Float32Array.from(outputs.flatMap((o) => [...o.data])));
      tape.record('rows', outputs, [root], async ([g]) => outputs.map((o, i) => new Tensor(o.shape, g!.data.slice([0, 4, 6][i], [0, 4, 6][i]! + o.size))));
      await tape.backward(root, new Tensor([7, 2], Float32Array.from(dYs.flatMap((d) => [...d.data]))));
      expect(seen).toEqual(Array(6).fill(true));
      expect(products).toBe(6);
      // float64: sum over calls of (dY W_frozen)^T x
      const want = new Float64Array(6);
      xs.forEach((x, call) => {
        const rows = x.shape[0]!;
        for (let r = 0; r < rows; r++) {
          const dHidden = [0, 1].map((j) => [0, 1].reduce((sum, k) => sum + dYs[call]!.data[r * 2 + k]! * frozen.weight.value.data[k * 2 + j]!, 0));
          for (let o = 0; o < 2; o++) for (let i = 0; i < 3; i++) want[o * 3 + i]! += dHidden[o]! * x.data[r * 3 + i]!;
        }
      });
      expect(maxDiff(linear.weight.grad.data, want)).toBeLessThan(1e-5);
      expect([...frozen.weight.grad.data]).toEqual([0, 0, 0, 0]);
      expect(frozen.bias!.grad.data.some((v) => v !== 0)).toBe(true);
    });
  });

  it('refuses factors of different rows, and a product for an input that is not a parameter', async () => {
    await withBackend(name, async (backend) => {
      expect(() => new WeightProduct(backend, Tensor.zeros([2, 3]), Tensor.zeros([3, 3]))).toThrow('must have the same rows, got [2, 3] and [3, 3]');
      const x = Tensor.zeros([2]);
      const y = Tensor.zeros([2]);
      const tape = new Tape();
      tape.record('odd', [x], [y], async () => [new WeightProduct(backend, Tensor.zeros([1, 2]), Tensor.zeros([1, 1]))]);
      await expect(tape.backward(y, Tensor.zeros([2]))).rejects.toThrow("odd: a WeightProduct is a parameter's gradient, given for input 0");
    });
  });
});

describe('Gradients (nn/tape.ts)', () => {
  it('sums several gradients of one tensor without writing any gradient handed in', () => {
    const t = Tensor.zeros([3]);
    const [g1, g2, g3] = [[1, 2, 3], [10, 20, 30], [100, 200, 300]].map((v) => Tensor.from([3], v));
    const grads = new Gradients();
    grads.add(t, g1!);
    grads.add(t, g2!);
    grads.add(t, g3!);
    expect([...grads.get(t)!.data]).toEqual([111, 222, 333]);
    expect([...g1!.data]).toEqual([1, 2, 3]);
    expect([...g2!.data]).toEqual([10, 20, 30]);
  });

  it('never writes a sum it has handed out: the next addition starts a new one', () => {
    const t = Tensor.zeros([2]);
    const grads = new Gradients();
    grads.add(t, Tensor.from([2], [1, 1]));
    grads.add(t, Tensor.from([2], [2, 2]));
    grads.add(t, Tensor.from([2], [4, 4])); // into its own sum, in place
    const handed = grads.get(t)!;
    expect([...handed.data]).toEqual([7, 7]);
    grads.add(t, Tensor.from([2], [8, 8]));
    grads.add(t, Tensor.from([2], [16, 16]));
    expect([...handed.data]).toEqual([7, 7]);
    expect([...grads.get(t)!.data]).toEqual([31, 31]);
  });

  it('keeps a sum passed on to another tensor (an identity backward) apart from later additions', () => {
    const [a, b] = [Tensor.zeros([2]), Tensor.zeros([2])];
    const grads = new Gradients();
    grads.add(a, Tensor.from([2], [1, 1]));
    grads.add(a, Tensor.from([2], [2, 2])); // a's gradient is now a sum of Gradients' own
    grads.add(b, grads.get(a)!); // b gets that very buffer
    grads.add(a, Tensor.from([2], [4, 4]));
    grads.add(b, Tensor.from([2], [8, 8]));
    expect([...grads.get(a)!.data]).toEqual([7, 7]);
    expect([...grads.get(b)!.data]).toEqual([11, 11]);
  });
});

describe('Module.summary and namedModules', () => {
  it('lists the parameters by module, with totals; frozen parameters are not trainable', () => {
    class Tagger extends Module {
      readonly embedding = this.registerModule('embedding', new Embedding({ numEmbeddings: 10, embeddingDim: 4 }));
      readonly encoder = this.registerModule('encoder', new GRU({ inputSize: 4, hiddenSize: 3, bidirectional: true }));
      readonly head = this.registerModule('head', new Linear({ inFeatures: 6, outFeatures: 2 }));
    }
    const tagger = new Tagger();
    expect(tagger.namedModules().map(([path, m]) => [path, m.typeName])).toEqual([['', 'Tagger'], ['embedding', 'Embedding'], ['encoder', 'GRU'], ['head', 'Linear']]);
    tagger.embedding.parameters()[0]!.requiresGrad = false;
    expect(tagger.summary().split('\n')).toEqual([
      'module     type       parameter shapes                             parameters',
      'embedding  Embedding  [10, 4]                                              40',
      'encoder    GRU        [9, 4] [9, 3] [9] [9] [9, 4] [9, 3] [9] [9]         162',
      'head       Linear     [2, 6] [2]                                           14',
      '216 parameters (176 trainable), 0.0 MB as float32',
    ]);
  });
});
