/**
 * Checkpoints that survive a crash at any moment. A checkpoint is three files in the run folder:
 * `model-<step>.safetensors`, `optimizer-<step>.safetensors` and `checkpoint.json`, which names
 * them. The two tensor files are written first (each atomically), then checkpoint.json
 * (atomically), then older generations are deleted: whenever the process dies, checkpoint.json
 * names a complete pair.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadStateDictFile, saveStateDict, Tensor, writeFileAtomic, type Module, type Optimizer } from '@recurrent/core';

export const CHECKPOINT_VERSION = 1;

export interface TrainingState {
  /** The epoch in progress (0-based). */
  readonly epoch: number;
  /** The next batch of that epoch. */
  readonly batchIndex: number;
  /** Optimiser steps taken. */
  readonly step: number;
  /** Steps skipped for a non-finite loss or gradient, in a row, when the checkpoint was taken. */
  readonly badSteps: number;
  /** Best validation value so far and its epoch; null before the first validation. */
  readonly best: { readonly value: number; readonly epoch: number } | null;
  /** Epochs since the best one (early stopping). */
  readonly epochsWithoutImprovement: number;
  /** Random generators of the model (dropout, random states), for an exact resume. */
  readonly randomStates: Readonly<Record<string, number>>;
}

interface CheckpointFile extends TrainingState {
  readonly version: number;
  readonly model: string;
  readonly optimizer: string;
  readonly lr: number;
  readonly optimizerStep: number;
}

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

export function saveCheckpoint(dir: string, model: Module, optimizer: Optimizer, state: TrainingState): void {
  const modelFile = `model-${state.step}.safetensors`;
  const optimizerFile = `optimizer-${state.step}.safetensors`;
  saveStateDict(join(dir, modelFile), model.stateDict());
  const { buffers, step, lr } = optimizer.stateDict();
  saveStateDict(join(dir, optimizerFile), new Map([...buffers].map(([name, data]) => [name, new Tensor([data.length], data)])));
  const file: CheckpointFile = { version: CHECKPOINT_VERSION, ...state, model: modelFile, optimizer: optimizerFile, lr, optimizerStep: step };
  writeFileAtomic(join(dir, 'checkpoint.json'), [`${JSON.stringify(file, null, 2)}\n`]);
  for (const name of readdirSync(dir)) {
    if (/^(model|optimizer)-\d+\.safetensors$/.test(name) && name !== modelFile && name !== optimizerFile) rmSync(join(dir, name), { force: true });
  }
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
  model.loadStateDict(loadStateDictFile(join(dir, file.model)).tensors);
  const buffers = new Map([...loadStateDictFile(join(dir, file.optimizer)).tensors].map(([name, t]) => [name, t.data]));
  optimizer.loadStateDict({ step: file.optimizerStep, lr: file.lr, buffers });
  model.setRandomStates(file.randomStates);
  const { epoch, batchIndex, step, badSteps, best, epochsWithoutImprovement, randomStates } = file;
  return { epoch, batchIndex, step, badSteps, best, epochsWithoutImprovement, randomStates };
}
