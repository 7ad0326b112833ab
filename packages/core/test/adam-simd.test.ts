import { describe, expect, it } from 'vitest';
import { Adam, AdamW, Parameter, Tensor } from '../src/index.js';
import { SimdAdam } from '../src/optim/adam-simd.js';
import { mulberry32 } from '../src/random.js';

const f = Math.fround;

/** torch.optim.Adam's single-tensor update, each operation rounded to f32 as the SIMD loop rounds it. */
function referenceStep(x: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, step: number, o: { lr: number; b1: number; b2: number; eps: number; wd: number; decoupled: boolean }) {
  const negStep = f(-(o.lr / (1 - o.b1 ** step)));
  const root2 = f(Math.sqrt(1 - o.b2 ** step));
  const [b1, a1, b2, a2, eps] = [f(o.b1), f(1 - o.b1), f(o.b2), f(1 - o.b2), f(o.eps)];
  const decay = f(o.decoupled ? 1 - o.lr * o.wd : 1);
  const l2 = f(o.decoupled ? 0 : o.wd);
  for (let i = 0; i < x.length; i++) {
    const xi = f(x[i]! * decay);
    const gi = l2 === 0 ? g[i]! : f(g[i]! + f(xi * l2));
    m[i] = f(f(m[i]! * b1) + f(gi * a1));
    v[i] = f(f(v[i]! * b2) + f(f(gi * gi) * a2));
    const denom = f(f(f(Math.sqrt(v[i]!)) / root2) + eps);
    x[i] = f(xi + f(f(m[i]! / denom) * negStep));
  }
}

const randomArray = (n: number, random: () => number, scale = 1) => Float32Array.from({ length: n }, () => (random() * 2 - 1) * scale);

describe('Adam as a WebAssembly SIMD loop', () => {
  it.each([
    ['Adam', { lr: 0.01, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0, decoupled: false }],
    ['Adam with an L2 penalty', { lr: 0.003, b1: 0.8, b2: 0.99, eps: 1e-6, wd: 0.1, decoupled: false }],
    ['AdamW', { lr: 0.02, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.01, decoupled: true }],
  ] as const)('%s: the same bits as the f32 reference, for sizes that are and are not multiples of 4', (_, o) => {
    const random = mulberry32(7);
    const sizes = [1, 3, 4, 5, 37, 1024, 1030];
    const params = sizes.map((n) => new Parameter(new Tensor([n], randomArray(n, random))));
    const optimizer = o.decoupled
      ? new AdamW(params, { lr: o.lr, betas: [o.b1, o.b2], eps: o.eps, weightDecay: o.wd })
      : new Adam(params, { lr: o.lr, betas: [o.b1, o.b2], eps: o.eps, weightDecay: o.wd });
    const expected = params.map((p) => ({ x: Float32Array.from(p.value.data), m: new Float32Array(p.value.size), v: new Float32Array(p.value.size) }));
    for (let step = 1; step <= 4; step++) {
      params.forEach((p) => p.grad.data.set(randomArray(p.value.size, random, step)));
      params.forEach((p, i) => referenceStep(expected[i]!.x, p.grad.data, expected[i]!.m, expected[i]!.v, step, o));
      optimizer.step();
    }
    params.forEach((p, i) => {
      expect([...p.value.data]).toEqual([...expected[i]!.x]);
      const state = optimizer.stateDict();
      expect([...state.buffers.get(`exp_avg.${i}`)!]).toEqual([...expected[i]!.m]);
      expect([...state.buffers.get(`exp_avg_sq.${i}`)!]).toEqual([...expected[i]!.v]);
    });
  });

  it('is the path Adam takes here, and a loaded state replaces the moments in its memory', () => {
    expect(SimdAdam.create([3])).toBeDefined();
    const start = Float32Array.from([0.5, -1, 2]);
    const grads = [Float32Array.from([0.1, 0.2, -0.3]), Float32Array.from([-0.4, 0.5, 0.6])];
    const run = (optimizer: Adam, p: Parameter, steps: readonly Float32Array[]) => {
      for (const g of steps) {
        p.grad.data.set(g);
        optimizer.step();
      }
      return [...p.value.data];
    };
    const parameter = () => new Parameter(new Tensor([3], Float32Array.from(start)));
    const fresh = parameter();
    const inOneRun = run(new Adam([fresh], { lr: 0.1 }), fresh, grads);

    // Stepped, then given the state of an optimiser that never stepped: as new.
    const used = parameter();
    const optimizer = new Adam([used], { lr: 0.1 });
    run(optimizer, used, [...grads, ...grads]);
    used.value.data.set(start);
    optimizer.loadStateDict(new Adam([used], { lr: 0.1 }).stateDict());
    expect(run(optimizer, used, grads)).toEqual(inOneRun);

    // Given the state after the first step (by an optimiser whose moments differ): the second step as in one run.
    const first = parameter();
    const firstOptimizer = new Adam([first], { lr: 0.1 });
    run(firstOptimizer, first, grads.slice(0, 1));
    const other = parameter();
    const otherOptimizer = new Adam([other], { lr: 0.1 });
    run(otherOptimizer, other, [grads[1]!, grads[0]!]);
    other.value.data.set(first.value.data);
    otherOptimizer.loadStateDict(firstOptimizer.stateDict());
    expect(run(otherOptimizer, other, grads.slice(1))).toEqual(inOneRun);
  });
});
