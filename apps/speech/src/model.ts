/**
 * The CTC acoustic model (time-major tensors, as the recurrent layers take them):
 *
 *   log-mel frames [T, B, melBins] -> stack `stack` neighbouring frames (stride `stack`: a shorter
 *   sequence, each step seeing stack x 10 ms) [T', B, stack x melBins] -> bidirectional LSTM/GRU
 *   (L layers, dropout between them) -> Dropout -> Linear -> log-softmax [T', B, labels + blank]
 *
 * trained with CTC (blank = 0). Frame stacking is the cheap alternative to a strided convolution
 * that speech models such as Sak et al. 2015 use: it cuts the recurrent steps by `stack` at no
 * parameter cost.
 */
import { Dropout, formatShape, functional, GRU, Linear, LSTM, Module, OnnxGraph, ShapeError, Tape, Tensor, type RecurrentLayer } from '@recurrent/core';

export interface SpeechConfig {
  readonly melBins: number;
  /** Frames stacked into one step (1: none). */
  readonly stack: number;
  /** Units per direction. */
  readonly hidden: number;
  readonly layers: number;
  readonly cell: 'lstm' | 'gru';
  readonly dropout: number;
  /** Output classes: the labels and the blank (index 0). */
  readonly outputs: number;
  readonly seed: number;
}

export class SpeechModel extends Module {
  readonly config: SpeechConfig;
  readonly encoder: RecurrentLayer;
  readonly dropout: Dropout;
  readonly output: Linear;

  constructor(config: SpeechConfig) {
    super();
    this.config = config;
    const Recurrent = config.cell === 'lstm' ? LSTM : GRU;
    this.encoder = this.registerModule('encoder', new Recurrent({
      inputSize: config.melBins * config.stack, hiddenSize: config.hidden, numLayers: config.layers, bidirectional: true,
      dropout: config.layers > 1 ? config.dropout : 0, seed: config.seed,
    }));
    this.dropout = this.registerModule('dropout', new Dropout(config.dropout, config.seed + 1));
    this.output = this.registerModule('output', new Linear({ inFeatures: 2 * config.hidden, outFeatures: config.outputs, seed: config.seed + 2 }));
  }

  /** Steps after stacking for an utterance of `frames` frames. */
  steps(frames: number): number {
    return Math.ceil(frames / this.config.stack);
  }

  /** input [T', B, stack x melBins] (from `batchInput`), lengths [B] in steps -> log-probabilities [T', B, outputs]. */
  async forward(input: Tensor, lengths: readonly number[]): Promise<Tensor> {
    const width = this.config.melBins * this.config.stack;
    if (input.rank !== 3 || input.shape[1] !== lengths.length || input.shape[2] !== width) {
      throw new ShapeError(`SpeechModel: input must be [T, ${lengths.length}, ${width}], got ${formatShape(input.shape)}`);
    }
    const [T, B] = input.shape as [number, number, number];
    const { output } = await this.encoder.forward(input, { lengths });
    const frames = output.reshape([T * B, 2 * this.config.hidden]);
    const logits = await this.output.forward(await this.dropout.forward(frames));
    // Off a tape nothing reads the encoder's output again: its buffer serves the next batch.
    if (!Tape.current()) {
      output.dispose();
      frames.dispose();
    }
    return functional.logSoftmax(logits).reshape([T, B, this.config.outputs]);
  }
}

/**
 * Time-major model input for utterances' features ([frames, melBins] each): `stack` frames side by
 * side per step (the last step zero-padded), sequences zero-padded to the longest, rounded up to a
 * multiple of `lengthMultiple`: each new [T, B] compiles new kernels, so fewer distinct T save
 * that time (the padding is masked by the lengths).
 */
export function batchInput(items: ReadonlyArray<{ features: Float32Array; frames: number }>, melBins: number, stack: number, lengthMultiple = 8): { input: Tensor; lengths: number[] } {
  const lengths = items.map((item) => Math.max(1, Math.ceil(item.frames / stack)));
  const T = Math.ceil(Math.max(...lengths) / lengthMultiple) * lengthMultiple;
  const B = items.length;
  const width = melBins * stack;
  const data = new Float32Array(T * B * width);
  items.forEach((item, b) => {
    for (let t = 0; t < lengths[b]!; t++) {
      const from = t * stack * melBins;
      const to = Math.min((t + 1) * stack, item.frames) * melBins;
      data.set(item.features.subarray(from, to), (t * B + b) * width);
    }
  });
  return { input: new Tensor([T, B, width], data), lengths };
}

/**
 * The acoustic model as an ONNX model (eval mode), for onnxruntime-web in a browser or any ONNX
 * runtime: inputs `frames` (float32 [batch, frames, melBins], the normalised log-mel frames the
 * folder's feature settings give, zero-padded) and `lengths` (int32 [batch], frames); outputs
 * `log_probs` (float32 [batch, steps, outputs], blank = 0, then the labels) and `steps` (int32
 * [batch], each utterance's valid steps). The frame stacking runs in the graph (the frames padded
 * with zeros to a multiple of `stack`, as `batchInput` pads them); the features and the CTC
 * decoding stay outside.
 */
export function speechToOnnx(model: SpeechModel, docString = ''): Uint8Array {
  const { melBins, stack, outputs } = model.config;
  const graph = new OnnxGraph('speech');
  const frames = graph.input('frames', ['batch', 'frames', melBins]);
  const lengths = graph.input('lengths', ['batch'], 'int32');
  let stacked = frames;
  let steps = lengths;
  if (stack > 1) {
    // pad the frame axis to a multiple of stack: (stack - frames % stack) % stack zeros at its end
    const [shape] = graph.node('Shape', [frames]);
    const [count] = graph.node('Gather', [shape!, graph.int64s([1])], 1, { axis: 0 });
    const stackSize = graph.int64s([stack]);
    const [missing] = graph.node('Mod', [graph.node('Sub', [stackSize, graph.node('Mod', [count!, stackSize])[0]!])[0]!, stackSize]);
    const [pads] = graph.node('Concat', [graph.int64s([0, 0, 0, 0]), missing!, graph.int64s([0])], 1, { axis: 0 });
    const [padded] = graph.node('Pad', [frames, pads!]);
    stacked = graph.node('Reshape', [padded!, graph.int64s([0, -1, stack * melBins])])[0]!;
    // steps = ceil(lengths / stack)
    const stackInt = graph.constant('stack_int32', [1], Int32Array.of(stack));
    steps = graph.node('Div', [graph.node('Add', [lengths, graph.constant('stack_less_one', [1], Int32Array.of(stack - 1))])[0]!, stackInt])[0]!;
  }
  const [timeMajor] = graph.node('Transpose', [stacked], 1, { perm: [1, 0, 2] });
  const { output } = graph.recurrent(model.encoder, timeMajor!, { lengths: steps });
  const [batchMajor] = graph.node('Transpose', [graph.linear(model.output, output)], 1, { perm: [1, 0, 2] });
  graph.output(graph.node('LogSoftmax', [batchMajor!], 1, { axis: -1 })[0]!, 'log_probs', ['batch', 'steps', outputs]);
  graph.output(steps, 'steps', ['batch'], 'int32');
  return graph.toBytes({ docString });
}
