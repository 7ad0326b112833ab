import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Adam, AdamW, Backend, CosineAnnealingLR, createBackend, crossEntropy, Dropout, Embedding, GRU, Linear, loadStateDictFile, Module, mulberry32, ReduceLROnPlateau, Tensor, type Optimizer,
} from '@recurrent/core';
import { CheckpointError, findLearningRate, loadCheckpoint, train, TrainingError, type TrainingTask } from '../src/index.js';

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

function task(model: Classifier, backend: Backend, options: { poison?: (epoch: number, index: number) => boolean; sizes?: number[] } = {}): TrainingTask<Batch & { index: number; epoch: number }> {
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
      // 96 examples: six batches of 16 unless the test cuts them otherwise
      const sizes = options.sizes ?? [16, 16, 16, 16, 16, 16];
      const starts = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
      return sizes.map((size, i) => ({ ...batchOf(order.slice(starts[i]!, starts[i]! + size).map((j) => data[j]!)), index: i, epoch }));
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

  it('stops at a time limit: the epoch under way is validated and checkpointed, and the summary says so', async () => {
    const outDir = runDir();
    const { task: t, optimizer } = setup(backend);
    // A limit of 0 s ends the run after its first step.
    const summary = await train(t, { outDir, epochs: 3, optimizer, progress: false, timeLimitSeconds: 0 });
    expect(summary).toMatchObject({ timedOut: true, steps: 1, epochsCompleted: 1, interrupted: false });
    expect(summary.trainingSeconds).toBeGreaterThan(0);
    expect(summary.validation?.loss).toBeGreaterThan(0);
    expect(existsSync(join(outDir, 'best.safetensors'))).toBe(true);
    const other = setup(backend);
    const unlimited = await train(other.task, { outDir: runDir(), epochs: 1, optimizer: other.optimizer, progress: false, timeLimitSeconds: 3600 });
    expect(unlimited).toMatchObject({ timedOut: false, steps: 6 });
  });

  it('counts the time limit over the whole run: a resumed run brings the time of the calls before it', async () => {
    const outDir = runDir();
    const first = setup(backend);
    const interrupted = await train(first.task, { outDir, epochs: 3, optimizer: first.optimizer, progress: false, stopAfterSteps: 5 });
    const spent = interrupted.trainingSeconds!;
    expect(spent).toBeGreaterThan(0);
    const reader = setup(backend);
    const state = loadCheckpoint(outDir, reader.model, reader.optimizer);
    expect(state.trainingSeconds).toBe(spent);
    // The five steps' time is the limit: the resumed run stops after its first step (a limit
    // counted from the resume would let it take about five more).
    const resumed = setup(backend);
    const summary = await train(resumed.task, { outDir, epochs: 3, optimizer: resumed.optimizer, progress: false, resume: true, timeLimitSeconds: spent });
    expect(summary).toMatchObject({ timedOut: true, steps: 6, epochsCompleted: 1 });
    expect(summary.trainingSeconds).toBeGreaterThan(spent);
    // Resumed again, past the limit: nothing more is trained, validated or logged.
    const metrics = readFileSync(join(outDir, 'metrics.jsonl'), 'utf8');
    const again = setup(backend);
    const atLimit = await train(again.task, { outDir, epochs: 3, optimizer: again.optimizer, progress: false, resume: true, timeLimitSeconds: spent });
    expect(atLimit).toMatchObject({ timedOut: true, steps: 6, epochsCompleted: 1, trainingSeconds: summary.trainingSeconds });
    expect(readFileSync(join(outDir, 'metrics.jsonl'), 'utf8')).toBe(metrics);
  });

  it('ends an epoch left mid-way past the time limit without another step', async () => {
    const outDir = runDir();
    const first = setup(backend);
    const stopped = await train(first.task, { outDir, epochs: 3, optimizer: first.optimizer, progress: false, stopAfterSteps: 3 });
    const resumed = setup(backend);
    const summary = await train(resumed.task, { outDir, epochs: 3, optimizer: resumed.optimizer, progress: false, resume: true, timeLimitSeconds: stopped.trainingSeconds! / 2 });
    expect(summary).toMatchObject({ timedOut: true, steps: 3, epochsCompleted: 1, trainingSeconds: stopped.trainingSeconds });
    expect(summary.validation?.loss).toBeGreaterThan(0);
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

  it('reduces the learning rate on a plateau of the monitored metric, and a resumed run restores it exactly', async () => {
    const epochLrs = (outDir: string) => readFileSync(join(outDir, 'metrics.jsonl'), 'utf8').trim().split('\n')
      .map((l) => JSON.parse(l) as { kind: string; lr: number }).filter((l) => l.kind === 'epoch').map((l) => l.lr);
    const monitor = { metric: 'accuracy', mode: 'max' } as const;
    // patience 0: any epoch without a better validation accuracy halves the lr
    const plateau = (optimizer: Adam) => new ReduceLROnPlateau(optimizer, { mode: 'max', factor: 0.5, patience: 0 });
    const straight = setup(backend);
    const straightDir = runDir();
    await train(straight.task, { outDir: straightDir, epochs: 7, optimizer: straight.optimizer, progress: false, monitor, schedule: plateau(straight.optimizer) });
    const lrs = epochLrs(straightDir);
    expect(lrs[0]).toBe(0.02);
    expect(lrs.slice(0, 5)).toEqual([0.02, 0.02, 0.02, 0.02, 0.01]); // it did reduce

    const outDir = runDir();
    // interrupted after the first reduction (the end of epoch 4, step 24), mid-epoch both times
    for (const [resume, stopAfterSteps] of [[false, 26], [true, 33], [true, undefined]] as const) {
      const run = setup(backend);
      await train(run.task, {
        outDir, epochs: 7, optimizer: run.optimizer, progress: false, monitor, schedule: plateau(run.optimizer), resume, ...(stopAfterSteps ? { stopAfterSteps } : {}),
      });
      if (stopAfterSteps === undefined) {
        for (const [name, p] of straight.model.namedParameters()) expect([...run.model.stateDict().get(name)!.data], name).toEqual([...p.value.data]);
      }
    }
    expect(epochLrs(outDir)).toEqual(lrs);

    const noValidation = setup(backend);
    const { validate: _, ...withoutValidation } = noValidation.task;
    await expect(train(withoutValidation, { outDir: runDir(), epochs: 1, optimizer: noValidation.optimizer, progress: false, schedule: plateau(noValidation.optimizer) }))
      .rejects.toThrow('ReduceLROnPlateau needs a validation loss after each epoch, and this task has no validation');
  });

  it('trains parameter groups with their own learning rates, and a resumed run restores each group (plateau and cosine)', async () => {
    const monitor = { metric: 'accuracy', mode: 'max' } as const;
    const grouped = () => {
      const model = new Classifier().to(backend);
      const head = model.head.parameters();
      const rest = model.parameters().filter((p) => !head.includes(p));
      const optimizer = new AdamW([{ params: rest }, { params: head, lr: 0.05, weightDecay: 0 }], { lr: 0.02 });
      return { model, task: task(model, backend), optimizer };
    };
    const schedules = {
      plateau: (optimizer: Optimizer) => new ReduceLROnPlateau(optimizer, { mode: 'max', factor: 0.5, patience: 0 }),
      cosine: (optimizer: Optimizer) => new CosineAnnealingLR(optimizer, 7),
    };
    for (const [kind, schedule] of Object.entries(schedules)) {
      const straight = grouped();
      await train(straight.task, { outDir: runDir(), epochs: 7, optimizer: straight.optimizer, progress: false, monitor, schedule: schedule(straight.optimizer) });
      const finalLrs = straight.optimizer.paramGroups.map((g) => g.lr);
      if (kind === 'plateau') {
        expect(finalLrs[0]).toBeLessThan(0.02); // it did reduce, both groups alike
        expect(finalLrs[1]! / finalLrs[0]!).toBeCloseTo(2.5, 12);
      }

      const outDir = runDir();
      for (const [resume, stopAfterSteps] of [[false, 26], [true, 33], [true, undefined]] as const) {
        const run = grouped();
        await train(run.task, {
          outDir, epochs: 7, optimizer: run.optimizer, progress: false, monitor, schedule: schedule(run.optimizer), resume, ...(stopAfterSteps ? { stopAfterSteps } : {}),
        });
        if (stopAfterSteps !== undefined) {
          const { lr, lrs } = JSON.parse(readFileSync(join(outDir, 'checkpoint.json'), 'utf8')) as { lr: number; lrs: number[] };
          expect(lrs).toEqual(run.optimizer.paramGroups.map((g) => g.lr));
          expect(lr).toBe(lrs[0]);
        } else {
          expect(run.optimizer.paramGroups.map((g) => g.lr), kind).toEqual(finalLrs);
          for (const [name, p] of straight.model.namedParameters()) expect([...run.model.stateDict().get(name)!.data], `${kind} ${name}`).toEqual([...p.value.data]);
        }
      }
    }
  });

  it('averages the weights of the last epochs, validates the average at the end and keeps it if it beats the best epoch, across resumes', async () => {
    const weightsOf = (model: Module) => new Map([...model.stateDict()].map(([name, t]) => [name, [...t.data]]));
    // validation scores epoch e (0-based) e + 1 and the average `averageScore` (mode max), so the test decides whether the
    // average is chosen; the first validation after an epoch's batches is that epoch's, a second one the average's
    const scored = (averageScore: number, epochEnds: Array<Map<string, number[]>>) => {
      const run = setup(backend);
      let epoch = -1;
      let sinceBatches = 0;
      const validateTask = {
        ...run.task,
        batches: (e: number) => ((epoch = e), (sinceBatches = 0), run.task.batches(e)),
        validate: async () => {
          sinceBatches++;
          if (sinceBatches === 1) epochEnds[epoch] = weightsOf(run.model);
          return { score: sinceBatches === 1 ? epoch + 1 : averageScore };
        },
      };
      return { ...run, task: validateTask };
    };
    const monitor = { metric: 'score', mode: 'max' } as const;
    const epochEnds: Array<Map<string, number[]>> = [];
    const chosen = scored(10, epochEnds);
    const outDir = runDir();
    const summary = await train(chosen.task, { outDir, epochs: 4, optimizer: chosen.optimizer, progress: false, monitor, averageLast: 3 });
    expect(summary.average).toEqual({ epochs: [2, 4], validation: { score: 10 }, improved: true });
    expect(summary.best).toEqual({ value: 10, epoch: 3, averaged: 3 });
    const best = loadStateDictFile(join(outDir, 'best.safetensors'));
    expect(best.metadata).toMatchObject({ averaged: '3', score: '10' });
    for (const [name, t] of best.tensors) {
      const expected = t.data.map((_, i) => (epochEnds[1]!.get(name)![i]! + epochEnds[2]!.get(name)![i]! + epochEnds[3]!.get(name)![i]!) / 3);
      expect(Math.max(...t.data.map((v, i) => Math.abs(v - expected[i]!))), name).toBeLessThan(1e-6);
    }
    // the best epoch (the last, scored 4) moved aside
    for (const [name, t] of loadStateDictFile(join(outDir, 'best-epoch.safetensors')).tensors) expect([...t.data], name).toEqual(epochEnds[3]!.get(name));
    // the model keeps its last weights, and the folder the checkpoint's average alone
    for (const [name, values] of weightsOf(chosen.model)) expect(values, name).toEqual(epochEnds[3]!.get(name));
    expect(readdirSync(outDir).filter((f) => f.startsWith('average-'))).toEqual(['average-3.safetensors']);
    const lines = readFileSync(join(outDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; averaged?: number; improved?: boolean });
    expect(lines.filter((l) => l.kind === 'average')).toEqual([{ kind: 'average', step: 24, epoch: 3, averaged: 3, validation: { score: 10 }, improved: true }]);

    // an average worse than the best epoch leaves best.safetensors to that epoch
    const notChosen = scored(0, []);
    const otherDir = runDir();
    const other = await train(notChosen.task, { outDir: otherDir, epochs: 4, optimizer: notChosen.optimizer, progress: false, monitor, averageLast: 3 });
    expect(other.average?.improved).toBe(false);
    expect(other.best).toEqual({ value: 4, epoch: 3 });
    expect(existsSync(join(otherDir, 'best-epoch.safetensors'))).toBe(false);
    for (const [name, t] of loadStateDictFile(join(otherDir, 'best.safetensors')).tensors) expect([...t.data], name).toEqual(epochEnds[3]!.get(name));

    // interrupted inside the window (mid-epoch 3, then mid-epoch 4) and resumed: the same average and best
    const resumedDir = runDir();
    for (const [resume, stopAfterSteps] of [[false, 15], [true, 5], [true, undefined]] as const) {
      const run = scored(10, []);
      await train(run.task, { outDir: resumedDir, epochs: 4, optimizer: run.optimizer, progress: false, monitor, averageLast: 3, resume, ...(stopAfterSteps ? { stopAfterSteps } : {}) });
    }
    for (const [name, t] of loadStateDictFile(join(resumedDir, 'best.safetensors')).tensors) expect([...t.data], name).toEqual([...best.tensors.get(name)!.data]);
    expect(readFileSync(join(resumedDir, 'metrics.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"average"'))).toHaveLength(1);
  });

  it('refuses averaging it cannot do: fewer than 2 epochs, no validation, a resume with other averaging, a lost average', async () => {
    const run = setup(backend);
    await expect(train(run.task, { outDir: runDir(), epochs: 3, optimizer: run.optimizer, progress: false, averageLast: 1 }))
      .rejects.toThrow('averageLast must be a whole number from 2 to the 3 epochs, got 1');
    const { validate: _, ...withoutValidation } = run.task;
    await expect(train(withoutValidation, { outDir: runDir(), epochs: 3, optimizer: run.optimizer, progress: false, averageLast: 2 }))
      .rejects.toThrow('averaging the last 2 epochs needs a validation loss after the run, and this task has no validation');
    const outDir = runDir();
    const first = setup(backend);
    await train(first.task, { outDir, epochs: 3, optimizer: first.optimizer, progress: false, averageLast: 2, stopAfterSteps: 14 });
    const again = setup(backend);
    await expect(train(again.task, { outDir, epochs: 3, optimizer: again.optimizer, progress: false, resume: true }))
      .rejects.toThrow(`${outDir}: the checkpoint (after 2 epochs) averages 1 epochs' weights, and a run without averaging needs 0: resume with the epochs and averaging the run started with`);
    rmSync(join(outDir, 'average-1.safetensors'));
    await expect(train(again.task, { outDir, epochs: 3, optimizer: again.optimizer, progress: false, resume: true, averageLast: 2 }))
      .rejects.toThrow(`${join(outDir, 'average-1.safetensors')}: missing; the checkpoint's average of 1 epochs' weights is lost: restore the file, or start a new run in another folder`);
  });

  it('accumulates gradients over batches: one update as from a batch that many times larger, groups cut short averaged, resumed exactly', async () => {
    const run = async (sizes: number[], accumulate: number, stops: Array<number | undefined> = [undefined]) => {
      const outDir = runDir();
      let model: Classifier | undefined;
      for (const [n, stopAfterSteps] of stops.entries()) {
        model = new Classifier().to(backend);
        const optimizer = new Adam(model.parameters(), { lr: 0.02 });
        await train(task(model, backend, { sizes }), {
          outDir, epochs: 2, optimizer, progress: false, accumulate, resume: n > 0, ...(stopAfterSteps ? { stopAfterSteps } : {}),
        });
      }
      return new Map(model!.namedParameters().map(([name, p]) => [name, [...p.value.data]]));
    };
    const close = (a: Map<string, number[]>, b: Map<string, number[]>) => {
      for (const [name, values] of a) expect(Math.max(...values.map((v, i) => Math.abs(v - b.get(name)![i]!))), name).toBeLessThan(2e-5);
    };
    // two batches of 16 per update against batches of 32; groups of four over six batches against 64 then 32
    close(await run([16, 16, 16, 16, 16, 16], 2), await run([32, 32, 32], 1));
    close(await run([16, 16, 16, 16, 16, 16], 4), await run([64, 32], 1));
    // and not the same as updating after every batch
    const everyBatch = await run([16, 16, 16, 16, 16, 16], 1);
    const grouped = await run([16, 16, 16, 16, 16, 16], 2);
    expect([...everyBatch.values()].flat()).not.toEqual([...grouped.values()].flat());
    // stopped after 3 steps (the group of steps 3-4 finishes first) and again mid-epoch, then resumed: the uninterrupted weights
    expect(await run([16, 16, 16, 16, 16, 16], 2, [3, 5, undefined])).toEqual(grouped);
    await expect(train(task(new Classifier(), backend), { outDir: runDir(), epochs: 1, optimizer: new Adam(new Classifier().parameters()), progress: false, accumulate: 0 }))
      .rejects.toThrow('accumulate must be a whole number >= 1, got 0');
  });

  it('finds a learning rate by the range test, and leaves the model and optimiser as they were', async () => {
    const probed = setup(backend);
    const found = await findLearningRate(probed.task, probed.optimizer, { startLr: 1e-4, endLr: 100, steps: 40 });
    expect(found.lrs[0]).toBeCloseTo(1e-4, 12);
    expect(found.lrs[1]! / found.lrs[0]!).toBeCloseTo((100 / 1e-4) ** (1 / 39), 9);
    expect(found.losses).toHaveLength(found.lrs.length);
    expect(found.diverged).toBe(true); // Adam at lr 100
    expect(found.lrs.length).toBeLessThan(40);
    expect(found.steepest).toBeGreaterThan(1e-4);
    expect(found.steepest).toBeLessThan(100);
    expect(found.minimumOverTen).toBeLessThan(found.lrs.at(-1)!);
    // training after it is training without it
    const plain = setup(backend);
    await train(plain.task, { outDir: runDir(), epochs: 1, optimizer: plain.optimizer, progress: false });
    await train(probed.task, { outDir: runDir(), epochs: 1, optimizer: probed.optimizer, progress: false });
    for (const [name, p] of plain.model.namedParameters()) expect([...probed.model.stateDict().get(name)!.data], name).toEqual([...p.value.data]);
    await expect(findLearningRate(probed.task, probed.optimizer, { startLr: 1, endLr: 0.1 })).rejects.toThrow('findLearningRate: needs 0 < startLr < endLr, got 1 and 0.1');
  });

  it('resumes past a metrics line cut short by a crash, and deletes temporary files that killed writers left', async () => {
    const straight = setup(backend);
    const straightDir = runDir();
    await train(straight.task, { outDir: straightDir, epochs: 2, optimizer: straight.optimizer, progress: false, logEvery: 1 });

    const outDir = runDir();
    const first = setup(backend);
    await train(first.task, { outDir, epochs: 2, optimizer: first.optimizer, progress: false, logEvery: 1, stopAfterSteps: 4 });
    // A crash mid-append, and the leftovers of atomic writes by a killed process (pid 999999999).
    appendFileSync(join(outDir, 'metrics.jsonl'), '{"kind":"step","step":5,"ep');
    writeFileSync(join(outDir, 'model-6.safetensors.tmp-999999999'), 'partial');
    mkdirSync(join(outDir, 'plots'), { recursive: true });
    writeFileSync(join(outDir, 'plots', 'loss.svg.tmp-999999999'), '<svg');
    const second = setup(backend);
    await train(second.task, { outDir, epochs: 2, optimizer: second.optimizer, progress: false, logEvery: 1, resume: true });
    expect(readdirSync(outDir).filter((n) => n.includes('.tmp-'))).toEqual([]);
    expect(readdirSync(join(outDir, 'plots')).filter((n) => n.includes('.tmp-'))).toEqual([]);
    const withoutTiming = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').replace(/"tokensPerSecond":[^,}]+,?/g, '');
    expect(withoutTiming(outDir)).toBe(withoutTiming(straightDir));

    // A broken line inside the file is not a crash's doing: refused in one line.
    const third = setup(backend);
    const broken = runDir();
    await train(third.task, { outDir: broken, epochs: 2, optimizer: third.optimizer, progress: false, logEvery: 1, stopAfterSteps: 3 });
    writeFileSync(join(broken, 'metrics.jsonl'), readFileSync(join(broken, 'metrics.jsonl'), 'utf8').replace('"step":2', '"step":2,,'));
    await expect(train(setup(backend).task, { outDir: broken, epochs: 2, optimizer: setup(backend).optimizer, progress: false, resume: true }))
      .rejects.toThrow(/metrics\.jsonl:2: not a JSON line .*; delete that line to resume$/);
  });

  it('stops cleanly when its signal is aborted (mid-epoch and in an epoch\'s last step), and resumes to the same model and metrics', async () => {
    const epochLines = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { kind: string }).filter((l) => l.kind === 'epoch');
    const straightDir = runDir();
    const straight = setup(backend);
    const full = await train(straight.task, { outDir: straightDir, epochs: 2, optimizer: straight.optimizer, progress: false });
    expect(full.interrupted).toBe(false);

    // Abort while step `at` (1-based, counted over the whole run) is under way.
    const abortDuring = (t: TrainingTask<Batch & { index: number; epoch: number }>, at: number) => {
      const controller = new AbortController();
      return {
        signal: controller.signal,
        task: { ...t, step: async (batch: Batch & { index: number; epoch: number }) => {
          if (batch.epoch * 6 + batch.index + 1 === at) controller.abort();
          return t.step(batch);
        } },
      };
    };
    const outDir = runDir();
    const first = setup(backend);
    const a = abortDuring(first.task, 3);
    const stopped = await train(a.task, { outDir, epochs: 2, optimizer: first.optimizer, progress: false, signal: a.signal, checkpointEvery: 2 });
    expect(stopped).toMatchObject({ interrupted: true, steps: 3, epochsCompleted: 0 });
    const checkpoint = JSON.parse(readFileSync(join(outDir, 'checkpoint.json'), 'utf8')) as { epoch: number; step: number; batchIndex: number; model: string; optimizer: string };
    expect(checkpoint).toMatchObject({ epoch: 0, step: 3, batchIndex: 3 });
    expect(existsSync(join(outDir, checkpoint.model)) && existsSync(join(outDir, checkpoint.optimizer))).toBe(true);
    expect(readdirSync(outDir).sort()).toEqual(['checkpoint.json', 'metrics.jsonl', 'model-3.safetensors', 'optimizer-3.safetensors']);

    // The second stop lands in the first epoch's last step: no validation, no epoch line yet.
    const second = setup(backend);
    const b = abortDuring(second.task, 6);
    const again = await train(b.task, { outDir, epochs: 2, optimizer: second.optimizer, progress: false, signal: b.signal, resume: true });
    expect(again).toMatchObject({ interrupted: true, steps: 6, epochsCompleted: 0 });
    expect(epochLines(outDir)).toHaveLength(0);

    const third = setup(backend);
    const summary = await train(third.task, { outDir, epochs: 2, optimizer: third.optimizer, progress: false, resume: true, signal: new AbortController().signal });
    expect(summary).toMatchObject({ interrupted: false, steps: 12, epochsCompleted: 2 });
    for (const [name, p] of straight.model.namedParameters()) {
      expect([...third.model.stateDict().get(name)!.data], name).toEqual([...p.value.data]);
    }
    // The epochs' training and validation metrics too: the running totals travel in the checkpoint.
    expect(epochLines(outDir)).toEqual(epochLines(straightDir));
  });

  it('stops at the end of an epoch when aborted during validation, without a needless checkpoint', async () => {
    const outDir = runDir();
    const { task: t, optimizer } = setup(backend);
    const controller = new AbortController();
    const validate = t.validate!;
    const summary = await train({ ...t, validate: async () => {
      controller.abort();
      return validate();
    } }, { outDir, epochs: 3, optimizer, progress: false, signal: controller.signal });
    expect(summary).toMatchObject({ interrupted: true, steps: 6, epochsCompleted: 1 });
    expect(JSON.parse(readFileSync(join(outDir, 'checkpoint.json'), 'utf8'))).toMatchObject({ epoch: 1, batchIndex: 0, step: 6 });
    // Aborted in the last epoch's validation, the run is complete, not interrupted.
    const last = setup(backend);
    const done = new AbortController();
    const lastValidate = last.task.validate!;
    const finished = await train({ ...last.task, validate: async () => {
      done.abort();
      return lastValidate();
    } }, { outDir: runDir(), epochs: 1, optimizer: last.optimizer, progress: false, signal: done.signal });
    expect(finished).toMatchObject({ interrupted: false, epochsCompleted: 1 });
  });

  it('refuses to start over an existing run, and to resume where there is none', async () => {
    const outDir = runDir();
    const a = setup(backend);
    await train(a.task, { outDir, epochs: 1, optimizer: a.optimizer, progress: false });
    const b = setup(backend);
    await expect(train(b.task, { outDir, epochs: 1, optimizer: b.optimizer, progress: false })).rejects.toThrow('already holds a training run; pass --resume');
    const missing = join(runDir(), 'run');
    await expect(train(b.task, { outDir: missing, epochs: 1, optimizer: b.optimizer, progress: false, resume: true })).rejects.toThrow('no checkpoint.json to resume from');
    expect(existsSync(missing)).toBe(false);
  });

  it('refuses, in one line, a checkpoint that does not fit the model, is damaged or misses a file', async () => {
    const outDir = runDir();
    const a = setup(backend);
    await train(a.task, { outDir, epochs: 1, optimizer: a.optimizer, progress: false });
    class Wider extends Module {
      readonly embedding = this.registerModule('embedding', new Embedding({ numEmbeddings: 6, embeddingDim: 8, seed: 1 }));
      readonly gru = this.registerModule('gru', new GRU({ inputSize: 8, hiddenSize: 24, seed: 2 }));
      readonly head = this.registerModule('head', new Linear({ inFeatures: 24, outFeatures: 2, seed: 4 }));
    }
    const wider = new Wider().to(backend);
    const attempt = () => loadCheckpoint(outDir, wider, new Adam(wider.parameters(), { lr: 0.02 }));
    expect(attempt).toThrow(CheckpointError);
    expect(attempt).toThrow(/checkpoint\.json: the checkpoint does not fit this model \(size mismatch for gru\.weight_ih_l0: .*; and \d+ more\); resume with the options and data the run started with/);
    expect(() => attempt()).not.toThrow(/\n/);
    // A damaged weights file (a NaN where a weight was) is called damaged, not a misfit.
    const modelFile = join(outDir, 'model-6.safetensors');
    const original = readFileSync(modelFile);
    const damaged = Buffer.from(original);
    damaged.writeFloatLE(Number.NaN, damaged.length - 4);
    writeFileSync(modelFile, damaged);
    expect(() => loadCheckpoint(outDir, setup(backend).model, setup(backend).optimizer)).toThrow(/model-6\.safetensors: tensor '.*' holds 1 NaN\/Inf values .*; this checkpoint cannot be resumed: start a new run in another folder$/);
    writeFileSync(modelFile, original);
    rmSync(join(outDir, 'optimizer-6.safetensors'));
    const b = setup(backend);
    await expect(train(b.task, { outDir, epochs: 2, optimizer: b.optimizer, progress: false, resume: true })).rejects.toThrow(/checkpoint\.json: names optimizer-6\.safetensors, which is missing; restore it, or start a new run in another folder/);
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
