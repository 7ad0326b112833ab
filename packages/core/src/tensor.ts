/**
 * A dense, row-major float32 tensor: a shape and a Float32Array, nothing else.
 * Kernels read and write the flat array; the shape is checked on the host.
 */
import { returnBuffers } from './backend/scratch.js';

export type Shape = readonly number[];

/** Thrown for wrong shapes, sizes or values handed to a tensor or an op. */
export class ShapeError extends Error {
  override name = 'ShapeError';
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/** Number of elements of a shape; [] is a scalar of size 1. */
export function shapeSize(shape: Shape): number {
  let size = 1;
  for (const dim of shape) size *= dim;
  return size;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((dim, i) => dim === b[i]);
}

function checkShape(where: string, shape: Shape): void {
  for (const dim of shape) {
    if (!Number.isInteger(dim) || dim < 0) {
      throw new ShapeError(
        `${where}: every dimension must be a non-negative integer, got shape ${formatShape(shape)}`,
      );
    }
  }
}

/** Thrown when a disposed tensor is read. */
export class DisposedTensorError extends Error {
  override name = 'DisposedTensorError';
}

/**
 * The values' owners: a tensor and the views `reshape` makes of it. A pooled buffer (one the
 * library borrowed from backend/scratch.ts) goes back to the pool when the last owner is disposed.
 */
class Storage {
  owners = 1;
  constructor(readonly pooled: boolean) {}
}

let markPooled: (tensor: Tensor) => Tensor;

export class Tensor {
  readonly shape: Shape;
  readonly #data: Float32Array;
  #storage: Storage;
  #disposed = false;

  static {
    markPooled = (tensor) => {
      tensor.#storage = new Storage(true);
      return tensor;
    };
  }

  constructor(shape: Shape, data?: Float32Array) {
    checkShape('Tensor', shape);
    const size = shapeSize(shape);
    if (data !== undefined && !(data instanceof Float32Array)) {
      const got = (data as object)?.constructor?.name ?? typeof data;
      throw new ShapeError(`Tensor: data must be a Float32Array, got ${got}; convert with Float32Array.from(values)`);
    }
    if (data && data.length !== size) {
      throw new ShapeError(
        `Tensor: shape ${formatShape(shape)} needs ${size} values, got ${data.length}`,
      );
    }
    this.shape = Object.freeze([...shape]);
    this.#data = data ?? new Float32Array(size);
    this.#storage = new Storage(false);
  }

  /** The values, row-major; the array itself, not a copy. Throws once the tensor is disposed. */
  get data(): Float32Array {
    if (this.#disposed) {
      throw new DisposedTensorError(`a disposed tensor of shape ${formatShape(this.shape)} was read; dispose a tensor only once nothing reads it any more`);
    }
    return this.#data;
  }

  /**
   * Releases the values, as TF.js's `dispose()`, for loops that make many large tensors
   * (inference over batch after batch, decoding). A recurrent layer's output made off a tape
   * holds a buffer of the library's pool: disposing it (and every reshape of it) lets the next
   * call of that size reuse the buffer rather than leave it to the garbage collector, whose
   * major collections such allocations trigger several times a second. Any other tensor is only
   * marked. Reading a disposed tensor throws; disposing twice does nothing. Values taken out
   * through `data` before must not be used after.
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    if (--this.#storage.owners === 0 && this.#storage.pooled) returnBuffers(this.#data);
  }

  get isDisposed(): boolean {
    return this.#disposed;
  }

  static zeros(shape: Shape): Tensor {
    return new Tensor(shape);
  }

  static full(shape: Shape, value: number): Tensor {
    return new Tensor(shape, new Float32Array(shapeSize(shape)).fill(value));
  }

  /** Copies `values` (any array-like of numbers) into a new tensor of `shape`. */
  static from(shape: Shape, values: ArrayLike<number>): Tensor {
    checkShape('Tensor.from', shape);
    if (values.length !== shapeSize(shape)) {
      throw new ShapeError(
        `Tensor.from: shape ${formatShape(shape)} needs ${shapeSize(shape)} values, got ${values.length}`,
      );
    }
    return new Tensor(shape, Float32Array.from(values));
  }

  get size(): number {
    return this.data.length;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Same data, another shape of the same size (no copy). */
  reshape(shape: Shape): Tensor {
    checkShape('Tensor.reshape', shape);
    if (shapeSize(shape) !== this.size) {
      throw new ShapeError(
        `Tensor.reshape: cannot view ${formatShape(this.shape)} (${this.size} values) as ${formatShape(shape)}`,
      );
    }
    const view = new Tensor(shape, this.data);
    view.#storage = this.#storage;
    this.#storage.owners++;
    return view;
  }

  /** The element at a full index, e.g. t.at(1, 2) on a matrix. */
  at(...index: number[]): number {
    if (index.length !== this.rank) {
      throw new ShapeError(
        `Tensor.at: a tensor of shape ${formatShape(this.shape)} needs ${this.rank} indices, got ${index.length}`,
      );
    }
    let flat = 0;
    for (let axis = 0; axis < this.rank; axis++) {
      const dim = this.shape[axis]!;
      const i = index[axis]!;
      if (!Number.isInteger(i) || i < 0 || i >= dim) {
        throw new ShapeError(
          `Tensor.at: index ${i} out of range for axis ${axis} of size ${dim}`,
        );
      }
      flat = flat * dim + i;
    }
    return this.data[flat]!;
  }

  /** Nested plain arrays, for printing and tests. */
  toNested(): unknown {
    const build = (axis: number, offset: number): unknown => {
      if (axis === this.rank) return this.data[offset];
      const stride = shapeSize(this.shape.slice(axis + 1));
      return Array.from({ length: this.shape[axis]! }, (_, i) => build(axis + 1, offset + i * stride));
    };
    return build(0, 0);
  }
}

/**
 * A tensor over a buffer borrowed from the pool (backend/scratch.ts), which its `dispose()` gives
 * back. For the library's own results, which nothing else references.
 */
export function pooledTensor(shape: Shape, data: Float32Array): Tensor {
  return markPooled(new Tensor(shape, data));
}
