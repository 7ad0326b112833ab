import type { Module } from '../nn/module.js';
import type { Tape } from '../nn/tape.js';
import { clipGradNorm, type Optimizer } from '../optim/optimizers.js';
import type { Tensor } from '../tensor.js';

/** One step of the examples' training: the loss recorded on `tape` backpropagated, clipped to norm 1, applied; returns the loss. */
export async function optimiserStep(tape: Tape, loss: Tensor, model: Module, optimizer: Optimizer): Promise<number> {
  optimizer.zeroGrad();
  await tape.backward(loss);
  clipGradNorm(model.parameters(), 1);
  optimizer.step();
  return loss.data[0]!;
}
