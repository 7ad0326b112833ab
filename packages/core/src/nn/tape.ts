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
import type { Backend } from '../backend/backend.js';
import { matmul } from '../kernels/matmul.js';
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

/**
 * A weight's gradient left as the product a^T b (a [K, M], b [K, N]: a sum over K rows) for the
 * tape to compute. A node hands one for a parameter that other nodes read too (a layer or cell
 * run a step at a time): the tape joins every node's rows and computes one product with K = all
 * of them, instead of one product of a step's few rows a node and as many sums.
 */
export class WeightProduct {
  constructor(readonly backend: Backend, readonly a: Tensor, readonly b: Tensor) {
    if (a.rank !== 2 || b.rank !== 2 || a.shape[0] !== b.shape[0]) {
      throw new Error(`WeightProduct: a [K, M] and b [K, N] must have the same rows, got ${formatShape(a.shape)} and ${formatShape(b.shape)}`);
    }
  }
}

/** What a backward function may ask of the tape running it. */
export interface BackwardContext {
  /**
   * Whether more than one node of this tape reads `p`: its gradient is then a sum over nodes,
   * which the node may hand back as a `WeightProduct`.
   */
  shared(p: Differentiable): boolean;
}

/**
 * Given the gradients of a node's outputs (undefined: none), returns those of its inputs (for a
 * parameter `context.shared` answers true for, optionally as a `WeightProduct`).
 */
export type BackwardFunction = (gradOutputs: ReadonlyArray<Tensor | undefined>, context: BackwardContext) => Promise<ReadonlyArray<Tensor | WeightProduct | undefined>>;

interface TapeNode {
  readonly name: string;
  readonly inputs: readonly Differentiable[];
  readonly outputs: readonly Tensor[];
  readonly backward: BackwardFunction;
}

const active = new AsyncLocalStorage<Tape>();

export class Tape {
  private nodes: TapeNode[] = [];
  /** How many recorded nodes read each parameter. */
  private readers = new Map<Parameter, number>();

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
    for (const input of new Set(inputs)) if (input instanceof Parameter) this.readers.set(input, (this.readers.get(input) ?? 0) + 1);
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
    const readers = this.readers;
    this.nodes = [];
    this.readers = new Map();
    const context: BackwardContext = { shared: (p) => p instanceof Parameter && (readers.get(p) ?? 0) > 1 };
    const products = new Map<Parameter, WeightProduct[]>();
    for (let n = nodes.length - 1; n >= 0; n--) {
      const node = nodes[n]!;
      const gradOutputs = node.outputs.map((output) => grads.get(output));
      if (gradOutputs.every((g) => g === undefined)) continue;
      const gradInputs = await node.backward(gradOutputs, context);
      node.inputs.forEach((input, i) => {
        const g = gradInputs[i];
        if (!input || !g) return;
        if (g instanceof WeightProduct) {
          if (!(input instanceof Parameter)) throw new Error(`${node.name}: a WeightProduct is a parameter's gradient, given for input ${i}`);
          if (!input.requiresGrad) return;
          const parts = products.get(input);
          if (parts) parts.push(g);
          else products.set(input, [g]);
        } else if (input instanceof Parameter) input.accumulate(g);
        else grads.add(input, g);
      });
    }
    for (const [parameter, parts] of products) parameter.accumulate(await joinedProduct(parts));
    return grads;
  }
}

/** The sum of the parts' products a^T b, as one product of their rows stacked. */
async function joinedProduct(parts: readonly WeightProduct[]): Promise<Tensor> {
  const stacked = (factor: 'a' | 'b') => {
    const columns = parts[0]![factor].shape[1]!;
    if (parts.some((part) => part[factor].shape[1] !== columns)) {
      throw new Error(`WeightProduct: the parts of one gradient disagree in shape: ${parts.map((part) => formatShape(part[factor].shape)).join(', ')}`);
    }
    if (parts.length === 1) return parts[0]![factor];
    const rows = parts.reduce((sum, part) => sum + part[factor].shape[0]!, 0);
    const data = new Float32Array(rows * columns);
    let offset = 0;
    for (const part of parts) {
      data.set(part[factor].data, offset);
      offset += part[factor].size;
    }
    return new Tensor([rows, columns], data);
  };
  return matmul(parts[0]!.backend, stacked('a'), stacked('b'), { transA: true });
}

/**
 * Gradients by tensor, keyed by the tensor's data buffer: `get(t)` answers for `t` and for any
 * reshaped view of it, in `t`'s shape.
 */
export class Gradients {
  private readonly byBuffer = new Map<Float32Array, Float32Array>();
  /** Sums this object made and has not handed out: later additions may go into them in place. */
  private readonly own = new WeakSet<Float32Array>();

  get(t: Tensor): Tensor | undefined {
    const flat = this.byBuffer.get(t.data);
    if (!flat) return undefined;
    this.own.delete(flat);
    return new Tensor(t.shape, flat);
  }

  has(t: Tensor): boolean {
    return this.byBuffer.has(t.data);
  }

  /**
   * Adds g into the gradient of t. No gradient handed in or out is written: the first addition
   * makes a copy, which takes the later ones in place until `get` hands it out (a tensor many
   * nodes read, such as the attention memory of every decoding step, costs one copy, not one each).
   */
  add(t: Tensor, g: Tensor): void {
    if (g.size !== t.size) throw new Error(`backward: a gradient of shape ${formatShape(g.shape)} for a tensor of shape ${formatShape(t.shape)}`);
    const previous = this.byBuffer.get(t.data);
    if (!previous) {
      this.byBuffer.set(t.data, g.data);
      return;
    }
    const sum = this.own.has(previous) ? previous : Float32Array.from(previous);
    for (let k = 0; k < sum.length; k++) sum[k]! += g.data[k]!;
    this.own.add(sum);
    this.byBuffer.set(t.data, sum);
  }
}

/** The same values as `t` with no gradient path back through it (PyTorch's `detach`; a copy here). */
export function detach(t: Tensor): Tensor {
  return new Tensor(t.shape, Float32Array.from(t.data));
}
