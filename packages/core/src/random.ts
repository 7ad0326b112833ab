/** Seeded random numbers, so that data, initial weights and tests repeat exactly. */

/** A generator of uniform numbers in [0, 1) whose whole state is one 32-bit integer. */
export interface SeededRandom {
  (): number;
  /** The generator's state: read it to checkpoint, write it to resume exactly. */
  state: number;
}

/** Uniform numbers in [0, 1) from a 32-bit seed (mulberry32: small, fast, good enough for ML). */
export function mulberry32(seed: number): SeededRandom {
  let state = seed >>> 0;
  const next = (() => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }) as SeededRandom;
  Object.defineProperty(next, 'state', {
    get: () => state,
    set: (value: number) => {
      state = value >>> 0;
    },
  });
  return next;
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
