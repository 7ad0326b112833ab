/**
 * nn.Sequential and the activation modules that go in one, for the heads and feature stacks
 * around the recurrent layers: `new Sequential(new Linear(...), new ReLU(), new Dropout(0.2),
 * new Linear(...))`. The children are named by position, as PyTorch names them, so state dicts
 * read `0.weight`, `3.bias` and load into torch.nn.Sequential as they are.
 */
import type { Tensor } from '../tensor.js';
import { relu, sigmoid, softmax } from './functional-math.js';
import { logSoftmax, tanh } from './functional.js';
import { Module } from './module.js';

/** A module with one tensor in and one out: what a Sequential chains. */
export interface TensorModule extends Module {
  forward(x: Tensor): Promise<Tensor>;
}

export class Sequential extends Module {
  readonly layers: readonly TensorModule[];

  constructor(...layers: TensorModule[]) {
    super();
    if (layers.length === 0) throw new Error('Sequential: needs at least one module');
    layers.forEach((layer, i) => {
      if (!(layer instanceof Module) || typeof layer.forward !== 'function') throw new Error(`Sequential: entry ${i} is not a module with forward(x)`);
      this.registerModule(String(i), layer);
    });
    this.layers = layers;
  }

  /** Each module's output is the next one's input. */
  async forward(x: Tensor): Promise<Tensor> {
    let y = x;
    for (const layer of this.layers) y = await layer.forward(y);
    return y;
  }
}

/** max(x, 0) as a module (torch.nn.ReLU). */
export class ReLU extends Module {
  async forward(x: Tensor): Promise<Tensor> {
    return relu(x);
  }
}

/** tanh as a module (torch.nn.Tanh). */
export class Tanh extends Module {
  async forward(x: Tensor): Promise<Tensor> {
    return tanh(x);
  }
}

/** The logistic function as a module (torch.nn.Sigmoid). */
export class Sigmoid extends Module {
  async forward(x: Tensor): Promise<Tensor> {
    return sigmoid(x);
  }
}

/** softmax along `dim` as a module (torch.nn.Softmax). */
export class Softmax extends Module {
  constructor(readonly dim = -1) {
    super();
  }

  async forward(x: Tensor): Promise<Tensor> {
    return softmax(x, this.dim);
  }
}

/** log-softmax over the last axis as a module (torch.nn.LogSoftmax(dim=-1)). */
export class LogSoftmax extends Module {
  async forward(x: Tensor): Promise<Tensor> {
    return logSoftmax(x);
  }
}
