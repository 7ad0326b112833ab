import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Adam, Backend, createBackend, crossEntropy, Dropout, Embedding, GRU, Linear, Module, mulberry32, Tensor,
} from '@recurrent/core';
import { train, TrainingError, type TrainingTask } from '../src/index.js';

/** A small sequence classifier: does a sequence start with a larger token than it ends with? */
class Classifier extends Module {
  readonly embedding = this.registerModule('embedding', new Embedding({ numEmbeddings: 6, embeddingDim: 8, seed: 1 }));
  readonly gru = this.registerModule('gru', new GRU({ inputSize: 8, hiddenSize: 16, seed: 2 }));
  readonly dropout = this.registerModule('dropout', new Dropout(0.2, 3));
  readonly head = this.registerModule('head', new Linear({ inFeatures: 16, outFeatures: 2, seed: 4 }));
}

interface Batch {
  readonly tokens: Tensor; // [T, B]
  readonly labels: Tensor; // [B]
  readonly lengths: number[];
}

function makeData(count: number, seed: number): Array<{ tokens: number[]; label: number }> {
  const random = mulberry32(seed);
  return Array.from({ length: count }, () => {
    const length = 3 + Math.floor(random() * 6);
    const tokens = Array.from({ length }, () => Math.floor(random() * 6));
    return { tokens, label: tokens[0]! > tokens[length - 1]! ? 1 : 0 };
  });
}

function batchOf(examples: Array<{ tokens: number[]; label: number }>): Batch {
  const T = 8;
  const B = examples.length;
  const tokens = Tensor.zeros([T, B]);
  examples.forEach((e, b) => e.tokens.forEach((token, t) => (tokens.data[t * B + b] = token)));
  return { tokens, labels: Tensor.from([B], examples.map((e) => e.label)), lengths: examples.map((e) => e.tokens.length) };
}

function task(model: Classifier, backend: Backend, options: { poison?: (epoch: number, index: number) => boolean } = {}): TrainingTask<Batch & { index: number; epoch: number }> {
  const data = makeData(96, 11);
  const validation = batchOf(makeData(64, 12));
  const forward = async (batch: Batch) => {
    const { hN } = await model.gru.forward(await model.embedding.forward(batch.tokens), { lengths: batch.lengths });
    const features = await model.dropout.forward(hN.reshape([batch.lengths.length, 16]));
    return model.head.forward(features);
  };
  return {
    model,
    batches(epoch) {
      const random = mulberry32(100 + epoch);
      const order = data.map((_, i) => i).sort(() => random() - 0.5);
      return Array.from({ length: 6 }, (_, i) => ({ ...batchOf(order.slice(i * 16, i * 16 + 16).map((j) => data[j]!)), index: i, epoch }));
    },
    async step(batch) {
      const logits = await forward(batch);
      const loss = await crossEntropy(logits, batch.labels, { backend });
      const poisoned = options.poison?.(batch.epoch, batch.index) ?? false;
      const predictions = Array.from({ length: batch.labels.size }, (_, b) => (logits.data[2 * b + 1]! > logits.data[2 * b]! ? 1 : 0));
      return {
        loss: poisoned ? Tensor.from([], [Number.NaN]) : loss,
        correct: predictions.filter((p, b) => p === batch.labels.data[b]).length,
        examples: batch.labels.size,
        tokens: batch.lengths.reduce((a, b) => a + b, 0),
      };
    },
    async validate() {
      const logits = await forward(validation);
      const loss = await crossEntropy(logits, validation.labels, { backend });
      const correct = Array.from({ length: 64 }, (_, b) => (logits.data[2 * b + 1]! > logits.data[2 * b]! ? 1 : 0)).filter((p, b) => p === validation.labels.data[b]).length;
      return { loss: loss.data[0]!, accuracy: correct / 64 };
    },
  };
}

function setup(backend: Backend, poison?: (epoch: number, index: number) => boolean) {
  const model = new Classifier().to(backend);
  return { model, task: task(model, backend, poison ? { poison } : {}), optimizer: new Adam(model.parameters(), { lr: 0.02 }) };
}

describe('train', () => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await createBackend('cpu');
  });
  afterAll(async () => {
    await backend.dispose();
  });
  const runDir = () => mkdtempSync(join(tmpdir(), 'train-'));

  it('trains, validates, keeps the best model and logs metrics', async () => {
    const outDir = runDir();
    const { task: t, optimizer } = setup(backend);
    const summary = await train(t, { outDir, epochs: 3, optimizer, progress: false, monitor: { metric: 'accuracy', mode: 'max' } });
    expect(summary.epochsCompleted).toBe(3);
    expect(summary.steps).toBe(18);
    const lines = readFileSync(join(outDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; train?: { loss: number } });
    const epochs = lines.filter((l) => l.kind === 'epoch');
    expect(epochs).toHaveLength(3);
    expect(epochs[2]!.train!.loss).toBeLessThan(epochs[0]!.train!.loss);
    expect(readdirSync(outDir).sort()).toEqual(['best.safetensors', 'checkpoint.json', 'metrics.jsonl', 'model-18.safetensors', 'optimizer-18.safetensors']);
  });

  it('resumes exactly: interrupted twice (mid-epoch), the final model equals an uninterrupted run', async () => {
    const straight = setup(backend);
    await train(straight.task, { outDir: runDir(), epochs: 2, optimizer: straight.optimizer, progress: false });

    const outDir = runDir();
    const first = setup(backend);
    await train(first.task, { outDir, epochs: 2, optimizer: first.optimizer, progress: false, stopAfterSteps: 4 });
    const second = setup(backend);
    await train(second.task, { outDir, epochs: 2, optimizer: second.optimizer, progress: false, resume: true, stopAfterSteps: 5 });
    const third = setup(backend);
    const summary = await train(third.task, { outDir, epochs: 2, optimizer: third.optimizer, progress: false, resume: true });
    expect(summary.steps).toBe(12);
    for (const [name, p] of straight.model.namedParameters()) {
      expect([...third.model.stateDict().get(name)!.data], name).toEqual([...p.value.data]);
    }
  });

  it('refuses to start over an existing run, and to resume where there is none', async () => {
    const outDir = runDir();
    const a = setup(backend);
    await train(a.task, { outDir, epochs: 1, optimizer: a.optimizer, progress: false });
    const b = setup(backend);
    await expect(train(b.task, { outDir, epochs: 1, optimizer: b.optimizer, progress: false })).rejects.toThrow('already holds a training run; pass --resume');
    await expect(train(b.task, { outDir: runDir(), epochs: 1, optimizer: b.optimizer, progress: false, resume: true })).rejects.toThrow('no checkpoint.json to resume from');
  });

  it('skips a non-finite step, and stops after too many in a row with the last checkpoint intact', async () => {
    const skipDir = runDir();
    const once = setup(backend, (epoch, index) => epoch === 0 && index === 2);
    const summary = await train(once.task, { outDir: skipDir, epochs: 1, optimizer: once.optimizer, progress: false });
    expect(summary.steps).toBe(6);
    expect(readFileSync(join(skipDir, 'metrics.jsonl'), 'utf8')).toContain('"skipped":"non-finite loss or gradient"');

    const outDir = runDir();
    const broken = setup(backend, (epoch) => epoch === 1);
    await expect(train(broken.task, { outDir, epochs: 3, optimizer: broken.optimizer, progress: false, maxBadSteps: 3 })).rejects.toThrow(
      /3 steps in a row had a non-finite loss or gradient \(epoch 2, batch 3\); stopped with the last good checkpoint in .* intact/,
    );
    const checkpoint = JSON.parse(readFileSync(join(outDir, 'checkpoint.json'), 'utf8')) as { epoch: number; step: number; model: string };
    expect(checkpoint).toMatchObject({ epoch: 1, step: 6 });
    expect(existsSync(join(outDir, checkpoint.model))).toBe(true);
  });
});
