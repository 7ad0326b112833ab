/**
 * Attention over a memory of encoder outputs (batch-major throughout):
 *
 *   'dot'      score(q, m) = q . m                       (Luong et al. 2015; needs Hq = Hm)
 *   'general'  score(q, m) = q . (W_k m)                 (Luong; W_k: Linear(Hm -> Hq, no bias))
 *   'additive' score(q, m) = v . tanh(W_q q + W_k m)     (Bahdanau et al. 2015; W_q: Linear(Hq -> A),
 *                                                          W_k: Linear(Hm -> A, no bias), v [A])
 *   weights = softmax over the memory's valid steps (padded steps get weight 0)
 *   context = sum_s weights[s] * memory[s]
 *
 * Shapes: query [B, Q, Hq] (Q query steps at once: all decoder steps under teacher forcing, or
 * 1 when decoding step by step), memory [B, S, Hm], lengths [B] (valid memory steps, 1..S);
 * context [B, Q, Hm], weights [B, Q, S]. `keys(memory)` is computed once per source batch and
 * reused at every decoding step. Parameters: key.weight, query.weight, query.bias, v (the
 * projections present for the chosen score only).
 *
 * The scores, softmax and context run on the host: for the sizes attention has here (a few dozen
 * steps) a kernel launch per decoding step, and a compiled kernel per (B, Q, S) shape, cost more
 * than the arithmetic. Their sums over rows are host-loops.ts's (WebAssembly SIMD where the width
 * allows). The projections are Linear layers on the backend.
 */
import { pairDots, transposedWeightedSums, weightedSums } from '../host-loops.js';
import { mulberry32 } from '../random.js';
import { formatShape, ShapeError, Tensor } from '../tensor.js';
import { uniform_ } from './init.js';
import { Linear } from './layers.js';
import { checkOption, isPositiveInteger, Module } from './module.js';
import { Parameter, Tape } from './tape.js';

export type AttentionScore = 'dot' | 'general' | 'additive';
export const ATTENTION_SCORES: readonly AttentionScore[] = ['dot', 'general', 'additive'];

export interface AttentionOptions {
  /** Hq: features of each query (the decoder state). Required. */
  readonly queryFeatures: number;
  /** Hm: features of each memory step (the encoder output). Required. */
  readonly memoryFeatures: number;
  /** The score function. Default 'general'. */
  readonly score?: AttentionScore;
  /** A: width of the additive score's hidden layer. Default Hq. */
  readonly attentionFeatures?: number;
  readonly seed?: number;
}

export interface AttentionOutput {
  /** [B, Q, Hm] */
  readonly context: Tensor;
  /** [B, Q, S]: each row sums to 1 over the valid memory steps. */
  readonly weights: Tensor;
}

function checkLengths(lengths: readonly number[], B: number, S: number): void {
  if (lengths.length !== B) throw new ShapeError(`Attention: lengths must have one entry per sequence (${B}), got ${lengths.length}`);
  lengths.forEach((length, b) => {
    if (!Number.isInteger(length) || length < 1 || length > S) throw new ShapeError(`Attention: lengths[${b}] = ${length} must be an integer in 1..${S}`);
  });
}

/** scores[b, q, s] = query[b, q] . keys[b, s] over the first lengths[b] steps (the rest unused). */
function dotScores(query: Tensor, keys: Tensor, lengths: readonly number[]): Tensor {
  const [B, Q, H] = query.shape as [number, number, number];
  const S = keys.shape[1]!;
  const q = query.data;
  const k = keys.data;
  const out = new Tensor([B, Q, S], pairDots(q, k, B, Q, S, H, lengths));
  Tape.current()?.record('attention.dotScores', [query, keys], [out], async ([grad]) => {
    const g = grad!.data;
    // dq[b, i] = sum_s g[b, i, s] k[b, s]; dk[b, s] = sum_i g[b, i, s] q[b, i]
    const dq = new Tensor(query.shape, weightedSums(g, k, B, Q, S, H, lengths));
    const dk = new Tensor(keys.shape, transposedWeightedSums(g, q, B, Q, S, H, lengths));
    return [dq, dk];
  });
  return out;
}

/** scores[b, q, s] = v . tanh(queryProjected[b, q] + keys[b, s]) over the valid steps. */
function additiveScores(queryProjected: Tensor, keys: Tensor, v: Parameter, lengths: readonly number[]): Tensor {
  const [B, Q, A] = queryProjected.shape as [number, number, number];
  const S = keys.shape[1]!;
  const out = Tensor.zeros([B, Q, S]);
  // The tanh values, kept for the backward pass: [B, Q, S, A].
  const hidden = new Float32Array(B * Q * S * A);
  const q = queryProjected.data;
  const k = keys.data;
  const w = v.value.data;
  for (let b = 0; b < B; b++)
    for (let i = 0; i < Q; i++)
      for (let s = 0; s < lengths[b]!; s++) {
        const qBase = (b * Q + i) * A;
        const kBase = (b * S + s) * A;
        const hBase = ((b * Q + i) * S + s) * A;
        let sum = 0;
        for (let a = 0; a < A; a++) {
          const t = Math.tanh(q[qBase + a]! + k[kBase + a]!);
          hidden[hBase + a] = t;
          sum += w[a]! * t;
        }
        out.data[(b * Q + i) * S + s] = sum;
      }
  Tape.current()?.record('attention.additiveScores', [queryProjected, keys, v], [out], async ([grad]) => {
    const dq = Tensor.zeros(queryProjected.shape);
    const dk = Tensor.zeros(keys.shape);
    const dv = Tensor.zeros(v.shape);
    for (let b = 0; b < B; b++)
      for (let i = 0; i < Q; i++)
        for (let s = 0; s < lengths[b]!; s++) {
          const gs = grad!.data[(b * Q + i) * S + s]!;
          if (gs === 0) continue;
          const qBase = (b * Q + i) * A;
          const kBase = (b * S + s) * A;
          const hBase = ((b * Q + i) * S + s) * A;
          for (let a = 0; a < A; a++) {
            const t = hidden[hBase + a]!;
            dv.data[a]! += gs * t;
            const dPre = gs * w[a]! * (1 - t * t);
            dq.data[qBase + a]! += dPre;
            dk.data[kBase + a]! += dPre;
          }
        }
    return [dq, dk, dv];
  });
  return out;
}

/** Softmax of scores over each row's valid steps, then the weighted sum of memory. */
function attend(scores: Tensor, memory: Tensor, lengths: readonly number[]): AttentionOutput {
  const [B, Q, S] = scores.shape as [number, number, number];
  const H = memory.shape[2]!;
  const weights = Tensor.zeros([B, Q, S]);
  // The arrays in locals: these loops run on the main thread while the workers wait, and
  // reading each tensor's data inside the innermost loop made them several times slower.
  const m = memory.data;
  const scoreData = scores.data;
  const weightData = weights.data;
  for (let b = 0; b < B; b++)
    for (let i = 0; i < Q; i++) {
      const row = (b * Q + i) * S;
      const length = lengths[b]!;
      let max = -Infinity;
      for (let s = 0; s < length; s++) max = Math.max(max, scoreData[row + s]!);
      let total = 0;
      for (let s = 0; s < length; s++) total += Math.exp(scoreData[row + s]! - max);
      for (let s = 0; s < length; s++) weightData[row + s] = Math.exp(scoreData[row + s]! - max) / total;
    }
  const context = new Tensor([B, Q, H], weightedSums(weightData, m, B, Q, S, H, lengths));
  Tape.current()?.record('attention.attend', [scores, memory], [context, weights], async ([dContext, dWeights]) => {
    const dScores = Tensor.zeros(scores.shape);
    const dScoreData = dScores.data;
    const dContextData = dContext?.data;
    const dWeightData = dWeights?.data;
    // dL/dp_s = dContext . m_s + dWeights_s; then softmax's Jacobian: ds = p (dp - sum p dp).
    const contextDots = dContextData ? pairDots(dContextData, m, B, Q, S, H, lengths) : undefined;
    const dp = new Float64Array(S);
    for (let b = 0; b < B; b++)
      for (let i = 0; i < Q; i++) {
        const row = (b * Q + i) * S;
        let sum = 0;
        for (let s = 0; s < lengths[b]!; s++) {
          const g = (dWeightData ? dWeightData[row + s]! : 0) + (contextDots ? contextDots[row + s]! : 0);
          dp[s] = g;
          sum += weightData[row + s]! * g;
        }
        for (let s = 0; s < lengths[b]!; s++) dScoreData[row + s] = weightData[row + s]! * (dp[s]! - sum);
      }
    // dMemory[b, s] = sum_i p[b, i, s] dContext[b, i]
    const dMemory = dContextData ? new Tensor(memory.shape, transposedWeightedSums(weightData, dContextData, B, Q, S, H, lengths)) : Tensor.zeros(memory.shape);
    return [dScores, dMemory];
  });
  return { context, weights };
}

export class Attention extends Module {
  readonly score: AttentionScore;
  readonly queryFeatures: number;
  readonly memoryFeatures: number;
  readonly key: Linear | undefined;
  readonly query: Linear | undefined;
  readonly v: Parameter | undefined;

  constructor(options: AttentionOptions) {
    super();
    checkOption('Attention', 'queryFeatures', options.queryFeatures, isPositiveInteger(options.queryFeatures), 'a positive integer');
    checkOption('Attention', 'memoryFeatures', options.memoryFeatures, isPositiveInteger(options.memoryFeatures), 'a positive integer');
    const score = options.score ?? 'general';
    checkOption('Attention', 'score', score, ATTENTION_SCORES.includes(score), "'dot', 'general' or 'additive'");
    if (score === 'dot' && options.queryFeatures !== options.memoryFeatures) {
      throw new Error(`Attention: the 'dot' score needs queryFeatures = memoryFeatures, got ${options.queryFeatures} and ${options.memoryFeatures}; use 'general'`);
    }
    const attentionFeatures = options.attentionFeatures ?? options.queryFeatures;
    checkOption('Attention', 'attentionFeatures', attentionFeatures, isPositiveInteger(attentionFeatures), 'a positive integer');
    this.score = score;
    this.queryFeatures = options.queryFeatures;
    this.memoryFeatures = options.memoryFeatures;
    const seed = options.seed ?? 0;
    const keyFeatures = score === 'additive' ? attentionFeatures : options.queryFeatures;
    this.key = score === 'dot' ? undefined : this.registerModule('key', new Linear({ inFeatures: options.memoryFeatures, outFeatures: keyFeatures, bias: false, seed }));
    if (score === 'additive') {
      this.query = this.registerModule('query', new Linear({ inFeatures: options.queryFeatures, outFeatures: attentionFeatures, seed: seed + 1 }));
      this.v = this.registerParameter('v', uniform_(Tensor.zeros([attentionFeatures]), 1 / Math.sqrt(attentionFeatures), mulberry32(seed + 2)));
    } else {
      this.query = undefined;
      this.v = undefined;
    }
  }

  /** The keys of memory [B, S, Hm]: computed once per source batch, passed to every forward. */
  async keys(memory: Tensor): Promise<Tensor> {
    if (memory.rank !== 3 || memory.shape[2] !== this.memoryFeatures) {
      throw new ShapeError(`Attention: memory must have shape [B, S, ${this.memoryFeatures}], got ${formatShape(memory.shape)}`);
    }
    return this.key ? this.key.forward(memory) : memory;
  }

  /** query [B, Q, Hq] against memory [B, S, Hm] (valid steps: lengths) and its keys. */
  async forward(query: Tensor, keys: Tensor, memory: Tensor, lengths: readonly number[]): Promise<AttentionOutput> {
    if (query.rank !== 3 || query.shape[2] !== this.queryFeatures) {
      throw new ShapeError(`Attention: query must have shape [B, Q, ${this.queryFeatures}], got ${formatShape(query.shape)}`);
    }
    const [B] = query.shape as [number];
    if (memory.rank !== 3 || memory.shape[0] !== B || memory.shape[2] !== this.memoryFeatures) {
      throw new ShapeError(`Attention: memory must have shape [${B}, S, ${this.memoryFeatures}], got ${formatShape(memory.shape)}`);
    }
    const S = memory.shape[1]!;
    if (keys.rank !== 3 || keys.shape[0] !== B || keys.shape[1] !== S) throw new ShapeError(`Attention: keys must have shape [${B}, ${S}, K] (from keys(memory)), got ${formatShape(keys.shape)}`);
    checkLengths(lengths, B, S);
    const scores = this.score === 'additive'
      ? additiveScores(await this.query!.forward(query), keys, this.v!, lengths)
      : dotScores(query, keys, lengths);
    return attend(scores, memory, lengths);
  }
}
