/**
 * Adam's update as one WebAssembly SIMD loop on the host: four values an instruction, each
 * operation in f32 and in torch.optim.Adam's order (single-tensor form):
 *
 *   x = x (1 - lr wd)                      AdamW only (decay = 1 otherwise, exact)
 *   g = g + wd x                           Adam with an L2 penalty only (a second variant)
 *   m = m b1 + g (1 - b1)
 *   v = v b2 + g g (1 - b2)
 *   x = x + (m / (sqrt(v) / sqrt(1 - b2^t) + eps)) (-lr / (1 - b1^t))
 *
 * A training step's update reads and writes every parameter value: a model of 2.3 M values
 * spent 7% of a G2P training step in the scalar loop, on the main thread while the workers wait.
 * The moments live in the module's memory for the optimiser's life (the Map of buffers holds
 * views of them, so state dicts work unchanged); each step copies a parameter's values and
 * gradient in and its values back out. The memory is sized once, for every parameter, and never
 * grows, so the views stay attached.
 */

import { compile, F32, I32, moduleBytes, op, PAGE, V128 } from '../wasm/builder.js';

/** Parameters of the exported function, in order. */
const VALUE = 0;
const GRAD = 1;
const M = 2;
const V = 3;
const BYTES = 4;
const SCALARS = ['b1', 'a1', 'b2', 'a2', 'negStep', 'root2', 'eps', 'decay', 'l2'] as const;
const FIRST_SCALAR = 5;
/** Locals after the parameters: the offset, four vectors, then each scalar splatted. */
const OFFSET = FIRST_SCALAR + SCALARS.length;
const X = OFFSET + 1;
const G = X + 1;
const NEW_M = G + 1;
const NEW_V = NEW_M + 1;
const splat = (scalar: (typeof SCALARS)[number]) => NEW_V + 1 + SCALARS.indexOf(scalar);

/** One function `adam` (no L2 term) and one `adamL2`, over an imported memory. */
function adamBytes(): Uint8Array {
  const at = (base: number) => [...op.localGet(base), ...op.localGet(OFFSET), ...op.i32Add];
  const code = (l2: boolean) => [
    ...SCALARS.flatMap((scalar, k) => [...op.localGet(FIRST_SCALAR + k), ...op.f32x4Splat, ...op.localSet(splat(scalar))]),
    ...op.loop([...op.localGet(OFFSET), ...op.localGet(BYTES), ...op.i32GeU], [
      ...at(VALUE), ...op.v128Load, ...op.localGet(splat('decay')), ...op.f32x4Mul, ...op.localSet(X),
      ...at(GRAD), ...op.v128Load,
      ...(l2 ? [...op.localGet(X), ...op.localGet(splat('l2')), ...op.f32x4Mul, ...op.f32x4Add] : []),
      ...op.localSet(G),
      ...at(M),
      ...at(M), ...op.v128Load, ...op.localGet(splat('b1')), ...op.f32x4Mul,
      ...op.localGet(G), ...op.localGet(splat('a1')), ...op.f32x4Mul, ...op.f32x4Add, ...op.localTee(NEW_M), ...op.v128Store,
      ...at(V),
      ...at(V), ...op.v128Load, ...op.localGet(splat('b2')), ...op.f32x4Mul,
      ...op.localGet(G), ...op.localGet(G), ...op.f32x4Mul, ...op.localGet(splat('a2')), ...op.f32x4Mul, ...op.f32x4Add,
      ...op.localTee(NEW_V), ...op.v128Store,
      ...at(VALUE),
      ...op.localGet(X),
      ...op.localGet(NEW_M), ...op.localGet(NEW_V), ...op.f32x4Sqrt, ...op.localGet(splat('root2')), ...op.f32x4Div,
      ...op.localGet(splat('eps')), ...op.f32x4Add, ...op.f32x4Div,
      ...op.localGet(splat('negStep')), ...op.f32x4Mul, ...op.f32x4Add, ...op.v128Store,
      ...op.addTo(OFFSET, op.i32Const(16)),
    ]),
  ];
  const params = [I32, I32, I32, I32, I32, ...SCALARS.map(() => F32)];
  const locals = [I32, ...new Array<number>(4 + SCALARS.length).fill(V128)];
  return moduleBytes([
    { name: 'adam', params, locals, code: code(false) },
    { name: 'adamL2', params, locals, code: code(true) },
  ]);
}

let compiled: WebAssembly.Module | null | undefined;
let enabled = true;

/** Tests only: off, optimisers made afterwards take the plain loop, as where WebAssembly SIMD is missing. */
export function useSimdAdam(on: boolean): void {
  enabled = on;
}

/** The compiled module, or null where WebAssembly SIMD is missing. */
function adamModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    compiled = compile(adamBytes());
  }
  return compiled;
}

type AdamFunction = (value: number, grad: number, m: number, v: number, bytes: number, ...scalars: number[]) => void;

export interface AdamScalars {
  readonly b1: number;
  readonly b2: number;
  readonly negStep: number;
  readonly root2: number;
  readonly eps: number;
  /** 1 - lr wd (AdamW), else 1. */
  readonly decay: number;
  /** wd (Adam's L2 penalty), else 0. */
  readonly l2: number;
}

const padded = (n: number) => Math.ceil(n / 4) * 4;

/**
 * Byte offsets in the module's memory: the staged values at 0 and gradient at gradOffset (room
 * for the largest parameter each), then each parameter's first and second moments; and the total.
 */
function layout(sizes: readonly number[]): { gradOffset: number; momentOffsets: number[]; bytes: number } {
  const gradOffset = padded(Math.max(...sizes)) * 4;
  const momentOffsets: number[] = [];
  let bytes = 2 * gradOffset;
  for (const size of sizes) {
    momentOffsets.push(bytes);
    bytes += 2 * padded(size) * 4;
  }
  return { gradOffset, momentOffsets, bytes };
}

export class SimdAdam {
  private readonly memory: WebAssembly.Memory;
  private readonly adam: AdamFunction;
  private readonly adamL2: AdamFunction;
  private readonly gradOffset: number;
  private readonly momentOffsets: readonly number[];
  readonly firstMoments: readonly Float32Array[];
  readonly secondMoments: readonly Float32Array[];

  private constructor(module: WebAssembly.Module, sizes: readonly number[], places: ReturnType<typeof layout>) {
    this.memory = new WebAssembly.Memory({ initial: Math.ceil(places.bytes / PAGE) });
    const { exports } = new WebAssembly.Instance(module, { env: { memory: this.memory } });
    this.adam = exports.adam as AdamFunction;
    this.adamL2 = exports.adamL2 as AdamFunction;
    this.gradOffset = places.gradOffset;
    this.momentOffsets = places.momentOffsets;
    this.firstMoments = sizes.map((size, i) => new Float32Array(this.memory.buffer, places.momentOffsets[i]!, size));
    this.secondMoments = sizes.map((size, i) => new Float32Array(this.memory.buffer, places.momentOffsets[i]! + padded(size) * 4, size));
  }

  /** For parameters of these sizes; undefined where WebAssembly SIMD is missing or the moments do not fit in a memory of at most 4 GiB. */
  static create(sizes: readonly number[]): SimdAdam | undefined {
    const module = enabled ? adamModule() : null;
    if (!module || sizes.length === 0) return undefined;
    const places = layout(sizes);
    if (Math.ceil(places.bytes / PAGE) > 65536) return undefined;
    try {
      return new SimdAdam(module, sizes, places);
    } catch {
      return undefined; // the memory could not be reserved: the plain loop needs none
    }
  }

  /** One update of parameter `index` in place; its moments are firstMoments[index] and secondMoments[index]. */
  update(index: number, value: Float32Array, grad: Float32Array, s: AdamScalars): void {
    const buffer = this.memory.buffer;
    new Float32Array(buffer, 0, value.length).set(value);
    new Float32Array(buffer, this.gradOffset, grad.length).set(grad);
    const m = this.momentOffsets[index]!;
    const v = m + padded(value.length) * 4;
    // The padding lanes compute on whatever the staging areas hold; nothing reads them back.
    const run = s.l2 === 0 ? this.adam : this.adamL2;
    run(0, this.gradOffset, m, v, padded(value.length) * 4, s.b1, 1 - s.b1, s.b2, 1 - s.b2, s.negStep, s.root2, s.eps, s.decay, s.l2);
    value.set(new Float32Array(buffer, 0, value.length));
  }
}
