/**
 * Connectionist temporal classification (Graves et al. 2006) in float64, as PyTorch's
 * `F.ctc_loss` computes it: the forward variables alpha and the backward variables beta over the
 * extended label sequence l' = (blank, l1, blank, l2, ..., lL, blank), all in log space.
 *
 * It serves two roles: the reference the GPU.js kernels of `ctcLoss` are tested against, and the
 * host path `ctcLoss` takes on the cpu and webasm backends (see src/nn/ctc.ts), so it is written
 * with flat typed arrays rather than as the plainest possible loops.
 */

export interface CtcReferenceResult {
  /** -log p(target | input) per batch item, [N]; +Infinity where no alignment exists. */
  readonly nll: Float64Array;
  /**
   * d nll_n / d logProbs in PyTorch's convention (see `ctcLossReference`), [T, N, C] time-major,
   * unscaled: every batch item's own nll is differentiated with weight 1.
   */
  readonly grad: Float64Array;
}

/** log(exp(a) + exp(b)), exact for -Infinity operands. */
export function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  return a > b ? a + Math.log1p(Math.exp(b - a)) : b + Math.log1p(Math.exp(a - b));
}

/** log(exp(a) + exp(b) + exp(c)), exact for -Infinity operands. */
function logAddExp3(a: number, b: number, c: number): number {
  const m = Math.max(a, b, c);
  if (m === -Infinity) return -Infinity;
  return m + Math.log(Math.exp(a - m) + Math.exp(b - m) + Math.exp(c - m));
}

/**
 * The CTC negative log-likelihood of each batch item and its gradient.
 *
 * logProbs: [T, N, C] time-major log-probabilities (normally a log_softmax output); targets[n]:
 * the labels of item n (no blanks), of which the first targetLengths[n] count; inputLengths[n]:
 * the frames of item n (frames at t >= inputLengths[n] are ignored).
 *
 * alpha_t(s) is the log-probability of all paths through frames 0..t that end in state s of l'
 * having emitted l'_1..l'_s; beta_t(s) that of the paths from state s at frame t to the end;
 * both include the emission log y_t(l'_s) of frame t, so alpha_t(s) + beta_t(s) - log y_t(l'_s)
 * is the log-probability of all complete paths through state s at frame t.
 *
 * The gradient follows PyTorch's ctc_loss backward, which returns for t < inputLengths[n]
 *   grad[t, n, c] = exp(lp[t, n, c]) - exp(logsumexp_{s: l'_s = c}(alpha_t(s) + beta_t(s)) + nll_n - lp[t, n, c])
 * and 0 for t >= inputLengths[n]. The second term alone is d nll / d lp (the occupation of class c
 * at frame t); the first, exp(lp), is what makes the whole the gradient with respect to the
 * *logits* of a log_softmax, assuming lp is normalised: backpropagating it through log_softmax
 * (g - softmax * rowsum(g), rowsum 0 here) leaves it unchanged. We keep PyTorch's convention so
 * that gradients match PyTorch's `log_probs.grad` exactly. An impossible alignment (too few
 * frames for the target and its repeats) gives nll = +Infinity and, as in PyTorch, a NaN gradient
 * for its live frames (-Infinity + Infinity); `ctcLoss` with zeroInfinity replaces both by 0.
 * With `options.gradient` false only nll is computed (grad stays zero).
 */
export function ctcLossReference(
  logProbs: Float64Array | Float32Array,
  T: number,
  N: number,
  C: number,
  targets: readonly (readonly number[])[],
  inputLengths: readonly number[],
  targetLengths: readonly number[],
  blank = 0,
  options: { readonly gradient?: boolean } = {},
): CtcReferenceResult {
  const wantGradient = options.gradient ?? true;
  const nll = new Float64Array(N);
  const grad = new Float64Array(T * N * C);
  const at = (t: number, n: number, c: number) => logProbs[(t * N + n) * C + c]!;
  for (let n = 0; n < N; n++) {
    const len = inputLengths[n]!;
    const L = targetLengths[n]!;
    const S = 2 * L + 1;
    if (len === 0) {
      // No frames: only the empty target has a (single, empty) alignment. The gradient is 0.
      nll[n] = L === 0 ? 0 : Infinity;
      continue;
    }
    const ext = new Int32Array(S);
    for (let s = 0; s < S; s++) ext[s] = s % 2 === 0 ? blank : targets[n]![(s - 1) / 2]!;
    // A transition s-2 -> s skips a blank, allowed between two different labels.
    const skip = new Uint8Array(S);
    for (let s = 3; s < S; s += 2) skip[s] = ext[s] !== ext[s - 2] ? 1 : 0;

    const alpha = new Float64Array(len * S).fill(-Infinity);
    alpha[0] = at(0, n, blank);
    if (S > 1) alpha[1] = at(0, n, ext[1]!);
    for (let t = 1; t < len; t++) {
      const prev = (t - 1) * S;
      const row = t * S;
      for (let s = 0; s < S; s++) {
        const a = alpha[prev + s]!;
        const b = s >= 1 ? alpha[prev + s - 1]! : -Infinity;
        const c = skip[s] ? alpha[prev + s - 2]! : -Infinity;
        alpha[row + s] = logAddExp3(a, b, c) + at(t, n, ext[s]!);
      }
    }
    const last = (len - 1) * S;
    const logLikelihood = S > 1 ? logAddExp(alpha[last + S - 1]!, alpha[last + S - 2]!) : alpha[last]!;
    nll[n] = -logLikelihood;
    if (!wantGradient) continue;

    const beta = new Float64Array(len * S).fill(-Infinity);
    beta[last + S - 1] = at(len - 1, n, blank);
    if (S > 1) beta[last + S - 2] = at(len - 1, n, ext[S - 2]!);
    for (let t = len - 2; t >= 0; t--) {
      const next = (t + 1) * S;
      const row = t * S;
      for (let s = 0; s < S; s++) {
        const a = beta[next + s]!;
        const b = s + 1 < S ? beta[next + s + 1]! : -Infinity;
        const c = s + 2 < S && skip[s + 2] ? beta[next + s + 2]! : -Infinity;
        beta[row + s] = logAddExp3(a, b, c) + at(t, n, ext[s]!);
      }
    }

    const lcab = new Float64Array(C);
    for (let t = 0; t < len; t++) {
      lcab.fill(-Infinity);
      for (let s = 0; s < S; s++) {
        const c = ext[s]!;
        lcab[c] = logAddExp(lcab[c]!, alpha[t * S + s]! + beta[t * S + s]!);
      }
      for (let c = 0; c < C; c++) {
        const lp = at(t, n, c);
        grad[(t * N + n) * C + c] = Math.exp(lp) - Math.exp(lcab[c]! + nll[n]! - lp);
      }
    }
  }
  return { nll, grad };
}
