/**
 * Sums that the host computes while the backend's workers wait (attention's scores and weighted
 * sums, the gradients' norm). Each keeps four accumulators, which V8 schedules in parallel: about
 * twice as fast as one accumulator, or as adding into a Float32Array row, on a translation
 * batch's shapes.
 */

/** a[aOffset .. + n] . b[bOffset .. + n] */
export function dot(a: Float32Array, aOffset: number, b: Float32Array, bOffset: number, n: number): number {
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

/** sum of a[i]^2: `dot(a, 0, a, 0, n)` with one load a value (the gradients' norm: millions a step). */
export function sumOfSquares(a: Float32Array): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
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
export function weightedRowSum(out: Float32Array, outOffset: number, weights: Float32Array, weightOffset: number, weightStride: number, rows: Float32Array, rowsOffset: number, n: number, count: number): void {
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
