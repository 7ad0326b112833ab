import { describe, expect, it } from 'vitest';
import { crossEntropy, Dropout, functional as F, gradCheck, Linear, LogSoftmax, nllLoss, padSequence, readSafetensors, ReLU, Sequential, Tanh, Tape, Tensor, unpadSequence } from '../src/index.js';

/*
 * The differentiable arithmetic of `functional` against PyTorch 1.13 in float64
 * (fixtures/make_functional_fixture.py), run in float32 here: values, and the gradients of
 * sum(out * w) for a random weighting w; then against finite differences (gradCheck).
 */
const pieces = readSafetensors(new URL('../fixtures/functional.safetensors', import.meta.url).pathname).tensors;
const f32 = (name: string) => {
  const t = pieces.get(name);
  if (!t) throw new Error(`functional.safetensors lacks ${name}`);
  return new Tensor(t.shape, Float32Array.from(t.data as Float64Array));
};
const worst = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let most = 0;
  for (let i = 0; i < a.length; i++) most = Math.max(most, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  return most;
};

const cases: Record<string, (...inputs: Tensor[]) => Tensor> = {
  add_broadcast: (a, b) => F.add(a!, b!),
  add_both_stretch: (a, b) => F.add(a!, b!),
  sub: (a, b) => F.sub(a!, b!),
  mul_broadcast: (a, b) => F.mul(a!, b!),
  mul_number: (a) => F.mul(a!, 2.5),
  div: (a, b) => F.div(a!, b!),
  div_number_first: (b) => F.div(3, b!),
  sigmoid: (x) => F.sigmoid(x!),
  relu: (x) => F.relu(x!),
  exp: (x) => F.exp(x!),
  log: (x) => F.log(x!),
  softmax_last: (x) => F.softmax(x!),
  softmax_middle: (x) => F.softmax(x!, 1),
  softmax_first: (x) => F.softmax(x!, 0),
  sum_all: (x) => F.sum(x!),
  sum_dim_keepdim: (x) => F.sum(x!, { dim: 1, keepdim: true }),
  mean_last: (x) => F.mean(x!, { dim: -1 }),
  mean_all: (x) => F.mean(x!),
  matmul: (a, b) => F.matmul(a!, b!),
  matmul_shared_weight: (a, b) => F.matmul(a!, b!),
  matmul_batched: (a, b) => F.matmul(a!, b!),
  matmul_batch_broadcast: (a, b) => F.matmul(a!, b!),
  narrow: (x) => F.narrow(x!, 1, 1, 3),
};
const inputsOf = (name: string) => [0, 1].filter((i) => pieces.has(`${name}.in${i}`)).map((i) => f32(`${name}.in${i}`));

describe('functional arithmetic against PyTorch', () => {
  it.each(Object.keys(cases))('%s: value and gradients', async (name) => {
    const inputs = inputsOf(name);
    const tape = new Tape();
    const out = await tape.run(async () => cases[name]!(...inputs));
    const expected = f32(`${name}.out`);
    expect(out.shape).toEqual(expected.shape);
    expect(worst(out.data, expected.data)).toBeLessThan(2e-6);
    const grads = await tape.backward(out, f32(`${name}.w`));
    inputs.forEach((input, i) => expect(worst(grads.get(input)!.data, f32(`${name}.grad${i}`).data), `input ${i}`).toBeLessThan(2e-6));
  });

  it.each(Object.keys(cases).filter((name) => name !== 'relu'))('%s: passes gradCheck', async (name) => {
    const inputs = inputsOf(name);
    const result = await gradCheck(async () => cases[name]!(...inputs), inputs, { eps: 1e-3, maxChecks: Infinity });
    expect(result.ok, JSON.stringify(result.worst)).toBe(true);
  });

  it('refuses shapes that do not fit, naming them', () => {
    expect(() => F.add(Tensor.zeros([2, 3]), Tensor.zeros([4]))).toThrow('add: shapes [2, 3] and [4] do not broadcast (axis 1: 3 and 4)');
    expect(() => F.matmul(Tensor.zeros([2, 3]), Tensor.zeros([4, 5]))).toThrow('matmul: [2, 3] x [4, 5]: the inner sizes 3 and 4 differ');
    expect(() => F.matmul(Tensor.zeros([3]), Tensor.zeros([3, 5]))).toThrow('matmul: needs matrices (rank >= 2), got [3] and [3, 5]');
    expect(() => F.matmul(Tensor.zeros([2, 2, 3]), Tensor.zeros([3, 3, 5]))).toThrow('matmul: shapes [2] and [3] do not broadcast (axis 0: 2 and 3)');
    expect(() => F.softmax(Tensor.zeros([2, 3]), 2)).toThrow('softmax: dim 2 is outside the 2 axes of [2, 3]');
    expect(() => F.sum(Tensor.zeros([2, 3]), { dim: -3 })).toThrow('sum: dim -3 is outside the 2 axes of [2, 3]');
    expect(() => F.narrow(Tensor.zeros([2, 3]), 1, 2, 2)).toThrow('narrow: entries 2 to 4 are outside axis 1 (size 3) of [2, 3]');
    expect(() => F.mean(Tensor.zeros([0, 3]))).toThrow('mean: [0, 3] holds no values');
  });

  it('composes with the layers: a gated residual around an LSTM trains through the tape', async () => {
    const { LSTM, Linear, mseLoss } = await import('../src/index.js');
    const lstm = new LSTM({ inputSize: 4, hiddenSize: 4, seed: 1 });
    const gate = new Linear({ inFeatures: 4, outFeatures: 4, seed: 2 });
    const x = f32('add_broadcast.in0').reshape([2, 3, 4]);
    const target = Tensor.zeros([2, 3, 4]);
    const run = async () => {
      const { output } = await lstm.forward(x);
      const g = F.sigmoid(await gate.forward(x));
      return mseLoss(F.add(F.mul(g, output), F.mul(F.sub(1, g), x)), target);
    };
    const result = await gradCheck(run, new Map([...lstm.namedParameters(), ...gate.namedParameters()]), { maxChecks: 8 });
    expect(result.ok, JSON.stringify(result.worst)).toBe(true);
  });
});

describe('nllLoss against PyTorch', () => {
  const logProbs = f32('nll.input');
  const targets = f32('nll.targets');
  const weight = f32('nll.weight');
  it.each(['mean', 'sum', 'none'].flatMap((reduction) => [[reduction, false], [reduction, true]]) as Array<['mean' | 'sum' | 'none', boolean]>)(
    'reduction %s, class weights %s: value and gradient (an ignored row)',
    async (reduction, weighted) => {
      const key = `nll.${reduction}${weighted ? '.weighted' : ''}`;
      const tape = new Tape();
      const loss = await tape.run(async () => nllLoss(logProbs, targets, { reduction, ...(weighted ? { weight } : {}) }));
      expect(worst(loss.data, f32(`${key}.out`).data)).toBeLessThan(1e-6);
      const grads = await tape.backward(loss, new Tensor(loss.shape, f32(`${key}.w`).data));
      expect(worst(grads.get(logProbs)!.data, f32(`${key}.grad`).data)).toBeLessThan(1e-6);
    },
  );

  it('after a LogSoftmax it is crossEntropy: the same loss and gradients', async () => {
    const logits = new Tensor([6, 4], Float32Array.from({ length: 24 }, (_, i) => Math.sin(i * 1.3) * 3));
    const labels = Tensor.from([6], [0, 3, 1, 1, 3, 2]);
    const tape = new Tape();
    const viaNll = await tape.run(async () => nllLoss(await new LogSoftmax().forward(logits), labels, { weight }));
    const nllGrad = (await tape.backward(viaNll)).get(logits)!;
    const tape2 = new Tape();
    const direct = await tape2.run(() => crossEntropy(logits, labels, { weight }));
    const ceGrad = (await tape2.backward(direct)).get(logits)!;
    expect(Math.abs(viaNll.data[0]! - direct.data[0]!)).toBeLessThan(1e-6);
    expect(worst(nllGrad.data, ceGrad.data)).toBeLessThan(1e-6);
  });

  it('refuses a target outside the classes and shapes that do not fit, naming them', () => {
    expect(() => nllLoss(logProbs, Tensor.from([6], [0, 1, 2, 3, 4, 0]))).toThrow('nllLoss: targets[4] = 4 is not a class in 0..3 (or the ignoreIndex -100)');
    expect(() => nllLoss(logProbs, Tensor.from([5], [0, 1, 2, 3, 0]))).toThrow('nllLoss: logProbs [6, 4] need targets of shape [6], got [5]');
  });
});

describe('Sequential', () => {
  const make = () => new Sequential(new Linear({ inFeatures: 4, outFeatures: 8 }), new ReLU(), new Linear({ inFeatures: 8, outFeatures: 3 }), new Tanh());

  it('loads torch.nn.Sequential\'s state dict as it is and gives its output and gradients', async () => {
    const model = make();
    const names = ['0.weight', '0.bias', '2.weight', '2.bias'];
    expect(model.namedParameters().map(([name]) => name)).toEqual(names);
    model.loadStateDict(new Map(names.map((name) => [name, f32(`sequential.${name}`)])));
    const tape = new Tape();
    const out = await tape.run(() => model.forward(f32('sequential.x')));
    expect(worst(out.data, f32('sequential.out').data)).toBeLessThan(2e-6);
    await tape.backward(out, f32('sequential.w'));
    for (const [name, p] of model.namedParameters()) expect(worst(p.grad.data, f32(`sequential.grad.${name}`).data), name).toBeLessThan(2e-6);
  });

  it('passes train and eval down to its modules, and refuses what is not a module', async () => {
    const model = new Sequential(new Linear({ inFeatures: 4, outFeatures: 4, seed: 1 }), new Dropout(0.5, 2));
    const x = f32('sequential.x');
    model.eval();
    expect(model.layers.map((layer) => layer.training)).toEqual([false, false]);
    const [a, b] = [await model.forward(x), await model.forward(x)];
    expect([...a.data]).toEqual([...b.data]);
    expect(a.data.filter((v) => v === 0)).toHaveLength(0);
    model.train();
    expect(model.layers.map((layer) => layer.training)).toEqual([true, true]);
    const dropped = await model.forward(x);
    expect(dropped.data.filter((v) => v === 0).length).toBeGreaterThan(0);
    expect(() => new Sequential()).toThrow('Sequential: needs at least one module');
    expect(() => new Sequential({} as never)).toThrow('Sequential: entry 0 is not a module with forward(x)');
  });
});

describe('padSequence and unpadSequence', () => {
  const seqs = [Tensor.from([3, 2], [1, 2, 3, 4, 5, 6]), Tensor.from([1, 2], [7, 8]), Tensor.from([2, 2], [9, 10, 11, 12])];

  it('pads time-major or batch-first with a value, and cuts back to the sequences', () => {
    const padded = padSequence(seqs, { paddingValue: -1 });
    expect(padded.shape).toEqual([3, 3, 2]);
    expect([...padded.data]).toEqual([1, 2, 7, 8, 9, 10, 3, 4, -1, -1, 11, 12, 5, 6, -1, -1, -1, -1]);
    const batchFirst = padSequence(seqs, { batchFirst: true });
    expect([...batchFirst.data]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 9, 10, 11, 12, 0, 0]);
    for (const [tensor, options] of [[padded, {}], [batchFirst, { batchFirst: true }]] as const) {
      const parts = unpadSequence(tensor, [3, 1, 2], options);
      parts.forEach((part, b) => expect([...part.data], String(b)).toEqual([...seqs[b]!.data]));
    }
  });

  it('feeds a GRU with lengths and takes its gradients back to each sequence (gradCheck)', async () => {
    const { GRU } = await import('../src/index.js');
    const gru = new GRU({ inputSize: 2, hiddenSize: 3, seed: 4 });
    const inputs = seqs.map((s) => new Tensor(s.shape, s.data.map((v) => v / 10)));
    const run = async () => {
      const { output } = await gru.forward(padSequence(inputs), { lengths: inputs.map((s) => s.shape[0]!) });
      return F.stack(unpadSequence(output, [3, 1, 2]).map((part) => F.sum(part)));
    };
    const result = await gradCheck(run, inputs, { maxChecks: Infinity });
    expect(result.ok, JSON.stringify(result.worst)).toBe(true);
  });

  it('refuses sequences of other trailing shapes and lengths that do not fit', () => {
    expect(() => padSequence([])).toThrow('padSequence: needs at least one sequence');
    expect(() => padSequence([Tensor.zeros([2, 3]), Tensor.zeros([2, 4])])).toThrow('padSequence: sequence 1 has shape [2, 4], where every sequence is [L, 3]');
    expect(() => unpadSequence(Tensor.zeros([3, 2, 1]), [1])).toThrow('unpadSequence: 1 lengths for the 2 sequences of [3, 2, 1]');
    expect(() => unpadSequence(Tensor.zeros([3, 2, 1]), [1, 4])).toThrow('unpadSequence: lengths[1] = 4 must be a whole number in 0..3');
  });
});

describe('Embedding.fromPretrained', () => {
  const vectors = Tensor.from([3, 2], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]);

  it('looks up the given rows; frozen it gets no gradient and no update, unfrozen it trains', async () => {
    const { Adam, Embedding } = await import('../src/index.js');
    for (const freeze of [true, false]) {
      const embedding = Embedding.fromPretrained(vectors, { freeze });
      const optimizer = new Adam(embedding.parameters(), { lr: 0.1 });
      const tape = new Tape();
      const [out, total] = await tape.run(async () => {
        const looked = await embedding.forward(Tensor.from([2], [2, 0]));
        return [looked, F.sum(looked)] as const;
      });
      expect([...out.data]).toEqual([...vectors.data.slice(4, 6), ...vectors.data.slice(0, 2)]);
      optimizer.zeroGrad();
      await tape.backward(total);
      optimizer.step();
      expect(embedding.weight.requiresGrad).toBe(!freeze);
      expect([...embedding.weight.value.data].some((v, i) => v !== vectors.data[i])).toBe(!freeze);
    }
    expect(() => Embedding.fromPretrained(Tensor.zeros([3]))).toThrow('Embedding.fromPretrained: needs a [V, E] matrix, got [3]');
  });
});

describe('Module.requiresGrad and namedChildren', () => {
  it('freezes a submodule: no gradient, no update, and summary counts it apart', async () => {
    const { Adam } = await import('../src/index.js');
    const model = new Sequential(new Linear({ inFeatures: 2, outFeatures: 3, seed: 1 }), new Tanh(), new Linear({ inFeatures: 3, outFeatures: 1, seed: 2 }));
    expect(model.namedChildren().map(([name, child]) => [name, child.typeName])).toEqual([['0', 'Linear'], ['1', 'Tanh'], ['2', 'Linear']]);
    model.layers[0]!.requiresGrad(false);
    const frozen = [...model.layers[0]!.parameters().map((p) => [...p.value.data])];
    const optimizer = new Adam(model.parameters(), { lr: 0.1 });
    const tape = new Tape();
    const loss = await tape.run(async () => F.sum(await model.forward(Tensor.from([1, 2], [0.5, -1]))));
    optimizer.zeroGrad();
    await tape.backward(loss);
    optimizer.step();
    expect(model.layers[0]!.parameters().map((p) => [...p.value.data])).toEqual(frozen);
    expect(model.layers[2]!.parameters().every((p) => p.grad.data.some((g) => g !== 0))).toBe(true);
    expect(model.summary()).toContain('13 parameters (4 trainable)');
    model.requiresGrad();
    expect(model.parameters().every((p) => p.requiresGrad)).toBe(true);
  });
});
