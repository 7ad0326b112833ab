/**
 * Reverse-mode differentiation as a tape of explicit backward functions.
 *
 * Why not a general autograd: a recurrent layer runs its whole sequence as one fused pipeline,
 * and its backward pass is a second hand-written pipeline; a per-op graph would break that
 * fusion. So each layer writes its forward and backward side by side (as llm.c does) and, when
 * a tape is recording, records one node: its inputs, its outputs and its backward function.
 * `tape.backward(loss)` then walks the nodes in reverse, adding gradients into each
 * `Parameter.grad`. Gradients are keyed by Tensor identity, so `detach(t)` (same data, new
 * identity) cuts the graph: the truncated-BPTT idiom of carrying a state across chunks.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { formatShape, sameShape, Tensor } from '../tensor.js';

/** A trainable tensor and its accumulated gradient. */
export class Parameter {
  readonly value: Tensor;
  readonly grad: Tensor;
  requiresGrad = true;

  constructor(value: Tensor) {
    this.value = value;
    this.grad = Tensor.zeros(value.shape);
  }

  get shape() {
    return this.value.shape;
  }

  /** grad += g (gradients accumulate across backward passes until zeroGrad, as in PyTorch). */
  accumulate(g: Tensor): void {
    if (!sameShape(g.shape, this.value.shape)) {
      throw new Error(`gradient of shape ${formatShape(g.shape)} for a parameter of shape ${formatShape(this.value.shape)}`);
    }
    if (!this.requiresGrad) return;
    const grad = this.grad.data;
    const add = g.data;
    for (let i = 0; i < grad.length; i++) grad[i]! += add[i]!;
  }

  zeroGrad(): void {
    this.grad.data.fill(0);
  }
}

export type Differentiable = Tensor | Parameter | undefined;

/** Given the gradients of a node's outputs (undefined: none), returns those of its inputs. */
export type BackwardFunction = (gradOutputs: ReadonlyArray<Tensor | undefined>) => Promise<ReadonlyArray<Tensor | undefined>>;

interface TapeNode {
  readonly name: string;
  readonly inputs: readonly Differentiable[];
  readonly outputs: readonly Tensor[];
  readonly backward: BackwardFunction;
}

const active = new AsyncLocalStorage<Tape>();

export class Tape {
  private nodes: TapeNode[] = [];

  /** The tape recording in this async context, if any. */
  static current(): Tape | undefined {
    return active.getStore();
  }

  /** Runs `fn` with this tape recording every differentiable op it awaits. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    return active.run(this, fn);
  }

  record(name: string, inputs: readonly Differentiable[], outputs: readonly Tensor[], backward: BackwardFunction): void {
    this.nodes.push({ name, inputs, outputs, backward });
  }

  get size(): number {
    return this.nodes.length;
  }

  /**
   * Backpropagates from `root` (a scalar loss, or any tensor with `gradRoot` of its shape):
   * every Parameter reached gets its gradient added to `.grad`. Returns the gradients of the
   * other tensors reached (inputs, initial states). The tape is consumed, as PyTorch frees a
   * graph after backward.
   */
  async backward(root: Tensor, gradRoot?: Tensor): Promise<Map<Tensor, Tensor>> {
    const seed = gradRoot ?? Tensor.full(root.shape, 1);
    if (!sameShape(seed.shape, root.shape)) {
      throw new Error(`backward: gradRoot ${formatShape(seed.shape)} does not match the root ${formatShape(root.shape)}`);
    }
    const grads = new Map<Tensor, Tensor>([[root, seed]]);
    const nodes = this.nodes;
    this.nodes = [];
    for (let n = nodes.length - 1; n >= 0; n--) {
      const node = nodes[n]!;
      const gradOutputs = node.outputs.map((output) => grads.get(output));
      if (gradOutputs.every((g) => g === undefined)) continue;
      const gradInputs = await node.backward(gradOutputs);
      node.inputs.forEach((input, i) => {
        const g = gradInputs[i];
        if (!input || !g) return;
        if (input instanceof Parameter) {
          input.accumulate(g);
          return;
        }
        const previous = grads.get(input);
        if (!previous) {
          grads.set(input, g);
          return;
        }
        const sum = new Tensor(previous.shape, Float32Array.from(previous.data));
        for (let k = 0; k < sum.size; k++) sum.data[k]! += g.data[k]!;
        grads.set(input, sum);
      });
    }
    return grads;
  }
}

/** The same values as `t` with no gradient path back through it (PyTorch's `detach`). */
export function detach(t: Tensor): Tensor {
  return new Tensor(t.shape, t.data);
}
