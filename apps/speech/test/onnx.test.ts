import * as ort from 'onnxruntime-web';
import { createBackend, mulberry32 } from '@recurrent/core';
import { describe, expect, it } from 'vitest';
import { batchInput, SpeechModel, speechToOnnx, type SpeechConfig } from '../src/index.js';

/*
 * `speech export`'s graph against the model itself: onnxruntime-web (its WebAssembly build, in
 * Node), given the unstacked frames, gives SpeechModel.forward's log-probabilities on batchInput's
 * stacked steps, for stacks that do and do not divide the frame counts.
 */
ort.env.wasm.numThreads = 1;

describe('speech as ONNX', () => {
  it.each([
    { cell: 'lstm', stack: 3, layers: 2 },
    { cell: 'gru', stack: 1, layers: 1 },
    { cell: 'gru', stack: 4, layers: 1 },
  ] as const)('$cell, stack $stack, $layers layers: the model\'s own log-probabilities and step counts', async (shape) => {
    const melBins = 5;
    const config: SpeechConfig = { melBins, hidden: 6, dropout: 0.2, outputs: 7, seed: 2, ...shape };
    const backend = await createBackend('cpu');
    const model = new SpeechModel(config).to(backend).eval();
    const random = mulberry32(5);
    const frameCounts = [11, 4, 9];
    const items = frameCounts.map((frames) => ({ frames, features: Float32Array.from({ length: frames * melBins }, () => random() * 2 - 1) }));
    const { input, lengths } = batchInput(items, melBins, config.stack, 1);
    const [T, B] = input.shape as [number, number];
    const expected = (await model.forward(input, lengths)).data; // [T, B, outputs]

    const maxFrames = Math.max(...frameCounts);
    const frames = new Float32Array(B * maxFrames * melBins);
    items.forEach((item, b) => frames.set(item.features, b * maxFrames * melBins));
    const session = await ort.InferenceSession.create(speechToOnnx(model));
    const result = await session.run({
      frames: new ort.Tensor('float32', frames, [B, maxFrames, melBins]),
      lengths: new ort.Tensor('int32', Int32Array.from(frameCounts), [B]),
    });
    expect([...(result.steps!.data as Int32Array)]).toEqual(lengths);
    expect(result.log_probs!.dims).toEqual([B, T, 7]);
    const got = result.log_probs!.data as Float32Array;
    let worst = 0;
    for (let t = 0; t < T; t++)
      for (let b = 0; b < B; b++)
        for (let c = 0; c < 7; c++) worst = Math.max(worst, Math.abs(got[(b * T + t) * 7 + c]! - expected[(t * B + b) * 7 + c]!));
    expect(worst).toBeLessThan(2e-6);
    await backend.dispose();
  });
});
