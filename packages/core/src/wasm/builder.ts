/**
 * The bytes of small WebAssembly SIMD modules written by hand for the host's loops (Adam's
 * update, attention's sums): just the encodings they use. Each module imports its memory as
 * env.memory and exports functions of one signature each.
 */

export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128, as i32.const reads its immediate (64 in unsigned LEB128 reads as -64). */
export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const name = (s: string) => [...uleb(s.length), ...[...s].map((c) => c.charCodeAt(0))];
const section = (id: number, payload: number[]) => [id, ...uleb(payload.length), ...payload];
const simd = (opcode: number, ...immediates: number[]) => [0xfd, ...uleb(opcode), ...immediates];

export const op = {
  localGet: (i: number) => [0x20, ...uleb(i)],
  localSet: (i: number) => [0x21, ...uleb(i)],
  localTee: (i: number) => [0x22, ...uleb(i)],
  i32Const: (n: number) => [0x41, ...sleb(n)],
  i32Add: [0x6a],
  i32Mul: [0x6c],
  i32GeU: [0x4f],
  i32GtU: [0x4b],
  f32Add: [0x92],
  // memargs: alignment 2^2 for f32, 2^4 for v128 (hints only), offset 0
  f32Load: [0x2a, 2, 0],
  f32Store: [0x38, 2, 0],
  v128Load: simd(0x00, 4, 0),
  v128Store: simd(0x0b, 4, 0),
  /** v128.load / v128.store at a constant byte offset from the address. */
  v128LoadAt: (offset: number) => simd(0x00, 4, ...uleb(offset)),
  v128StoreAt: (offset: number) => simd(0x0b, 4, ...uleb(offset)),
  v128Zero: simd(0x0c, ...new Array<number>(16).fill(0)),
  /** i8x16.shuffle of two vectors by 32-bit lanes (0-3: the first's, 4-7: the second's). */
  i32x4Shuffle: (lanes: readonly number[]) => simd(0x0d, ...lanes.flatMap((lane) => [4 * lane, 4 * lane + 1, 4 * lane + 2, 4 * lane + 3])),
  f32x4Splat: simd(0x13),
  f32x4ExtractLane: (lane: number) => simd(0x1f, lane),
  f32x4Sqrt: simd(0xe3),
  f32x4Add: simd(0xe4),
  f32x4Mul: simd(0xe6),
  f32x4Div: simd(0xe7),
  /** The two low f32 lanes as f64 (exact). */
  f64x2PromoteLowF32x4: simd(0x5f),
  f64x2Add: simd(0xf0),
  f64x2Mul: simd(0xf2),
  /** local += the i32 that `step` leaves. */
  addTo: (local: number, step: readonly number[]): number[] => [...op.localGet(local), ...step, ...op.i32Add, ...op.localSet(local)],
  /** The address base + times * stride (locals), as additions. */
  strided: (base: number, stride: number, times: number): number[] => [
    ...op.localGet(base), ...Array.from({ length: times }, () => [...op.localGet(stride), ...op.i32Add]).flat(),
  ],
  /** block { loop { <body> } }: `exitIf` ends with the condition, which leaves both; the body loops back. */
  loop: (exitIf: number[], body: number[]) => [0x02, 0x40, 0x03, 0x40, ...exitIf, 0x0d, 1, ...body, 0x0c, 0, 0x0b, 0x0b],
};

export interface WasmFunction {
  readonly name: string;
  readonly params: readonly number[];
  /** Result types (none where omitted). */
  readonly results?: readonly number[];
  /** Local types after the parameters, one entry a local. */
  readonly locals: readonly number[];
  readonly code: readonly number[];
}

/** A module of these functions over an imported memory (env.memory). */
export function moduleBytes(functions: readonly WasmFunction[]): Uint8Array {
  const types = functions.flatMap((f) => [0x60, ...uleb(f.params.length), ...f.params, ...uleb(f.results?.length ?? 0), ...(f.results ?? [])]);
  const bodies = functions.flatMap((f) => {
    // runs of equal local types, as the format groups them
    const groups: number[][] = [];
    for (const type of f.locals) {
      const last = groups[groups.length - 1];
      if (last && last[1] === type) last[0]!++;
      else groups.push([1, type]);
    }
    const body = [...uleb(groups.length), ...groups.flatMap(([count, type]) => [...uleb(count!), type!]), ...f.code, 0x0b];
    return [...uleb(body.length), ...body];
  });
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [...uleb(functions.length), ...types]),
    ...section(2, [1, ...name('env'), ...name('memory'), 0x02, 0x00, 0]),
    ...section(3, [...uleb(functions.length), ...functions.map((_, i) => i)]),
    ...section(7, [...uleb(functions.length), ...functions.flatMap((f, i) => [...name(f.name), 0x00, i])]),
    ...section(10, [...uleb(functions.length), ...bodies]),
  ]);
}

/** The compiled module, or null where WebAssembly SIMD is missing. */
export function compile(bytes: Uint8Array): WebAssembly.Module | null {
  return typeof WebAssembly === 'object' && WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
}

export const PAGE = 65536;
