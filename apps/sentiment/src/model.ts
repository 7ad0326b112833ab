/**
 * The sentiment classifier: tokens [T, B] -> Embedding [T, B, E] -> (bi)directional LSTM, GRU or
 * RNN [T, B, D*H] -> pooling over each review's own steps [B, D*H] -> Dropout -> Linear [B, C].
 * Pooling 'last' takes each direction's final state (the forward one at the review's last token,
 * the backward one at its first); 'mean' and 'max' pool the outputs over the valid steps.
 */
import {
  concatFeatures, Dropout, Embedding, formatShape, GRU, Linear, LSTM, Module, OnnxGraph, poolSequence, RNN, ShapeError, Tape, Tensor,
  type PoolingMode, type RecurrentLayer,
} from '@recurrent/core';

export interface SentimentConfig {
  readonly vocabularySize: number;
  readonly classes: number;
  readonly embedding: number;
  readonly hidden: number;
  readonly layers: number;
  readonly cell: 'lstm' | 'gru' | 'rnn';
  readonly bidirectional: boolean;
  readonly pooling: PoolingMode;
  readonly dropout: number;
  /** Keras's recurrent_dropout on the encoder; absent (0) in folders written before it. */
  readonly recurrentDropout?: number;
  readonly seed: number;
}

/** Rows `slots` of h_n [S, B, H] side by side: [B, len(slots) * H]; the gradient goes back to those rows. */
function selectStates(hN: Tensor, slots: readonly number[]): Tensor {
  const [, B, H] = hN.shape as [number, number, number];
  const parts = slots.map((slot) => {
    const part = new Tensor([B, H], hN.data.slice(slot * B * H, (slot + 1) * B * H));
    Tape.current()?.record('selectState', [hN], [part], async ([grad]) => {
      const full = Tensor.zeros(hN.shape);
      full.data.set(grad!.data, slot * B * H);
      return [full];
    });
    return part;
  });
  return parts.length === 1 ? parts[0]! : concatFeatures(parts);
}

export class SentimentModel extends Module {
  readonly config: SentimentConfig;
  readonly embedding: Embedding;
  readonly encoder: RecurrentLayer;
  readonly dropout: Dropout;
  readonly head: Linear;

  constructor(config: SentimentConfig) {
    super();
    this.config = config;
    const { seed } = config;
    this.embedding = this.registerModule('embedding', new Embedding({ numEmbeddings: config.vocabularySize, embeddingDim: config.embedding, paddingIdx: 0, seed }));
    const options = {
      inputSize: config.embedding, hiddenSize: config.hidden, numLayers: config.layers, bidirectional: config.bidirectional,
      dropout: config.layers > 1 ? config.dropout : 0, recurrentDropout: config.recurrentDropout ?? 0, seed: seed + 1,
    };
    this.encoder = this.registerModule('encoder', config.cell === 'lstm' ? new LSTM(options) : config.cell === 'gru' ? new GRU(options) : new RNN(options));
    this.dropout = this.registerModule('dropout', new Dropout(config.dropout, seed + 2));
    const directions = config.bidirectional ? 2 : 1;
    this.head = this.registerModule('head', new Linear({ inFeatures: directions * config.hidden, outFeatures: config.classes, seed: seed + 3 }));
  }

  /** tokens [T, B] (time-major, padded with 0), lengths [B] -> logits [B, C]. */
  async forward(tokens: Tensor, lengths: readonly number[]): Promise<Tensor> {
    if (tokens.rank !== 2 || tokens.shape[1] !== lengths.length) {
      throw new ShapeError(`SentimentModel: tokens must be [T, B] with B = ${lengths.length} lengths, got ${formatShape(tokens.shape)}`);
    }
    const embedded = await this.embedding.forward(tokens);
    const { output, hN } = await this.encoder.forward(embedded, { lengths });
    const directions = this.config.bidirectional ? 2 : 1;
    const last = (this.config.layers - 1) * directions;
    const pooled = this.config.pooling === 'last'
      ? selectStates(hN, Array.from({ length: directions }, (_, d) => last + d))
      : poolSequence(output, lengths, this.config.pooling);
    // Off a tape nothing reads the encoder's output again: its buffer serves the next batch.
    if (!Tape.current()) output.dispose();
    return this.head.forward(await this.dropout.forward(pooled));
  }
}

/**
 * The classifier as an ONNX model (eval mode), for onnxruntime-web in a browser or any ONNX
 * runtime: inputs `tokens` (int64 [batch, steps], the vocabulary's ids padded with 0, batch-major
 * as a runtime's user holds them) and `lengths` (int32 [batch]); outputs `logits` and
 * `probabilities` ([batch, classes], softmax). Tokenising stays outside the graph, with the model
 * folder's tokenizer settings and vocabulary.json.
 */
export function sentimentToOnnx(model: SentimentModel, docString = ''): Uint8Array {
  const { config } = model;
  const D = config.bidirectional ? 2 : 1;
  const graph = new OnnxGraph('sentiment');
  const tokens = graph.input('tokens', ['batch', 'steps'], 'int64');
  const lengths = graph.input('lengths', ['batch'], 'int32');
  const [timeMajor] = graph.node('Transpose', [tokens], 1, { perm: [1, 0] });
  const { output, hN } = graph.recurrent(model.encoder, graph.embedding(model.embedding, timeMajor!), { lengths });
  let pooled: string;
  if (config.pooling === 'last') {
    pooled = graph.statesSideBySide(hN, (config.layers - 1) * D, D); // h_n's last layer, its directions side by side
  } else {
    pooled = graph.poolSequence(output, lengths, config.pooling);
  }
  const logits = graph.linear(model.head, pooled);
  graph.output(logits, 'logits', ['batch', config.classes]);
  graph.output(graph.node('Softmax', [logits], 1, { axis: -1 })[0]!, 'probabilities', ['batch', config.classes]);
  return graph.toBytes({ docString });
}
