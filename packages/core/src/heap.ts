import { setFlagsFromString } from 'node:v8';

/** After each major GC, V8's old generation may grow to (1 + this / 100) times what survived it. */
export const TRAINING_HEAP_GROWING_PERCENT = 300;

/**
 * Lets the main thread's heap grow four times its live size between major collections, for a
 * process that trains or decodes. V8 otherwise sets the next limit a few tens of MB above a
 * small live heap, and a training step's short-lived tensors and promises reach it several times
 * a second: a G2P training run spent a fifth of its main thread marking (bench/docs/history.md, round
 * seven). Our command lines call it first thing; a library user may too. It changes a
 * process-wide V8 flag, so it does nothing (and says false) when the process was started with
 * its own `--heap-growing-percent` (on the command line or in NODE_OPTIONS).
 */
export function configureHeapForTraining(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): boolean {
  const given = [...execArgv, ...nodeOptions.split(/\s+/)].some((arg) => /^--heap[-_]growing[-_]percent\b/.test(arg));
  if (given) return false;
  setFlagsFromString(`--heap-growing-percent=${TRAINING_HEAP_GROWING_PERCENT}`);
  return true;
}
