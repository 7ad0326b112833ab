/**
 * A summary of where decoded outputs looked, to tell attention that follows the source from
 * attention that has collapsed. A seq2seq run can end either way from the same settings: on the
 * en-fr split one seed of the PyTorch peer (bench/seq2seq) learnt to look at the last source
 * token for 96% of its greedy outputs' tokens, and validated as a model without attention might,
 * where the others look along the diagonal (docs/runs.md).
 */
import type { Candidate } from './decode.js';

export interface AttentionProfile {
  /** Output tokens summarised (those with attention rows over sources of two or more tokens). */
  readonly tokens: number;
  /** Mean entropy of an output token's attention weights, in nats (0: all on one source token). */
  readonly entropy: number;
  /** Mean largest weight of an output token. */
  readonly peak: number;
  /** Share of output tokens whose largest weight is on the source's last token. */
  readonly onLastSource: number;
  /**
   * Mean distance between the attended place and the diagonal: |the weights' mean source position
   * / (S - 1) - the token's output position / (N - 1)|, 0-1 (an output of one token counts as at
   * position 0). Small where attention follows the source in order (0.08-0.12 in the aligned en-fr
   * runs of docs/runs.md, whose word reordering counts in it); about 0.5 when collapsed.
   */
  readonly diagonalDistance: number;
}

/** The profile of the outputs' attention rows, or undefined where there are none (`--attention none`). */
export function attentionProfile(outputs: readonly Candidate[]): AttentionProfile | undefined {
  let tokens = 0;
  let entropy = 0;
  let peak = 0;
  let onLast = 0;
  let distance = 0;
  for (const { attention } of outputs) {
    const N = attention.length;
    for (let i = 0; i < N; i++) {
      const row = attention[i]!;
      const S = row.length;
      // One source token leaves nothing to choose: such rows would only dilute the figures.
      if (S < 2) continue;
      let best = 0;
      let mean = 0;
      for (let s = 0; s < S; s++) {
        const w = row[s]!;
        if (w > 0) entropy -= w * Math.log(w);
        if (w > row[best]!) best = s;
        mean += w * s;
      }
      tokens++;
      peak += row[best]!;
      if (best === S - 1) onLast++;
      distance += Math.abs(mean / (S - 1) - (N > 1 ? i / (N - 1) : 0));
    }
  }
  if (tokens === 0) return undefined;
  return { tokens, entropy: entropy / tokens, peak: peak / tokens, onLastSource: onLast / tokens, diagonalDistance: distance / tokens };
}
