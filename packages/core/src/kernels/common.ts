import type { Backend, KernelSpec } from '../backend/backend.js';
import { formatShape, ShapeError, shapeSize, Tensor, type Shape } from '../tensor.js';

/** What a gpu.js kernel function sees as `this`: its thread (flat outputs: x only) and constants. */
export interface KernelThis {
  readonly thread: { readonly x: number };
  readonly constants: Readonly<Record<string, number>>;
}

export function opError(op: string, message: string): ShapeError {
  return new ShapeError(`${op}: ${message}`);
}

/** Checks that `value` is a Tensor (float32, row-major) and returns it. */
export function expectTensor(op: string, argument: string, value: unknown): Tensor {
  if (!(value instanceof Tensor)) {
    const got = value === null ? 'null' : ((value as object)?.constructor?.name ?? typeof value);
    throw opError(op, `${argument} must be a Tensor (float32), got ${got}`);
  }
  return value;
}

export function expectRank(op: string, argument: string, tensor: Tensor, ranks: readonly number[]): void {
  if (!ranks.includes(tensor.rank)) {
    throw opError(
      op,
      `${argument} must have rank ${ranks.join(' or ')}, got shape ${formatShape(tensor.shape)}`,
    );
  }
}

/** A cache key naming the op and every constant baked into its code. */
export function kernelKey(op: string, constants: Readonly<Record<string, number>>): string {
  return `${op}(${Object.entries(constants)
    .map(([name, value]) => `${name}=${value}`)
    .join(',')})`;
}

/** Runs `spec` on the tensors' data and wraps the output; empty outputs skip the device. */
export async function runKernel(
  backend: Backend,
  spec: KernelSpec,
  outputShape: Shape,
  inputs: readonly Tensor[],
): Promise<Tensor> {
  if (shapeSize(outputShape) === 0) return Tensor.zeros(outputShape);
  // gpu.js cannot bind an empty array; a kernel whose input is empty never reads it (its loops
  // run zero times), so one dummy cell stands in.
  const data = await backend.run(
    spec,
    inputs.map((input) => (input.size === 0 ? new Float32Array(1) : input.data)),
  );
  return new Tensor(outputShape, data);
}
