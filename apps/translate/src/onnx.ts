/**
 * The encoder-decoder as two ONNX models (eval mode), the usual split for sequence-to-sequence
 * models on ONNX runtimes: the encoder runs once per source batch, the decoder once per output
 * step, and the decoding loop (greedy, beam) stays in the caller's code, as `translate run`'s
 * does here.
 *
 *   encoder.onnx  source int64 [batch, steps] (source vocabulary ids, 0-padded), lengths int32 [batch]
 *                 -> memory [batch, steps, 2H], keys [batch, steps, K] (with attention),
 *                    h [Ld, batch, Hd], c (LSTM), feed [batch, Hd] (zeros; input feeding)
 *   decoder.onnx  tokens int64 [batch] (the previous outputs; <bos> = 2 first), h, c, feed,
 *                 memory, keys, lengths
 *                 -> log_probs [batch, V], next_h, next_c, next_feed, weights [batch, steps]
 *                    (with attention)
 *
 * Each step's next_h, next_c and next_feed go back in as the next step's h, c and feed; decoding
 * stops at <eos> (3). A model
 * trained with --reverse-target writes the target last token first.
 */
import { OnnxGraph } from '@recurrent/core';
import type { TranslateModel } from './model.js';

export interface TranslateOnnx {
  readonly encoder: Uint8Array;
  readonly decoder: Uint8Array;
}

export function translateToOnnx(model: TranslateModel, docString = ''): TranslateOnnx {
  return { encoder: encoderGraph(model, docString), decoder: decoderGraph(model, docString) };
}

/** Whether the decoder reads the previous attentional state (input feeding without Bahdanau's context). */
const feedsBack = (model: TranslateModel) => model.config.inputFeeding && model.config.attention !== 'additive';

function encoderGraph(model: TranslateModel, docString: string): Uint8Array {
  const { layers, decoderLayers: Ld, decoderHidden: Hd, hidden: H } = model.config;
  const graph = new OnnxGraph('translate-encoder');
  const source = graph.input('source', ['batch', 'steps'], 'int64');
  const lengths = graph.input('lengths', ['batch'], 'int32');
  const [timeMajor] = graph.node('Transpose', [source], 1, { perm: [1, 0] });
  const { output, hN, cN } = graph.recurrent(model.encoder, graph.embedding(model.sourceEmbedding, timeMajor!), { lengths });
  // the last layer's two final states side by side: [B, 2H]
  const last = (states: string) => graph.statesSideBySide(states, 2 * (layers - 1), 2);
  // the same start for every decoder layer: [B, Hd] -> [Ld, B, Hd]
  const repeat = (state: string) => graph.node('Tile', [graph.node('Unsqueeze', [state, graph.int64s([0])])[0]!, graph.int64s([Ld, 1, 1])])[0]!;
  const [h] = graph.node('Tanh', [graph.linear(model.bridge, last(hN))]);
  const [memory] = graph.node('Transpose', [output], 1, { perm: [1, 0, 2] });
  graph.output(memory!, 'memory', ['batch', 'steps', 2 * H]);
  if (model.attention) graph.output(graph.attentionKeys(model.attention, memory!), 'keys', ['batch', 'steps', model.attention.key ? model.attention.key.outFeatures : 2 * H]);
  graph.output(repeat(h!), 'h', [Ld, 'batch', Hd]);
  if (model.bridgeCell && cN) graph.output(repeat(graph.linear(model.bridgeCell, last(cN))), 'c', [Ld, 'batch', Hd]);
  if (feedsBack(model)) graph.output(graph.node('Mul', [h!, graph.constant('zero', [], Float32Array.of(0))])[0]!, 'feed', ['batch', Hd]);
  return graph.toBytes({ docString });
}

function decoderGraph(model: TranslateModel, docString: string): Uint8Array {
  const { decoderLayers: Ld, decoderHidden: Hd, hidden: H, targetVocabularySize: V, attention: kind } = model.config;
  const graph = new OnnxGraph('translate-decoder');
  const tokens = graph.input('tokens', ['batch'], 'int64');
  const h = graph.input('h', [Ld, 'batch', Hd]);
  const c = model.bridgeCell ? graph.input('c', [Ld, 'batch', Hd]) : undefined;
  const feed = feedsBack(model) ? graph.input('feed', ['batch', Hd]) : undefined;
  const memory = graph.input('memory', ['batch', 'source_steps', 2 * H]);
  const keys = model.attention ? graph.input('keys', ['batch', 'source_steps', model.attention.key ? model.attention.key.outFeatures : 2 * H]) : undefined;
  const lengths = graph.input('lengths', ['batch'], 'int32');
  const batchRows = (x: string) => graph.node('Unsqueeze', [x, graph.int64s([1])])[0]!; // [B, F] -> [B, 1, F]
  const flat = (x: string) => graph.node('Squeeze', [x, graph.int64s([1])])[0]!; // [B, 1, F] -> [B, F]
  let input = graph.embedding(model.targetEmbedding, tokens); // [B, E]
  let context: string | undefined;
  let weights: string | undefined;
  if (kind === 'additive') {
    // Bahdanau: the previous top-layer state queries the memory before the step
    const [top] = graph.node('Gather', [h, graph.constant('top', [], BigInt64Array.of(BigInt(Ld - 1)))], 1, { axis: 0 });
    ({ context, weights } = graph.attention(model.attention!, batchRows(top!), keys!, memory, lengths));
    input = graph.node('Concat', [input, flat(context)], 1, { axis: -1 })[0]!;
  } else if (feed) {
    input = graph.node('Concat', [input, feed], 1, { axis: -1 })[0]!;
  }
  const [step] = graph.node('Unsqueeze', [input, graph.int64s([0])]); // [1, B, F]
  const { output, hN, cN } = graph.recurrent(model.decoder, step!, { h0: h, ...(c ? { c0: c } : {}) });
  const query = graph.node('Transpose', [output], 1, { perm: [1, 0, 2] })[0]!; // [B, 1, Hd]
  let combined = query;
  if (model.attention) {
    if (!context) ({ context, weights } = graph.attention(model.attention, query, keys!, memory, lengths));
    const [joined] = graph.node('Concat', [context, query], 1, { axis: -1 });
    combined = graph.node('Tanh', [graph.linear(model.combine!, joined!)])[0]!;
  }
  const state = flat(combined); // [B, Hd]
  const logits = graph.linear(model.output, state);
  graph.output(graph.node('LogSoftmax', [logits], 1, { axis: -1 })[0]!, 'log_probs', ['batch', V]);
  graph.output(hN, 'next_h', [Ld, 'batch', Hd]);
  if (cN) graph.output(cN, 'next_c', [Ld, 'batch', Hd]);
  if (feed) graph.output(state, 'next_feed', ['batch', Hd]);
  if (weights) graph.output(flat(weights), 'weights', ['batch', 'source_steps']);
  return graph.toBytes({ docString });
}
