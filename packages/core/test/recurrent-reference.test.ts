import { describe, expect, it } from 'vitest';
import { numericGradient } from '../src/reference/index.js';
import {
  parameterNames, parameterShape, recurrentBackwardRef, recurrentForwardRef, stateSize as stateSizeOf, type CellKind,
  type RecurrentShape, type SequenceInputs,
} from '../src/reference/recurrent.js';
import { mulberry32 } from '../src/random.js';

/** The float64 recurrent reference: every gradient of BPTT against central finite differences. */

const random = mulberry32(42);
const uniform = (n: number, scale = 1) => Float64Array.from({ length: n }, () => (random() * 2 - 1) * scale);
const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => s + v * b[i]!, 0);
const maxDiff = (a: Float64Array, b: Float64Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

interface Case {
  readonly title: string;
  readonly shape: RecurrentShape;
  readonly lengths?: number[];
  readonly initialState?: boolean;
  readonly dropout?: boolean;
  /** Recurrent dropout masks (Keras's recurrent_dropout) on every layer and direction. */
  readonly recurrentDropout?: boolean;
}

const T = 4;
const B = 3;
const kinds: CellKind[] = ['rnn_tanh', 'rnn_relu', 'gru', 'lstm'];
const cases: Case[] = kinds.flatMap((kind) => [
  { title: `${kind}, one layer`, shape: { kind, inputSize: 3, hiddenSize: 2, numLayers: 1, bidirectional: false, bias: true } },
  {
    title: `${kind}, two bidirectional layers, variable lengths, initial states, dropout masks`,
    shape: { kind, inputSize: 3, hiddenSize: 2, numLayers: 2, bidirectional: true, bias: true },
    lengths: [4, 2, 1],
    initialState: true,
    dropout: true,
  },
  {
    title: `${kind}, two bidirectional layers, variable lengths, initial states, recurrent dropout masks`,
    shape: { kind, inputSize: 3, hiddenSize: 2, numLayers: 2, bidirectional: true, bias: true },
    lengths: [4, 2, 1],
    initialState: true,
    recurrentDropout: true,
  },
  {
    title: `${kind}, no bias, three layers`,
    shape: { kind, inputSize: 2, hiddenSize: 3, numLayers: 3, bidirectional: false, bias: false },
    lengths: [1, 4, 3],
  },
  ...(kind === 'lstm'
    ? [{
      title: 'lstm with projections (projSize 2 of hidden 3), two bidirectional layers, variable lengths, initial states, dropout masks',
      shape: { kind, inputSize: 3, hiddenSize: 3, numLayers: 2, bidirectional: true, bias: true, projSize: 2 },
      lengths: [4, 2, 1],
      initialState: true,
      dropout: true,
    }, {
      title: 'lstm with projections (projSize 1), no bias, two layers',
      shape: { kind, inputSize: 2, hiddenSize: 3, numLayers: 2, bidirectional: false, bias: false, projSize: 1 },
      lengths: [1, 4, 3],
    }]
    : []),
]);

describe.each(cases)('recurrent reference: $title', ({ shape, lengths, initialState, dropout, recurrentDropout }) => {
  const D = shape.bidirectional ? 2 : 1;
  const H = stateSizeOf(shape); // h's features: P with projections
  const stateSize = shape.numLayers * D * B * H;
  const cellStateSize = shape.numLayers * D * B * shape.hiddenSize;
  const params: Map<string, Float64Array> = new Map(parameterNames(shape).map((name) => {
    const dims = parameterShape(shape, name);
    return [name, uniform(dims.reduce((a, b) => a * b, 1), 0.8)] as const;
  }));
  const inputs: SequenceInputs = {
    x: uniform(T * B * shape.inputSize),
    steps: T,
    batch: B,
    ...(lengths ? { lengths } : {}),
    ...(initialState ? { h0: uniform(stateSize, 0.5), ...(shape.kind === 'lstm' ? { c0: uniform(cellStateSize, 0.5) } : {}) } : {}),
    ...(dropout
      ? { dropoutMasks: Array.from({ length: shape.numLayers - 1 }, () => Float64Array.from({ length: T * B * D * H }, () => (random() < 0.3 ? 0 : 1 / 0.7))) }
      : {}),
    ...(recurrentDropout
      ? { recurrentMasks: Array.from({ length: shape.numLayers * D }, () => Float64Array.from({ length: B * H }, () => (random() < 0.3 ? 0 : 1 / 0.7))) }
      : {}),
  };
  const dOutput = uniform(T * B * D * H);
  const dhN = uniform(stateSize);
  const dcN = shape.kind === 'lstm' ? uniform(cellStateSize) : undefined;

  /** The scalar whose gradient BPTT computes: a fixed weighting of every output. */
  const loss = (p: Map<string, Float64Array>, given: SequenceInputs) => {
    const f = recurrentForwardRef(shape, p, given);
    return dot(f.output, dOutput) + dot(f.hN, dhN) + (dcN && f.cN ? dot(f.cN, dcN) : 0);
  };
  const forward = recurrentForwardRef(shape, params, inputs);
  const back = recurrentBackwardRef(shape, params, inputs, forward, dOutput, dhN, dcN);

  // A ReLU kink between x - h and x + h would spoil a difference quotient; h = 1e-6 and random
  // inputs make that vanishingly unlikely, and the bound below would catch it.
  const TOLERANCE = 1e-7;

  it('gradient of the input', () => {
    const numeric = numericGradient((x) => loss(params, { ...inputs, x }), inputs.x);
    expect(maxDiff(back.dx, numeric)).toBeLessThan(TOLERANCE);
  });

  it('gradient of every parameter', () => {
    for (const [name, value] of params) {
      const numeric = numericGradient((v) => loss(new Map(params).set(name, v), inputs), value);
      expect(maxDiff(back.grads.get(name)!, numeric), name).toBeLessThan(TOLERANCE);
    }
  });

  it('gradient of the initial states', () => {
    const h0 = inputs.h0 ?? new Float64Array(stateSize);
    const numeric = numericGradient((h) => loss(params, { ...inputs, h0: h }), h0);
    expect(maxDiff(back.dh0, numeric)).toBeLessThan(TOLERANCE);
    if (shape.kind === 'lstm') {
      const c0 = inputs.c0 ?? new Float64Array(cellStateSize);
      expect(maxDiff(back.dc0!, numericGradient((c) => loss(params, { ...inputs, c0: c }), c0))).toBeLessThan(TOLERANCE);
    }
  });

  it.runIf(recurrentDropout)('recurrent masks change the outputs; masks of ones change nothing', () => {
    const { recurrentMasks: _, ...unmasked } = inputs;
    const plain = recurrentForwardRef(shape, params, unmasked);
    expect(maxDiff(plain.output, forward.output)).toBeGreaterThan(1e-3);
    const ones = recurrentForwardRef(shape, params, { ...unmasked, recurrentMasks: inputs.recurrentMasks!.map((m) => m.map(() => 1)) });
    expect(ones.output).toEqual(plain.output);
    expect(ones.hN).toEqual(plain.hN);
  });

  it('packed semantics: zeros after each sequence ends, final states taken at its own end', () => {
    if (!lengths) return;
    for (let b = 0; b < B; b++) {
      for (let t = lengths[b]!; t < T; t++) {
        const row = forward.output.subarray((t * B + b) * D * H, (t * B + b + 1) * D * H);
        expect([...row].every((v) => v === 0)).toBe(true);
      }
      const last = shape.numLayers - 1;
      const lastStep = forward.output.subarray(((lengths[b]! - 1) * B + b) * D * H, ((lengths[b]! - 1) * B + b) * D * H + H);
      expect([...forward.hN.subarray((last * D * B + b) * H, (last * D * B + b + 1) * H)]).toEqual([...lastStep]);
      if (D === 2) {
        // The reverse direction ends at step 0, after starting at the sequence's own last token.
        const first = forward.output.subarray(b * D * H + H, b * D * H + 2 * H);
        expect([...forward.hN.subarray(((last * D + 1) * B + b) * H, ((last * D + 1) * B + b + 1) * H)]).toEqual([...first]);
      }
    }
  });
});
