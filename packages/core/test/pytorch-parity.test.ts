import { describe, expect, it } from 'vitest';
import { recurrentBackwardRef, recurrentForwardRef } from '../src/reference/recurrent.js';
import { fixtureNames, loadFixture } from './fixtures.js';

/**
 * The float64 reference against PyTorch 1.13 in float64 (fixtures/make_fixtures.py): outputs,
 * final states and every gradient agree to 1e-10, so the reference can stand in for PyTorch
 * when the GPU.js kernels are checked.
 */
const TOLERANCE = 1e-10;
const maxDiff = (a: Float64Array, b: Float64Array) => {
  expect(a.length).toBe(b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
};

describe.each(fixtureNames)('PyTorch parity of the float64 reference: %s', (name) => {
  const f = loadFixture(name);
  const inputs = {
    x: f.x, steps: f.config.steps, batch: f.config.batch,
    ...(f.lengths ? { lengths: f.lengths } : {}),
    ...(f.h0 ? { h0: f.h0 } : {}),
    ...(f.c0 ? { c0: f.c0 } : {}),
  };
  const forward = recurrentForwardRef(f.config, f.params, inputs);

  it('outputs and final states', () => {
    expect(maxDiff(forward.output, f.output)).toBeLessThan(TOLERANCE);
    expect(maxDiff(forward.hN, f.hN)).toBeLessThan(TOLERANCE);
    if (f.cN) expect(maxDiff(forward.cN!, f.cN)).toBeLessThan(TOLERANCE);
  });

  it('gradients of the input, the initial states and every parameter', () => {
    const back = recurrentBackwardRef(f.config, f.params, inputs, forward, f.gradOutput, f.gradHN, f.gradCN);
    expect(maxDiff(back.dx, f.gradInput)).toBeLessThan(TOLERANCE);
    if (f.gradH0) expect(maxDiff(back.dh0, f.gradH0)).toBeLessThan(TOLERANCE);
    if (f.gradC0) expect(maxDiff(back.dc0!, f.gradC0)).toBeLessThan(TOLERANCE);
    for (const [param, expected] of f.gradParams) {
      expect(maxDiff(back.grads.get(param)!, expected), param).toBeLessThan(TOLERANCE);
    }
  });
});
