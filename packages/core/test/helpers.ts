import { expect } from 'vitest';
import { BACKEND_NAMES, probeBackend, Tensor, type BackendName } from '../src/index.js';
import { mulberry32 } from '../src/random.js';
import type { Tensor64 } from '../src/reference/index.js';

/**
 * The backends the kernel tests run on: every backend that starts here. Under CI=true a backend
 * that cannot start fails the run with its reason instead of being skipped, so CI always proves
 * cpu, webasm and webgpu. Outside CI, RECURRENT_BACKENDS=cpu,webasm narrows the list.
 */
export async function backendsUnderTest(): Promise<BackendName[]> {
  const requested = process.env.RECURRENT_BACKENDS && !process.env.CI
    ? (process.env.RECURRENT_BACKENDS.split(',') as BackendName[])
    : [...BACKEND_NAMES];
  const names: BackendName[] = [];
  for (const name of requested) {
    const probe = await probeBackend(name);
    if (probe.available) names.push(name);
    else if (process.env.CI) throw new Error(`CI must test backend ${name}, but it cannot start: ${probe.reason}`);
    else console.warn(`skipping backend ${name}: ${probe.reason}`);
  }
  return names;
}

/** A tensor of uniform values in [-scale, scale). */
export function randomTensor(shape: number[], seed: number, scale = 1): Tensor {
  const random = mulberry32(seed);
  const t = Tensor.zeros(shape);
  for (let i = 0; i < t.size; i++) t.data[i] = (random() * 2 - 1) * scale;
  return t;
}

/**
 * Asserts |actual - expected| <= atol + rtol * |expected| everywhere and the shapes match,
 * naming the worst cell when it fails.
 */
export function expectClose(actual: Tensor, expected: Tensor64, atol: number, rtol = 0): void {
  expect(actual.shape).toEqual(expected.shape);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.data.length; i++) {
    const a = actual.data[i]!;
    const e = expected.data[i]!;
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (Number.isNaN(a) !== Number.isNaN(e) || excess > worstExcess) {
      worst = i;
      worstExcess = Number.isNaN(excess) ? Infinity : excess;
    }
  }
  if (worst >= 0) {
    expect.fail(
      `cell ${worst}: got ${actual.data[worst]}, expected ${expected.data[worst]} (atol ${atol}, rtol ${rtol})`,
    );
  }
}

/** The largest |a[i] - b[i]|, after checking the lengths agree. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}
