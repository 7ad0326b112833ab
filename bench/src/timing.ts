import { performance } from 'node:perf_hooks';

/**
 * Seconds taken by `work`: the median of `runs` timed calls after one untimed warm-up call (which
 * compiles kernels and pipelines, or builds a peer's graph).
 */
export async function medianSeconds(work: () => unknown, runs: number): Promise<number> {
  await work();
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const start = performance.now();
    await work();
    times.push((performance.now() - start) / 1000);
  }
  return [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}
