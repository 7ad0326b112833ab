/**
 * The encoder-decoder with attention (time-major tensors, as the recurrent layers take them):
 *
 *   source [S, B] -> Embedding -> Dropout -> bidirectional LSTM/GRU (L layers) -> memory [B, S, 2H]
 *   bridge: the last encoder layer's final forward and backward states [B, 2H] ->
 *           h0 = tanh(bridge(.)) (and c0 = bridgeCell(.) for the LSTM), the same for each decoder layer
 *   decoder step t: input = Embedding(y_{t-1}) -> Dropout
 *                   (+ context c_t for 'additive' attention, which queries with the previous state;
 *                    + the previous attentional state for input feeding)
 *                   -> LSTM/GRU (Ld layers) -> h_t
 *           Luong ('dot', 'general'): c_t = attention(h_t); combined = tanh(combine([c_t; h_t]))
 *           Bahdanau ('additive'):    combined = tanh(combine([c_t; h_t]))
 *           'none':                   combined = h_t
 *   logits_t = output(Dropout(combined))
 *
 * Teacher forcing with a ratio of 1, Luong attention and no input feeding let the decoder run the
 * whole target sequence as one fused recurrent pass and attend all steps at once (`forward`'s fast
 * path); every other setting, and all decoding, runs step by step through the same parameters,
 * so both paths give the same numbers (tested). Under full teacher forcing the output layer runs
 * once over all steps either way.
 */
import {
  Attention, Dropout, Embedding, formatShape, functional, GRU, Linear, LSTM, Module, ShapeError, Tape, Tensor, type AttentionScore, type RecurrentLayer,
} from '@recurrent/core';

export const BOS = '<bos>';
export const EOS = '<eos>';
/** Target vocabulary indices of the specials (after <pad> 0 and <unk> 1). */
export const BOS_INDEX = 2;
export const EOS_INDEX = 3;

export type AttentionKind = AttentionScore | 'none';
export const ATTENTION_KINDS: readonly AttentionKind[] = ['general', 'dot', 'additive', 'none'];

export interface TranslateConfig {
  readonly sourceVocabularySize: number;
  readonly targetVocabularySize: number;
  readonly embedding: number;
  /** Encoder units per direction. */
  readonly hidden: number;
  readonly layers: number;
  readonly decoderHidden: number;
  readonly decoderLayers: number;
  readonly cell: 'lstm' | 'gru';
  readonly attention: AttentionKind;
  readonly inputFeeding: boolean;
  readonly dropout: number;
  readonly seed: number;
  /**
   * The decoder writes the target last token first (right to left); decoding turns its outputs
   * back. Such a model rescores a left-to-right model's candidates from the other end.
   */
  readonly reverseTarget?: boolean;
}

/** The encoder's result: what every decoding step reads. */
export interface Encoded {
  /** [B, S, 2H] */
  readonly memory: Tensor;
  /** attention.keys(memory), or undefined without attention. */
  readonly keys: Tensor | undefined;
  readonly lengths: readonly number[];
}

/** The decoder's state between steps. */
export interface DecoderState {
  /** [Ld, B, Hd] */
  readonly h: Tensor;
  /** [Ld, B, Hd], LSTM only. */
  readonly c: Tensor | undefined;
  /** [B, Hd]: the previous attentional state, for input feeding. */
  readonly feed: Tensor | undefined;
}

export interface StepOutput {
  /** [B, V] */
  readonly logits: Tensor;
  readonly state: DecoderState;
  /** [B, S] attention weights, or undefined without attention. */
  readonly weights: Tensor | undefined;
}

export class TranslateModel extends Module {
  readonly config: TranslateConfig;
  readonly sourceEmbedding: Embedding;
  readonly encoder: RecurrentLayer;
  readonly bridge: Linear;
  readonly bridgeCell: Linear | undefined;
  readonly targetEmbedding: Embedding;
  readonly decoder: RecurrentLayer;
  readonly attention: Attention | undefined;
  readonly combine: Linear | undefined;
  readonly dropout: Dropout;
  readonly output: Linear;
  /** Draws scheduled sampling's choices; its state travels with checkpoints (exact resume). */
  private readonly sampling: () => number;

  constructor(config: TranslateConfig) {
    super();
    this.config = config;
    const { seed, embedding: E, hidden: H, decoderHidden: Hd } = config;
    const Recurrent = config.cell === 'lstm' ? LSTM : GRU;
    this.sourceEmbedding = this.registerModule('sourceEmbedding', new Embedding({ numEmbeddings: config.sourceVocabularySize, embeddingDim: E, paddingIdx: 0, seed }));
    this.encoder = this.registerModule('encoder', new Recurrent({
      inputSize: E, hiddenSize: H, numLayers: config.layers, bidirectional: true, dropout: config.layers > 1 ? config.dropout : 0, seed: seed + 1,
    }));
    this.bridge = this.registerModule('bridge', new Linear({ inFeatures: 2 * H, outFeatures: Hd, seed: seed + 2 }));
    this.bridgeCell = config.cell === 'lstm' ? this.registerModule('bridgeCell', new Linear({ inFeatures: 2 * H, outFeatures: Hd, seed: seed + 3 })) : undefined;
    this.targetEmbedding = this.registerModule('targetEmbedding', new Embedding({ numEmbeddings: config.targetVocabularySize, embeddingDim: E, paddingIdx: 0, seed: seed + 4 }));
    const extraInput = config.attention === 'additive' ? 2 * H : config.inputFeeding ? Hd : 0;
    this.decoder = this.registerModule('decoder', new Recurrent({
      inputSize: E + extraInput, hiddenSize: Hd, numLayers: config.decoderLayers, dropout: config.decoderLayers > 1 ? config.dropout : 0, seed: seed + 5,
    }));
    if (config.attention === 'none') {
      this.attention = undefined;
      this.combine = undefined;
    } else {
      this.attention = this.registerModule('attention', new Attention({ queryFeatures: Hd, memoryFeatures: 2 * H, score: config.attention, seed: seed + 6 }));
      this.combine = this.registerModule('combine', new Linear({ inFeatures: 2 * H + Hd, outFeatures: Hd, bias: false, seed: seed + 7 }));
    }
    this.dropout = this.registerModule('dropout', new Dropout(config.dropout, seed + 8));
    this.output = this.registerModule('output', new Linear({ inFeatures: Hd, outFeatures: config.targetVocabularySize, seed: seed + 9 }));
    this.sampling = this.registerRandom('sampling', seed + 10);
  }

  /** Whether teacher-forced training can run the decoder over all steps at once. */
  get parallelDecoding(): boolean {
    return !this.config.inputFeeding && this.config.attention !== 'additive';
  }

  /** source [S, B] (0-padded), lengths [B] -> the memory and the decoder's first state. */
  async encode(source: Tensor, lengths: readonly number[]): Promise<{ encoded: Encoded; state: DecoderState }> {
    if (source.rank !== 2 || source.shape[1] !== lengths.length) {
      throw new ShapeError(`TranslateModel: source must be [S, B] with B = ${lengths.length} lengths, got ${formatShape(source.shape)}`);
    }
    const B = lengths.length;
    const { layers, decoderLayers, decoderHidden: Hd } = this.config;
    const embedded = await this.dropout.forward(await this.sourceEmbedding.forward(source));
    const { output, hN, cN } = await this.encoder.forward(embedded, { lengths });
    const last = (states: Tensor) => functional.concat([functional.select(states, 2 * (layers - 1)), functional.select(states, 2 * layers - 1)]);
    const h = functional.tanh(await this.bridge.forward(last(hN)));
    const c = this.bridgeCell && cN ? await this.bridgeCell.forward(last(cN)) : undefined;
    const repeat = (t: Tensor) => functional.stack(Array.from({ length: decoderLayers }, () => t));
    const memory = functional.transposeLeading(output);
    // A copy: off a tape (decoding) the encoder's pooled output goes back for the next batch.
    if (!Tape.current()) output.dispose();
    const keys = this.attention ? await this.attention.keys(memory) : undefined;
    const feed = this.config.inputFeeding ? Tensor.zeros([B, Hd]) : undefined;
    return { encoded: { memory, keys, lengths }, state: { h: repeat(h), c: c ? repeat(c) : undefined, feed } };
  }

  /** One decoding step: tokens [B] (the previous outputs) -> logits [B, V] and the next state. */
  async step(encoded: Encoded, state: DecoderState, tokens: readonly number[]): Promise<StepOutput> {
    const { features, state: next, weights } = await this.stepFeatures(encoded, state, tokens);
    return { logits: await this.output.forward(features), state: next, weights };
  }

  /** `step` up to what the output layer reads: Dropout(combined) [B, Hd]. */
  private async stepFeatures(encoded: Encoded, state: DecoderState, tokens: readonly number[]): Promise<{ features: Tensor; state: DecoderState; weights: Tensor | undefined }> {
    const B = tokens.length;
    const Hd = this.config.decoderHidden;
    let input = await this.dropout.forward(await this.targetEmbedding.forward(Tensor.from([1, B], tokens)));
    let context: Tensor | undefined;
    let weights: Tensor | undefined;
    if (this.config.attention === 'additive') {
      // Bahdanau: the previous state (top layer) chooses what to read before the step.
      const query = functional.select(state.h, this.config.decoderLayers - 1).reshape([B, 1, Hd]);
      const read = await this.attention!.forward(query, encoded.keys!, encoded.memory, encoded.lengths);
      ({ context, weights } = read);
      input = functional.concat([input, read.context.reshape([1, B, read.context.shape[2]!])]);
    } else if (state.feed) {
      input = functional.concat([input, state.feed.reshape([1, B, Hd])]);
    }
    const { output, hN, cN } = await this.decoder.forward(input, { h0: state.h, ...(state.c ? { c0: state.c } : {}) });
    const query = output.reshape([B, 1, Hd]);
    let combined = query;
    if (this.attention) {
      if (!context) ({ context, weights } = await this.attention.forward(query, encoded.keys!, encoded.memory, encoded.lengths));
      combined = functional.tanh(await this.combine!.forward(functional.concat([context, query])));
    }
    const flat = combined.reshape([B, Hd]);
    return {
      features: await this.dropout.forward(flat),
      state: { h: hN, c: cN, feed: this.config.inputFeeding ? flat : undefined },
      weights: weights?.reshape([B, weights.shape[2]!]),
    };
  }

  /**
   * What the output layer reads under full teacher forcing: [T B, Hd] (step-major, after dropout),
   * with `parallelDecoding` from one decoder pass over the whole target sequence, otherwise step
   * by step. `forward` applies the output layer to it once; training passes it with the output
   * layer to `linearCrossEntropy` (one product over all steps instead of one a step).
   */
  async outputFeatures(source: Tensor, sourceLengths: readonly number[], targetIn: Tensor, targetLengths: readonly number[]): Promise<Tensor> {
    const { encoded, state } = await this.encode(source, sourceLengths);
    return this.outputFeaturesEncoded(encoded, state, targetIn, targetLengths);
  }

  /** `outputFeatures` from an encoding (`encode`'s, or rows of it: one per target). */
  async outputFeaturesEncoded(encoded: Encoded, state: DecoderState, targetIn: Tensor, targetLengths: readonly number[]): Promise<Tensor> {
    const [T, B] = targetIn.shape as [number, number];
    checkTargets(targetIn, encoded.lengths, targetLengths);
    if (!this.parallelDecoding) {
      // The dropout draws come in the order `step` makes them, so both paths give the same numbers.
      const features: Tensor[] = [];
      let current = state;
      for (let t = 0; t < T; t++) {
        const out = await this.stepFeatures(encoded, current, Array.from(targetIn.data.subarray(t * B, (t + 1) * B)));
        features.push(out.features);
        current = out.state;
      }
      return functional.stack(features).reshape([T * B, this.config.decoderHidden]);
    }
    const embedded = await this.dropout.forward(await this.targetEmbedding.forward(targetIn));
    const { output } = await this.decoder.forward(embedded, { h0: state.h, ...(state.c ? { c0: state.c } : {}), lengths: targetLengths });
    let combined = output;
    if (this.attention) {
      const query = functional.transposeLeading(output); // [B, T, Hd]
      const { context } = await this.attention.forward(query, encoded.keys!, encoded.memory, encoded.lengths);
      combined = functional.transposeLeading(functional.tanh(await this.combine!.forward(functional.concat([context, query]))));
    }
    return this.dropout.forward(combined.reshape([T * B, this.config.decoderHidden]));
  }

  /**
   * Teacher-forced logits [T, B, V] for targetIn [T, B] (<bos> y_1 .. y_{T-1}, 0-padded);
   * targetLengths [B] are the valid steps. `teacherForcing` < 1 feeds the model's own previous
   * prediction instead of the reference with probability 1 - ratio (scheduled sampling,
   * Bengio et al. 2015), drawn from `random` (default: the model's own seeded generator).
   */
  async forward(source: Tensor, sourceLengths: readonly number[], targetIn: Tensor, targetLengths: readonly number[], options: { teacherForcing?: number; random?: () => number } = {}): Promise<Tensor> {
    const { encoded, state } = await this.encode(source, sourceLengths);
    return this.forwardEncoded(encoded, state, targetIn, targetLengths, options);
  }

  /** `forward` from an encoding (`encode`'s, or rows of it: one per target). */
  async forwardEncoded(encoded: Encoded, state: DecoderState, targetIn: Tensor, targetLengths: readonly number[], options: { teacherForcing?: number; random?: () => number } = {}): Promise<Tensor> {
    const ratio = options.teacherForcing ?? 1;
    const [T, B] = targetIn.shape as [number, number];
    checkTargets(targetIn, encoded.lengths, targetLengths);
    if (ratio >= 1) {
      const logits = await this.output.forward(await this.outputFeaturesEncoded(encoded, state, targetIn, targetLengths));
      return logits.reshape([T, B, this.config.targetVocabularySize]);
    }
    const random = options.random ?? this.sampling;
    const steps: Tensor[] = [];
    let current = state;
    let previous: Tensor | undefined;
    for (let t = 0; t < T; t++) {
      const tokens = Array.from({ length: B }, (_, b) => {
        const teacher = targetIn.data[t * B + b]!;
        if (t === 0 || ratio >= 1 || random() < ratio) return teacher;
        return argmaxRow(previous!, b);
      });
      const out = await this.step(encoded, current, tokens);
      steps.push(out.logits);
      previous = out.logits;
      current = out.state;
    }
    return functional.stack(steps);
  }
}

function checkTargets(targetIn: Tensor, sourceLengths: readonly number[], targetLengths: readonly number[]): void {
  const B = targetIn.shape[1];
  if (targetIn.rank !== 2 || B !== sourceLengths.length || targetLengths.length !== B) {
    throw new ShapeError(`TranslateModel: targetIn must be [T, B] with B = ${sourceLengths.length}, got ${formatShape(targetIn.shape)}`);
  }
}

/** The index of the largest value in row b of [B, V]. */
export function argmaxRow(logits: Tensor, b: number): number {
  const V = logits.shape[1]!;
  let best = 0;
  for (let v = 1; v < V; v++) if (logits.data[b * V + v]! > logits.data[b * V + best]!) best = v;
  return best;
}
