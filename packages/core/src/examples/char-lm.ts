/**
 * A character-level language model in the manner of d2l.ai's `predict_ch8`: learn to predict the
 * next character of a text, then continue a prefix one character at a time.
 *
 *   tokens [T, B] -> Embedding -> [T, B, E] -> LSTM -> [T, B, H] -> Linear -> logits [T, B, V]
 *
 * Trained on random windows of the text with Adam, gradient clipping and cross-entropy over
 * every step. The text is reduced as d2l reduces it: lower case letters and single spaces.
 */
import type { Backend } from '../backend/backend.js';
import { Embedding, Linear } from '../nn/layers.js';
import { crossEntropy } from '../nn/losses.js';
import { Module } from '../nn/module.js';
import { LSTM } from '../nn/recurrent.js';
import { Tape } from '../nn/tape.js';
import { Adam } from '../optim/optimizers.js';
import { mulberry32 } from '../random.js';
import { Tensor } from '../tensor.js';
import { optimiserStep } from './step.js';

/** Lower case, every run of non-letters one space (d2l's `read_time_machine`). */
export function normaliseText(text: string): string {
  return text.toLowerCase().replace(/[^a-z]+/g, ' ').trim();
}

export class CharVocabulary {
  readonly chars: string[];
  private readonly index: Map<string, number>;

  constructor(text: string) {
    this.chars = [...new Set(text)].sort();
    this.index = new Map(this.chars.map((c, i) => [c, i]));
  }

  get size(): number {
    return this.chars.length;
  }

  encode(text: string): number[] {
    return [...text].map((c) => {
      const i = this.index.get(c);
      if (i === undefined) throw new Error(`character ${JSON.stringify(c)} is not in the vocabulary (${this.chars.join('')})`);
      return i;
    });
  }

  decode(indices: readonly number[]): string {
    return indices.map((i) => this.chars[i]).join('');
  }
}

export class CharLanguageModel extends Module {
  readonly embedding: Embedding;
  readonly lstm: LSTM;
  readonly head: Linear;

  constructor(vocabularySize: number, options: { embedding?: number; hidden?: number; layers?: number; seed?: number } = {}) {
    super();
    const embedding = options.embedding ?? 32;
    const hidden = options.hidden ?? 128;
    const seed = options.seed ?? 0;
    this.embedding = this.registerModule('embedding', new Embedding({ numEmbeddings: vocabularySize, embeddingDim: embedding, seed }));
    this.lstm = this.registerModule('lstm', new LSTM({ inputSize: embedding, hiddenSize: hidden, numLayers: options.layers ?? 1, seed: seed + 1 }));
    this.head = this.registerModule('head', new Linear({ inFeatures: hidden, outFeatures: vocabularySize, seed: seed + 2 }));
  }

  /** tokens [T, B] -> logits [T, B, V] and the final LSTM states. */
  async forward(tokens: Tensor, state?: { h0: Tensor; c0: Tensor }) {
    const { output, hN, cN } = await this.lstm.forward(await this.embedding.forward(tokens), state);
    return { logits: await this.head.forward(output), state: { h0: hN, c0: cN! } };
  }
}

export interface CharTrainingOptions {
  readonly backend: Backend;
  readonly text?: string;
  readonly steps?: number;
  readonly batchSize?: number;
  readonly seqLength?: number;
  readonly hidden?: number;
  readonly lr?: number;
  readonly seed?: number;
  readonly onStep?: (step: number, loss: number) => void;
}

export interface CharTrainingResult {
  readonly model: CharLanguageModel;
  readonly vocabulary: CharVocabulary;
  /** Mean cross-entropy (nats per character) of each step. */
  readonly losses: number[];
}

export async function trainCharLanguageModel(options: CharTrainingOptions): Promise<CharTrainingResult> {
  const text = normaliseText(options.text ?? (await import('./time-machine.js')).TIME_MACHINE_OPENING);
  const vocabulary = new CharVocabulary(text);
  const encoded = vocabulary.encode(text);
  const steps = options.steps ?? 300;
  const B = options.batchSize ?? 16;
  const T = options.seqLength ?? 32;
  if (encoded.length < T + 2) throw new Error(`the text has ${encoded.length} characters; it needs more than seqLength + 1 = ${T + 1}`);
  const seed = options.seed ?? 0;
  const model = new CharLanguageModel(vocabulary.size, { hidden: options.hidden ?? 128, seed }).to(options.backend);
  const optimizer = new Adam(model.parameters(), { lr: options.lr ?? 0.01 });
  const random = mulberry32(seed + 100);
  const losses: number[] = [];
  for (let step = 1; step <= steps; step++) {
    // B random windows: inputs text[s .. s+T), targets text[s+1 .. s+T], time-major.
    const inputs = Tensor.zeros([T, B]);
    const targets = Tensor.zeros([T, B]);
    for (let b = 0; b < B; b++) {
      const start = Math.floor(random() * (encoded.length - T - 1));
      for (let t = 0; t < T; t++) {
        inputs.data[t * B + b] = encoded[start + t]!;
        targets.data[t * B + b] = encoded[start + t + 1]!;
      }
    }
    const tape = new Tape();
    const loss = await tape.run(async () => {
      const { logits } = await model.forward(inputs);
      return crossEntropy(logits.reshape([T * B, vocabulary.size]), targets.reshape([T * B]), { backend: options.backend });
    });
    losses.push(await optimiserStep(tape, loss, model, optimizer));
    options.onStep?.(step, losses.at(-1)!);
  }
  return { model, vocabulary, losses };
}

/**
 * Continues `prefix` by `length` characters: the prefix warms the state up, then each step feeds
 * the last character back in. Temperature 0 takes the most likely character (d2l's greedy
 * `predict_ch8`); above 0 samples from softmax(logits / temperature) with a seeded generator.
 */
export async function continueText(
  model: CharLanguageModel, vocabulary: CharVocabulary, prefix: string, length: number, options: { temperature?: number; seed?: number } = {},
): Promise<string> {
  const temperature = options.temperature ?? 0;
  const random = mulberry32(options.seed ?? 0);
  const tokens = vocabulary.encode(normaliseText(prefix) || ' ');
  const { logits, state } = await model.forward(Tensor.from([tokens.length, 1], tokens));
  let last = logits.data.subarray((tokens.length - 1) * vocabulary.size);
  let carried = state;
  const produced: number[] = [];
  for (let i = 0; i < length; i++) {
    let next = 0;
    if (temperature === 0) {
      next = last.indexOf(Math.max(...last));
    } else {
      const scaled = [...last].map((v) => v / temperature);
      const max = Math.max(...scaled);
      const weights = scaled.map((v) => Math.exp(v - max));
      let pick = random() * weights.reduce((s, w) => s + w, 0);
      next = weights.findIndex((w) => (pick -= w) <= 0);
      if (next < 0) next = weights.length - 1;
    }
    produced.push(next);
    const step = await model.forward(Tensor.from([1, 1], [next]), carried);
    last = step.logits.data;
    carried = step.state;
  }
  return normaliseText(prefix) + vocabulary.decode(produced);
}
