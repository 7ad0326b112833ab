import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadStateDictFile } from '@recurrent/core';
import { makeReviews, metricsWithoutTiming, run, start, type Running } from './helpers.js';

/**
 * Ctrl-C during `sentiment train`: the step under way finishes, a checkpoint is written, the
 * process exits 130, and `--resume` ends with the very model an uninterrupted run writes.
 */
const folder = mkdtempSync(join(tmpdir(), 'sentiment-resume-'));
const data = join(folder, 'reviews.tsv');
writeFileSync(data, makeReviews(600, 3));
// 540 training reviews in batches of 16: 33 steps an epoch, 99 in all; a metrics line at step 50.
const options = (out: string) => ['train', '--data', data, '--out', out, '--epochs', '3', '--batch-size', '16', '--checkpoint-every', '5', '--hidden', '16', '--embedding', '16', '--min-freq', '1', '--json'];

interface Checkpoint {
  readonly epoch: number;
  readonly step: number;
  readonly batchIndex: number;
  readonly model: string;
  readonly optimizer: string;
}

/** checkpoint.json parses and the files it names are there and load. */
function readCheckpoint(runDir: string): Checkpoint {
  const checkpoint = JSON.parse(readFileSync(join(runDir, 'checkpoint.json'), 'utf8')) as Checkpoint;
  for (const file of [checkpoint.model, checkpoint.optimizer]) expect(loadStateDictFile(join(runDir, file)).tensors.size).toBeGreaterThan(0);
  return checkpoint;
}

describe.concurrent('sentiment train, interrupted', () => {
  const running: Running[] = [];
  afterAll(() => running.forEach((r) => r.stop()));
  const launch = (args: string[]) => {
    const r = start(args);
    running.push(r);
    return r;
  };

  it('stops on Ctrl-C with a checkpoint and exit code 130; --resume ends with the model of an uninterrupted run', async () => {
    // The uninterrupted run goes alongside.
    const straight = join(folder, 'straight');
    const straightRun = run(options(straight));

    const out = join(folder, 'interrupted');
    const training = launch(options(out));
    await training.until(() => existsSync(join(out, 'run', 'checkpoint.json')), 'the first checkpoint');
    training.signal('SIGINT');
    const stopped = await training.done;
    expect(stopped.code, stopped.stderr).toBe(130);
    const ours = stopped.stderr.split('\n').filter((line) => line.startsWith('sentiment:'));
    expect(ours[0]).toBe('sentiment: stopping after this step and writing a checkpoint (press Ctrl-C again to quit at once)');
    expect(ours[1]).toMatch(new RegExp(`^sentiment: interrupted at step (\\d+); the checkpoint in ${join(out, 'run')} is intact: run the same command with --resume to continue$`));
    const step = Number(/interrupted at step (\d+)/.exec(ours[1]!)![1]);
    expect(step).toBeGreaterThanOrEqual(5);
    expect(step).toBeLessThan(99);
    const checkpoint = readCheckpoint(join(out, 'run'));
    expect(checkpoint.step).toBe(step);
    expect(checkpoint.epoch * 33 + checkpoint.batchIndex).toBe(step);
    expect(JSON.parse(stopped.stdout)).toEqual({ out, interrupted: true, epochs: checkpoint.epoch, steps: step });
    // No model folder is written as if training had ended.
    expect(existsSync(join(out, 'model.safetensors')) || existsSync(join(out, 'config.json'))).toBe(false);

    const [resumed, uninterrupted] = await Promise.all([run([...options(out), '--resume']), straightRun]);
    expect(uninterrupted.code, uninterrupted.stderr).toBe(0);
    expect(JSON.parse(uninterrupted.stdout)).toMatchObject({ steps: 99, epochs: 3 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ steps: 99, epochs: 3, validationAccuracy: JSON.parse(uninterrupted.stdout).validationAccuracy });
    // Training is deterministic given the seed, so the resumed model is the uninterrupted one, byte for byte...
    for (const file of ['model.safetensors', 'vocabulary.json', 'config.json']) {
      expect(readFileSync(join(out, file)).equals(readFileSync(join(straight, file))), file).toBe(true);
    }
    // ...and metrics.jsonl has each line once, in order, as the uninterrupted run wrote it.
    const metrics = metricsWithoutTiming(join(out, 'run'));
    expect(metrics.map((line) => [line.kind, line.step])).toEqual([['epoch', 33], ['step', 50], ['epoch', 66], ['epoch', 99]]);
    expect(metrics).toEqual(metricsWithoutTiming(join(straight, 'run')));
  });

  it('quits at once on a second Ctrl-C, leaving the last checkpoint intact', async () => {
    // Big batches make long steps: the second signal lands while a step is under way.
    const out = join(folder, 'twice');
    const args = ['train', '--data', data, '--out', out, '--epochs', '1', '--batch-size', '256', '--checkpoint-every', '1', '--hidden', '64', '--embedding', '32', '--min-freq', '1'];
    const training = launch(args);
    await training.until(() => existsSync(join(out, 'run', 'checkpoint.json')), 'the first checkpoint');
    training.signal('SIGINT');
    await training.until(() => training.stderr().includes('sentiment: stopping after this step'), 'the first Ctrl-C was acknowledged');
    training.signal('SIGINT');
    const stopped = await training.done;
    expect(stopped.code, stopped.stderr).toBe(130);
    expect(stopped.stderr).not.toContain('interrupted at step');
    expect(readCheckpoint(join(out, 'run'))).toMatchObject({ step: 1, batchIndex: 1 });
  });
});
