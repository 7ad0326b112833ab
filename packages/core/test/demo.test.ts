import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Backend, createBackend } from '../src/index.js';
import { trainSpiral } from '../src/demo/spiral.js';
import { backendsUnderTest } from './helpers.js';

const backends = await backendsUnderTest();

describe.each(backends)('the spiral demo on %s', (name) => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await createBackend(name);
  });
  afterAll(async () => {
    await backend.dispose();
  });

  it('learns: every kernel composes into a working forward and backward pass', async () => {
    const { losses, accuracy } = await trainSpiral({ backend, steps: 150, pointsPerClass: 50 });
    // ln 3 = 1.0986 is chance. These settings reach 0.40-0.48 by step 150 (seeds 1-3 on the cpu
    // backend; accuracy 77-85%), so a broken gradient anywhere cannot pass these bounds.
    expect(losses[0]).toBeGreaterThan(0.9);
    expect(losses.at(-1)).toBeLessThan(0.6);
    expect(accuracy).toBeGreaterThan(0.7);
  });
});
