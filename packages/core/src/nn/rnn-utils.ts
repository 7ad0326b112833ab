/**
 * torch.nn.utils.rnn's padding helpers for variable-length batches: `padSequence` stacks
 * sequences of different lengths into one [T, B, *] tensor (the layers then take
 * `{ lengths }`, packed-sequence semantics), `unpadSequence` cuts a layer's output back into
 * one tensor per sequence. Both record their backward pass on the active tape.
 */
import { formatShape, sameShape, ShapeError, Tensor } from '../tensor.js';
import { Tape } from './tape.js';

export interface PadOptions {
  /** [B, T, *] instead of [T, B, *]. Default false. */
  readonly batchFirst?: boolean;
  /** The value of the padded steps. Default 0. */
  readonly paddingValue?: number;
}

/** Where step t of sequence b starts in a padded tensor of T steps and B sequences, `inner` values a step. */
const offsetOf = (batchFirst: boolean, T: number, B: number, inner: number) => (b: number, t: number) => (batchFirst ? b * T + t : t * B + b) * inner;

/** Sequences [L_i, *] (the same trailing shape) -> [T, B, *] with T the longest, padded after each end (torch.nn.utils.rnn.pad_sequence). */
export function padSequence(sequences: readonly Tensor[], options: PadOptions = {}): Tensor {
  const first = sequences[0];
  if (!first) throw new ShapeError('padSequence: needs at least one sequence');
  const trailing = first.shape.slice(1);
  sequences.forEach((s, b) => {
    if (s.rank < 1 || !sameShape(s.shape.slice(1), trailing)) {
      throw new ShapeError(`padSequence: sequence ${b} has shape ${formatShape(s.shape)}, where every sequence is [L, ${trailing.join(', ')}]`);
    }
  });
  const batchFirst = options.batchFirst ?? false;
  const inner = trailing.reduce((s, d) => s * d, 1);
  const B = sequences.length;
  const T = Math.max(...sequences.map((s) => s.shape[0]!));
  const out = Tensor.full(batchFirst ? [B, T, ...trailing] : [T, B, ...trailing], options.paddingValue ?? 0);
  const at = offsetOf(batchFirst, T, B, inner);
  sequences.forEach((s, b) => {
    for (let t = 0; t < s.shape[0]!; t++) out.data.set(s.data.subarray(t * inner, (t + 1) * inner), at(b, t));
  });
  Tape.current()?.record('padSequence', sequences, [out], async ([grad]) =>
    sequences.map((s, b) => {
      const g = Tensor.zeros(s.shape);
      for (let t = 0; t < s.shape[0]!; t++) g.data.set(grad!.data.subarray(at(b, t), at(b, t) + inner), t * inner);
      return g;
    }));
  return out;
}

/** [T, B, *] (or [B, T, *]) -> one [lengths[b], *] tensor per sequence (torch.nn.utils.rnn.unpad_sequence). */
export function unpadSequence(padded: Tensor, lengths: readonly number[], options: Pick<PadOptions, 'batchFirst'> = {}): Tensor[] {
  const batchFirst = options.batchFirst ?? false;
  if (padded.rank < 2) throw new ShapeError(`unpadSequence: needs [T, B, ...], got ${formatShape(padded.shape)}`);
  const [T, B] = batchFirst ? [padded.shape[1]!, padded.shape[0]!] : [padded.shape[0]!, padded.shape[1]!];
  if (lengths.length !== B) throw new ShapeError(`unpadSequence: ${lengths.length} lengths for the ${B} sequences of ${formatShape(padded.shape)}`);
  lengths.forEach((length, b) => {
    if (!Number.isInteger(length) || length < 0 || length > T) throw new ShapeError(`unpadSequence: lengths[${b}] = ${length} must be a whole number in 0..${T}`);
  });
  const trailing = padded.shape.slice(2);
  const inner = trailing.reduce((s, d) => s * d, 1);
  const at = offsetOf(batchFirst, T, B, inner);
  const parts = lengths.map((length, b) => {
    const part = Tensor.zeros([length, ...trailing]);
    for (let t = 0; t < length; t++) part.data.set(padded.data.subarray(at(b, t), at(b, t) + inner), t * inner);
    return part;
  });
  Tape.current()?.record('unpadSequence', [padded], parts, async (grads) => {
    const g = Tensor.zeros(padded.shape);
    grads.forEach((part, b) => {
      if (part) for (let t = 0; t < lengths[b]!; t++) g.data.set(part.data.subarray(t * inner, (t + 1) * inner), at(b, t));
    });
    return [g];
  });
  return parts;
}
