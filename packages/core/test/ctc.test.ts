import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackend, ctcLoss, functional, ShapeError, Tape, Tensor, type Backend, type Reduction } from '../src/index.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { ctcLossReference, logSoftmaxBackwardRef, logSoftmaxRef, numericGradient, tensor64, widen, type Tensor64 } from '../src/reference/index.js';
import { backendsUnderTest, expectClose, randomTensor } from './helpers.js';

/*
 * The CTC loss three ways: the float64 reference against finite differences and against PyTorch
 * 1.13 (fixtures/make_ctc_fixtures.py, float64), then `ctcLoss` on every backend, by both its
 * kernel path (float32 GPU.js kernels) and its host path, against those fixtures.
 *
 * Tolerances: the reference matches PyTorch to 1e-9. ctcLoss starts from float32 log-probs; its
 * kernel path also runs the recursions in float32, where alpha + beta + nll - lp cancels terms of
 * size ~nll (~20 here): 2e-5 absolute + 2e-5 relative covers both.
 */
const F64 = 1e-9;
const F32 = 2e-5;
const REDUCTIONS: readonly Reduction[] = ['none', 'mean', 'sum'];

interface CtcFixture {
  readonly name: string;
  readonly T: number;
  readonly N: number;
  readonly C: number;
  readonly blank: number;
  readonly zeroInfinity: boolean;
  readonly logits: Float64Array;
  readonly logProbs: Float64Array;
  readonly targets: number[][];
  readonly inputLengths: number[];
  readonly targetLengths: number[];
  readonly gradWeights: Float64Array;
  readonly loss: Record<Reduction, Float64Array>;
  readonly gradLogProbs: Record<Reduction, Float64Array>;
  readonly gradLogits: Record<Reduction, Float64Array>;
}

const directory = fileURLToPath(new URL('../fixtures/ctc/', import.meta.url));
const fixtures: CtcFixture[] = readdirSync(directory)
  .filter((file) => file.endsWith('.safetensors'))
  .sort()
  .map((file) => {
    const { tensors, metadata } = readSafetensors(`${directory}${file}`);
    const f64 = (key: string) => {
      const data = tensors.get(key)?.data;
      if (!(data instanceof Float64Array)) throw new Error(`${file}: ${key} is missing or not F64`);
      return data;
    };
    const config = JSON.parse(metadata.config!) as { T: number; N: number; C: number; blank: number; zeroInfinity: boolean };
    const targetLengths = [...f64('target_lengths')];
    const flat = [...f64('targets')];
    let offset = 0;
    const targets = targetLengths.map((L) => flat.slice(offset, (offset += L)));
    const byReduction = (prefix: string) =>
      Object.fromEntries(REDUCTIONS.map((r) => [r, f64(`${prefix}_${r}`)])) as Record<Reduction, Float64Array>;
    return {
      name: file.replace(/\.safetensors$/, ''), ...config,
      logits: f64('logits'), logProbs: f64('log_probs'), targets, inputLengths: [...f64('input_lengths')], targetLengths,
      gradWeights: f64('grad_weights'), loss: byReduction('loss'), gradLogProbs: byReduction('grad_log_probs'), gradLogits: byReduction('grad_logits'),
    };
  });

/** PyTorch's reductions and zero_infinity applied to the reference, in float64. */
function referenceLoss(f: CtcFixture, reduction: Reduction): { loss: Float64Array; gradLogProbs: Float64Array } {
  const { T, N, C } = f;
  const ref = ctcLossReference(f.logProbs, T, N, C, f.targets, f.inputLengths, f.targetLengths, f.blank);
  const zeroed = (n: number) => f.zeroInfinity && ref.nll[n] === Infinity;
  const losses = ref.nll.map((v, n) => (zeroed(n) ? 0 : v));
  const divisor = (n: number) => (reduction === 'mean' ? N * Math.max(1, f.targetLengths[n]!) : 1);
  const loss = reduction === 'none' ? losses : Float64Array.of(losses.reduce((s, v, n) => s + v / divisor(n), 0));
  const gradLogProbs = ref.grad.map((g, i) => {
    const n = Math.floor(i / C) % N;
    return zeroed(n) ? 0 : (g * (reduction === 'none' ? f.gradWeights[n]! : 1)) / divisor(n);
  });
  return { loss, gradLogProbs };
}

const asTensor64 = (f: CtcFixture, data: Float64Array): Tensor64 => tensor64([f.T, f.N, f.C], data);

describe('the float64 CTC reference', () => {
  it('has fixtures to check', () => {
    expect(fixtures.map((f) => f.name)).toEqual(['basic', 'blank_last', 'empty_target', 'impossible', 'impossible_zero_infinity', 'repeated_labels']);
  });

  it('agrees with finite differences of the nll with respect to the logits, through log_softmax', () => {
    const [T, N, C] = [7, 3, 5];
    const logits = widen(randomTensor([T, N, C], 11, 2));
    const targets = [[1, 2, 2], [4, 1], []];
    const inputLengths = [7, 5, 4];
    const targetLengths = targets.map((t) => t.length);
    const weights = [1, -0.7, 1.9];
    const f = (x: Float64Array) => {
      const { nll } = ctcLossReference(logSoftmaxRef(tensor64([T, N, C], x)).data, T, N, C, targets, inputLengths, targetLengths);
      return nll.reduce((s, v, n) => s + weights[n]! * v, 0);
    };
    const lp = logSoftmaxRef(logits);
    const { grad } = ctcLossReference(lp.data, T, N, C, targets, inputLengths, targetLengths);
    const weighted = grad.map((g, i) => g * weights[Math.floor(i / C) % N]!);
    const analytic = logSoftmaxBackwardRef(logits, tensor64([T, N, C], weighted));
    const numeric = numericGradient(f, logits.data);
    let worst = 0;
    numeric.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - analytic.data[i]!))));
    expect(worst).toBeLessThan(1e-7);
    // PyTorch's convention: the log-probs gradient already is the logits gradient.
    weighted.forEach((v, i) => expect(Math.abs(v - analytic.data[i]!)).toBeLessThan(1e-12));
    // Frames past an input length have no gradient.
    for (let c = 0; c < C; c++) expect(grad[(5 * N + 1) * C + c]).toBe(0);
  });

  it('gives +Infinity for an impossible alignment and 0 for an empty target without frames', () => {
    const lp = logSoftmaxRef(widen(randomTensor([3, 2, 3], 5))).data;
    const { nll, grad } = ctcLossReference(lp, 3, 2, 3, [[1, 1], [2]], [2, 0], [2, 1]);
    expect(nll[0]).toBe(Infinity);
    expect(nll[1]).toBe(Infinity);
    expect(Number.isNaN(grad[0])).toBe(true);
    expect(ctcLossReference(lp, 3, 2, 3, [[], []], [0, 3], [0, 0]).nll[0]).toBe(0);
  });

  describe.each(fixtures)('agrees with PyTorch: $name', (f) => {
    it.each(REDUCTIONS)('reduction %s: loss, log_probs gradient and logits gradient', (reduction) => {
      const { loss, gradLogProbs } = referenceLoss(f, reduction);
      expectClose(widen64(loss), tensor64([f.loss[reduction].length], f.loss[reduction]), F64, F64);
      expectClose(widen64(gradLogProbs, [f.T, f.N, f.C]), asTensor64(f, f.gradLogProbs[reduction]), F64, F64);
      const logitsGrad = logSoftmaxBackwardRef(asTensor64(f, f.logits), asTensor64(f, gradLogProbs));
      expectClose(widen64(logitsGrad.data, [f.T, f.N, f.C]), asTensor64(f, f.gradLogits[reduction]), F64, F64);
    });
  });
});

/** A float64 array dressed as a Tensor for expectClose (which only reads .shape and .data). */
function widen64(data: Float64Array, shape: number[] = [data.length]): Tensor {
  return { shape, data } as unknown as Tensor;
}

describe('functional.logSoftmax', () => {
  it('matches the reference forward and backward', async () => {
    const x = randomTensor([4, 3, 7], 3, 4);
    const gradOut = randomTensor([4, 3, 7], 4);
    const tape = new Tape();
    const y = await tape.run(async () => functional.logSoftmax(x));
    expectClose(y, logSoftmaxRef(widen(x)), 1e-6, 1e-6);
    const grads = await tape.backward(y, gradOut);
    expectClose(grads.get(x)!, logSoftmaxBackwardRef(widen(x), widen(gradOut)), 1e-6, 1e-6);
  });
});

const backends = await backendsUnderTest();

describe.each(backends)('ctcLoss on %s', (name) => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await createBackend(name);
  });
  afterAll(async () => {
    await backend.dispose();
  });

  describe.each(['kernel', 'host'] as const)('by the %s path', (path) => {
    it.each(fixtures)('matches PyTorch on $name for every reduction, composed with logSoftmax too', async (f) => {
      for (const reduction of REDUCTIONS) {
        const options = { backend, path, reduction, blank: f.blank, zeroInfinity: f.zeroInfinity };
        const seed = reduction === 'none' ? Tensor.from([f.N], f.gradWeights) : undefined;
        // log_probs as a leaf.
        const logProbs = Tensor.from([f.T, f.N, f.C], f.logProbs);
        const tape = new Tape();
        const loss = await tape.run(() => ctcLoss(logProbs, f.targets, f.inputLengths, f.targetLengths, options));
        expectClose(loss, tensor64(reduction === 'none' ? [f.N] : [], f.loss[reduction]), F32, F32);
        const grads = await tape.backward(loss, seed);
        expectClose(grads.get(logProbs)!, asTensor64(f, f.gradLogProbs[reduction]), F32, F32);
        // Through functional.logSoftmax from the logits; targetLengths left to default.
        const logits = Tensor.from([f.T, f.N, f.C], f.logits);
        const tape2 = new Tape();
        const loss2 = await tape2.run(async () => ctcLoss(functional.logSoftmax(logits), f.targets, f.inputLengths, undefined, options));
        const grads2 = await tape2.backward(loss2, seed);
        expectClose(grads2.get(logits)!, asTensor64(f, f.gradLogits[reduction]), F32, F32);
      }
    });

    // timeChunk 5 on 16 frames: the kernel path's steps run as chunks of 5, 5, 5 and 1.
    it.each([undefined, 5])('agrees with the reference on a random batch with ragged lengths (timeChunk %s)', async (timeChunk) => {
      const [T, N, C] = [16, 4, 7];
      const logProbs = functional.logSoftmax(randomTensor([T, N, C], 21, 3));
      const targets = [[1, 2, 3, 3, 6], [5], [2, 2, 2], [6, 1, 4, 1]];
      const inputLengths = [16, 9, 12, 8];
      const tape = new Tape();
      const loss = await tape.run(() => ctcLoss(logProbs, targets, inputLengths, undefined, { backend, path, reduction: 'none', ...(timeChunk ? { timeChunk } : {}) }));
      const ref = ctcLossReference(logProbs.data, T, N, C, targets, inputLengths, targets.map((t) => t.length));
      expectClose(loss, tensor64([N], ref.nll), F32, F32);
      const grads = await tape.backward(loss);
      expectClose(grads.get(logProbs)!, tensor64([T, N, C], ref.grad), F32, F32);
    });
  });

  it('agrees with the host path by path "auto" (kernels on webgpu, host elsewhere)', async () => {
    const logProbs = functional.logSoftmax(randomTensor([6, 2, 4], 8));
    const auto = await ctcLoss(logProbs, [[1, 2], [3]], [6, 5], undefined, { backend });
    const host = await ctcLoss(logProbs, [[1, 2], [3]], [6, 5], undefined, { backend, path: 'host' });
    expect(auto.data[0]).toBeCloseTo(host.data[0]!, 4);
  });

  it('handles inputs without frames in both paths', async () => {
    const logProbs = functional.logSoftmax(randomTensor([3, 3, 3], 9));
    for (const path of ['kernel', 'host'] as const) {
      const tape = new Tape();
      const loss = await tape.run(() => ctcLoss(logProbs, [[], [1], [2]], [0, 0, 3], undefined, { backend, path, reduction: 'none', zeroInfinity: true }));
      expect([...loss.data].slice(0, 2)).toEqual([0, 0]);
      const grads = await tape.backward(loss);
      const grad = grads.get(logProbs)!;
      for (let t = 0; t < 3; t++) for (let c = 0; c < 3; c++) expect(grad.data[(t * 3 + 1) * 3 + c]).toBe(0);
    }
  });
});

describe('ctcLoss reductions and zeroInfinity', () => {
  const [T, N, C] = [5, 2, 4];
  const logProbs = functional.logSoftmax(randomTensor([T, N, C], 31));
  const targets = [[1, 1, 1], [2, 3, 1]];
  const inputLengths = [4, 5];
  const ref = ctcLossReference(logProbs.data, T, N, C, targets, inputLengths, [3, 3]);

  it('gives +Infinity and NaN gradients for an impossible alignment without zeroInfinity', async () => {
    const tape = new Tape();
    const loss = await tape.run(() => ctcLoss(logProbs, targets, inputLengths, undefined, { path: 'host', reduction: 'sum' }));
    expect(loss.data[0]).toBe(Infinity);
    const grad = (await tape.backward(loss)).get(logProbs)!;
    expect(Number.isNaN(grad.data[0])).toBe(true);
    expect(grad.data[(4 * N + 0) * C]).toBe(0); // past item 0's 4 frames
    expect(grad.data[(0 * N + 1) * C + 2]).toBeCloseTo(ref.grad[(0 * N + 1) * C + 2]!, 6);
  });

  it('zeroes the infinite loss and its gradient with zeroInfinity, and divides by target lengths for mean', async () => {
    const tape = new Tape();
    const loss = await tape.run(() => ctcLoss(logProbs, targets, inputLengths, undefined, { path: 'host', zeroInfinity: true }));
    expect(loss.data[0]).toBeCloseTo(ref.nll[1]! / 3 / 2, 5);
    const grad = (await tape.backward(loss)).get(logProbs)!;
    for (let t = 0; t < T; t++) for (let c = 0; c < C; c++) expect(grad.data[(t * N + 0) * C + c]).toBe(0);
    expect(grad.data[(2 * N + 1) * C + 3]).toBeCloseTo(ref.grad[(2 * N + 1) * C + 3]! / 6, 6);
  });

  it('honours explicit target lengths shorter than the label lists', async () => {
    const loss = await ctcLoss(logProbs, [[1, 2, 9], [3]], inputLengths, [2, 1], { path: 'host', reduction: 'none' });
    const expected = ctcLossReference(logProbs.data, T, N, C, [[1, 2], [3]], inputLengths, [2, 1]).nll;
    expect(loss.data[0]).toBeCloseTo(expected[0]!, 5);
    expect(loss.data[1]).toBeCloseTo(expected[1]!, 5);
  });
});

describe('ctcLoss validation', () => {
  const logProbs = functional.logSoftmax(randomTensor([4, 2, 3], 41));
  const cases: Array<[string, () => Promise<unknown>, RegExp]> = [
    ['a label equal to the blank', () => ctcLoss(logProbs, [[1], [2, 0]], [4, 4]), /targets\[1\]\[1\] = 0 is the blank/],
    ['a label out of range', () => ctcLoss(logProbs, [[3], [1]], [4, 4]), /targets\[0\]\[0\] = 3 is not a class in 0\.\.2/],
    ['a label with blank = C - 1', () => ctcLoss(logProbs, [[0, 2]], [4], undefined, { blank: 2 }), /N = 2/],
    ['the blank index with blank = C - 1', () => ctcLoss(logProbs, [[0], [1, 2]], [4, 4], undefined, { blank: 2 }), /targets\[1\]\[1\] = 2 is the blank/],
    ['an input length over T', () => ctcLoss(logProbs, [[1], [1]], [4, 5]), /inputLengths\[1\] = 5 exceeds the 4 frames/],
    ['a negative input length', () => ctcLoss(logProbs, [[1], [1]], [-1, 4]), /inputLengths\[0\] = -1 must be a non-negative integer/],
    ['a negative target length', () => ctcLoss(logProbs, [[1], [1]], [4, 4], [1, -2]), /targetLengths\[1\] = -2 must be a non-negative integer/],
    ['a target length over its labels', () => ctcLoss(logProbs, [[1], [1]], [4, 4], [1, 2]), /targetLengths\[1\] = 2 exceeds the 1 labels of targets\[1\]/],
    ['too few targets', () => ctcLoss(logProbs, [[1]], [4, 4]), /targets must have one entry per batch item \(N = 2/],
    ['too many input lengths', () => ctcLoss(logProbs, [[1], [2]], [4, 4, 4]), /inputLengths must have one entry per batch item \(N = 2.*got 3/],
    ['a blank outside the classes', () => ctcLoss(logProbs, [[1], [2]], [4, 4], undefined, { blank: 3 }), /blank = 3 is not a class/],
    ['logProbs of rank 2', () => ctcLoss(Tensor.zeros([4, 3]), [[1]], [4]), /logProbs must be a \[T, N, C\] tensor/],
  ];
  it.each(cases)('rejects %s', async (_, call, message) => {
    await expect(call()).rejects.toThrow(ShapeError);
    await expect(call()).rejects.toThrow(message);
  });
});
