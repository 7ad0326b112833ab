import * as ort from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Attention, Backend, createBackend, Dropout, Embedding, LayerNorm, LogSoftmax, ReLU, Sequential, Sigmoid, Softmax, Tanh, GRU, Linear, LSTM, OnnxGraph, poolSequence, recurrentToOnnx, RNN, Tensor, type RecurrentLayer,
} from '../src/index.js';
import { maxDiff, randomTensor } from './helpers.js';

/*
 * ONNX export against a real ONNX runtime (onnxruntime-web's WebAssembly build, in Node): each
 * exported model gives this package's own outputs (eval mode, cpu backend) to float32 rounding.
 */
ort.env.wasm.numThreads = 1;
const TOLERANCE = 2e-6;
const run = async (bytes: Uint8Array, feeds: Record<string, ort.Tensor>) => (await ort.InferenceSession.create(bytes)).run(feeds);
const floats = (t: Tensor) => new ort.Tensor('float32', t.data.slice(), t.shape);

describe('ONNX export', () => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await createBackend('cpu');
  });
  afterAll(async () => {
    await backend.dispose();
  });

  const layers: Array<[string, () => RecurrentLayer]> = [
    ['LSTM, 2 layers bidirectional', () => new LSTM({ inputSize: 3, hiddenSize: 5, numLayers: 2, bidirectional: true, seed: 1 })],
    ['LSTM, batch-first, no bias', () => new LSTM({ inputSize: 4, hiddenSize: 3, batchFirst: true, bias: false, seed: 2 })],
    ['GRU, 2 layers bidirectional (linear_before_reset)', () => new GRU({ inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, seed: 3 })],
    ['GRU, batch-first', () => new GRU({ inputSize: 2, hiddenSize: 6, batchFirst: true, seed: 4 })],
    ['RNN tanh, 3 layers', () => new RNN({ inputSize: 3, hiddenSize: 4, numLayers: 3, seed: 5 })],
    ['RNN relu, bidirectional', () => new RNN({ inputSize: 3, hiddenSize: 4, nonlinearity: 'relu', bidirectional: true, seed: 6 })],
    ['LSTM, 2 layers bidirectional, learned initial states', () => {
      const lstm = new LSTM({ inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, initialState: 'learned', seed: 7 });
      for (const name of ['h0', 'c0']) lstm.stateDict().get(name)!.data.set(randomTensor([4, 4], name === 'h0' ? 12 : 13, 0.5).data);
      return lstm;
    }],
    // ONNX's LSTM has no projection: these run as Loops of the cell's own operators
    ['LSTM with projSize, 2 layers bidirectional', () => new LSTM({ inputSize: 3, hiddenSize: 5, projSize: 2, numLayers: 2, bidirectional: true, seed: 9 })],
    ['LSTM with projSize, batch-first, no bias, learned initial states', () => {
      const lstm = new LSTM({ inputSize: 4, hiddenSize: 6, projSize: 3, batchFirst: true, bias: false, initialState: 'learned', seed: 10 });
      lstm.stateDict().get('h0')!.data.set(randomTensor([1, 3], 15, 0.5).data);
      lstm.stateDict().get('c0')!.data.set(randomTensor([1, 6], 16, 0.5).data);
      return lstm;
    }],
    ['GRU, batch-first, learned initial state', () => {
      const gru = new GRU({ inputSize: 2, hiddenSize: 5, batchFirst: true, initialState: 'learned', seed: 8 });
      gru.stateDict().get('h0')!.data.set(randomTensor([1, 5], 14, 0.5).data);
      return gru;
    }],
  ];

  it.each(layers)('%s: outputs and final states, full and packed (sequence_lens)', async (_, make) => {
    const layer = make().to(backend).eval();
    const { batchFirst, inputSize } = layer.config;
    const [T, B] = [5, 3];
    const x = randomTensor(batchFirst ? [B, T, inputSize] : [T, B, inputSize], 7);
    const lengths = [5, 2, 4];
    const bytes = recurrentToOnnx(layer, { lengths: true });
    for (const given of [[T, T, T], lengths]) {
      const ours = await layer.forward(x, { lengths: given });
      const theirs = await run(bytes, { input: floats(x), lengths: new ort.Tensor('int32', Int32Array.from(given), [B]) });
      expect(theirs.output!.dims).toEqual(ours.output.shape);
      expect(maxDiff(theirs.output!.data as Float32Array, ours.output.data)).toBeLessThan(TOLERANCE);
      expect(maxDiff(theirs.h_n!.data as Float32Array, ours.hN.data)).toBeLessThan(TOLERANCE);
      if (ours.cN) expect(maxDiff(theirs.c_n!.data as Float32Array, ours.cN.data)).toBeLessThan(TOLERANCE);
    }
    // without the lengths input: every sequence full, any number of steps
    const longer = randomTensor(batchFirst ? [B, 9, inputSize] : [9, B, inputSize], 8);
    const theirs = await run(recurrentToOnnx(layer), { input: floats(longer) });
    expect(maxDiff(theirs.output!.data as Float32Array, (await layer.forward(longer)).output.data)).toBeLessThan(TOLERANCE);
  });

  it('composes a classifier: embedding, LSTM with given initial states, a linear layer on the last state', async () => {
    const embedding = new Embedding({ numEmbeddings: 20, embeddingDim: 4, seed: 1 }).to(backend);
    const lstm = new LSTM({ inputSize: 4, hiddenSize: 6, numLayers: 2, seed: 2 }).to(backend).eval();
    const head = new Linear({ inFeatures: 6, outFeatures: 3, seed: 3 }).to(backend);
    const [T, B] = [4, 2];
    const ids = [3, 7, 19, 0, 5, 5, 1, 12];
    const h0 = randomTensor([2, B, 6], 4, 0.5);
    const c0 = randomTensor([2, B, 6], 5, 0.5);

    const graph = new OnnxGraph('classifier');
    const tokens = graph.input('tokens', ['steps', 'batch'], 'int64');
    const h0In = graph.input('h0', [2, 'batch', 6]);
    const c0In = graph.input('c0', [2, 'batch', 6]);
    const { hN } = graph.recurrent(lstm, graph.embedding(embedding, tokens), { h0: h0In, c0: c0In });
    const [last] = graph.node('Gather', [hN, graph.constant('top', [], BigInt64Array.from([1n]))], 1, { axis: 0 });
    graph.output(graph.linear(head, last!), 'logits', ['batch', 3]);

    const embedded = await embedding.forward(new Tensor([T, B], Float32Array.from(ids)));
    const ours = await head.forward(new Tensor([B, 6], (await lstm.forward(embedded, { h0, c0 })).hN.data.slice(B * 6)));
    const theirs = await run(graph.toBytes(), {
      tokens: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [T, B]), h0: floats(h0), c0: floats(c0),
    });
    expect(theirs.logits!.dims).toEqual([B, 3]);
    expect(maxDiff(theirs.logits!.data as Float32Array, ours.data)).toBeLessThan(TOLERANCE);
  });

  it('a projected LSTM (a Loop a direction) from given initial states, packed', async () => {
    const lstm = new LSTM({ inputSize: 3, hiddenSize: 4, projSize: 2, numLayers: 2, bidirectional: true, seed: 11 }).to(backend).eval();
    const [T, B] = [6, 3];
    const x = randomTensor([T, B, 3], 17);
    const h0 = randomTensor([4, B, 2], 18, 0.5);
    const c0 = randomTensor([4, B, 4], 19, 0.5);
    const lengths = [2, 6, 1];
    const graph = new OnnxGraph('projected');
    const inputs = { x: graph.input('x', ['steps', 'batch', 3]), lengths: graph.input('lengths', ['batch'], 'int32'), h0: graph.input('h0', [4, 'batch', 2]), c0: graph.input('c0', [4, 'batch', 4]) };
    const { output, hN, cN } = graph.recurrent(lstm, inputs.x, { lengths: inputs.lengths, h0: inputs.h0, c0: inputs.c0 });
    graph.output(output, 'output', ['steps', 'batch', 4]);
    graph.output(hN, 'h_n', [4, 'batch', 2]);
    graph.output(cN!, 'c_n', [4, 'batch', 4]);
    const ours = await lstm.forward(x, { h0, c0, lengths });
    const theirs = await run(graph.toBytes(), { x: floats(x), lengths: new ort.Tensor('int32', Int32Array.from(lengths), [B]), h0: floats(h0), c0: floats(c0) });
    expect(theirs.output!.dims).toEqual([T, B, 4]);
    expect(maxDiff(theirs.output!.data as Float32Array, ours.output.data)).toBeLessThan(TOLERANCE);
    expect(maxDiff(theirs.h_n!.data as Float32Array, ours.hN.data)).toBeLessThan(TOLERANCE);
    expect(maxDiff(theirs.c_n!.data as Float32Array, ours.cN!.data)).toBeLessThan(TOLERANCE);
  });

  it.each(['mean', 'max', 'last'] as const)('poolSequence(%s) over each sequence\'s own steps', async (mode) => {
    const [T, B, F] = [5, 3, 4];
    const x = randomTensor([T, B, F], 9);
    const lengths = [5, 1, 3];
    const graph = new OnnxGraph();
    const xIn = graph.input('x', ['steps', 'batch', F]);
    const lengthsIn = graph.input('lengths', ['batch'], 'int32');
    graph.output(graph.poolSequence(xIn, lengthsIn, mode), 'pooled', ['batch', F]);
    const theirs = await run(graph.toBytes(), { x: floats(x), lengths: new ort.Tensor('int32', Int32Array.from(lengths), [B]) });
    expect(maxDiff(theirs.pooled!.data as Float32Array, poolSequence(x, lengths, mode).data)).toBeLessThan(TOLERANCE);
  });

  it.each(['dot', 'general', 'additive'] as const)('attention (%s): context and weights over each memory\'s valid steps', async (score) => {
    const [B, Q, S, H] = [3, 2, 5, 4];
    const attention = new Attention({ queryFeatures: H, memoryFeatures: H, score, seed: 4 }).to(backend);
    const query = randomTensor([B, Q, H], 10);
    const memory = randomTensor([B, S, H], 11);
    const lengths = [5, 2, 4];
    const ours = await attention.forward(query, await attention.keys(memory), memory, lengths);
    const graph = new OnnxGraph();
    const queryIn = graph.input('query', ['batch', Q, H]);
    const memoryIn = graph.input('memory', ['batch', 'steps', H]);
    const lengthsIn = graph.input('lengths', ['batch'], 'int32');
    const { context, weights } = graph.attention(attention, queryIn, graph.attentionKeys(attention, memoryIn), memoryIn, lengthsIn);
    graph.output(context, 'context', ['batch', Q, H]);
    graph.output(weights, 'weights', ['batch', Q, 'steps']);
    const theirs = await run(graph.toBytes(), { query: floats(query), memory: floats(memory), lengths: new ort.Tensor('int32', Int32Array.from(lengths), [B]) });
    expect(maxDiff(theirs.context!.data as Float32Array, ours.context.data)).toBeLessThan(TOLERANCE);
    expect(maxDiff(theirs.weights!.data as Float32Array, ours.weights.data)).toBeLessThan(TOLERANCE);
  });

  it('a Sequential of Linear, LayerNorm, ReLU, Dropout, Tanh, Sigmoid, Softmax and LogSoftmax, nested: its eval output', async () => {
    const model = new Sequential(
      new Linear({ inFeatures: 4, outFeatures: 8, seed: 1 }), new LayerNorm({ normalizedShape: 8, eps: 1e-3 }), new ReLU(), new Dropout(0.3),
      new Linear({ inFeatures: 8, outFeatures: 6, seed: 2 }), new Tanh(),
      new Sequential(new Linear({ inFeatures: 6, outFeatures: 5, seed: 3 }), new Sigmoid(), new Softmax(0), new LogSoftmax()),
    ).to(backend).eval();
    const layerNorm = model.layers[1] as LayerNorm;
    layerNorm.weight!.value.data.set(randomTensor([8], 20).data);
    layerNorm.bias!.value.data.set(randomTensor([8], 21).data);
    const x = randomTensor([3, 4], 22, 2);
    const graph = new OnnxGraph();
    graph.output(graph.sequential(model, graph.input('x', [3, 4])), 'y', [3, 5]);
    const theirs = await run(graph.toBytes(), { x: floats(x) });
    expect(maxDiff(theirs.y!.data as Float32Array, (await model.forward(x)).data)).toBeLessThan(TOLERANCE);
  });

  it('refuses what ONNX cannot express, by name', () => {
    expect(() => new OnnxGraph().sequential(new Sequential(new Embedding({ numEmbeddings: 3, embeddingDim: 2 })), 'x')).toThrow('no ONNX export for the module Embedding');
    const graph = new OnnxGraph();
    graph.input('x', [1]);
    expect(() => graph.input('x', [1])).toThrow('the name "x" is taken');
  });
});
