/**
 * Checkpoints that survive a crash at any moment. A checkpoint is three files in the run folder:
 * `model-<step>.safetensors`, `optimizer-<step>.safetensors` and `checkpoint.json`, which names
 * them (and a fourth, `average-<n>.safetensors`, while weights are averaged). The two tensor files are written first (each atomically), then checkpoint.json
 * (atomically), then older generations are deleted: whenever the process dies, checkpoint.json
 * names a complete pair.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadStateDictFile, saveStateDict, Tensor, writeFileAtomic, type Module, type Optimizer } from '@recurrent/core';

export const CHECKPOINT_VERSION = 1;

/** The running totals of an epoch in progress, carried by a mid-epoch checkpoint. */
export interface EpochTotals {
  readonly lossSum: number;
  readonly lossCount: number;
  readonly correct: number;
  readonly examples: number;
  readonly countsCorrect: boolean;
}

export interface TrainingState {
  /** The epoch in progress (0-based). */
  readonly epoch: number;
  /** The next batch of that epoch. */
  readonly batchIndex: number;
  /** Optimiser steps taken. */
  readonly step: number;
  /** Steps skipped for a non-finite loss or gradient, in a row, when the checkpoint was taken. */
  readonly badSteps: number;
  /**
   * Best validation value so far and its epoch; null before the first validation. `averaged`:
   * the best is the average of the weights of that many epochs' ends, ending with `epoch`.
   */
  readonly best: { readonly value: number; readonly epoch: number; readonly averaged?: number } | null;
  /** Epochs since the best one (early stopping). */
  readonly epochsWithoutImprovement: number;
  /** Random generators of the model (dropout, random states), for an exact resume. */
  readonly randomStates: Readonly<Record<string, number>>;
  /** Loss and accuracy so far in the epoch, when the checkpoint was taken mid-epoch. */
  readonly epochTotals?: EpochTotals;
  /** Epoch ends in the running average of weights (`averageLast`), kept in `average-<n>.safetensors`. */
  readonly averaged?: number;
  /** Seconds spent in training steps by the run so far, every call together (absent: 0). */
  readonly trainingSeconds?: number;
}

interface CheckpointFile extends TrainingState {
  readonly version: number;
  readonly model: string;
  readonly optimizer: string;
  readonly lr: number;
  /** Each parameter group's lr (absent from checkpoints written before parameter groups: every group takes `lr`). */
  readonly lrs?: readonly number[];
  /** Each parameter's updates, where one was frozen a while or added later (else every one has optimizerStep). */
  readonly paramSteps?: readonly number[];
  readonly optimizerStep: number;
}

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

export function saveCheckpoint(dir: string, model: Module, optimizer: Optimizer, state: TrainingState): void {
  const modelFile = `model-${state.step}.safetensors`;
  const optimizerFile = `optimizer-${state.step}.safetensors`;
  saveStateDict(join(dir, modelFile), model.stateDict());
  const { buffers, step, lr, lrs, paramSteps } = optimizer.stateDict();
  saveStateDict(join(dir, optimizerFile), new Map([...buffers].map(([name, data]) => [name, new Tensor([data.length], data)])));
  const file: CheckpointFile = { version: CHECKPOINT_VERSION, ...state, model: modelFile, optimizer: optimizerFile, lr, ...(lrs && lrs.length > 1 ? { lrs } : {}),
    ...(paramSteps?.some((n) => n !== step) ? { paramSteps } : {}), optimizerStep: step };
  writeFileAtomic(join(dir, 'checkpoint.json'), [`${JSON.stringify(file, null, 2)}\n`]);
  const kept = new Set([modelFile, optimizerFile, ...(state.averaged ? [averageFileName(state.averaged)] : [])]);
  for (const name of readdirSync(dir)) {
    if (/^(model|optimizer|average)-\d+\.safetensors$/.test(name) && !kept.has(name)) rmSync(join(dir, name), { force: true });
  }
}

/**
 * The running average of weights over `count` epoch ends. Each count has its own file, written
 * before the checkpoint that names the count: a crash in between leaves the last checkpoint's
 * average intact (the epoch is then trained and added again).
 */
export function averageFileName(count: number): string {
  return `average-${count}.safetensors`;
}

export function hasCheckpoint(dir: string): boolean {
  return existsSync(join(dir, 'checkpoint.json'));
}

/** Restores model, optimiser and random states; returns where training stood. */
export function loadCheckpoint(dir: string, model: Module, optimizer: Optimizer): TrainingState {
  const path = join(dir, 'checkpoint.json');
  let file: CheckpointFile;
  try {
    file = JSON.parse(readFileSync(path, 'utf8')) as CheckpointFile;
  } catch (error) {
    throw new CheckpointError(`${path}: cannot read the checkpoint (${(error as Error).message}); start without --resume or pick another folder`);
  }
  if (file.version !== CHECKPOINT_VERSION) {
    throw new CheckpointError(`${path}: checkpoint version ${file.version}, this program reads version ${CHECKPOINT_VERSION}`);
  }
  for (const name of [file.model, file.optimizer]) {
    if (typeof name !== 'string' || !/^(model|optimizer)-\d+\.safetensors$/.test(name)) {
      throw new CheckpointError(`${path}: names ${JSON.stringify(name)}, not a checkpoint file of this folder`);
    }
  }
  for (const name of [file.model, file.optimizer]) {
    if (!existsSync(join(dir, name))) throw new CheckpointError(`${path}: names ${name}, which is missing; restore it, or start a new run in another folder`);
  }
  // A damaged file (bad header, NaN/Inf values) is told apart from one that fits another model.
  // The loader names a file by its base name: the message names it by its path.
  const read = (name: string) => {
    try {
      return loadStateDictFile(join(dir, name)).tensors;
    } catch (error) {
      const message = (error as Error).message.split('\n')[0]!;
      const detail = message.startsWith(`${name}: `) ? message.slice(name.length + 2) : message;
      throw new CheckpointError(`${join(dir, name)}: ${detail}; this checkpoint cannot be resumed: start a new run in another folder`);
    }
  };
  const weights = read(file.model);
  const moments = read(file.optimizer);
  try {
    model.loadStateDict(weights);
    const buffers = new Map([...moments].map(([name, t]) => [name, t.data]));
    optimizer.loadStateDict({ step: file.optimizerStep, lr: file.lr, ...(file.lrs ? { lrs: file.lrs } : {}), ...(file.paramSteps ? { paramSteps: file.paramSteps } : {}), buffers });
    model.setRandomStates(file.randomStates);
  } catch (error) {
    // One line: the first problem (a state-dict error lists one per line) and how many more.
    const [first = '', ...more] = (error as Error).message.split(/\n\t?/).filter((line) => line && !/^Error\(s\) in loading state_dict/.test(line));
    const detail = `${first.replace(/\.$/, '')}${more.length > 0 ? `; and ${more.length} more` : ''}`;
    throw new CheckpointError(`${path}: the checkpoint does not fit this model (${detail}); resume with the options and data the run started with, or start a new run in another folder`);
  }
  const { epoch, batchIndex, step, badSteps, best, epochsWithoutImprovement, randomStates, epochTotals, averaged, trainingSeconds } = file;
  return {
    epoch, batchIndex, step, badSteps, best, epochsWithoutImprovement, randomStates, ...(epochTotals ? { epochTotals } : {}), ...(averaged ? { averaged } : {}),
    ...(Number.isFinite(trainingSeconds) && trainingSeconds! > 0 ? { trainingSeconds } : {}),
  };
}
