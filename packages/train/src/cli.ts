/**
 * What the apps' command lines share: flag parsers that name the flag and the range, the backend
 * flag, Ctrl-C handling for training, and the one-line error exit (code 2) for bad input.
 */
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { BACKEND_NAMES, configureHeapForTraining, isBackendChoice, ShapeError } from '@recurrent/core';
import { type Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { CheckpointError } from './checkpoint.js';
import { InputError } from './folder.js';
import { SCHEDULE_KINDS, TrainingError, type ScheduleKind, type TrainingSummary } from './trainer.js';

export const EXIT_BAD_INPUT = 2;

export const integerFlag = (flag: string, min: number, max = Number.MAX_SAFE_INTEGER) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new InvalidArgumentError(`${flag} must be an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max.toLocaleString('en-US')}`}, got '${value}'`);
  }
  return n;
};
export const fractionFlag = (flag: string, max: number) => (value: string) => {
  const n = Number(value);
  if (!(n >= 0 && n < max)) throw new InvalidArgumentError(`${flag} must be a number in [0, ${max}), got '${value}'`);
  return n;
};
export const positiveFlag = (flag: string) => (value: string) => {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`${flag} must be a positive number, got '${value}'`);
  return n;
};
export const choiceFlag = <T extends string>(flag: string, values: readonly T[]) => (value: string) => {
  if (!values.includes(value as T)) throw new InvalidArgumentError(`${flag} must be one of ${values.join(', ')}, got '${value}'`);
  return value as T;
};
export const backendOption = () =>
  new Option('-b, --backend <name>', `backend: auto, ${BACKEND_NAMES.join(', ')}`).default('auto').argParser((v) => {
    if (!isBackendChoice(v)) throw new InvalidArgumentError(`expected one of auto, ${BACKEND_NAMES.join(', ')}`);
    return v;
  });

/** An app's defaults for the training flags every app shares (addTrainingOptions). */
export interface TrainingFlagDefaults {
  readonly lr: number;
  readonly schedule: ScheduleKind;
  readonly clip: number;
  readonly checkpointEvery: number;
  /** What --patience watches, e.g. 'validation accuracy'. */
  readonly monitored: string;
  /** What --seed seeds, e.g. 'weights, dropout and batch order'. */
  readonly seeded: string;
}

/**
 * Adds the training flags every app has (--lr, --schedule, --clip, --patience, --time-limit,
 * --checkpoint-every, --accumulate, --average-last, --find-lr, --resume, --seed) to `command` with the app's defaults, and returns it: one
 * wording and one range check for all three apps.
 */
export function addTrainingOptions(command: Command, defaults: TrainingFlagDefaults): Command {
  return command
    .option('--lr <x>', 'Adam learning rate', positiveFlag('--lr'), defaults.lr)
    .addOption(new Option('--schedule <kind>', `learning rate over the epochs: constant, cosine (from --lr to 0 at the last epoch) or plateau (halved after two epochs in a row without a better ${defaults.monitored})`).choices(SCHEDULE_KINDS).default(defaults.schedule))
    .option('--clip <norm>', 'clip the global gradient norm (0: off)', fractionFlag('--clip', Infinity), defaults.clip)
    .option('--patience <n>', `stop after this many epochs without a better ${defaults.monitored}`, integerFlag('--patience', 1))
    .option('--time-limit <minutes>', 'stop after this much training time (validation not counted; with --resume, the time before the interruption counts too); the epoch under way is validated and ends the run', positiveFlag('--time-limit'))
    .option('--checkpoint-every <n>', 'also checkpoint every n steps (0: at epoch ends only)', integerFlag('--checkpoint-every', 0), defaults.checkpointEvery)
    .option('--accumulate <n>', 'average the gradients of n batches for each optimiser step: one update as from a batch n times --batch-size', integerFlag('--accumulate', 1, 1024))
    .option('--average-last <n>', 'average the weights at the ends of the last n epochs (2 or more): the model gets the average if it validates better than the best epoch', integerFlag('--average-last', 2))
    .addOption(new Option('--find-lr', 'run the learning-rate range test (fast.ai\'s lr_find, 100 steps from 1e-7 to 10) instead of training: prints the lr to try, writes <out>/run/lr-find.svg').default(false).conflicts('resume'))
    .option('--resume', 'continue the training run in <out>/run from its last checkpoint', false)
    .option('--seed <n>', `seed of ${defaults.seeded}`, integerFlag('--seed', 0), 1);
}

/** Prints the range test's outcome: one line (or a JSON line), the lr to try and the plot. */
export function reportLrFinder(app: string, found: NonNullable<TrainingSummary['lrFinder']>, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify({ steepest: found.steepest, minimumOverTen: found.minimumOverTen, diverged: found.diverged, steps: found.lrs.length, ...found.files })}\n`);
    return;
  }
  const lr = (x: number | undefined) => (x === undefined ? 'none' : x.toPrecision(2));
  const span = `${found.lrs.length} steps, lr ${lr(found.lrs[0])} to ${lr(found.lrs.at(-1))}${found.diverged ? ', stopped where the loss diverged' : ''}`;
  const advice = found.steepest === undefined ? 'the loss never fell: check the data, or widen the range' : `try --lr ${lr(found.steepest)} (steepest descent; the lowest loss over 10: ${lr(found.minimumOverTen)})`;
  process.stdout.write(`${app}: learning-rate range test (${span}): ${advice}; plot in ${found.files.svg}\n`);
}

/** Refuses --average-last beyond --epochs before any data is loaded (the trainer checks it too). */
export function checkAverageLast(averageLast: number | undefined, epochs: number): void {
  if (averageLast !== undefined && averageLast > epochs) {
    throw new InputError(`--average-last ${averageLast} is more than the ${epochs} epochs of --epochs; average at most as many epochs as the run trains`);
  }
}

/** The errno code of `error` (EACCES when it has none). */
const errnoOf = (error: unknown) => (error as NodeJS.ErrnoException).code ?? 'EACCES';

/**
 * Why the folder `path` could not be created (with the folders above it) or written into: the
 * errno code making it would fail with (ENOTDIR: a file is in the way; EEXIST: `path` is a file;
 * EACCES: no permission), or undefined when it can. Creates nothing: commands call it before any
 * work, so a mistyped output path costs nothing and leaves nothing behind.
 */
export function unwritableFolder(path: string): string | undefined {
  for (let at = resolve(path); ; at = dirname(at)) {
    try {
      if (!statSync(at).isDirectory()) return at === resolve(path) ? 'EEXIST' : 'ENOTDIR';
      accessSync(at, fsConstants.W_OK | fsConstants.X_OK);
      return undefined;
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT' || dirname(at) === at) return errnoOf(error);
    }
  }
}

/**
 * Why the file `path` could not be written: the errno code writing it would fail with (ENOENT:
 * its folder is missing; ENOTDIR: a file is in the way; EISDIR: `path` is a folder; EACCES: no
 * permission), or undefined when it can. Checks only, as unwritableFolder.
 */
export function unwritableFile(path: string): string | undefined {
  try {
    if (statSync(path).isDirectory()) return 'EISDIR';
    accessSync(path, fsConstants.W_OK);
    return undefined;
  } catch (error) {
    if (errnoOf(error) !== 'ENOENT') return errnoOf(error);
  }
  try {
    if (!statSync(dirname(resolve(path))).isDirectory()) return 'ENOTDIR';
    accessSync(dirname(resolve(path)), fsConstants.W_OK | fsConstants.X_OK);
    return undefined;
  } catch (error) {
    return errnoOf(error);
  }
}

/**
 * Refuses, before any work, an output file or folder that could not be written (unwritableFile,
 * unwritableFolder): `<path>: cannot write <what> (<code>); give a writable path with <flag>`, or
 * `cannot create <what> ... give a writable folder with <flag>` for a folder.
 */
export function requireWritable(path: string | undefined, what: string, flag: string, kind: 'file' | 'folder' = 'file'): void {
  if (path === undefined) return;
  const code = kind === 'file' ? unwritableFile(path) : unwritableFolder(path);
  if (code === undefined) return;
  throw new InputError(kind === 'file' ? `${path}: cannot write ${what} (${code}); give a writable path with ${flag}` : `${path}: cannot create ${what} (${code}); give a writable folder with ${flag}`);
}

/** Writes lines to stderr when verbose (the backend's choice and reason). */
export const announce = (verbose: boolean) => (verbose ? (line: string) => process.stderr.write(`${line}\n`) : undefined);

/**
 * Ctrl-C (or SIGTERM) once aborts the returned signal (training finishes the step, writes a
 * checkpoint and stops); twice quits at once. `stoppedBy()` names the signal; `release()` removes
 * the handlers.
 */
export function interruptibleTraining(app: string): {
  signal: AbortSignal;
  stoppedBy: () => NodeJS.Signals | undefined;
  exitCode: () => number;
  /** After a stopped run: says where its checkpoint is (a JSON line too with `json`) and sets the exit code. */
  reportStopped: (out: string, summary: { readonly steps: number; readonly epochsCompleted: number }, json: boolean) => void;
  release: () => void;
} {
  const controller = new AbortController();
  let stoppedBy: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stoppedBy) {
      // The progress bar hides the cursor: show it again before leaving.
      if (process.stderr.isTTY) process.stderr.write('\x1b[?25h\n');
      process.exit(128 + constants.signals[signal]);
    }
    stoppedBy = signal;
    controller.abort();
    process.stderr.write(`\n${app}: stopping after this step and writing a checkpoint (press Ctrl-C again to quit at once)\n`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    stoppedBy: () => stoppedBy,
    exitCode: () => 128 + constants.signals[stoppedBy ?? 'SIGINT'],
    reportStopped: (out, summary, json) => {
      process.stderr.write(`${app}: interrupted at step ${summary.steps}; the checkpoint in ${join(out, 'run')} is intact: run the same command with --resume to continue\n`);
      if (json) process.stdout.write(`${JSON.stringify({ out, interrupted: true, epochs: summary.epochsCompleted, steps: summary.steps })}\n`);
      process.exitCode = 128 + constants.signals[stoppedBy ?? 'SIGINT'];
    },
    release: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** Errors a user can act on: printed as one line, exit code 2. */
export function isUserError(error: unknown): error is Error {
  return error instanceof InputError || error instanceof TrainingError || error instanceof CheckpointError || error instanceof ShapeError
    || (error instanceof Error && ['BackendUnavailableError', 'DataError', 'AudioError', 'SpeechDataError'].includes(error.name));
}

/**
 * Whether `error` is the JavaScript engine running out of memory for an allocation (a typed array
 * or wasm memory too large for this machine): sizes the user chose, so a message, not a crash.
 */
export function isOutOfMemory(error: unknown): error is Error {
  return error instanceof RangeError && /Array buffer allocation failed|Invalid typed array length|Invalid array buffer length|Invalid array length|WebAssembly\.Memory|Out of memory/i.test(error.message);
}

/** The flags that size memory, named when a command runs out of it. */
const MEMORY_FLAGS = '--batch-size, --hidden, --layers or the input length';

/**
 * Parses argv and runs the command; bad input of any kind ends with one `app: message` line on
 * stderr (the stack trace only with --verbose) and exit code 2, and so does running out of memory
 * for sizes the user chose (the message names the flags that size it). It first lets V8's heap
 * grow further between major collections (`configureHeapForTraining`).
 */
export async function runProgram(program: Command, app: string, argv = process.argv): Promise<void> {
  // a training process: fewer major GCs for a larger heap (see configureHeapForTraining)
  configureHeapForTraining();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? 0 : EXIT_BAD_INPUT;
    } else if (isOutOfMemory(error)) {
      process.stderr.write(`${app}: out of memory (${error.message}); the sizes asked for do not fit this machine: lower ${MEMORY_FLAGS}\n`);
      if (program.opts().verbose) process.stderr.write(`${error.stack}\n`);
      process.exitCode = EXIT_BAD_INPUT;
    } else if (isUserError(error)) {
      // One line, whatever the message quotes (a JSON parser's excerpt of a file may hold line breaks).
      process.stderr.write(`${app}: ${error.message.replace(/\s*\n\s*/g, ' ')}\n`);
      if (program.opts().verbose) process.stderr.write(`${error.stack}\n`);
      process.exitCode = EXIT_BAD_INPUT;
    } else {
      throw error;
    }
  }
}
