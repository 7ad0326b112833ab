import * as ort from 'onnxruntime-web';
import { createBackend, Tensor } from '@recurrent/core';
import { describe, expect, it } from 'vitest';
import { BOS_INDEX, TranslateModel, translateToOnnx, type DecoderState, type TranslateConfig } from '../src/index.js';

/*
 * The encoder and decoder graphs of `translate export` against the model itself: onnxruntime-web
 * (its WebAssembly build, in Node) decoding greedily step by step gives the model's own
 * log-probabilities, attention weights and tokens, for every attention kind and both cells.
 */
ort.env.wasm.numThreads = 1;

const logSoftmaxRows = (logits: Float32Array, V: number) => {
  const out = new Float32Array(logits.length);
  for (let b = 0; b < logits.length / V; b++) {
    const row = logits.subarray(b * V, (b + 1) * V);
    const max = Math.max(...row);
    const log = Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0)) + max;
    row.forEach((v, i) => { out[b * V + i] = v - log; });
  }
  return out;
};
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
};
const argmaxRows = (x: Float32Array, V: number) => Array.from({ length: x.length / V }, (_, b) => {
  const row = x.subarray(b * V, (b + 1) * V);
  return row.indexOf(Math.max(...row));
});

describe('translate as ONNX', () => {
  it.each([
    { cell: 'lstm', attention: 'general', inputFeeding: true, layers: 2, decoderLayers: 2, hidden: 5, decoderHidden: 6 },
    { cell: 'gru', attention: 'additive', inputFeeding: false, layers: 1, decoderLayers: 1, hidden: 5, decoderHidden: 6 },
    { cell: 'lstm', attention: 'dot', inputFeeding: false, layers: 1, decoderLayers: 2, hidden: 4, decoderHidden: 8 },
    { cell: 'gru', attention: 'none', inputFeeding: true, layers: 2, decoderLayers: 1, hidden: 5, decoderHidden: 6 },
  ] as const)('$cell, $attention attention, input feeding $inputFeeding: greedy decoding step by step', async (shape) => {
    const config: TranslateConfig = { sourceVocabularySize: 17, targetVocabularySize: 13, embedding: 6, dropout: 0.3, seed: 3, ...shape };
    const backend = await createBackend('cpu');
    const model = new TranslateModel(config).to(backend).eval();
    const sources = [[5, 9, 4, 16], [7, 3], [12, 6, 8]];
    const [S, B, V] = [4, sources.length, 13];
    const lengths = sources.map((s) => s.length);
    const timeMajor = new Float32Array(S * B);
    const batchMajor = new BigInt64Array(B * S);
    sources.forEach((ids, b) => ids.forEach((id, s) => {
      timeMajor[s * B + b] = id;
      batchMajor[b * S + s] = BigInt(id);
    }));
    const onnx = translateToOnnx(model);
    const encoderSession = await ort.InferenceSession.create(onnx.encoder);
    const decoderSession = await ort.InferenceSession.create(onnx.decoder);
    const lengthsTensor = new ort.Tensor('int32', Int32Array.from(lengths), [B]);
    const encoded = await encoderSession.run({ source: new ort.Tensor('int64', batchMajor, [B, S]), lengths: lengthsTensor });
    const ours = await model.encode(new Tensor([S, B], timeMajor), lengths);
    expect(maxDiff(encoded.memory!.data as Float32Array, ours.encoded.memory.data)).toBeLessThan(2e-6);

    let state: DecoderState = ours.state;
    let carried: Record<string, ort.Tensor> = { h: encoded.h!, ...(encoded.c ? { c: encoded.c } : {}), ...(encoded.feed ? { feed: encoded.feed } : {}) };
    let tokens = sources.map(() => BOS_INDEX);
    for (let t = 0; t < 5; t++) {
      const step = await model.step(ours.encoded, state, tokens);
      const result = await decoderSession.run({
        tokens: new ort.Tensor('int64', BigInt64Array.from(tokens.map(BigInt)), [B]),
        ...carried,
        memory: encoded.memory!,
        ...(encoded.keys ? { keys: encoded.keys } : {}),
        lengths: lengthsTensor,
      });
      const expected = logSoftmaxRows(step.logits.data, V);
      expect(maxDiff(result.log_probs!.data as Float32Array, expected), `step ${t}`).toBeLessThan(5e-6);
      if (step.weights) expect(maxDiff(result.weights!.data as Float32Array, step.weights.data)).toBeLessThan(2e-6);
      tokens = argmaxRows(result.log_probs!.data as Float32Array, V);
      expect(tokens).toEqual(argmaxRows(expected, V));
      state = step.state;
      carried = { h: result.next_h!, ...(result.next_c ? { c: result.next_c } : {}), ...(result.next_feed ? { feed: result.next_feed } : {}) };
    }
    await backend.dispose();
  });
});
