/**
 * Sums that the host computes while the backend's workers wait: attention's scores and weighted
 * sums over a batch, and the gradients' norm. Attention's run as WebAssembly SIMD loops
 * (wasm/rows.ts) where the rows' width is a multiple of 4; the JavaScript sums (elsewhere, and
 * the norm) keep four accumulators, which V8 schedules in parallel: about twice as fast as one
 * accumulator, or as adding into a Float32Array row, on a translation batch's shapes.
 */
import { SimdRows } from './wasm/rows.js';

/** a[aOffset .. + n] . b[bOffset .. + n] */
function dot(a: Float32Array, aOffset: number, b: Float32Array, bOffset: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let h = 0;
  for (; h + 4 <= n; h += 4) {
    s0 += a[aOffset + h]! * b[bOffset + h]!;
    s1 += a[aOffset + h + 1]! * b[bOffset + h + 1]!;
    s2 += a[aOffset + h + 2]! * b[bOffset + h + 2]!;
    s3 += a[aOffset + h + 3]! * b[bOffset + h + 3]!;
  }
  for (; h < n; h++) s0 += a[aOffset + h]! * b[bOffset + h]!;
  return s0 + s1 + (s2 + s3);
}

/** a[i] b[i] for each i, rounded to f32: a dropout mask applied (a typed array's `map` with a callback is several times slower). */
export function elementwiseProduct(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < out.length; i++) out[i] = a[i]! * b[i]!;
  return out;
}

/**
 * sum of a[i]^2: `dot(a, 0, a, 0, n)` with one load a value (the gradients' norm: millions a
 * step). Large arrays take the WebAssembly loop, which sums in the same order and precision (four
 * f64 accumulators, value i into accumulator i mod 4, the rest into the first), so the norm is
 * the same number to the last bit. With it, clipping and Adam of the 3.9 M-value G2P model took
 * about 12 ms a step instead of 18 (`bench/dist/translate-step.js --layers 2`, 2026-12-06).
 */
export function sumOfSquares(a: Float32Array): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  const simd = a.length >= 4096 ? SimdRows.get() : undefined;
  if (simd) {
    i = a.length - (a.length % 4);
    const [x, out] = simd.stage(a.subarray(0, i), 8) as [number, number];
    simd.sumOfSquares(x, i * 4, out);
    [s0, s1, s2, s3] = simd.readF64(out, 4) as [number, number, number, number];
  }
  for (; i + 4 <= a.length; i += 4) {
    s0 += a[i]! * a[i]!;
    s1 += a[i + 1]! * a[i + 1]!;
    s2 += a[i + 2]! * a[i + 2]!;
    s3 += a[i + 3]! * a[i + 3]!;
  }
  for (; i < a.length; i++) s0 += a[i]! * a[i]!;
  return s0 + s1 + (s2 + s3);
}

/**
 * out[outOffset + h] = sum_j weights[weightOffset + j weightStride] rows[rowsOffset + j n + h]
 * for h < n over `count` rows of n values (written, not added).
 */
function weightedRowSum(out: Float32Array, outOffset: number, weights: Float32Array, weightOffset: number, weightStride: number, rows: Float32Array, rowsOffset: number, n: number, count: number): void {
  let h = 0;
  for (; h + 4 <= n; h += 4) {
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let j = 0, o = rowsOffset + h; j < count; j++, o += n) {
      const w = weights[weightOffset + j * weightStride]!;
      s0 += w * rows[o]!;
      s1 += w * rows[o + 1]!;
      s2 += w * rows[o + 2]!;
      s3 += w * rows[o + 3]!;
    }
    out[outOffset + h] = s0;
    out[outOffset + h + 1] = s1;
    out[outOffset + h + 2] = s2;
    out[outOffset + h + 3] = s3;
  }
  for (; h < n; h++) {
    let sum = 0;
    for (let j = 0, o = rowsOffset + h; j < count; j++, o += n) sum += weights[weightOffset + j * weightStride]! * rows[o]!;
    out[outOffset + h] = sum;
  }
}

/** out[b, i, s] = x[b, i] . y[b, s] for s < lengths[b], 0 past it: x [B, X, H], y [B, S, H] -> [B, X, S]. */
export function pairDots(x: Float32Array, y: Float32Array, B: number, X: number, S: number, H: number, lengths: readonly number[]): Float32Array {
  const simd = H % 4 === 0 ? SimdRows.get() : undefined;
  if (simd) {
    const [px, py, out] = simd.stage(x, y, B * X * S) as [number, number, number];
    for (let b = 0; b < B; b++)
      for (let i = 0; i < X; i++) simd.dots(out + 4 * (b * X + i) * S, px + 4 * (b * X + i) * H, py + 4 * b * S * H, 4 * H, lengths[b]!);
    return simd.read(out, B * X * S);
  }
  const out = new Float32Array(B * X * S);
  for (let b = 0; b < B; b++)
    for (let i = 0; i < X; i++)
      for (let s = 0; s < lengths[b]!; s++) out[(b * X + i) * S + s] = dot(x, (b * X + i) * H, y, (b * S + s) * H, H);
  return out;
}

/**
 * out[b, r] = sum over j < count(b) of w[wOffset(b, r) + j wStride] y[b, j], for r < rows(b) (0
 * past it): y [B, Y, H] -> out [B, R, H].
 */
function rowSums(w: Float32Array, wOffset: (b: number, r: number) => number, wStride: number, y: Float32Array, Y: number, count: (b: number) => number, B: number, R: number, rows: (b: number) => number, H: number): Float32Array {
  const simd = H % 4 === 0 ? SimdRows.get() : undefined;
  if (simd) {
    const [pw, py, out] = simd.stage(w, y, B * R * H) as [number, number, number];
    for (let b = 0; b < B; b++)
      for (let r = 0; r < rows(b); r++) simd.weightedRowSum(out + 4 * (b * R + r) * H, pw + 4 * wOffset(b, r), 4 * wStride, py + 4 * b * Y * H, 4 * H, count(b));
    return simd.read(out, B * R * H);
  }
  const out = new Float32Array(B * R * H);
  for (let b = 0; b < B; b++)
    for (let r = 0; r < rows(b); r++) weightedRowSum(out, (b * R + r) * H, w, wOffset(b, r), wStride, y, b * Y * H, H, count(b));
  return out;
}

/** out[b, i] = sum over s < lengths[b] of w[b, i, s] y[b, s]: w [B, X, S], y [B, S, H] -> [B, X, H]. */
export function weightedSums(w: Float32Array, y: Float32Array, B: number, X: number, S: number, H: number, lengths: readonly number[]): Float32Array {
  return rowSums(w, (b, i) => (b * X + i) * S, 1, y, S, (b) => lengths[b]!, B, X, () => X, H);
}

/** out[b, s] = sum over i of w[b, i, s] y[b, i] for s < lengths[b], 0 past it: w [B, X, S], y [B, X, H] -> [B, S, H]. */
export function transposedWeightedSums(w: Float32Array, y: Float32Array, B: number, X: number, S: number, H: number, lengths: readonly number[]): Float32Array {
  return rowSums(w, (b, s) => b * X * S + s, S, y, X, () => X, B, S, (b) => lengths[b]!, H);
}
