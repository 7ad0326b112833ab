/**
 * Decoding a batch of sources with a trained model: greedy (the most likely token at each step)
 * and beam search (the K most likely partial outputs per source, ranked at the end by GNMT's
 * length penalty, Wu et al. 2016: score / ((5 + length) / 6)^alpha, length counting <eos>).
 * Both return the output indices (without <bos>/<eos>) and, per output token, the attention
 * weights over the source steps (for the heatmaps).
 *
 * Several models with the same vocabularies decode as an ensemble: each step's next-token
 * distribution is the mean of theirs (log of the mean probability, as fairseq's ensembles do), and
 * the attention shown is the mean of their weights.
 *
 * A right-to-left model (`reverseTarget`) decodes last token first; its outputs, candidates and
 * attention rows are turned back to reading order here, so callers never see the difference.
 */
import { Tensor } from '@recurrent/core';
import { BOS_INDEX, EOS_INDEX, type DecoderState, type Encoded, type TranslateModel } from './model.js';

export interface Candidate {
  readonly tokens: number[];
  /** weights[i][s]: attention on source step s when token i was emitted (empty without attention). */
  readonly attention: number[][];
  /** Sum of the log-probabilities of the tokens and <eos>. */
  readonly logProbability: number;
  /** After rescoring: each model's own log-probability of the candidate, the decoders' then the rescorers'. */
  readonly modelScores?: readonly number[];
}

export interface Decoded extends Candidate {
  /**
   * Beam search only: the finished outputs (at least the beam's width; where the step limit cut
   * the search short, fewer and the unfinished ones), best first by the length-normalised score;
   * the first is this output. What rescoring chooses from.
   */
  readonly candidates?: readonly Candidate[];
}

export interface DecodeOptions {
  /** 1: greedy. Default 1. */
  readonly beam?: number;
  /** alpha of the length penalty (0: none, raw log-probability). Default 0.6. */
  readonly lengthPenalty?: number;
  /** Most output tokens: maxRatio x source length + 10 (and at most maxTokens). Defaults 2 and 200. */
  readonly maxRatio?: number;
  readonly maxTokens?: number;
}

/** GNMT's length normalisation of a log-probability: score / ((5 + length) / 6)^alpha, length counting <eos>. */
export const lengthNormalised = (score: number, length: number, alpha: number) => score / ((5 + length) / 6) ** alpha;

/** Row-wise log-softmax of logits [N, V] on the host (decoding reads every value anyway). */
export function logSoftmaxRows(logits: Tensor): Float64Array {
  const [N, V] = logits.shape as [number, number];
  const out = new Float64Array(N * V);
  for (let n = 0; n < N; n++) {
    let max = -Infinity;
    for (let v = 0; v < V; v++) max = Math.max(max, logits.data[n * V + v]!);
    let total = 0;
    for (let v = 0; v < V; v++) total += Math.exp(logits.data[n * V + v]! - max);
    const shift = max + Math.log(total);
    for (let v = 0; v < V; v++) out[n * V + v] = logits.data[n * V + v]! - shift;
  }
  return out;
}

/** Per row, log of the mean of the members' probabilities: log sum_i exp(lp_i) - log N, stably. */
function meanLogProbabilities(members: readonly Float64Array[]): Float64Array {
  if (members.length === 1) return members[0]!;
  const out = new Float64Array(members[0]!.length);
  const shift = Math.log(members.length);
  for (let i = 0; i < out.length; i++) {
    let max = -Infinity;
    for (const lp of members) max = Math.max(max, lp[i]!);
    let total = 0;
    for (const lp of members) total += Math.exp(lp[i]! - max);
    out[i] = max + Math.log(total) - shift;
  }
  return out;
}

/** The index of the largest value in row `row` of [N, V] (the first of equals). */
function bestIndex(values: Float64Array, row: number, V: number): number {
  let best = 0;
  for (let v = 1; v < V; v++) if (values[row * V + v]! > values[row * V + best]!) best = v;
  return best;
}

/** One decoding step of every member: the mean next-token log-probabilities [N, V], mean attention [N, S]. */
async function stepMembers(models: readonly TranslateModel[], encoded: readonly Encoded[], states: readonly DecoderState[], previous: readonly number[]) {
  const outs = [];
  // one after another: the members share the backend's workers
  for (const [i, model] of models.entries()) outs.push(await model.step(encoded[i]!, states[i]!, previous));
  const withWeights = outs.flatMap((out) => (out.weights ? [out.weights.data] : []));
  let weights: Float32Array | undefined = withWeights[0];
  if (withWeights.length > 1) {
    const mean = new Float32Array(withWeights[0]!.length);
    for (const w of withWeights) for (let i = 0; i < w.length; i++) mean[i] = mean[i]! + w[i]! / withWeights.length;
    weights = mean;
  }
  return {
    logProbs: meanLogProbabilities(outs.map((out) => logSoftmaxRows(out.logits))),
    V: outs[0]!.logits.shape[1]!,
    weights,
    states: outs.map((out) => out.state),
  };
}

/** Rows `rows` of a tensor's axis `axis` (0 or 1): reorders or repeats beams. */
function gatherRows(t: Tensor, rows: readonly number[], axis: 0 | 1): Tensor {
  const shape = [...t.shape];
  const outer = axis === 0 ? 1 : shape[0]!;
  const count = shape[axis]!;
  const inner = t.size / (outer * count);
  shape[axis] = rows.length;
  const out = Tensor.zeros(shape);
  for (let o = 0; o < outer; o++)
    rows.forEach((row, i) => out.data.set(t.data.subarray((o * count + row) * inner, (o * count + row + 1) * inner), (o * rows.length + i) * inner));
  return out;
}

/** Rows `rows` of a decoder state (its batch reordered or repeated), as `gatherEncoding` for the encoding. */
export function gatherState(state: DecoderState, rows: readonly number[]): DecoderState {
  return {
    h: gatherRows(state.h, rows, 1),
    c: state.c ? gatherRows(state.c, rows, 1) : undefined,
    feed: state.feed ? gatherRows(state.feed, rows, 0) : undefined,
  };
}

/** Rows `rows` of an encoding (its batch reordered or repeated): row i reads source rows[i]. */
export function gatherEncoding(encoded: Encoded, rows: readonly number[]): Encoded {
  return {
    memory: gatherRows(encoded.memory, rows, 0),
    keys: encoded.keys ? gatherRows(encoded.keys, rows, 0) : undefined,
    lengths: rows.map((b) => encoded.lengths[b]!),
  };
}

const maxSteps = (length: number, options: DecodeOptions) => Math.min(options.maxTokens ?? 200, Math.ceil((options.maxRatio ?? 2) * length) + 10);

/** One model or an ensemble's members, as a list. */
export const membersOf = (models: TranslateModel | readonly TranslateModel[]): readonly TranslateModel[] => (Array.isArray(models) ? models : [models as TranslateModel]);

/**
 * source [S, B] and lengths [B] -> one decoded output per source, by one model or an ensemble
 * (same target vocabulary). The models are put in eval mode.
 */
export async function decodeBatch(
  models: TranslateModel | readonly TranslateModel[], source: Tensor, lengths: readonly number[], options: DecodeOptions = {},
): Promise<Decoded[]> {
  const members = membersOf(models);
  if (members.length === 0) throw new Error('decode: no models');
  const reversed = members[0]!.config.reverseTarget === true;
  if (members.some((model) => (model.config.reverseTarget === true) !== reversed)) throw new Error('decode: an ensemble\'s members must write targets in the same order');
  for (const model of members) model.eval();
  const beam = options.beam ?? 1;
  if (!Number.isInteger(beam) || beam < 1) throw new Error(`decode: beam must be a whole number >= 1, got ${beam}`);
  const started = [];
  for (const model of members) started.push(await model.encode(source, lengths));
  const encoded = started.map((s) => s.encoded);
  const states = started.map((s) => s.state);
  const decoded = beam === 1 ? await greedy(members, encoded, states, options) : await beamSearch(members, encoded, states, beam, options);
  return reversed ? decoded.map(inReadingOrder) : decoded;
}

const turned = (c: Candidate): Candidate => ({ tokens: [...c.tokens].reverse(), attention: [...c.attention].reverse(), logProbability: c.logProbability });
const inReadingOrder = (d: Decoded): Decoded => ({ ...turned(d), ...(d.candidates ? { candidates: d.candidates.map(turned) } : {}) });

async function greedy(models: readonly TranslateModel[], encoded: readonly Encoded[], initial: readonly DecoderState[], options: DecodeOptions): Promise<Decoded[]> {
  const { lengths } = encoded[0]!;
  const B = lengths.length;
  const results = lengths.map(() => ({ tokens: [] as number[], attention: [] as number[][], logProbability: 0, done: false }));
  const limit = Math.max(...lengths.map((l) => maxSteps(l, options)));
  const S = encoded[0]!.memory.shape[1]!;
  let states = initial;
  let previous = new Array<number>(B).fill(BOS_INDEX);
  for (let t = 0; t < limit && results.some((r) => !r.done); t++) {
    const out = await stepMembers(models, encoded, states, previous);
    previous = results.map((r, b) => {
      if (r.done) return EOS_INDEX;
      const token = bestIndex(out.logProbs, b, out.V);
      r.logProbability += out.logProbs[b * out.V + token]!;
      if (token === EOS_INDEX || t + 1 >= maxSteps(lengths[b]!, options)) r.done = true;
      if (token !== EOS_INDEX) {
        r.tokens.push(token);
        if (out.weights) r.attention.push([...out.weights.subarray(b * S, b * S + lengths[b]!)]);
      }
      return token;
    });
    states = out.states;
  }
  return results.map(({ tokens, attention, logProbability }) => ({ tokens, attention, logProbability }));
}

interface Hypothesis {
  readonly tokens: number[];
  readonly attention: number[][];
  readonly score: number;
}

async function beamSearch(models: readonly TranslateModel[], encoded: readonly Encoded[], initial: readonly DecoderState[], K: number, options: DecodeOptions): Promise<Decoded[]> {
  const { lengths } = encoded[0]!;
  const B = lengths.length;
  const alpha = options.lengthPenalty ?? 0.6;
  const normalised = (h: Hypothesis, length: number) => lengthNormalised(h.score, length, alpha);
  // Every source repeated K times: row b * K + k is beam k of source b.
  const repeated = Array.from({ length: B * K }, (_, i) => Math.floor(i / K));
  const expanded = encoded.map((e) => gatherEncoding(e, repeated));
  const S = encoded[0]!.memory.shape[1]!;
  let states = initial.map((state) => gatherState(state, repeated));
  // Live beams per source; at first only one (the others would repeat it).
  let live: Hypothesis[][] = Array.from({ length: B }, () => [{ tokens: [], attention: [], score: 0 }]);
  const finished: Array<Array<{ hypothesis: Hypothesis; rank: number }>> = Array.from({ length: B }, () => []);
  const done = new Array<boolean>(B).fill(false);
  const limit = Math.max(...lengths.map((l) => maxSteps(l, options)));
  for (let t = 0; t < limit && done.some((d) => !d); t++) {
    const previous = Array.from({ length: B * K }, (_, i) => {
      const hypothesis = live[Math.floor(i / K)]![i % K];
      return hypothesis && hypothesis.tokens.length > 0 ? hypothesis.tokens[hypothesis.tokens.length - 1]! : BOS_INDEX;
    });
    const out = await stepMembers(models, expanded, states, previous);
    const { V, logProbs } = out;
    const parents = Array.from({ length: B * K }, (_, i) => i);
    const nextLive: Hypothesis[][] = [];
    for (let b = 0; b < B; b++) {
      if (done[b]) {
        nextLive.push(live[b]!);
        continue;
      }
      // The 2K best extensions over all live beams (enough that K survive after <eos> ones leave).
      const best: Array<{ score: number; beam: number; token: number }> = [];
      live[b]!.forEach((hypothesis, k) => {
        const row = (b * K + k) * V;
        for (let v = 1; v < V; v++) {
          if (v === BOS_INDEX) continue;
          const score = hypothesis.score + logProbs[row + v]!;
          if (best.length === 2 * K && score <= best[best.length - 1]!.score) continue;
          let at = best.length;
          while (at > 0 && best[at - 1]!.score < score) at--;
          best.splice(at, 0, { score, beam: k, token: v });
          if (best.length > 2 * K) best.pop();
        }
      });
      const lastStep = t + 1 >= maxSteps(lengths[b]!, options);
      const survivors: Hypothesis[] = [];
      for (const [place, candidate] of best.entries()) {
        const parent = live[b]![candidate.beam]!;
        const weights = out.weights ? [...out.weights.subarray((b * K + candidate.beam) * S, (b * K + candidate.beam) * S + lengths[b]!)] : undefined;
        if (candidate.token === EOS_INDEX) {
          // An ending outside the K best extensions is not an output (as in fairseq): counted, such
          // endings would fill the K finished places with poor outputs and stop the search early.
          if (place >= K) continue;
          const hypothesis = { tokens: parent.tokens, attention: parent.attention, score: candidate.score };
          finished[b]!.push({ hypothesis, rank: normalised(hypothesis, parent.tokens.length + 1) });
          continue;
        }
        if (survivors.length === K) continue;
        const hypothesis = { tokens: [...parent.tokens, candidate.token], attention: weights ? [...parent.attention, weights] : parent.attention, score: candidate.score };
        parents[b * K + survivors.length] = b * K + candidate.beam;
        survivors.push(hypothesis);
      }
      if (finished[b]!.length >= K) {
        // K outputs have ended: the live ones are dropped. (Ranked beside them, a live one's
        // score lacks its <eos> term and could win unfinished.)
        done[b] = true;
      } else if (lastStep) {
        // Out of steps with fewer than K finished: the live ones compete as they are.
        done[b] = true;
        for (const hypothesis of survivors) finished[b]!.push({ hypothesis, rank: normalised(hypothesis, hypothesis.tokens.length) });
      }
      nextLive.push(survivors);
    }
    live = nextLive;
    states = out.states.map((state) => gatherState(state, parents));
  }
  return finished.map((list) => {
    // best first; a stable sort keeps equals in the order they finished
    const candidates = [...list].sort((a, c) => c.rank - a.rank).map(({ hypothesis: h }) => ({ tokens: h.tokens, attention: h.attention, logProbability: h.score }));
    return { ...candidates[0]!, candidates };
  });
}
