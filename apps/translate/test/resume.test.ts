import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { messages, reversals, run, start } from './helpers.js';

/**
 * Ctrl-C during `translate train` with dropout and scheduled sampling (both draw random numbers):
 * exit 130 with a checkpoint, and `--resume` ends with the very model an uninterrupted run writes.
 */
const folder = mkdtempSync(join(tmpdir(), 'translate-resume-'));
const data = join(folder, 'reverse.tsv');
writeFileSync(data, reversals(220, 5));
// 198 training pairs in batches of 16: 12 steps an epoch, 36 in all.
const options = (out: string) => [
  'train', '--task', data, '--out', out, '--source-tokens', 'characters', '--target-tokens', 'symbols', '--epochs', '3', '--batch-size', '16',
  '--hidden', '8', '--embedding', '8', '--decoder-hidden', '16', '--min-freq', '1', '--dropout', '0.3', '--teacher-forcing', '0.7', '--input-feeding',
  '--checkpoint-every', '5', '--validation-decodes', '10', '--json',
];

describe('translate train, interrupted', () => {
  const processes: Array<{ stop: () => void }> = [];
  afterAll(() => processes.forEach((p) => p.stop()));

  it('stops on Ctrl-C with a checkpoint and exit code 130; --resume ends with the model of an uninterrupted run', async () => {
    const straight = join(folder, 'straight');
    const straightRun = run(options(straight));
    const out = join(folder, 'interrupted');
    const training = start(options(out));
    processes.push(training);
    await training.signalWhen(() => existsSync(join(out, 'run', 'checkpoint.json')), 'SIGINT');
    const stopped = await training.done;
    expect(stopped.code, stopped.stderr).toBe(130);
    const lines = messages(stopped.stderr).filter((line) => line.startsWith('translate:'));
    expect(lines[1]).toMatch(/^translate: interrupted at step \d+; the checkpoint in .* is intact: run the same command with --resume to continue$/);
    expect(existsSync(join(out, 'config.json'))).toBe(false);

    const resumed = await run([...options(out), '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect((await straightRun).code).toBe(0);
    for (const file of ['model.safetensors', 'source-vocabulary.json', 'target-vocabulary.json', 'config.json']) {
      expect(readFileSync(join(out, file)).equals(readFileSync(join(straight, file))), file).toBe(true);
    }
  }, 120_000);
});
