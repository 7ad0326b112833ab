/**
 * The training loop the apps share: epochs of batches, gradient clipping, non-finite steps
 * skipped, validation with best-model tracking and early stopping, a learning-rate schedule,
 * checkpoints every N steps and at each epoch end, and `resume` that continues exactly where a
 * checkpoint stood (weights, optimiser moments, random generators, position in the epoch), so a
 * resumed run ends with the same model as an uninterrupted one.
 *
 * The batches of an epoch must depend on the epoch number only (shuffle with seed + epoch):
 * that is what lets a resumed run see the same data order.
 *
 * `averageLast` keeps a running average of the weights at the last epochs' ends (checkpoint
 * averaging, torch.optim.swa_utils.AveragedModel's equal weights), validated when the run ends:
 * the apps' model folders get it if it beats the best epoch. `accumulate` makes each optimiser
 * step from several batches' mean gradient. `findLr` runs the learning-rate range test
 * (lr-finder.ts) in place of training.
 *
 * An aborted `signal` (Ctrl-C in a CLI) stops the run cleanly: the step under way finishes, a
 * checkpoint is written and the summary says `interrupted`; `resume` then continues as if the run
 * had never stopped.
 */
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  AveragedModel, clipGradNorm, CosineAnnealingLR, detach, loadStateDictFile, ReduceLROnPlateau, saveStateDict, Tape, Tensor, writeFileAtomic, type LRSchedule, type Module, type Optimizer,
} from '@recurrent/core';
import { averageFileName, hasCheckpoint, loadCheckpoint, saveCheckpoint, type EpochTotals, type TrainingState } from './checkpoint.js';
import { findLearningRate, writeLrFinderReport, type LrFinderOptions, type LrFinderResult } from './lr-finder.js';
import { Progress } from './progress.js';
import { readMetrics, writeRunReport, type RunReportOptions } from './report.js';

export interface StepResult {
  /** The scalar loss (recorded on the active tape). */
  readonly loss: Tensor;
  /** Correct predictions in the batch, for a running accuracy. */
  readonly correct?: number;
  /** Examples in the batch. */
  readonly examples: number;
  /** Tokens (steps x sequences) in the batch, for throughput. */
  readonly tokens: number;
}

export interface TrainingTask<B> {
  readonly model: Module;
  /** The batches of one epoch, in order; they must depend on the epoch number only. */
  batches(epoch: number): B[];
  /** The forward pass of one batch; runs inside the tape the trainer records on. */
  step(batch: B): Promise<StepResult>;
  /** Validation metrics after each epoch, e.g. { loss, accuracy }. */
  validate?(): Promise<Record<string, number>>;
}

export interface TrainerOptions {
  /** The run folder: checkpoints, metrics.jsonl, best.safetensors. Created if missing. */
  readonly outDir: string;
  readonly epochs: number;
  readonly optimizer: Optimizer;
  /** Clip the global gradient norm to this; 0 turns clipping off. Default 1. */
  readonly clipNorm?: number;
  /** Also checkpoint every this many steps (0: only at epoch ends). Default 0. */
  readonly checkpointEvery?: number;
  /** Continue from the run folder's checkpoint. Default false (and a fresh run there is refused). */
  readonly resume?: boolean;
  /** Validation metric for the best model and early stopping. Default { metric: 'loss', mode: 'min' }. */
  readonly monitor?: { readonly metric: string; readonly mode: 'min' | 'max' };
  /** Stop after this many epochs without improvement. Default: never. */
  readonly patience?: number;
  /**
   * Stepped once per epoch: an LRSchedule by the epoch count, a ReduceLROnPlateau with the
   * monitored validation metric (which it then needs); a resumed run restores either, the
   * plateau's from the epochs in metrics.jsonl.
   */
  readonly schedule?: LRSchedule | ReduceLROnPlateau;
  /** Stop with an error after this many non-finite steps in a row. Default 5. */
  readonly maxBadSteps?: number;
  /** Write a metrics line every this many steps (epoch lines always). Default 50. */
  readonly logEvery?: number;
  /** Show a progress bar on stderr. Default true. */
  readonly progress?: boolean;
  /** Stop (without error) after this many steps in this call, checkpointing first: time-boxed runs and tests. */
  readonly stopAfterSteps?: number;
  /**
   * Aborting it stops the run after the step under way: a checkpoint is written and the summary
   * says `interrupted` (continue with `resume`). Steps yield to the event loop while it is set, so
   * signal handlers run between steps.
   */
  readonly signal?: AbortSignal;
  /**
   * Stop once the run's training steps have taken this many seconds (validation and checkpoints
   * not counted; a resumed run counts the time of the calls before it, kept in the checkpoint):
   * the epoch under way ends there (validated, checkpointed; the rest of its batches skipped) and
   * the summary says `timedOut`. For runs compared at equal wall time, in one sitting or several.
   */
  readonly timeLimitSeconds?: number;
  /** Write `<outDir>/report.html` and `<outDir>/plots/*.svg` at each epoch's end (see report.ts). */
  readonly report?: RunReportOptions;
  /**
   * Average the weights at the ends of the last this many epochs (2 or more; equal weights, as
   * torch.optim.swa_utils.AveragedModel updated once an epoch). When every epoch has run, the
   * average is validated (a metrics line of kind 'average') and, if it beats the best epoch on the
   * monitored metric, becomes best.safetensors (the best epoch's weights move to
   * best-epoch.safetensors). Needs validation. Default: no averaging.
   */
  readonly averageLast?: number;
  /**
   * Average the gradients of this many consecutive batches for each optimiser step (each batch's
   * loss weighted 1/accumulate): one update from a batch that many times larger, where memory
   * holds only the smaller one. A group cut short (an epoch's end, a non-finite batch, the time
   * limit) steps with the mean over the batches it had. Checkpoints, interruptions and
   * `stopAfterSteps` wait for the group's end. Default 1.
   */
  readonly accumulate?: number;
  /**
   * Run the learning-rate range test (`findLearningRate`) instead of training: nothing is trained
   * or checkpointed; `<outDir>/lr-find.json` and `lr-find.svg` are written and the summary carries
   * the result (`lrFinder`).
   */
  readonly findLr?: LrFinderOptions;
}

export interface TrainingSummary {
  readonly epochsCompleted: number;
  readonly steps: number;
  readonly best: TrainingState['best'];
  readonly stoppedEarly: boolean;
  /** Stopped by `signal` before the last epoch ended; the checkpoint in outDir continues it. */
  readonly interrupted: boolean;
  /** The last validation metrics. */
  readonly validation: Record<string, number> | undefined;
  /** Stopped by `timeLimitSeconds`. */
  readonly timedOut?: boolean;
  /** Seconds spent in training steps by the run, the calls before a resume included. */
  readonly trainingSeconds?: number;
  /** With `findLr`: the range test's result and where it was written; nothing was trained. */
  readonly lrFinder?: LrFinderResult & { readonly files: { readonly json: string; readonly svg: string } };
  /** With `averageLast`, once every epoch has run: the average's validation and whether it became the best. */
  readonly average?: { readonly epochs: readonly [number, number]; readonly validation: Record<string, number>; readonly improved: boolean };
}

export class TrainingError extends Error {
  override name = 'TrainingError';
}

interface MetricsLine {
  readonly kind: 'step' | 'epoch' | 'average';
  readonly step: number;
  readonly epoch: number;
  readonly [key: string]: unknown;
}

/**
 * The metric a plateau schedule is stepped with, live or replayed from metrics.jsonl: a value JSON
 * cannot hold (missing, NaN, infinity; logged as null) is NaN, which is never better.
 */
function plateauMetric(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : Number.NaN;
}

/** The apps' --schedule choices. */
export const SCHEDULE_KINDS = ['constant', 'cosine', 'plateau'] as const;
export type ScheduleKind = (typeof SCHEDULE_KINDS)[number];

/**
 * The learning rate over the epochs of an app's run: 'constant' (none), 'cosine' (from the
 * optimiser's lr to 0 at the last epoch) or 'plateau' (halved after two epochs in a row without
 * a better monitored metric: ReduceLROnPlateau with factor 0.5, patience 1, in the monitor's mode).
 */
export function epochSchedule(kind: ScheduleKind, optimizer: Optimizer, epochs: number, monitorMode: 'min' | 'max'): LRSchedule | ReduceLROnPlateau | undefined {
  if (kind === 'cosine') return new CosineAnnealingLR(optimizer, epochs);
  if (kind === 'plateau') return new ReduceLROnPlateau(optimizer, { mode: monitorMode, factor: 0.5, patience: 1 });
  return undefined;
}

/**
 * Throws unless the run folder `outDir` suits the run: a fresh one must not hold a checkpoint
 * (it would be overwritten), a resumed one must. `train` checks this itself; the apps call it
 * first too, so a wrong --out or --resume fails before minutes of data loading.
 */
export function checkRunFolder(outDir: string, resume: boolean): void {
  if (resume && !hasCheckpoint(outDir)) throw new TrainingError(`${outDir}: no checkpoint.json to resume from; run without --resume to start`);
  if (!resume && hasCheckpoint(outDir)) throw new TrainingError(`${outDir} already holds a training run; pass --resume to continue it, or choose another --out`);
}

export async function train<B>(task: TrainingTask<B>, options: TrainerOptions): Promise<TrainingSummary> {
  const { outDir, optimizer, epochs } = options;
  const clipNorm = options.clipNorm ?? 1;
  const monitor = options.monitor ?? { metric: 'loss', mode: 'min' as const };
  const maxBadSteps = options.maxBadSteps ?? 5;
  const logEvery = options.logEvery ?? 50;
  const model = task.model;
  const parameters = model.parameters();
  const metricsFile = join(outDir, 'metrics.jsonl');

  const schedule = options.schedule;
  if (schedule instanceof ReduceLROnPlateau && !task.validate) {
    throw new TrainingError(`ReduceLROnPlateau needs a validation ${monitor.metric} after each epoch, and this task has no validation`);
  }
  if (options.findLr) {
    const found = await findLearningRate(task, optimizer, { clipNorm, ...options.findLr });
    mkdirSync(outDir, { recursive: true });
    const files = await writeLrFinderReport(outDir, found);
    return { epochsCompleted: 0, steps: 0, best: null, stoppedEarly: false, interrupted: false, validation: undefined, lrFinder: { ...found, files } };
  }
  const accumulate = options.accumulate ?? 1;
  if (!(Number.isInteger(accumulate) && accumulate >= 1)) throw new TrainingError(`accumulate must be a whole number >= 1, got ${accumulate}`);
  const averageLast = options.averageLast;
  if (averageLast !== undefined) {
    if (!(Number.isInteger(averageLast) && averageLast >= 2 && averageLast <= epochs)) {
      throw new TrainingError(`averageLast must be a whole number from 2 to the ${epochs} epochs, got ${averageLast}`);
    }
    if (!task.validate) throw new TrainingError(`averaging the last ${averageLast} epochs needs a validation ${monitor.metric} after the run, and this task has no validation`);
  }
  // the first epoch (0-based) whose end joins the average
  const averageStart = averageLast === undefined ? Infinity : epochs - averageLast;
  const average = new AveragedModel();
  // the optimiser's lrs as constructed: a resumed plateau replays its decisions from them
  const initialLrs = optimizer.paramGroups.map((group) => group.lr);
  let state: TrainingState;
  let checkpointedStep = -1;
  if (options.resume) {
    checkRunFolder(outDir, true);
    state = loadCheckpoint(outDir, model, optimizer);
    if (state.best !== null) checkBestWeights(outDir);
    removeStaleTemporaries(outDir);
    checkpointedStep = state.step;
    // Metrics written after the checkpoint belong to steps (or an epoch's end) that will be run again.
    if (existsSync(metricsFile)) {
      // readMetrics skips a last line cut short by a crash mid-append.
      let entries: ReturnType<typeof readMetrics>['entries'];
      try {
        entries = readMetrics(metricsFile).entries;
      } catch (error) {
        throw new TrainingError(`${(error as Error).message}; delete that line to resume`);
      }
      // an average line is written again when the resumed run ends
      const kept = entries.filter(({ line }) => (line.kind === 'epoch' ? line.epoch < state.epoch : line.kind === 'step' && line.step <= state.step));
      writeFileAtomic(metricsFile, kept.map(({ text }) => `${text}\n`));
      if (schedule instanceof ReduceLROnPlateau) {
        const monitored = kept.flatMap(({ line }) => (line.kind === 'epoch' ? [line.validation?.[monitor.metric]] : []));
        optimizer.paramGroups.forEach((group, g) => (group.lr = initialLrs[g]!));
        for (const value of monitored) schedule.step(plateauMetric(value));
      }
    }
    const expected = Math.max(0, state.epoch - averageStart);
    if ((state.averaged ?? 0) !== expected) {
      const wanted = averageLast === undefined ? 'a run without averaging' : `averaging the last ${averageLast} of ${epochs} epochs`;
      throw new TrainingError(`${outDir}: the checkpoint (after ${state.epoch} epochs) averages ${state.averaged ?? 0} epochs' weights, and ${wanted} needs ${expected}: resume with the epochs and averaging the run started with`);
    }
    if (state.averaged) average.loadStateDict(readAverage(outDir, state.averaged), state.averaged);
    if (schedule instanceof ReduceLROnPlateau) {
      if (schedule.epoch !== state.epoch) {
        throw new TrainingError(`${metricsFile}: holds ${schedule.epoch} epoch lines for the ${state.epoch} epochs of the checkpoint; the learning rate on a plateau cannot be restored without them`);
      }
    } else {
      for (let e = 0; e < state.epoch; e++) schedule?.step();
    }
  } else {
    checkRunFolder(outDir, false);
    state = { epoch: 0, batchIndex: 0, step: 0, badSteps: 0, best: null, epochsWithoutImprovement: 0, randomStates: {} };
    mkdirSync(outDir, { recursive: true });
    writeFileAtomic(metricsFile, []);
  }
  // the run's time in training steps, the calls before a resume included (timeLimitSeconds)
  let trainingSeconds = state.trainingSeconds ?? 0;
  const log = (line: MetricsLine) => appendFileSync(metricsFile, `${JSON.stringify(line)}\n`);
  const checkpoint = (totals?: EpochTotals) => {
    saveCheckpoint(outDir, model, optimizer, { ...state, randomStates: model.randomStates(), trainingSeconds, ...(totals ? { epochTotals: totals } : {}) });
    checkpointedStep = state.step;
  };
  const { signal } = options;
  const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

  let stepsThisCall = 0;
  let validation: Record<string, number> | undefined;
  let stoppedEarly = false;
  let timedOut = false;
  // A run resumed past its time limit trains nothing: at an epoch's end it stops here; mid-epoch
  // (stopAfterSteps can leave one so) the epoch ends without more steps, validated as usual.
  const timeIsUp = () => options.timeLimitSeconds !== undefined && trainingSeconds > options.timeLimitSeconds;
  if (timeIsUp() && state.batchIndex === 0) {
    return { epochsCompleted: state.epoch, steps: state.step, best: state.best, stoppedEarly: false, interrupted: false, validation, timedOut: true, trainingSeconds };
  }
  model.train();
  for (let epoch = state.epoch; epoch < epochs; epoch++) {
    const batches = task.batches(epoch);
    const progress = new Progress(`epoch ${epoch + 1}/${epochs}`, batches.length, options.progress ?? true);
    progress.start(state.batchIndex);
    // A checkpoint taken mid-epoch carries the epoch's running totals, so a resumed epoch reports the same metrics.
    const carried = state.batchIndex > 0 ? state.epochTotals : undefined;
    state = { ...state, epochTotals: undefined };
    let lossSum = carried?.lossSum ?? 0;
    let lossCount = carried?.lossCount ?? 0;
    let correct = carried?.correct ?? 0;
    let examples = carried?.examples ?? 0;
    let tokens = 0;
    let countsCorrect = carried?.countsCorrect ?? false;
    const totals = (): EpochTotals => ({ lossSum, lossCount, correct, examples, countsCorrect });
    const interrupted = (): TrainingSummary => {
      progress.stop();
      if (checkpointedStep !== state.step) checkpoint(totals());
      return { epochsCompleted: state.epoch, steps: state.step, best: state.best, stoppedEarly: false, interrupted: true, validation, trainingSeconds };
    };
    const started = performance.now();
    // The batches whose gradients wait for their group's update (accumulate > 1), and what they add to the epoch's totals then.
    let pending = { batches: 0, lossSum: 0, correct: 0, examples: 0, countsCorrect: false };
    const badStep = (i: number, loss: number) => {
      state = { ...state, badSteps: state.badSteps + 1 };
      log({ kind: 'step', step: state.step, epoch, skipped: 'non-finite loss or gradient', loss: String(loss) });
      if (state.badSteps >= maxBadSteps) {
        progress.stop();
        throw new TrainingError(
          `${state.badSteps} steps in a row had a non-finite loss or gradient (epoch ${epoch + 1}, batch ${i + 1}); stopped with the last good checkpoint in ${outDir} intact: lower --lr or check the data`,
        );
      }
    };
    // resumed mid-epoch past the time limit: the epoch ends without another step
    if (state.batchIndex > 0 && timeIsUp()) timedOut = true;
    for (let i = timedOut ? batches.length : state.batchIndex; i < batches.length; i++) {
      // a stop waits for the end of an accumulation group: checkpoints hold no partial gradients
      if (signal) {
        await yieldToEventLoop();
        if (signal.aborted && pending.batches === 0) return interrupted();
      }
      const stepStarted = performance.now();
      const tape = new Tape();
      const result = await tape.run(() => task.step(batches[i]!));
      const loss = result.loss.data[0]!;
      if (pending.batches === 0) optimizer.zeroGrad();
      if (Number.isFinite(loss)) {
        // each batch's share of the group's mean gradient
        await tape.backward(result.loss, accumulate > 1 ? Tensor.full(result.loss.shape, 1 / accumulate) : undefined);
        pending = {
          batches: pending.batches + 1, lossSum: pending.lossSum + loss, correct: pending.correct + (result.correct ?? 0),
          examples: pending.examples + result.examples, countsCorrect: pending.countsCorrect || result.correct !== undefined,
        };
      } else {
        badStep(i, loss);
      }
      const timeUp = options.timeLimitSeconds !== undefined && trainingSeconds + (performance.now() - stepStarted) / 1000 >= options.timeLimitSeconds;
      const groupEnd = (i + 1) % accumulate === 0 || i === batches.length - 1 || timeUp;
      if (groupEnd && pending.batches > 0) {
        // a group cut short (the epoch's end, a bad batch, the time limit): the mean over the batches it had
        if (pending.batches < accumulate) for (const p of parameters) for (let j = 0; j < p.grad.size; j++) p.grad.data[j]! *= accumulate / pending.batches;
        const norm = clipNorm > 0 ? clipGradNorm(parameters, clipNorm) : 0;
        if (Number.isFinite(norm)) {
          optimizer.step();
          state = { ...state, badSteps: 0 };
          lossSum += pending.lossSum;
          lossCount += pending.batches;
          correct += pending.correct;
          countsCorrect ||= pending.countsCorrect;
          examples += pending.examples;
        } else {
          badStep(i, loss);
        }
        pending = { batches: 0, lossSum: 0, correct: 0, examples: 0, countsCorrect: false };
      }
      tokens += result.tokens;
      trainingSeconds += (performance.now() - stepStarted) / 1000;
      state = { ...state, step: state.step + 1, batchIndex: i + 1 };
      stepsThisCall++;
      const seconds = (performance.now() - started) / 1000;
      const metrics = { loss: lossCount ? lossSum / lossCount : NaN, ...(result.correct === undefined ? {} : { accuracy: examples ? correct / examples : 0 }), tokensPerSecond: tokens / seconds };
      progress.update(i + 1, metrics);
      if (state.step % logEvery === 0) log({ kind: 'step', step: state.step, epoch, ...metrics, lr: optimizer.lr });
      if (!groupEnd) continue;
      // every checkpointEvery steps (at the first group end past each multiple)
      const every = options.checkpointEvery;
      if (every && Math.floor(state.step / every) > Math.floor(Math.max(checkpointedStep, 0) / every)) checkpoint(totals());
      if (options.stopAfterSteps !== undefined && stepsThisCall >= options.stopAfterSteps) {
        progress.stop();
        checkpoint(totals());
        return { epochsCompleted: epoch, steps: state.step, best: state.best, stoppedEarly: false, interrupted: false, validation, trainingSeconds };
      }
      if (timeUp) {
        timedOut = true;
        break;
      }
    }
    // Interrupted in the epoch's last step: stop before validation, which the resumed run does.
    if (signal?.aborted && state.batchIndex > 0) return interrupted();
    progress.stop();

    const trainMetrics = { loss: lossSum / Math.max(1, lossCount), ...(countsCorrect && examples ? { accuracy: correct / examples } : {}) };
    if (task.validate) {
      model.eval();
      validation = await task.validate();
      model.train();
    }
    const value = validation?.[monitor.metric];
    let improved = false;
    if (value !== undefined && Number.isFinite(value)) {
      improved = state.best === null || (monitor.mode === 'min' ? value < state.best.value : value > state.best.value);
      if (improved) {
        state = { ...state, best: { value, epoch }, epochsWithoutImprovement: 0 };
        saveStateDict(join(outDir, 'best.safetensors'), model.stateDict(), { epoch: String(epoch), [monitor.metric]: String(value) });
      } else {
        state = { ...state, epochsWithoutImprovement: state.epochsWithoutImprovement + 1 };
      }
    }
    log({ kind: 'epoch', step: state.step, epoch, train: trainMetrics, ...(validation ? { validation } : {}), lr: optimizer.lr, improved });
    if (schedule instanceof ReduceLROnPlateau) schedule.step(plateauMetric(value));
    else schedule?.step();
    state = { ...state, epoch: epoch + 1, batchIndex: 0 };
    if (epoch >= averageStart) {
      average.update(model);
      saveStateDict(join(outDir, averageFileName(average.count)), average.stateDict(), { epochs: `${averageStart + 1}-${epoch + 1}` });
      state = { ...state, averaged: average.count };
    }
    checkpoint();
    if (options.report) await reportQuietly(outDir, options.report);
    if (options.patience !== undefined && state.epochsWithoutImprovement >= options.patience) {
      stoppedEarly = true;
      break;
    }
    if (timedOut) break;
    if (signal?.aborted && epoch + 1 < epochs) return { epochsCompleted: state.epoch, steps: state.step, best: state.best, stoppedEarly: false, interrupted: true, validation, trainingSeconds };
  }
  let averageSummary: TrainingSummary['average'];
  if (state.epoch === epochs && !stoppedEarly && average.count >= 2) {
    // The run's last weights stay in the model; the average is validated in their place.
    const last = new Map([...model.stateDict()].map(([name, t]) => [name, detach(t)]));
    average.copyTo(model);
    model.eval();
    const averageValidation = await task.validate!();
    model.train();
    model.loadStateDict(last);
    const value = averageValidation[monitor.metric];
    const improved = value !== undefined && Number.isFinite(value) && (state.best === null || (monitor.mode === 'min' ? value < state.best.value : value > state.best.value));
    const averaged = average.count;
    if (improved) {
      // The best epoch's weights stay at hand as best-epoch.safetensors (copied once: a rerun after
      // a crash past this point finds the average in best.safetensors already).
      const bestFile = join(outDir, 'best.safetensors');
      const epochFile = join(outDir, 'best-epoch.safetensors');
      if (existsSync(bestFile) && !existsSync(epochFile)) {
        copyFileSync(bestFile, `${epochFile}.tmp-${process.pid}`);
        renameSync(`${epochFile}.tmp-${process.pid}`, epochFile);
      }
      state = { ...state, best: { value, epoch: epochs - 1, averaged } };
      saveStateDict(bestFile, average.stateDict(), { epoch: String(epochs - 1), averaged: String(averaged), [monitor.metric]: String(value) });
    }
    averageSummary = { epochs: [averageStart + 1, epochs], validation: averageValidation, improved };
    log({ kind: 'average', step: state.step, epoch: epochs - 1, averaged, validation: averageValidation, improved });
  }
  return {
    epochsCompleted: state.epoch, steps: state.step, best: state.best, stoppedEarly, interrupted: false, validation, timedOut, trainingSeconds,
    ...(averageSummary ? { average: averageSummary } : {}),
  };
}

/** The average a checkpoint names, with one line naming the file if it is missing or damaged. */
function readAverage(outDir: string, count: number): Map<string, Tensor> {
  const file = join(outDir, averageFileName(count));
  try {
    return loadStateDictFile(file).tensors;
  } catch (error) {
    const message = (error as Error).message.split('\n')[0]!;
    throw new TrainingError(`${file}: ${existsSync(file) ? message : 'missing'}; the checkpoint's average of ${count} epochs' weights is lost: restore the file, or start a new run in another folder`);
  }
}

/**
 * Refuses to resume a run whose best.safetensors (the weights of its best epoch so far, which the
 * apps' model folders get at the end) is missing or damaged: before anything is trained or written,
 * not when the run ends.
 */
function checkBestWeights(outDir: string): void {
  const file = join(outDir, 'best.safetensors');
  try {
    loadStateDictFile(file);
  } catch (error) {
    const message = (error as Error).message.split('\n')[0]!;
    const detail = !existsSync(file) ? 'missing' : message.startsWith('best.safetensors: ') ? message.slice('best.safetensors: '.length) : message;
    throw new TrainingError(`${file}: ${detail}; the run cannot end without the weights of its best epoch so far: restore the file, or start a new run in another folder`);
  }
}

/** A report that cannot be drawn is a warning: it never stops a training run. */
async function reportQuietly(outDir: string, report: RunReportOptions): Promise<void> {
  try {
    await writeRunReport(outDir, report);
  } catch (error) {
    process.stderr.write(`warning: no report for ${outDir} this epoch (${(error as Error).message})\n`);
  }
}

/**
 * Deletes the temporary files of atomic writes that a killed process left (`<name>.tmp-<pid>`):
 * resume never reads them, but each can be as large as the model or the optimiser state.
 */
function removeStaleTemporaries(outDir: string): void {
  for (const dir of [outDir, join(outDir, 'plots')]) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      const pid = /\.tmp-(\d+)$/.exec(name)?.[1];
      if (pid !== undefined && Number(pid) !== process.pid) rmSync(join(dir, name), { force: true });
    }
  }
}
