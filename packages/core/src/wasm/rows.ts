/**
 * WebAssembly SIMD loops on the host (four lanes, f32) over rows whose width is a multiple of 4:
 * attention's sums, `dots` (one row against several) and `weightedRowSum` (a weighted sum of
 * several rows), which host-loops.ts drives over the batch, and the products' operand layout,
 * `panels` and `panelsTransposed` (kernels/matmul.ts's `columnPanels`), and the gradients' squares
 * for their norm (`sumOfSquares`). The operands are copied
 * into the module's memory per call, which grows as needed; the callers fall back to JavaScript
 * loops elsewhere.
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
        ...op.addTo(h, op.i32Const(16)),
      ]),
      ...op.localGet(target),
      ...op.localGet(acc), ...op.f32x4ExtractLane(0), ...op.localGet(acc), ...op.f32x4ExtractLane(1), ...op.f32Add,
      ...op.localGet(acc), ...op.f32x4ExtractLane(2), ...op.localGet(acc), ...op.f32x4ExtractLane(3), ...op.f32Add,
      ...op.f32Add, ...op.f32Store,
      ...op.addTo(target, op.i32Const(4)),
      ...op.addTo(row, op.localGet(n)),
      ...op.addTo(j, op.i32Const(1)),
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
        ...op.addTo(weight, op.localGet(wStride)),
        ...op.addTo(row, op.localGet(n)),
        ...op.addTo(j, op.i32Const(1)),
      ]),
      ...op.localGet(out), ...op.localGet(h), ...op.i32Add, ...op.localGet(acc), ...op.v128Store,
      ...op.addTo(h, op.i32Const(16)),
    ]),
  ];
}

/**
 * panels(out, b, rowBytes, K, fullPanels): the full panels of b [K, N] (rows of rowBytes): out
 * gets columns 4p..4p+3 of every row k, p by p, k by k. Four panels at a time, so that each row's
 * 64 bytes are read at once: a panel at a time read 16 bytes of a line and came back for the rest
 * after K rows, which rows of a few KB (whose lines share a few cache sets) had evicted.
 */
function panelsCode(): number[] {
  const [out, b, rowBytes, K, fullPanels] = [0, 1, 2, 3, 4];
  const [p, k, panel, from, to, panelBytes] = [5, 6, 7, 8, 9, 10];
  const copy = (offset: number, panels: number) => [...op.strided(to, panelBytes, panels), ...op.localGet(from), ...op.v128LoadAt(offset), ...op.v128Store];
  const rows = (body: number[]) => [
    ...op.i32Const(0), ...op.localSet(k),
    ...op.localGet(panel), ...op.localSet(from),
    ...op.localGet(out), ...op.localSet(to),
    ...op.loop([...op.localGet(k), ...op.localGet(K), ...op.i32GeU], [
      ...body,
      ...op.addTo(to, op.i32Const(16)), ...op.addTo(from, op.localGet(rowBytes)), ...op.addTo(k, op.i32Const(1)),
    ]),
  ];
  return [
    ...op.localGet(K), ...op.i32Const(16), ...op.i32Mul, ...op.localSet(panelBytes),
    ...op.localGet(b), ...op.localSet(panel),
    ...op.loop([...op.localGet(p), ...op.i32Const(4), ...op.i32Add, ...op.localGet(fullPanels), ...op.i32GtU], [
      ...rows([...copy(0, 0), ...copy(16, 1), ...copy(32, 2), ...copy(48, 3)]),
      ...op.addTo(out, [...op.localGet(panelBytes), ...op.i32Const(4), ...op.i32Mul]), ...op.addTo(panel, op.i32Const(64)), ...op.addTo(p, op.i32Const(4)),
    ]),
    ...op.loop([...op.localGet(p), ...op.localGet(fullPanels), ...op.i32GeU], [
      ...rows(copy(0, 0)),
      ...op.addTo(out, op.localGet(panelBytes)), ...op.addTo(panel, op.i32Const(16)), ...op.addTo(p, op.i32Const(1)),
    ]),
  ];
}

/**
 * panelsTransposed(out, b, rowBytes, fullPanels): the same panels from b's transpose [N, K]
 * (rows of rowBytes, a multiple of 16): four rows' next four values at a time, transposed as a
 * 4 x 4 block, so that each k's four columns are stored together.
 */
function panelsTransposedCode(): number[] {
  const [out, b, rowBytes, fullPanels] = [0, 1, 2, 3];
  const [p, kb, rows, at, r0, r1, r2, r3, t0, t1, t2, t3] = [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
  const load = (row: number, r: number) => [...op.strided(at, rowBytes, row), ...op.v128Load, ...op.localSet(r)];
  const shuffle = (a: number, c: number, lanes: number[], to?: number) => [
    ...op.localGet(a), ...op.localGet(c), ...op.i32x4Shuffle(lanes), ...(to === undefined ? [] : op.localSet(to)),
  ];
  const store = (offset: number, a: number, c: number, lanes: number[]) => [...op.localGet(out), ...shuffle(a, c, lanes), ...op.v128StoreAt(offset)];
  return [
    ...op.localGet(b), ...op.localSet(rows),
    ...op.loop([...op.localGet(p), ...op.localGet(fullPanels), ...op.i32GeU], [
      ...op.i32Const(0), ...op.localSet(kb),
      ...op.loop([...op.localGet(kb), ...op.localGet(rowBytes), ...op.i32GeU], [
        ...op.localGet(rows), ...op.localGet(kb), ...op.i32Add, ...op.localSet(at),
        ...load(0, r0), ...load(1, r1), ...load(2, r2), ...load(3, r3),
        // t0 = r0[0] r1[0] r0[1] r1[1], t1 = r0[2] r1[2] r0[3] r1[3]; t2, t3 the same of r2, r3
        ...shuffle(r0, r1, [0, 4, 1, 5], t0), ...shuffle(r0, r1, [2, 6, 3, 7], t1),
        ...shuffle(r2, r3, [0, 4, 1, 5], t2), ...shuffle(r2, r3, [2, 6, 3, 7], t3),
        ...store(0, t0, t2, [0, 1, 4, 5]), ...store(16, t0, t2, [2, 3, 6, 7]),
        ...store(32, t1, t3, [0, 1, 4, 5]), ...store(48, t1, t3, [2, 3, 6, 7]),
        ...op.addTo(out, op.i32Const(64)),
        ...op.addTo(kb, op.i32Const(16)),
      ]),
      ...op.addTo(rows, [...op.localGet(rowBytes), ...op.i32Const(4), ...op.i32Mul]),
      ...op.addTo(p, op.i32Const(1)),
    ]),
  ];
}

/**
 * sumOfSquares(x, bytes, out): the sums of squares of x's values 4i, 4i + 1, 4i + 2 and 4i + 3
 * (bytes a multiple of 16), in f64 as four f64 at out: each value promoted exactly and squared
 * exactly, added in order, as four JavaScript accumulators do.
 */
function sumOfSquaresCode(): number[] {
  const [x, bytes, out] = [0, 1, 2];
  const [offset, v, p, low, high] = [3, 4, 5, 6, 7];
  const square = (from: number[], acc: number) => [
    ...from, ...op.f64x2PromoteLowF32x4, ...op.localSet(p),
    ...op.localGet(acc), ...op.localGet(p), ...op.localGet(p), ...op.f64x2Mul, ...op.f64x2Add, ...op.localSet(acc),
  ];
  return [
    ...op.v128Zero, ...op.localSet(low),
    ...op.v128Zero, ...op.localSet(high),
    ...op.loop([...op.localGet(offset), ...op.localGet(bytes), ...op.i32GeU], [
      ...op.localGet(x), ...op.localGet(offset), ...op.i32Add, ...op.v128Load, ...op.localSet(v),
      ...square(op.localGet(v), low),
      ...square([...op.localGet(v), ...op.localGet(v), ...op.i32x4Shuffle([2, 3, 0, 1])], high),
      ...op.addTo(offset, op.i32Const(16)),
    ]),
    ...op.localGet(out), ...op.localGet(low), ...op.v128Store,
    ...op.localGet(out), ...op.localGet(high), ...op.v128StoreAt(16),
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
type Panels = (out: number, b: number, rowBytes: number, K: number, fullPanels: number) => void;
type PanelsTransposed = (out: number, b: number, rowBytes: number, fullPanels: number) => void;
type SumOfSquares = (x: number, bytes: number, out: number) => void;

export class SimdRows {
  private readonly memory: WebAssembly.Memory;
  readonly dots: Dots;
  readonly weightedRowSum: WeightedRowSum;
  readonly panels: Panels;
  readonly panelsTransposed: PanelsTransposed;
  readonly sumOfSquares: SumOfSquares;

  private constructor(module: WebAssembly.Module) {
    this.memory = new WebAssembly.Memory({ initial: 1 });
    const { exports } = new WebAssembly.Instance(module, { env: { memory: this.memory } });
    this.dots = exports.dots as Dots;
    this.weightedRowSum = exports.weightedRowSum as WeightedRowSum;
    this.panels = exports.panels as Panels;
    this.panelsTransposed = exports.panelsTransposed as PanelsTransposed;
    this.sumOfSquares = exports.sumOfSquares as SumOfSquares;
  }

  /** The process's instance, or undefined where WebAssembly SIMD is missing (or switched off). */
  static get(): SimdRows | undefined {
    if (!enabled) return undefined;
    if (compiled === undefined) {
      compiled = compile(moduleBytes([
        { name: 'dots', params: [I32, I32, I32, I32, I32], locals: [I32, I32, I32, I32, V128], code: dotsCode() },
        { name: 'weightedRowSum', params: [I32, I32, I32, I32, I32, I32], locals: [I32, I32, I32, I32, V128], code: weightedRowSumCode() },
        { name: 'panels', params: [I32, I32, I32, I32, I32], locals: [I32, I32, I32, I32, I32, I32], code: panelsCode() },
        { name: 'panelsTransposed', params: [I32, I32, I32, I32], locals: [I32, I32, I32, I32, ...new Array<number>(8).fill(V128)], code: panelsTransposedCode() },
        { name: 'sumOfSquares', params: [I32, I32, I32], locals: [I32, V128, V128, V128, V128], code: sumOfSquaresCode() },
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

  /** `count` f64 values at a byte offset (a multiple of 8). */
  readF64(offset: number, count: number): number[] {
    return Array.from(new Float64Array(this.memory.buffer, offset, count));
  }

  /** Copies the values at a byte offset into the start of `target`, `length` of them. */
  readInto(offset: number, target: Float32Array, length: number): void {
    target.set(new Float32Array(this.memory.buffer, offset, length));
  }
}
