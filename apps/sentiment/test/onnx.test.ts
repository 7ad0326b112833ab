import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-web';
import { createBackend, Tensor } from '@recurrent/core';
import { describe, expect, it } from 'vitest';
import { SentimentModel, sentimentToOnnx, type SentimentConfig } from '../src/index.js';
import { run } from './helpers.js';

/*
 * `sentiment export`'s graph against the model itself: the same probabilities from onnxruntime-web
 * (its WebAssembly build, in Node) as from SentimentModel.forward, for every pooling and cell.
 */
ort.env.wasm.numThreads = 1;

const softmaxRows = (logits: Float32Array, C: number) => Array.from({ length: logits.length / C }, (_, b) => {
  const row = [...logits.subarray(b * C, (b + 1) * C)];
  const max = Math.max(...row);
  const exps = row.map((v) => Math.exp(v - max));
  const total = exps.reduce((s, v) => s + v, 0);
  return exps.map((v) => v / total);
}).flat();

describe('sentiment as ONNX', () => {
  it.each([
    { cell: 'lstm', pooling: 'last', bidirectional: true, layers: 2 },
    { cell: 'gru', pooling: 'mean', bidirectional: true, layers: 1 },
    { cell: 'rnn', pooling: 'max', bidirectional: false, layers: 2 },
    { cell: 'lstm', pooling: 'last', bidirectional: false, layers: 1 },
  ] as const)('$cell, $pooling pooling, bidirectional $bidirectional, $layers layers: the model\'s own probabilities', async (shape) => {
    const config: SentimentConfig = { vocabularySize: 30, classes: 3, embedding: 6, hidden: 5, dropout: 0.3, seed: 4, ...shape };
    const backend = await createBackend('cpu');
    const model = new SentimentModel(config).to(backend).eval();
    const sequences = [[4, 9, 2, 17, 3], [8, 1], [29, 5, 5, 6]];
    const T = 5;
    const B = sequences.length;
    const lengths = sequences.map((s) => s.length);
    const timeMajor = new Float32Array(T * B);
    const batchMajor = new BigInt64Array(B * T);
    sequences.forEach((ids, b) => ids.forEach((id, t) => {
      timeMajor[t * B + b] = id;
      batchMajor[b * T + t] = BigInt(id);
    }));
    const expected = softmaxRows((await model.forward(new Tensor([T, B], timeMajor), lengths)).data, 3);
    const session = await ort.InferenceSession.create(sentimentToOnnx(model));
    const result = await session.run({ tokens: new ort.Tensor('int64', batchMajor, [B, T]), lengths: new ort.Tensor('int32', Int32Array.from(lengths), [B]) });
    const got = result.probabilities!.data as Float32Array;
    expect(got).toHaveLength(expected.length);
    expect(Math.max(...expected.map((p, i) => Math.abs(p - got[i]!)))).toBeLessThan(2e-6);
    await backend.dispose();
  });

  it('`sentiment export` refuses a model folder that is not there, and an unwritable --onnx path, with exit code 2', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'sentiment-onnx-'));
    const missing = await run(['export', '--model', join(folder, 'none'), '--onnx', join(folder, 'm.onnx')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(join(folder, 'none'));
    const unwritable = await run(['export', '--model', join(folder, 'none'), '--onnx', join(folder, 'no', 'such', 'dir', 'm.onnx')]);
    expect(unwritable.code).toBe(2);
    expect(unwritable.stderr).toContain('cannot write the ONNX model');
    expect(() => readFileSync(join(folder, 'm.onnx'))).toThrow();
  });
});
