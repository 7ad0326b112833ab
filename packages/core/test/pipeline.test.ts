import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Backend, createBackend, MAX_CACHED_PIPELINE_STEPS, MAX_CACHED_PIPELINES, planBinary, planMatmul, planNormalise, planRowLogOfQuarters, planRowMax, planRowMaxQuarters, planRowSumExpQuarters, planUnary, Tensor,
  type BackendName,
} from '../src/index.js';
import { binaryRef, logSoftmaxRef, matmulRef, unaryRef, widen } from '../src/reference/index.js';
import { backendsUnderTest, expectClose, randomTensor } from './helpers.js';

/**
 * The executor each backend must use for a whole chain of kernels. A plan that silently degrades
 * to the generic executor (one kernel call at a time) fails here, with gpu.js's reason.
 */
const EXPECTED_EXECUTOR: Record<BackendName, string> = {
  webasm: 'fused-threaded',
  webgpu: 'fused-encoder',
  cpu: 'generic',
};

const backends = await backendsUnderTest();

describe.each(backends)('createPipeline on %s', (name) => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await createBackend(name);
  });
  afterAll(async () => {
    await backend.dispose();
  });

  it('fuses matmul -> bias -> tanh -> log-softmax into one plan that matches the reference', async () => {
    // A dense layer over a batch: 64 rows x 96 classes = 6,144 cells, enough for two webasm threads.
    const [B, E, C] = [64, 32, 96];
    const x = randomTensor([B, E], 21);
    const w = randomTensor([E, C], 22, 0.3);
    const bias = randomTensor([C], 23);
    const matmulKernel = backend.kernel(planMatmul([B, E], [E, C]).spec);
    const biasKernel = backend.kernel(planBinary('add', [B, C], [C]).spec);
    const tanhKernel = backend.kernel(planUnary('tanh', B * C));
    // each row's max and sum of exponentials in quarters, then folded, as rowLogSumExp runs them
    const maxQuartersKernel = backend.kernel(planRowMaxQuarters(B, C));
    const maxKernel = backend.kernel(planRowMax(B, 4));
    const sumQuartersKernel = backend.kernel(planRowSumExpQuarters(B, C));
    const logSumKernel = backend.kernel(planRowLogOfQuarters(B));
    const normaliseKernel = backend.kernel(planNormalise('logSoftmax', B, C));
    const pipeline = backend.pipeline('dense-log-softmax', function (xs, ws, bs) {
      const h = tanhKernel(biasKernel(matmulKernel(xs, ws), bs));
      const max = maxKernel(maxQuartersKernel(h));
      return normaliseKernel(h, max, logSumKernel(sumQuartersKernel(h, max)));
    });

    const out = new Tensor([B, C], (await pipeline(x.data, w.data, bias.data)) as Float32Array);

    const h = unaryRef('tanh', binaryRef('add', matmulRef(widen(x), widen(w)), widen(bias)));
    expectClose(out, logSoftmaxRef(h), 1e-5, 1e-5);
    expect({ executor: pipeline.executorKind, fallbackReason: pipeline.fallbackReason }).toEqual({
      executor: EXPECTED_EXECUTOR[name],
      fallbackReason: name === 'cpu' ? expect.any(String) : null,
    });
  });

  it('replays a loop of steps unrolled at trace time (a recurrence h <- tanh(h W))', async () => {
    // 64 x 128 = 8,192 cells per step: gpu.js uses ceil(cells / 4096) workers, so two threads.
    const [B, H, steps] = [64, 128, 6];
    const h0 = randomTensor([B, H], 24);
    const w = randomTensor([H, H], 25, 0.15);
    const stepMatmul = backend.kernel(planMatmul([B, H], [H, H]).spec);
    const stepTanh = backend.kernel(planUnary('tanh', B * H));
    const pipeline = backend.pipeline(`recurrence-${steps}`, function (h, weights) {
      let state = h;
      for (let t = 0; t < steps; t++) state = stepTanh(stepMatmul(state, weights));
      return state;
    });
    const out = new Tensor([B, H], (await pipeline(h0.data, w.data)) as Float32Array);

    let expected = widen(h0);
    for (let t = 0; t < steps; t++) expected = unaryRef('tanh', matmulRef(expected, widen(w)));
    expectClose(out, expected, 1e-5, 1e-5);
    expect(pipeline.executorKind).toBe(EXPECTED_EXECUTOR[name]);
  });
});

describe('the pipeline cache', () => {
  it(`keeps the ${MAX_CACHED_PIPELINES} most recent plans and rebuilds an evicted one on demand`, async () => {
    const backend = await createBackend('cpu');
    try {
      const double = backend.kernel(planUnary('relu', 4));
      const make = (i: number) => backend.pipeline(`cache-test-${i}`, function (x) {
        return double(x);
      });
      const first = make(0);
      for (let i = 1; i <= MAX_CACHED_PIPELINES; i++) make(i);
      const rebuilt = make(0);
      expect(rebuilt).not.toBe(first);
      expect([...((await rebuilt(Float32Array.from([-1, 2, -3, 4]))) as Float32Array)]).toEqual([0, 2, 0, 4]);
      expect(make(MAX_CACHED_PIPELINES)).toBe(make(MAX_CACHED_PIPELINES));
    } finally {
      await backend.dispose();
    }
  });
  it(`keeps plans whose steps add up to at most ${MAX_CACHED_PIPELINE_STEPS}`, async () => {
    const backend = await createBackend('cpu');
    try {
      const double = backend.kernel(planUnary('relu', 4));
      const make = (name: string, steps: number | undefined) => backend.pipeline(`steps-test-${name}`, function (x) {
        return double(x);
      }, steps === undefined ? {} : { steps });
      // Plans of 32 steps: MAX_CACHED_PIPELINE_STEPS / 32 of them fit; one more evicts the oldest.
      const fits = MAX_CACHED_PIPELINE_STEPS / 32;
      expect(fits).toBeLessThan(MAX_CACHED_PIPELINES);
      const plans = Array.from({ length: fits }, (_, i) => make(`short-${i}`, 32));
      expect(make('short-0', 32)).toBe(plans[0]); // all kept; short-0 is now the most recent
      make('extra', 32); // one too many: short-1, now the oldest, goes
      expect(make('short-2', 32)).toBe(plans[2]);
      expect(make('short-0', 32)).toBe(plans[0]);
      expect(make('short-1', 32)).not.toBe(plans[1]); // rebuilt, which evicts short-3
      // A plan stating no steps counts as 64: the two oldest (short-4, short-5) make room.
      make('long', undefined);
      expect(make('short-6', 32)).toBe(plans[6]);
      expect(make('short-5', 32)).not.toBe(plans[5]);
    } finally {
      await backend.dispose();
    }
  });
});
