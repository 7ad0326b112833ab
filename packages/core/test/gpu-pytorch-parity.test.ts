import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Backend, createBackend } from '../src/index.js';
import { recurrentBackward, recurrentForward } from '../src/recurrent/sequence.js';
import { backendsUnderTest } from './helpers.js';
import { fixtureNames, loadFixture } from './fixtures.js';

/*
 * The GPU.js network against PyTorch 1.13 directly (float64 fixtures, run in f32 here): outputs,
 * final states and every gradient within 1e-5 absolute. Observed: at most 2e-7 forward and
 * 1.1e-6 for gradients on every backend, so the bound leaves a 10x margin for f32 rounding.
 * Max errors are printed as a table for the parity report.
 */
const TOLERANCE = 1e-5;
const backends = await backendsUnderTest();
const table: Array<{ backend: string; fixture: string; forward: number; backward: number }> = [];

const maxError = (actual: Float32Array, expected: Float64Array) => {
  expect(actual.length).toBe(expected.length);
  return actual.reduce((m, v, i) => Math.max(m, Math.abs(v - expected[i]!)), 0);
};

describe.each(backends)('PyTorch parity on %s', (name) => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await createBackend(name);
  });
  afterAll(async () => {
    await backend.dispose();
  });

  it.each(fixtureNames)('%s', async (fixtureName) => {
    const f = loadFixture(fixtureName);
    const f32 = (a: Float64Array) => Float32Array.from(a);
    const params = new Map([...f.params].map(([n, v]) => [n, f32(v)]));
    const batch = {
      x: f32(f.x), steps: f.config.steps, batch: f.config.batch,
      ...(f.lengths ? { lengths: f.lengths } : {}),
      ...(f.h0 ? { h0: f32(f.h0) } : {}),
      ...(f.c0 ? { c0: f32(f.c0) } : {}),
    };
    const forward = await recurrentForward(backend, f.config, params, batch);
    const forwardError = Math.max(maxError(forward.output, f.output), maxError(forward.hN, f.hN), f.cN ? maxError(forward.cN!, f.cN) : 0);
    const back = await recurrentBackward(backend, f.config, params, batch, forward, f32(f.gradOutput), f32(f.gradHN), f.gradCN ? f32(f.gradCN) : undefined);
    const errors = [maxError(back.dx, f.gradInput)];
    if (f.gradH0) errors.push(maxError(back.dh0, f.gradH0));
    if (f.gradC0) errors.push(maxError(back.dc0!, f.gradC0));
    for (const [param, expected] of f.gradParams) errors.push(maxError(back.grads.get(param)!, expected));
    const backwardError = Math.max(...errors);
    table.push({ backend: name, fixture: fixtureName, forward: forwardError, backward: backwardError });
    expect(forwardError).toBeLessThan(TOLERANCE);
    expect(backwardError).toBeLessThan(TOLERANCE);
  });
});

afterAll(() => {
  const rows = table.map((r) => `| ${r.fixture} | ${r.backend} | ${r.forward.toExponential(1)} | ${r.backward.toExponential(1)} |`);
  console.info(['| fixture | backend | max abs error, forward | max abs error, gradients |', '|---|---|---|---|', ...rows].join('\n'));
});
