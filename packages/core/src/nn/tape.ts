/**
 * Reverse-mode differentiation as a tape of explicit backward functions.
 *
 * Why not a general autograd: a recurrent layer runs its whole sequence as one fused pipeline,
 * and its backward pass is a second hand-written pipeline; a per-op graph would break that
 * fusion. So each layer writes its forward and backward side by side (as llm.c does) and, when
 * a tape is recording, records one node: its inputs, its outputs and its backward function.
 * `tape.backward(loss)` then walks the nodes in reverse, adding gradients into each
 * `Parameter.grad`. Gradients are keyed by a tensor's data buffer, so a reshaped view (which
 * shares the buffer) carries its base's gradient, and `detach(t)` (a copy) cuts the graph: the
 * truncated-BPTT idiom of carrying a state across chunks.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { formatShape, sameShape, Tensor } from '../tensor.js';

/** A trainable tensor and its accumulated gradient. */
export class Parameter {
  readonly value: Tensor;
  requiresGrad = true;
  private readonly gradient: Tensor;
  // zeroGrad's zeros are written when first needed: the next accumulate copies its gradient in
  // (as PyTorch assigns a first gradient), and a read of `grad` before that fills them.
  private zeroPending = false;

  constructor(value: Tensor) {
    this.value = value;
    this.gradient = Tensor.zeros(value.shape);
  }

  get shape() {
    return this.value.shape;
  }

  /** The accumulated gradient (zeros after zeroGrad until a backward pass adds to it). */
  get grad(): Tensor {
    if (this.zeroPending) {
      this.gradient.data.fill(0);
      this.zeroPending = false;
    }
    return this.gradient;
  }

  /** grad += g (gradients accumulate across backward passes until zeroGrad, as in PyTorch). */
  accumulate(g: Tensor): void {
    if (!sameShape(g.shape, this.value.shape)) {
      throw new Error(`gradient of shape ${formatShape(g.shape)} for a parameter of shape ${formatShape(this.value.shape)}`);
    }
    if (!this.requiresGrad) return;
    const grad = this.gradient.data;
    const add = g.data;
    if (this.zeroPending) {
      grad.set(add);
      this.zeroPending = false;
      return;
    }
    for (let i = 0; i < grad.length; i++) grad[i]! += add[i]!;
  }

  zeroGrad(): void {
    this.zeroPending = true;
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
  async backward(root: Tensor, gradRoot?: Tensor): Promise<Gradients> {
    const seed = gradRoot ?? Tensor.full(root.shape, 1);
    if (!sameShape(seed.shape, root.shape)) {
      throw new Error(`backward: gradRoot ${formatShape(seed.shape)} does not match the root ${formatShape(root.shape)}`);
    }
    const grads = new Gradients();
    grads.add(root, seed);
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
        if (input instanceof Parameter) input.accumulate(g);
        else grads.add(input, g);
      });
    }
    return grads;
  }
}

/**
 * Gradients by tensor, keyed by the tensor's data buffer: `get(t)` answers for `t` and for any
 * reshaped view of it, in `t`'s shape.
 */
export class Gradients {
  private readonly byBuffer = new Map<Float32Array, Float32Array>();

  get(t: Tensor): Tensor | undefined {
    const flat = this.byBuffer.get(t.data);
    return flat ? new Tensor(t.shape, flat) : undefined;
  }

  has(t: Tensor): boolean {
    return this.byBuffer.has(t.data);
  }

  /** Adds g into the gradient of t (a copy is made before the first addition). */
  add(t: Tensor, g: Tensor): void {
    if (g.size !== t.size) throw new Error(`backward: a gradient of shape ${formatShape(g.shape)} for a tensor of shape ${formatShape(t.shape)}`);
    const previous = this.byBuffer.get(t.data);
    if (!previous) {
      this.byBuffer.set(t.data, g.data);
      return;
    }
    const sum = Float32Array.from(previous);
    for (let k = 0; k < sum.length; k++) sum[k]! += g.data[k]!;
    this.byBuffer.set(t.data, sum);
  }
}

/** The same values as `t` with no gradient path back through it (PyTorch's `detach`; a copy here). */
export function detach(t: Tensor): Tensor {
  return new Tensor(t.shape, Float32Array.from(t.data));
}
