/** Weight initialisers, each filling a tensor in place from a seeded generator. */
import { gaussian } from '../random.js';
import type { Tensor } from '../tensor.js';

/** U(-bound, bound): PyTorch's default for recurrent and linear layers with bound 1/sqrt(fan). */
export function uniform_(t: Tensor, bound: number, random: () => number): Tensor {
  for (let i = 0; i < t.size; i++) t.data[i] = (random() * 2 - 1) * bound;
  return t;
}

export function normal_(t: Tensor, std: number, random: () => number): Tensor {
  const draw = gaussian(random);
  for (let i = 0; i < t.size; i++) t.data[i] = draw() * std;
  return t;
}

/**
 * `count` orthonormal vectors of `length` values (count <= length): Gaussian vectors
 * orthonormalised by modified Gram-Schmidt in float64, `passes` times over the earlier ones (a
 * second pass keeps them orthogonal to rounding when nearly dependent).
 */
export function orthonormalVectors(count: number, length: number, random: () => number, passes = 1): Float64Array[] {
  const draw = gaussian(random);
  const q: Float64Array[] = [];
  for (let r = 0; r < count; r++) {
    const v = Float64Array.from({ length }, () => draw());
    for (let pass = 0; pass < passes; pass++) {
      for (const u of q) {
        const dot = v.reduce((s, x, i) => s + x * u[i]!, 0);
        for (let i = 0; i < length; i++) v[i]! -= dot * u[i]!;
      }
    }
    // hypot over chunks: a spread of a long vector would overflow the call's arguments (one chunk up to 8192, as before)
    let norm = 0;
    for (let i = 0; i < length; i += 8192) norm = Math.hypot(norm, Math.hypot(...v.subarray(i, i + 8192)));
    for (let i = 0; i < length; i++) v[i]! /= norm;
    q.push(v);
  }
  return q;
}

/**
 * Fills rows [offset, offset + n) of a [rows, n] block with an orthogonal n x n matrix (Saxe et al. 2014).
 */
export function orthogonalBlock_(t: Tensor, offset: number, n: number, random: () => number): void {
  orthonormalVectors(n, n, random).forEach((row, r) => t.data.set(row, (offset + r) * n));
}

/** Rows [offset, offset + n) of a [rows, n] tensor set to scale * I. */
export function identityBlock_(t: Tensor, offset: number, n: number, scale: number): void {
  t.data.fill(0, offset * n, (offset + n) * n);
  for (let i = 0; i < n; i++) t.data[(offset + i) * n + i] = scale;
}
