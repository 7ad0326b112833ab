import { describe, expect, it } from 'vitest';
import { Attention, functional, Tape, Tensor, type AttentionScore } from '../src/index.js';
import { useSimdRows } from '../src/wasm/rows.js';
import { randomTensor } from './helpers.js';

/** Central differences of a scalar function of one tensor's values (f32 data, smooth function). */
function numericGradient(values: Float32Array, loss: () => number, h = 1e-2): Float64Array {
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const saved = values[i]!;
    values[i] = saved + h;
    const up = loss();
    values[i] = saved - h;
    const down = loss();
    values[i] = saved;
    out[i] = (up - down) / (2 * h);
  }
  return out;
}

const weighted = (t: Tensor, w: Tensor) => t.data.reduce((s, v, i) => s + v * w.data[i]!, 0);

describe('Attention', () => {
  const B = 3;
  const Q = 2;
  const S = 4;
  const lengths = [4, 1, 3];

  // Widths that are multiples of 4 take the WebAssembly SIMD sums (host-loops.ts), the others the JavaScript ones.
  it.each([['dot', 5, 5], ['general', 3, 5], ['additive', 3, 5], ['dot', 8, 8], ['general', 4, 8]] as const)('%s, Hq %i, Hm %i: weights sum to 1 over valid steps; gradients of query, memory and parameters match finite differences', async (score, Hq, Hm) => {
    const attention = new Attention({ queryFeatures: Hq, memoryFeatures: Hm, score: score as AttentionScore, attentionFeatures: 4, seed: 3 });
    const query = randomTensor([B, Q, Hq], 1);
    const memory = randomTensor([B, S, Hm], 2);
    const wContext = randomTensor([B, Q, Hm], 4);
    const wWeights = randomTensor([B, Q, S], 5);
    const run = async () => {
      const { context, weights } = await attention.forward(query, await attention.keys(memory), memory, lengths);
      return { context, weights };
    };
    const lossOf = async () => {
      const { context, weights } = await run();
      return weighted(context, wContext) + weighted(weights, wWeights);
    };
    const { weights } = await run();
    for (let b = 0; b < B; b++)
      for (let q = 0; q < Q; q++) {
        const row = [...weights.data.subarray((b * Q + q) * S, (b * Q + q + 1) * S)];
        expect(row.slice(0, lengths[b]).reduce((s, v) => s + v, 0)).toBeCloseTo(1, 6);
        expect(row.slice(lengths[b]).every((v) => v === 0)).toBe(true);
      }

    const tape = new Tape();
    attention.zeroGrad();
    const loss = await tape.run(async () => {
      const out = await run();
      // Sum of weighted outputs as one scalar, through the tape's own ops.
      const flat = functional.concat([out.context.reshape([B * Q, Hm]), out.weights.reshape([B * Q, S])]);
      return flat;
    });
    const seed = functional.concat([wContext.reshape([B * Q, Hm]), wWeights.reshape([B * Q, S])]);
    const grads = await tape.backward(loss, seed);

    const numeric = async (values: Float32Array) => {
      const out = new Float64Array(values.length);
      const h = 1e-2;
      for (let i = 0; i < values.length; i++) {
        const saved = values[i]!;
        values[i] = saved + h;
        const up = await lossOf();
        values[i] = saved - h;
        const down = await lossOf();
        values[i] = saved;
        out[i] = (up - down) / (2 * h);
      }
      return out;
    };
    const check = (analytic: Float32Array, expected: Float64Array) => {
      expect(analytic.length).toBe(expected.length);
      analytic.forEach((g, i) => expect(g).toBeCloseTo(expected[i]!, 3));
    };
    check(grads.get(query)!.data, await numeric(query.data));
    check(grads.get(memory)!.data, await numeric(memory.data));
    for (const [, p] of attention.namedParameters()) check(p.grad.data, await numeric(p.value.data));
    expect(attention.namedParameters().map(([name]) => name)).toEqual(
      score === 'dot' ? [] : score === 'general' ? ['key.weight'] : ['v', 'key.weight', 'query.weight', 'query.bias'],
    );
  });

  it('the SIMD sums and the JavaScript ones agree to f32 rounding, forward and backward', async () => {
    const [B2, Q2, S2, H] = [3, 5, 7, 12];
    const lengths2 = [7, 2, 5];
    const attention = new Attention({ queryFeatures: H, memoryFeatures: H, score: 'dot' });
    const query = randomTensor([B2, Q2, H], 6);
    const memory = randomTensor([B2, S2, H], 7);
    const seed = randomTensor([B2 * Q2, H + S2], 8);
    const run = async (simd: boolean) => {
      useSimdRows(simd);
      try {
        const tape = new Tape();
        const out = await tape.run(async () => {
          const { context, weights } = await attention.forward(query, memory, memory, lengths2);
          return functional.concat([context.reshape([B2 * Q2, H]), weights.reshape([B2 * Q2, S2])]);
        });
        const grads = await tape.backward(out, seed);
        return { out: out.data, dQuery: grads.get(query)!.data, dMemory: grads.get(memory)!.data };
      } finally {
        useSimdRows(true);
      }
    };
    const [simd, js] = [await run(true), await run(false)];
    for (const key of ['out', 'dQuery', 'dMemory'] as const) {
      const scale = js[key].reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      simd[key].forEach((v, i) => expect(Math.abs(v - js[key][i]!)).toBeLessThan(1e-5 * scale));
    }
    // padded steps of the memory get no gradient
    for (let s = lengths2[1]!; s < S2; s++) expect(simd.dMemory.subarray((S2 + s) * H, (S2 + s + 1) * H).every((v) => v === 0)).toBe(true);
  });

  it('refuses a dot score between different widths, and bad lengths', async () => {
    expect(() => new Attention({ queryFeatures: 3, memoryFeatures: 4, score: 'dot' })).toThrow("needs queryFeatures = memoryFeatures");
    const attention = new Attention({ queryFeatures: 2, memoryFeatures: 2 });
    const memory = randomTensor([1, 3, 2], 1);
    await expect(attention.forward(randomTensor([1, 1, 2], 2), await attention.keys(memory), memory, [4])).rejects.toThrow('lengths[0] = 4 must be an integer in 1..3');
  });
});

describe('functional ops', () => {
  it('transposeLeading, select, stack, concat and tanh pass gradients back (finite differences)', async () => {
    const x = randomTensor([2, 3, 2], 7);
    const y = randomTensor([3, 1], 8);
    const w = randomTensor([25], 9);
    const compute = () => {
      const swapped = functional.transposeLeading(x); // [3, 2, 2]
      const joined = functional.concat([functional.select(x, 1), y]); // [3, 3]
      const first = functional.concat([functional.select(swapped, 2), functional.select(swapped, 0)]); // [2, 4]
      const second = functional.concat([functional.select(swapped, 1), functional.select(swapped, 2)]); // [2, 4]
      return functional.concat([functional.tanh(functional.stack([first, second])).reshape([16]), joined.reshape([9])]); // [25]
    };
    const tape = new Tape();
    const out = await tape.run(async () => compute());
    const grads = await tape.backward(out, w);
    const loss = () => weighted(compute(), w);
    for (const t of [x, y]) {
      const expected = numericGradient(t.data, loss);
      grads.get(t)!.data.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 3));
    }
    expect(functional.transposeLeading(Tensor.from([2, 2, 1], [1, 2, 3, 4])).toNested()).toEqual([[[1], [3]], [[2], [4]]]);
  });
});
