import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Backend, createBackend, type BackendName } from '../src/index.js';
import {
  parameterNames, parameterShape, recurrentBackwardRef, recurrentForwardRef, stateSize as stateSizeOf, type CellKind,
  type RecurrentShape,
} from '../src/reference/recurrent.js';
import { mulberry32 } from '../src/random.js';
import { pooledBufferBytes } from '../src/backend/scratch.js';
import { recurrentBackward, recurrentForward, timeChunks } from '../src/recurrent/sequence.js';
import { backendsUnderTest } from './helpers.js';

/*
 * The GPU.js recurrent network (forward and BPTT) against the float64 reference on every backend.
 * Tolerance: 2e-5 absolute + 2e-5 relative, for f32 arithmetic over a few steps and layers of
 * size ~1 values (observed errors are about 1e-6).
 */
const ATOL = 2e-5;
const RTOL = 2e-5;

const EXECUTOR: Record<BackendName, string> = { webasm: 'fused-sync', webgpu: 'fused-encoder', cpu: 'generic' };

function expectNear(name: string, actual: Float32Array, expected: Float64Array): void {
  expect(actual.length, name).toBe(expected.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const excess = Math.abs(actual[i]! - expected[i]!) - (ATOL + RTOL * Math.abs(expected[i]!));
    if (!(excess <= worst)) {
      worst = Number.isNaN(excess) ? Infinity : excess;
      at = i;
    }
  }
  if (at >= 0) expect.fail(`${name}[${at}]: got ${actual[at]}, expected ${expected[at]}`);
}

interface Case {
  readonly title: string;
  readonly shape: RecurrentShape;
  readonly steps: number;
  readonly batch: number;
  readonly lengths?: number[];
  readonly initialState?: boolean;
  readonly dropout?: boolean;
  /** Steps per pipeline call: below `steps`, so state crosses chunk boundaries. */
  readonly timeChunk?: number;
  /** Recurrent dropout: a mask [B, H] per layer and direction on the state each step reads. */
  readonly recurrentDropout?: boolean;
}

const kinds: CellKind[] = ['lstm', 'gru', 'rnn_tanh', 'rnn_relu'];
const cases: Case[] = kinds.flatMap((kind) => [
  { title: `${kind} 1 layer`, shape: { kind, inputSize: 5, hiddenSize: 8, numLayers: 1, bidirectional: false, bias: true }, steps: 6, batch: 3 },
  {
    title: `${kind} 2 layers bidirectional, variable lengths, initial states, dropout between layers, chunks of 2 steps`,
    shape: { kind, inputSize: 4, hiddenSize: 6, numLayers: 2, bidirectional: true, bias: true },
    steps: 5, batch: 4, lengths: [5, 2, 1, 4], initialState: true, dropout: true, timeChunk: 2,
  },
  {
    // On webasm, four rows per thread; the LSTM's inference runs its one-kernel step (usesFusedInference)
    title: `${kind} 2 layers bidirectional, batch 8, hidden 8, variable lengths, initial states, chunks of 3 steps`,
    shape: { kind, inputSize: 5, hiddenSize: 8, numLayers: 2, bidirectional: true, bias: true },
    steps: 7, batch: 8, lengths: [7, 3, 1, 7, 5, 2, 6, 4], initialState: true, dropout: true, timeChunk: 3,
  },
  {
    title: `${kind} 2 layers bidirectional, recurrent dropout, variable lengths, initial states, dropout between layers, chunks of 2 steps`,
    shape: { kind, inputSize: 4, hiddenSize: 6, numLayers: 2, bidirectional: true, bias: true },
    steps: 5, batch: 4, lengths: [5, 2, 1, 4], initialState: true, dropout: true, timeChunk: 2, recurrentDropout: true,
  },
  {
    // four rows per thread on webasm, with the 4 x 2 tile (hidden 8)
    title: `${kind} 2 layers bidirectional, recurrent dropout, batch 8, hidden 8, variable lengths, chunks of 3 steps`,
    shape: { kind, inputSize: 5, hiddenSize: 8, numLayers: 2, bidirectional: true, bias: true },
    steps: 7, batch: 8, lengths: [7, 3, 1, 7, 5, 2, 6, 4], timeChunk: 3, recurrentDropout: true,
  },
  {
    title: `${kind} 3 layers, no bias, chunks of 3 steps`,
    shape: { kind, inputSize: 3, hiddenSize: 4, numLayers: 3, bidirectional: false, bias: false },
    steps: 4, batch: 2, lengths: [3, 4], timeChunk: 3,
  },
  ...(kind === 'lstm'
    ? [{
      // projected.ts: a plain LSTM of recurrent weights W_hh W_hr, h0 through widened inputs
      title: 'lstm with projections (projSize 3 of 6), 2 layers bidirectional, variable lengths, initial states, dropout, chunks of 2 steps',
      shape: { kind, inputSize: 4, hiddenSize: 6, numLayers: 2, bidirectional: true, bias: true, projSize: 3 },
      steps: 5, batch: 4, lengths: [5, 2, 1, 4], initialState: true, dropout: true, timeChunk: 2,
    }, {
      title: 'lstm with projections (projSize 2 of 8), batch 8, no bias, no initial state',
      shape: { kind, inputSize: 5, hiddenSize: 8, numLayers: 1, bidirectional: false, bias: false, projSize: 2 },
      steps: 7, batch: 8, lengths: [7, 3, 1, 7, 5, 2, 6, 4],
    }]
    : []),
]);

const backends = await backendsUnderTest();

describe('timeChunks', () => {
  it('cuts time into full chunks and a remainder, mirrored for the reverse direction', () => {
    expect(timeChunks(5, 2)).toEqual([{ start: 0, length: 2, mirrored: 3 }, { start: 2, length: 2, mirrored: 1 }, { start: 4, length: 1, mirrored: 0 }]);
    expect(timeChunks(64, 32).map((c) => c.length)).toEqual([32, 32]);
    expect(timeChunks(3, 32)).toEqual([{ start: 0, length: 3, mirrored: 0 }]);
    expect(() => timeChunks(3, 0)).toThrow('timeChunk must be a positive integer, got 0');
  });
});

describe.each(backends)('recurrent network on %s', (name) => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await createBackend(name);
  });
  afterAll(async () => {
    await backend.dispose();
  });

  it.each(cases)('$title: forward and backward match the float64 reference', async ({ shape, steps, batch, lengths, initialState, dropout, timeChunk, recurrentDropout }) => {
    const random = mulberry32(7);
    const uniform = (n: number, scale = 1) => Float64Array.from({ length: n }, () => (random() * 2 - 1) * scale);
    const D = shape.bidirectional ? 2 : 1;
    const R = stateSizeOf(shape); // h's features: P with projections
    const stateSize = shape.numLayers * D * batch * R;
    const cellStateSize = shape.numLayers * D * batch * shape.hiddenSize;
    const params64 = new Map(parameterNames(shape).map((n) => [n, uniform(parameterShape(shape, n).reduce((a, b) => a * b, 1), 0.5)]));
    const x = uniform(steps * batch * shape.inputSize);
    const h0 = initialState ? uniform(stateSize, 0.5) : undefined;
    const c0 = initialState && shape.kind === 'lstm' ? uniform(cellStateSize, 0.5) : undefined;
    const masks = dropout
      ? Array.from({ length: shape.numLayers - 1 }, () => Float64Array.from({ length: steps * batch * D * R }, () => (random() < 0.25 ? 0 : 1 / 0.75)))
      : undefined;
    const recurrentMasks = recurrentDropout
      ? Array.from({ length: shape.numLayers * D }, () => Float64Array.from({ length: batch * R }, () => (random() < 0.3 ? 0 : 1 / 0.7)))
      : undefined;
    const inputs64 = {
      x, steps, batch, ...(lengths ? { lengths } : {}), ...(h0 ? { h0 } : {}), ...(c0 ? { c0 } : {}), ...(masks ? { dropoutMasks: masks } : {}),
      ...(recurrentMasks ? { recurrentMasks } : {}),
    };
    const dOutput = uniform(steps * batch * D * R);
    const dhN = uniform(stateSize);
    const dcN = shape.kind === 'lstm' ? uniform(cellStateSize) : undefined;

    const f32 = (a: Float64Array) => Float32Array.from(a);
    const params = new Map([...params64].map(([n, v]) => [n, f32(v)]));
    const inputs = {
      x: f32(x), steps, batch, ...(lengths ? { lengths } : {}), ...(h0 ? { h0: f32(h0) } : {}), ...(c0 ? { c0: f32(c0) } : {}),
      ...(masks ? { dropoutMasks: masks.map(f32) } : {}), ...(recurrentMasks ? { recurrentMasks: recurrentMasks.map(f32) } : {}),
    };

    const expected = recurrentForwardRef(shape, params64, inputs64);
    const forward = await recurrentForward(backend, shape, params, inputs, timeChunk ? { timeChunk } : {});
    expectNear('output', forward.output, expected.output);
    expectNear('h_n', forward.hN, expected.hN);
    if (expected.cN) expectNear('c_n', forward.cN!, expected.cN);
    expect(forward.executors.every((kind) => kind === EXECUTOR[name]), forward.executors.join()).toBe(true);
    // Inference (no trace) computes the same values in the same order: the same bits.
    const inference = await recurrentForward(backend, shape, params, inputs, { ...(timeChunk ? { timeChunk } : {}), keepTrace: false });
    expect(inference.output).toEqual(forward.output);
    expect(inference.hN).toEqual(forward.hN);
    expect(inference.cN).toEqual(forward.cN);
    await expect(recurrentBackward(backend, shape, params, inputs, inference, f32(dOutput))).rejects.toThrow('ran with keepTrace: false');

    const expectedGrads = recurrentBackwardRef(shape, params64, inputs64, expected, dOutput, dhN, dcN);
    const grads = await recurrentBackward(backend, shape, params, inputs, forward, f32(dOutput), f32(dhN), dcN ? f32(dcN) : undefined);
    expectNear('dx', grads.dx, expectedGrads.dx);
    expectNear('dh0', grads.dh0, expectedGrads.dh0);
    if (expectedGrads.dc0) expectNear('dc0', grads.dc0!, expectedGrads.dc0);
    for (const [param, value] of expectedGrads.grads) expectNear(`d ${param}`, grads.grads.get(param)!, value);
    expect([...grads.grads.keys()].sort()).toEqual(parameterNames(shape).sort());
    expect(grads.executors.every((kind) => kind === EXECUTOR[name]), grads.executors.join()).toBe(true);
  });

  it.runIf(name === 'webasm').each(['lstm', 'gru', 'rnn_tanh', 'rnn_relu'] as CellKind[])(
    '%s: the four-rows-per-thread kernels (B = 4) give the bits of the one-row ones (B = 3)',
    async (kind) => {
      // Each sequence's values depend on its own row alone, in the same order on both paths, so
      // the first 3 of 4 sequences must match a batch of those 3 bit for bit.
      const shape: RecurrentShape = { kind, inputSize: 4, hiddenSize: 6, numLayers: 2, bidirectional: true, bias: true };
      const [steps, E, H, D] = [5, 4, 6, 2];
      const random = mulberry32(11);
      const params = new Map(parameterNames(shape).map((n) => [n, Float32Array.from({ length: parameterShape(shape, n).reduce((a, b) => a * b, 1) }, () => random() - 0.5)]));
      const x4 = Float32Array.from({ length: steps * 4 * E }, () => random() * 2 - 1);
      const dOut4 = Float32Array.from({ length: steps * 4 * D * H }, () => random() * 2 - 1);
      const firstRows = (data: Float32Array, width: number, rowsPerStep = 4) =>
        Float32Array.from({ length: (data.length / (rowsPerStep * width)) * 3 * width }, (_, i) => {
          const row = Math.floor(i / (3 * width));
          return data[row * rowsPerStep * width + (i % (3 * width))]!;
        });
      const run = async (batch: number, x: Float32Array, dOut: Float32Array, lengths: number[]) => {
        const inputs = { x, steps, batch, lengths };
        const forward = await recurrentForward(backend, shape, params, inputs, { timeChunk: 3 });
        const grads = await recurrentBackward(backend, shape, params, inputs, forward, dOut);
        return { forward, grads };
      };
      const packed = await run(4, x4, dOut4, [5, 2, 4, 3]);
      const plain = await run(3, firstRows(x4, E), firstRows(dOut4, D * H), [5, 2, 4]);
      expect(firstRows(packed.forward.output, D * H)).toEqual(plain.forward.output);
      expect(firstRows(packed.forward.hN, H)).toEqual(plain.forward.hN);
      if (kind === 'lstm') expect(firstRows(packed.forward.cN!, H)).toEqual(plain.forward.cN);
      expect(firstRows(packed.grads.dx, E)).toEqual(plain.grads.dx);
      expect(firstRows(packed.grads.dh0, H)).toEqual(plain.grads.dh0);
    },
  );

  it.runIf(name === 'cpu')('refuses recurrent dropout masks of the wrong number or size, and with projections', async () => {
    const shape: RecurrentShape = { kind: 'gru', inputSize: 2, hiddenSize: 3, numLayers: 1, bidirectional: true, bias: true };
    const params = new Map(parameterNames(shape).map((n) => [n, new Float32Array(parameterShape(shape, n).reduce((a, b) => a * b, 1))]));
    const inputs = { x: new Float32Array(2 * 4 * 2), steps: 2, batch: 4 };
    const message = 'recurrent: recurrentMasks must be 2 masks of 12 values (one [B, H] per layer and direction)';
    await expect(recurrentForward(backend, shape, params, { ...inputs, recurrentMasks: [new Float32Array(12)] })).rejects.toThrow(message);
    await expect(recurrentForward(backend, shape, params, { ...inputs, recurrentMasks: [new Float32Array(12), new Float32Array(9)] })).rejects.toThrow(message);
    const projected: RecurrentShape = { kind: 'lstm', inputSize: 2, hiddenSize: 3, numLayers: 1, bidirectional: false, bias: true, projSize: 2 };
    const projectedParams = new Map(parameterNames(projected).map((n) => [n, new Float32Array(parameterShape(projected, n).reduce((a, b) => a * b, 1))]));
    await expect(recurrentForward(backend, projected, projectedParams, { ...inputs, recurrentMasks: [new Float32Array(12)] })).rejects.toThrow('recurrent dropout is not available with projSize');
  });

  it('releaseTrace gives the trace back to the pool: the next pass reuses those buffers and computes the same bits', async () => {
    // Pooled buffers come back holding the last pass's values; every value must be written again.
    const shape: RecurrentShape = { kind: 'lstm', inputSize: 3, hiddenSize: 5, numLayers: 2, bidirectional: true, bias: true };
    const [steps, batch, D] = [7, 4, 2];
    const random = mulberry32(21);
    const values = (n: number) => Float32Array.from({ length: n }, () => random() * 2 - 1);
    const params = new Map(parameterNames(shape).map((n) => [n, values(parameterShape(shape, n).reduce((a, b) => a * b, 1))]));
    const first = { x: values(steps * batch * 3), steps, batch, lengths: [7, 3, 5, 6] };
    const second = { x: values(steps * batch * 3), steps, batch, lengths: [4, 7, 2, 7] };
    const dOutput = values(steps * batch * D * 5);
    const pass = async (inputs: typeof first, releaseTrace: boolean) => {
      const forward = await recurrentForward(backend, shape, params, inputs, { timeChunk: 3 });
      const grads = await recurrentBackward(backend, shape, params, inputs, forward, dOutput, undefined, undefined, { releaseTrace });
      return { forward, grads };
    };
    const fresh = await pass(first, false);
    const other = await pass(second, true);
    await expect(recurrentBackward(backend, shape, params, second, other.forward, dOutput)).rejects.toThrow('differentiated already with releaseTrace');
    const pooled = pooledBufferBytes();
    expect(pooled).toBeGreaterThan(0);
    const reused = await pass(first, true);
    expect(reused.forward.output).toEqual(fresh.forward.output);
    expect(reused.grads.dx).toEqual(fresh.grads.dx);
    expect(reused.grads.dh0).toEqual(fresh.grads.dh0);
    for (const [param, value] of fresh.grads.grads) expect(reused.grads.grads.get(param), param).toEqual(value);
  });

  it('runs a layer of realistic size on the threaded executor (webasm) or one encoder (webgpu)', async () => {
    // B x 4H = 32 x 256 = 8,192 gate cells per step: above gpu.js's 4,096-cell threading threshold.
    const shape: RecurrentShape = { kind: 'lstm', inputSize: 16, hiddenSize: 64, numLayers: 1, bidirectional: false, bias: true };
    const [steps, batch] = [3, 32];
    const random = mulberry32(9);
    const params = new Map(parameterNames(shape).map((n) => [n, Float32Array.from({ length: parameterShape(shape, n).reduce((a, b) => a * b, 1) }, () => (random() - 0.5) * 0.2)]));
    const inputs = { x: Float32Array.from({ length: steps * batch * 16 }, () => random() - 0.5), steps, batch };
    const forward = await recurrentForward(backend, shape, params, inputs);
    const grads = await recurrentBackward(backend, shape, params, inputs, forward, new Float32Array(steps * batch * 64).fill(0.01));
    const expected = name === 'webasm' ? 'fused-threaded' : EXECUTOR[name];
    expect([...forward.executors, ...grads.executors]).toEqual([expected, expected]);
    const params64 = new Map([...params].map(([n, v]) => [n, Float64Array.from(v)]));
    const inputs64 = { ...inputs, x: Float64Array.from(inputs.x) };
    const reference = recurrentForwardRef(shape, params64, inputs64);
    expectNear('output', forward.output, reference.output);
    const referenceGrads = recurrentBackwardRef(shape, params64, inputs64, reference, new Float64Array(steps * batch * 64).fill(0.01));
    expectNear('d weight_hh_l0', grads.grads.get('weight_hh_l0')!, referenceGrads.grads.get('weight_hh_l0')!);
  });
});
