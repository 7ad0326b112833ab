import { performance } from 'node:perf_hooks';

/**
 * How long a row warms up and how long each of its timed runs lasts at least. One warm-up call
 * was too few: V8 tiers wasm up from its baseline compiler and optimises the JS around it over the
 * first calls, so S inference on webasm read 23-32 k tokens/s after one and 51-65 k after a few
 * seconds (round eleven in bench/docs/history.md). Every peer gets the same budget.
 */
export interface TimingBudget {
  /** Calls repeat (at least one) until this many seconds have passed. */
  readonly warmupSeconds: number;
  /** A timed run repeats its call until this many seconds have passed; its time a call is the mean. */
  readonly runSeconds: number;
}

/** The full bench's budget. */
export const FULL_BUDGET: TimingBudget = { warmupSeconds: 2, runSeconds: 0.5 };
/** `--quick`'s: a smoke run, not a measurement. */
export const QUICK_BUDGET: TimingBudget = { warmupSeconds: 0.2, runSeconds: 0 };

/** Calls `work` until `seconds` have passed (at least once); returns the calls and the seconds taken. */
async function repeatFor(work: () => unknown, seconds: number): Promise<{ calls: number; seconds: number }> {
  const start = performance.now();
  let calls = 0;
  let elapsed = 0;
  do {
    await work();
    calls++;
    elapsed = (performance.now() - start) / 1000;
  } while (elapsed < seconds);
  return { calls, seconds: elapsed };
}

/** Seconds a call of `work` takes: the median of `runs` timed runs after the budget's warm-up. */
export async function medianSeconds(work: () => unknown, runs: number, budget: TimingBudget = FULL_BUDGET): Promise<number> {
  await repeatFor(work, budget.warmupSeconds);
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const run = await repeatFor(work, budget.runSeconds);
    times.push(run.seconds / run.calls);
  }
  return [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}
