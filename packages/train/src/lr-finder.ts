/**
 * The learning-rate range test (Smith 2017, "Cyclical learning rates"; fast.ai's lr_find, PyTorch
 * Lightning's Tuner.lr_find): train for a few dozen steps while the learning rate grows
 * geometrically from tiny to huge, and watch the smoothed loss. It falls once the lr is large
 * enough to learn and blows up once it is too large; a good lr sits where it falls fastest, or a
 * tenth of where it is lowest. The model, the optimiser and the random generators are put back
 * as they were afterwards, so a training run can follow.
 */
import { join } from 'node:path';
import { clipGradNorm, detach, Tape, writeFileAtomic, type Optimizer } from '@recurrent/core';
import type { TrainingTask } from './trainer.js';

export interface LrFinderOptions {
  /** Default 1e-7. */
  readonly startLr?: number;
  /** Default 10. */
  readonly endLr?: number;
  /** Steps (batches) from startLr to endLr. Default 100. */
  readonly steps?: number;
  /** Of the exponential moving average of the loss, debiased. Default 0.98 (fast.ai's). */
  readonly smoothing?: number;
  /** Stop once the smoothed loss passes this times its lowest. Default 4. */
  readonly divergence?: number;
  /** Clip the global gradient norm as training does (0: off). Default 1. */
  readonly clipNorm?: number;
}

export interface LrFinderResult {
  /** The lr of each step taken. */
  readonly lrs: number[];
  readonly losses: number[];
  readonly smoothed: number[];
  /** The lr where the smoothed loss fell fastest against log lr (the first tenth of the steps left out); undefined if it never fell. */
  readonly steepest: number | undefined;
  /** The lr of the lowest smoothed loss, over 10. */
  readonly minimumOverTen: number | undefined;
  /** Stopped early: the loss diverged (or turned non-finite). */
  readonly diverged: boolean;
}

/** Runs the range test on `task`'s batches (epoch 0, then 1, ... as needed) with `optimizer`; leaves both as they were. */
export async function findLearningRate<B>(task: TrainingTask<B>, optimizer: Optimizer, options: LrFinderOptions = {}): Promise<LrFinderResult> {
  const startLr = options.startLr ?? 1e-7;
  const endLr = options.endLr ?? 10;
  const steps = options.steps ?? 100;
  const smoothing = options.smoothing ?? 0.98;
  const divergence = options.divergence ?? 4;
  const clipNorm = options.clipNorm ?? 1;
  if (!(startLr > 0 && endLr > startLr)) throw new Error(`findLearningRate: needs 0 < startLr < endLr, got ${startLr} and ${endLr}`);
  if (!(Number.isInteger(steps) && steps >= 2)) throw new Error(`findLearningRate: steps must be a whole number >= 2, got ${steps}`);
  if (!(smoothing >= 0 && smoothing < 1)) throw new Error(`findLearningRate: smoothing must be in [0, 1), got ${smoothing}`);

  const { model } = task;
  const weights = new Map([...model.stateDict()].map(([name, t]) => [name, detach(t)]));
  const optimizerState = optimizer.stateDict();
  const randomStates = model.randomStates();
  const parameters = model.parameters();
  const result: LrFinderResult = { lrs: [], losses: [], smoothed: [], steepest: undefined, minimumOverTen: undefined, diverged: false };
  let average = 0;
  let best = Infinity;
  let diverged = false;
  try {
    model.train();
    let epoch = 0;
    let batches = task.batches(epoch);
    let next = 0;
    for (let i = 0; i < steps; i++) {
      if (next === batches.length) {
        batches = task.batches(++epoch);
        next = 0;
        if (batches.length === 0) throw new Error('findLearningRate: the task gave no batches');
      }
      const lr = startLr * (endLr / startLr) ** (i / (steps - 1));
      optimizer.lr = lr;
      const tape = new Tape();
      const stepResult = await tape.run(() => task.step(batches[next++]!));
      const loss = stepResult.loss.data[0]!;
      result.lrs.push(lr);
      result.losses.push(loss);
      if (!Number.isFinite(loss)) {
        diverged = true;
        result.smoothed.push(Number.NaN);
        break;
      }
      optimizer.zeroGrad();
      await tape.backward(stepResult.loss);
      if (clipNorm > 0) clipGradNorm(parameters, clipNorm);
      optimizer.step();
      average = smoothing * average + (1 - smoothing) * loss;
      const smoothed = average / (1 - smoothing ** (i + 1));
      result.smoothed.push(smoothed);
      best = Math.min(best, smoothed);
      if (i > 0 && smoothed > divergence * best) {
        diverged = true;
        break;
      }
    }
  } finally {
    model.loadStateDict(weights);
    optimizer.loadStateDict(optimizerState);
    model.setRandomStates(randomStates);
  }
  return { ...result, ...suggestions(result.lrs, result.smoothed), diverged };
}

/** The steepest descent of the smoothed loss against log lr, and the lowest point over 10. */
function suggestions(lrs: readonly number[], smoothed: readonly number[]): Pick<LrFinderResult, 'steepest' | 'minimumOverTen'> {
  const finite = smoothed.map((s, i) => [Math.log10(lrs[i]!), s] as const).filter(([, s]) => Number.isFinite(s));
  if (finite.length < 3) return { steepest: undefined, minimumOverTen: undefined };
  let lowest = 0;
  finite.forEach(([, s], i) => {
    if (s < finite[lowest]![1]) lowest = i;
  });
  let steepest: number | undefined;
  let slope = 0;
  for (let i = Math.max(1, Math.floor(finite.length / 10)); i < finite.length - 1; i++) {
    const d = (finite[i + 1]![1] - finite[i - 1]![1]) / (finite[i + 1]![0] - finite[i - 1]![0]);
    if (d < slope) {
      slope = d;
      steepest = 10 ** finite[i]![0];
    }
  }
  return { steepest, minimumOverTen: 10 ** finite[lowest]![0] / 10 };
}

/**
 * Writes `<dir>/lr-find.json` (the result) and `<dir>/lr-find.svg` (the smoothed loss against the
 * lr on a log axis) and returns their paths.
 */
export async function writeLrFinderReport(dir: string, result: LrFinderResult): Promise<{ json: string; svg: string }> {
  const json = join(dir, 'lr-find.json');
  const svg = join(dir, 'lr-find.svg');
  writeFileAtomic(json, [`${JSON.stringify(result)}\n`]);
  const { lineChart } = await import('@recurrent/plot');
  const rows = result.lrs.flatMap((lr, i) => [
    { lr, loss: Number.isFinite(result.losses[i]!) ? result.losses[i]! : null, series: 'loss' },
    { lr, loss: Number.isFinite(result.smoothed[i]!) ? result.smoothed[i]! : null, series: 'smoothed' },
  ]);
  const title = `learning-rate range test${result.steepest === undefined ? '' : `: steepest descent at ${result.steepest.toPrecision(2)}`}`;
  writeFileAtomic(svg, [await lineChart(rows, { title, x: { field: 'lr', title: 'learning rate', scale: 'log' }, y: { field: 'loss', title: 'training loss' }, series: 'series', points: false })]);
  return { json, svg };
}
