/** Seeded random numbers, so that data, initial weights and tests repeat exactly. */

/** A generator of uniform numbers in [0, 1) whose whole state is one 32-bit integer. */
export interface SeededRandom {
  (): number;
  /** The generator's state: read it to checkpoint, write it to resume exactly. */
  state: number;
}

/** mulberry32's output for the state it has just stepped to, in [0, 1). */
function mulberry32Output(state: number): number {
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** Uniform numbers in [0, 1) from a 32-bit seed (mulberry32: small, fast, good enough for ML). */
export function mulberry32(seed: number): SeededRandom {
  let state = seed >>> 0;
  const next = (() => {
    state = (state + 0x6d2b79f5) >>> 0;
    return mulberry32Output(state);
  }) as SeededRandom;
  Object.defineProperty(next, 'state', {
    get: () => state,
    set: (value: number) => {
      state = value >>> 0;
    },
  });
  return next;
}

/**
 * A dropout mask: each value 1 / keep with probability keep, else 0, drawn in order from
 * `random` (value i compares the generator's i-th draw with keep), as a loop of
 * `random() < keep` would. The generator is stepped here rather than called: a call a value
 * made masks of a translation batch's size (300,000 values) take about 5 ms on the main thread
 * while the backend's workers wait, this loop about 3.
 */
export function dropoutMask(size: number, keep: number, random: SeededRandom): Float32Array {
  const mask = new Float32Array(size);
  const scale = 1 / keep;
  let state = random.state;
  for (let i = 0; i < size; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    if (mulberry32Output(state) < keep) mask[i] = scale;
  }
  random.state = state;
  return mask;
}

/** A shuffled copy of `items` (Fisher-Yates), in an order fixed by the generator's state. */
export function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Standard normal numbers (Box-Muller) drawn from a uniform source. */
export function gaussian(uniform: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}
