/**
 * One differentiable step of one recurrent direction on the engine (a pipeline of one time step),
 * for the cells (`RNNCell`, `GRUCell`, `LSTMCell`).
 */
import type { Backend } from '../backend/backend.js';
import type { RecurrentShape } from '../reference/recurrent.js';
import { recurrentBackward, recurrentForward } from '../recurrent/sequence.js';
import { Tensor } from '../tensor.js';
import { Parameter, Tape } from './tape.js';

/** A step's weights by the engine's names (weight_ih_l0, ...): parameters, or tensors computed from them on the tape. */
export type StepWeights = ReadonlyMap<string, Parameter | Tensor>;

const valueOf = (w: Parameter | Tensor) => (w instanceof Parameter ? w.value : w);

/**
 * h', c' from x [B, E], h [B, H] and c [B, H] (zeros when absent) for `shape` (one layer, one
 * direction). The backward pass goes to x, h, c and every weight.
 */
export async function recurrentStep(
  backend: Backend, shape: RecurrentShape, weights: StepWeights, x: Tensor, h: Tensor | undefined, c: Tensor | undefined,
  stateShape: readonly number[],
): Promise<{ h: Tensor; c: Tensor | undefined }> {
  const B = x.size / shape.inputSize;
  const H = shape.hiddenSize;
  const batch = { x: x.data, steps: 1, batch: B, ...(h ? { h0: h.data } : {}), ...(c ? { c0: c.data } : {}) };
  const params = new Map([...weights].map(([name, w]) => [name, valueOf(w).data]));
  const tape = Tape.current();
  const result = await recurrentForward(backend, shape, params, batch, { keepTrace: tape !== undefined });
  // one step: the output is the final state, so h' is hN (its own array, unlike the output's)
  const hNext = new Tensor([...stateShape], result.hN);
  const cNext = result.cN ? new Tensor([...stateShape], result.cN) : undefined;
  if (tape) {
    const list = [...weights];
    tape.record('recurrentStep', [x, h, c, ...list.map(([, w]) => w)], cNext ? [hNext, cNext] : [hNext], async ([dh, dc]) => {
      const grads = await recurrentBackward(backend, shape, params, batch, result, new Float32Array(B * H), dh?.data, dc?.data, { releaseTrace: true });
      return [
        new Tensor(x.shape, grads.dx),
        h ? new Tensor([...stateShape], grads.dh0) : undefined,
        c && grads.dc0 ? new Tensor([...stateShape], grads.dc0) : undefined,
        ...list.map(([name, w]) => new Tensor(valueOf(w).shape, grads.grads.get(name)!)),
      ];
    });
  }
  return { h: hNext, c: cNext };
}
