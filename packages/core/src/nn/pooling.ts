/**
 * Pooling a sequence of vectors into one vector per sequence, over its valid steps only:
 * x [T, B, F] (time-major) and lengths [B] -> [B, F]. 'mean' averages steps 0..len-1, 'max' takes
 * the elementwise maximum there (the gradient goes to the step that held it), 'last' takes step
 * len-1. Runs on the host: it reads each value once, and the recurrent layers' outputs are on
 * the host already.
 */
import { formatShape, ShapeError, Tensor } from '../tensor.js';
import { concat } from './functional.js';
import { Tape } from './tape.js';

export type PoolingMode = 'mean' | 'max' | 'last';

export function poolSequence(x: Tensor, lengths: readonly number[], mode: PoolingMode): Tensor {
  if (x.rank !== 3) throw new ShapeError(`poolSequence: x must have shape [T, B, F], got ${formatShape(x.shape)}`);
  const [T, B, F] = x.shape as [number, number, number];
  if (lengths.length !== B) throw new ShapeError(`poolSequence: lengths must have ${B} entries (one per sequence), got ${lengths.length}`);
  lengths.forEach((length, b) => {
    if (!Number.isInteger(length) || length < 1 || length > T) throw new ShapeError(`poolSequence: lengths[${b}] = ${length} must be an integer in 1..${T}`);
  });
  if (!['mean', 'max', 'last'].includes(mode)) throw new Error(`poolSequence: unknown mode ${JSON.stringify(mode)}; expected mean, max or last`);
  const out = Tensor.zeros([B, F]);
  // For 'max': the step each output value came from, for the backward pass.
  const argmax = mode === 'max' ? new Int32Array(B * F) : undefined;
  for (let b = 0; b < B; b++) {
    const length = lengths[b]!;
    for (let f = 0; f < F; f++) {
      const at = (t: number) => x.data[(t * B + b) * F + f]!;
      if (mode === 'last') {
        out.data[b * F + f] = at(length - 1);
      } else if (mode === 'mean') {
        let sum = 0;
        for (let t = 0; t < length; t++) sum += at(t);
        out.data[b * F + f] = sum / length;
      } else {
        let best = 0;
        for (let t = 1; t < length; t++) if (at(t) > at(best)) best = t;
        argmax![b * F + f] = best;
        out.data[b * F + f] = at(best);
      }
    }
  }
  Tape.current()?.record(`poolSequence(${mode})`, [x], [out], async ([gradOut]) => {
    const grad = Tensor.zeros(x.shape);
    for (let b = 0; b < B; b++) {
      const length = lengths[b]!;
      for (let f = 0; f < F; f++) {
        const g = gradOut!.data[b * F + f]!;
        if (mode === 'last') grad.data[((length - 1) * B + b) * F + f] = g;
        else if (mode === 'max') grad.data[(argmax![b * F + f]! * B + b) * F + f] = g;
        else for (let t = 0; t < length; t++) grad.data[(t * B + b) * F + f] = g / length;
      }
    }
    return [grad];
  });
  return out;
}

/** Concatenates [B, F_i] tensors along the feature axis: [B, sum F_i]; gradients split back. */
export function concatFeatures(parts: readonly Tensor[]): Tensor {
  const B = parts[0]?.shape[0];
  if (B === undefined || parts.some((p) => p.rank !== 2 || p.shape[0] !== B)) {
    throw new ShapeError(`concatFeatures: every part must have shape [B, F] with one B, got ${parts.map((p) => formatShape(p.shape)).join(', ')}`);
  }
  return concat(parts);
}
