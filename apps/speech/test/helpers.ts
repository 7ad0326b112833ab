/** Running the `speech` binary in tests, on a small synthesised data set made once per file. */
import { fileURLToPath } from 'node:url';
import { cliRunner } from '@recurrent/train/testing';

export const bin = fileURLToPath(new URL('../bin/speech.mjs', import.meta.url));
export const { run, start } = cliRunner(bin, 'speech');
export { messages, type Result } from '@recurrent/train/testing';

/** Synthesises a tiny digits set into `dir` and trains a small model on it into `model`. */
export async function dataAndModel(dir: string, model: string): Promise<void> {
  const synth = await run(['synth', '--out', dir, '--train', '24', '--validation', '6', '--test', '6', '--noise', '0', '--seed', '3']);
  if (synth.code !== 0) throw new Error(`speech synth failed:\n${synth.stderr}`);
  const train = await run(['train', '--data', dir, '--out', model, '--epochs', '1', '--batch-size', '8', '--hidden', '8', '--layers', '1', '--json']);
  if (train.code !== 0) throw new Error(`speech train failed:\n${train.stderr}`);
}
