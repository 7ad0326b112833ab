/**
 * Attention's sums over rows as WebAssembly SIMD loops on the host (four lanes, f32), for rows
 * whose width is a multiple of 4: `dots` (one row against several) and `weightedRowSum` (a
 * weighted sum of several rows). The operands are copied into the module's memory per call,
 * which grows as needed; host-loops.ts drives the loops over the batch and falls back to its
 * JavaScript sums elsewhere.
 */
import { compile, I32, moduleBytes, op, PAGE, V128 } from './builder.js';

/** dots(out, x, y, nBytes, count): out[j] = x . y[j] (rows of nBytes / 4 values), j < count. */
function dotsCode(): number[] {
  const [out, x, y, n, count] = [0, 1, 2, 3, 4];
  const [j, h, row, target, acc] = [5, 6, 7, 8, 9];
  return [
    ...op.localGet(y), ...op.localSet(row),
    ...op.localGet(out), ...op.localSet(target),
    ...op.loop([...op.localGet(j), ...op.localGet(count), ...op.i32GeU], [
      ...op.v128Zero, ...op.localSet(acc),
      ...op.i32Const(0), ...op.localSet(h),
      ...op.loop([...op.localGet(h), ...op.localGet(n), ...op.i32GeU], [
        ...op.localGet(acc),
        ...op.localGet(x), ...op.localGet(h), ...op.i32Add, ...op.v128Load,
        ...op.localGet(row), ...op.localGet(h), ...op.i32Add, ...op.v128Load,
        ...op.f32x4Mul, ...op.f32x4Add, ...op.localSet(acc),
        ...op.localGet(h), ...op.i32Const(16), ...op.i32Add, ...op.localSet(h),
      ]),
      ...op.localGet(target),
      ...op.localGet(acc), ...op.f32x4ExtractLane(0), ...op.localGet(acc), ...op.f32x4ExtractLane(1), ...op.f32Add,
      ...op.localGet(acc), ...op.f32x4ExtractLane(2), ...op.localGet(acc), ...op.f32x4ExtractLane(3), ...op.f32Add,
      ...op.f32Add, ...op.f32Store,
      ...op.localGet(target), ...op.i32Const(4), ...op.i32Add, ...op.localSet(target),
      ...op.localGet(row), ...op.localGet(n), ...op.i32Add, ...op.localSet(row),
      ...op.localGet(j), ...op.i32Const(1), ...op.i32Add, ...op.localSet(j),
    ]),
  ];
}

/**
 * weightedRowSum(out, w, wStride, rows, nBytes, count): out = sum_j w[j wStride] rows[j]
 * (byte strides; rows of nBytes / 4 values), four columns at a time.
 */
function weightedRowSumCode(): number[] {
  const [out, w, wStride, rows, n, count] = [0, 1, 2, 3, 4, 5];
  const [h, j, weight, row, acc] = [6, 7, 8, 9, 10];
  return [
    ...op.loop([...op.localGet(h), ...op.localGet(n), ...op.i32GeU], [
      ...op.v128Zero, ...op.localSet(acc),
      ...op.i32Const(0), ...op.localSet(j),
      ...op.localGet(w), ...op.localSet(weight),
      ...op.localGet(rows), ...op.localGet(h), ...op.i32Add, ...op.localSet(row),
      ...op.loop([...op.localGet(j), ...op.localGet(count), ...op.i32GeU], [
        ...op.localGet(acc),
        ...op.localGet(weight), ...op.f32Load, ...op.f32x4Splat,
        ...op.localGet(row), ...op.v128Load,
        ...op.f32x4Mul, ...op.f32x4Add, ...op.localSet(acc),
        ...op.localGet(weight), ...op.localGet(wStride), ...op.i32Add, ...op.localSet(weight),
        ...op.localGet(row), ...op.localGet(n), ...op.i32Add, ...op.localSet(row),
        ...op.localGet(j), ...op.i32Const(1), ...op.i32Add, ...op.localSet(j),
      ]),
      ...op.localGet(out), ...op.localGet(h), ...op.i32Add, ...op.localGet(acc), ...op.v128Store,
      ...op.localGet(h), ...op.i32Const(16), ...op.i32Add, ...op.localSet(h),
    ]),
  ];
}

let compiled: WebAssembly.Module | null | undefined;
let instance: SimdRows | null | undefined;
let enabled = true;

/** Tests only: off, host-loops.ts takes its JavaScript sums, as where WebAssembly SIMD is missing. */
export function useSimdRows(on: boolean): void {
  enabled = on;
}

type Dots = (out: number, x: number, y: number, nBytes: number, count: number) => void;
type WeightedRowSum = (out: number, w: number, wStride: number, rows: number, nBytes: number, count: number) => void;

export class SimdRows {
  private readonly memory: WebAssembly.Memory;
  readonly dots: Dots;
  readonly weightedRowSum: WeightedRowSum;

  private constructor(module: WebAssembly.Module) {
    this.memory = new WebAssembly.Memory({ initial: 1 });
    const { exports } = new WebAssembly.Instance(module, { env: { memory: this.memory } });
    this.dots = exports.dots as Dots;
    this.weightedRowSum = exports.weightedRowSum as WeightedRowSum;
  }

  /** The process's instance, or undefined where WebAssembly SIMD is missing (or switched off). */
  static get(): SimdRows | undefined {
    if (!enabled) return undefined;
    if (compiled === undefined) {
      compiled = compile(moduleBytes([
        { name: 'dots', params: [I32, I32, I32, I32, I32], locals: [I32, I32, I32, I32, V128], code: dotsCode() },
        { name: 'weightedRowSum', params: [I32, I32, I32, I32, I32, I32], locals: [I32, I32, I32, I32, V128], code: weightedRowSumCode() },
      ]));
    }
    if (instance === undefined) instance = compiled ? new SimdRows(compiled) : null;
    return instance ?? undefined;
  }

  /**
   * Lays out these arrays in the module's memory, one after the other (a number: that many zeros
   * for an output), and returns their byte offsets.
   */
  stage(...arrays: ReadonlyArray<Float32Array | number>): number[] {
    const offsets: number[] = [];
    let bytes = 0;
    for (const array of arrays) {
      offsets.push(bytes);
      bytes += 4 * (typeof array === 'number' ? array : array.length);
    }
    const pages = Math.ceil(bytes / PAGE) - this.memory.buffer.byteLength / PAGE;
    if (pages > 0) this.memory.grow(pages);
    const memory = new Float32Array(this.memory.buffer);
    arrays.forEach((array, i) => {
      const at = offsets[i]! / 4;
      if (typeof array === 'number') memory.fill(0, at, at + array);
      else memory.set(array, at);
    });
    return offsets;
  }

  /** A copy of `length` values at a byte offset. */
  read(offset: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, offset, length).slice();
  }
}
