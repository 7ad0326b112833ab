import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { GPU } from 'gpu.js';
import { afterAll, describe, expect, it } from 'vitest';
import { floorDiv, wasmMultiplyAdd } from '../src/backend/backend.js';
import { columnPanels, packedMatmulSpec, unpackRowsSpec } from '../src/kernels/matmul.js';
import { mulberry32 } from '../src/random.js';

/*
 * Our patch of gpu.js's WebAssembly code generator (patches/gpu.js@2.24.1.patch, see its notes in
 * bench/docs/history.md) must not change a single bit of any kernel's output: it only replaces 4-lane
 * gathers by one load and a splat or one vector load, and f32 index arithmetic and loop counters
 * by i32, where those compute the same values. The one exception is `acc += a * b` on floats
 * (and the Horner steps of exp and tanh, below), one fused multiply-add where the engine has
 * relaxed SIMD and the CPU fuses it (`wasmMultiplyAdd`), in vector lanes and scalar tails alike. Each kernel here is checked bit for
 * bit against a JS emulation of its f32 arithmetic in the kernel's own order (Math.fround after
 * every operation, once for a fused multiply-add), on webasm, the backend the patch touches. The kernels cover each path the patch
 * takes (a uniform or a consecutive lane term, a scaled one, two of them, three, none) and each it
 * must refuse (rows not a multiple of 4 wide, a fractional const, a lane-varying branch, loops it
 * cannot count in i32). The patch also computes Math.exp and Math.tanh inside the module (in
 * f32, Cephes' expf and tanhf, within 2 ulp; the same bits in vector lanes and scalar tails) and
 * lets a step returning Array(4) or Array(8) feed the next step of a fused pipeline as a flat
 * array (our four-rows-per-thread kernels), and a pipeline
 * made with `copyArguments: false` reads its argument arrays in place instead of copying them
 * (and with `flatResults: true` returns such a step as one flat array).
 * Threaded kernels and pipelines share one pool of workers instead of two threads each; a
 * threaded pipeline's workers claim each step's cells in chunks from a shared counter (instead of
 * a fixed share each) and poll briefly at a barrier before they sleep; consecutive steps of
 * kernels that declare the same `localBlocks` (each cell reads only its own block of the others'
 * outputs) meet at no barrier, each worker on the same blocks throughout. A loop
 * whose loads' indexes are affine in its counter runs without their clamps (and with their
 * constant terms in the load offset) where a check before it proves them in bounds. A threaded
 * pipeline's stall timeout does not count the time its process was stopped. A pipeline made
 * with `borrowResults: true` returns its results as views of its memory (no copy), valid until its
 * next call. A helper registered in `vectorHelpers` (our floorDiv) is emitted as f32x4 code
 * where its arguments vary across lanes, instead of a scalar call per lane. (Assembling a module
 * also drops the emitted code its function nodes held, which every pipeline here that reassembles
 * a kernel built before exercises.)
 */

const f = Math.fround;
const require = createRequire(import.meta.url);

function random(length: number, seed: number): Float32Array {
  const next = mulberry32(seed);
  return Float32Array.from({ length }, () => next() * 2 - 1);
}

type KernelThis = { thread: { x: number }; constants: Record<string, number> };

const { WebAssemblyFunctionNode } = require('gpu.js/src/backend/web-assembly/function-node.js');
const stats = (): Record<string, number> | undefined => WebAssemblyFunctionNode.patchStats;

const gpu = new GPU({ mode: 'webasm' });
gpu.addFunction(floorDiv);
afterAll(() => gpu.destroy());

/** Runs a fresh kernel; also returns what the patch emitted while compiling it. */
async function run(source: (this: KernelThis, ...args: never[]) => number, cells: number, constants: Record<string, number>, inputs: Float32Array[]) {
  const before = { ...stats() };
  const kernel = gpu.createKernel(source as never, { output: [cells], constants, precision: 'single', tactic: 'precision' });
  const output = Float32Array.from((await kernel(...(inputs as never[]))) as Float32Array);
  const emitted = Object.fromEntries(Object.entries(stats()!).map(([key, value]) => [key, value - before[key]!]));
  return { output, emitted };
}

/** wasm's f32.nearest: to the nearest integer, ties to even. */
function nearest(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The patch's Math.exp, operation by operation in f32 (Cephes' expf): clamp, x = k ln2 + r, a
 * degree-7 polynomial in r (its Horner steps multiply-adds, see `multiplyAdd`), times 2^(k >> 1)
 * then 2^(k - (k >> 1)).
 */
function expF32(x: number): number {
  const poly = [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1].map(f);
  x = f(Math.min(Math.max(x, -104), 89));
  const k = nearest(f(x * f(Math.LOG2E)));
  const r = f(f(x - f(k * 0.693359375)) - f(k * f(-2.12194440e-4)));
  const z = f(r * r);
  let p = poly[0]!;
  for (let i = 1; i < poly.length; i++) p = multiplyAdd(poly[i]!, p, r);
  p = f(multiplyAdd(r, p, z) + 1);
  const n = Number.isNaN(k) ? 0 : k;
  return f(f(p * 2 ** (n >> 1)) * 2 ** (n - (n >> 1)));
}

/** The patch's Math.tanh in f32 (Cephes' tanhf): x + x^3 q(x^2) up to |x| = 0.625, else 1 - 2 / (e^2|x| + 1); x's sign. */
function tanhF32(x: number): number {
  const a = Math.abs(x);
  const poly = [-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1].map(f);
  const z = f(x * x);
  let p = poly[0]!;
  for (let i = 1; i < poly.length; i++) p = multiplyAdd(poly[i]!, p, z);
  const t = a > 0.625 ? f(1 - f(2 / f(expF32(f(a + a)) + 1))) : f(f(f(p * z) * x) + x);
  return x < 0 || Object.is(x, -0) ? -Math.abs(t) : Math.abs(t);
}

/** The f32 next to x (finite, not 0) toward +Infinity (up) or -Infinity. */
function f32Neighbour(x: number, up: boolean): number {
  const bits = new Int32Array(new Float32Array([x]).buffer);
  bits[0] = bits[0]! + ((x > 0) === up ? 1 : -1);
  return new Float32Array(bits.buffer)[0]!;
}

/**
 * acc + a b as the kernels compute `acc += a * b` on f32 values: rounded once where they fuse it
 * (`wasmMultiplyAdd`, relaxed SIMD's multiply-add), else the product rounded, then the sum.
 */
function multiplyAdd(acc: number, a: number, b: number): number {
  if (wasmMultiplyAdd !== 'fused') return f(acc + f(a * b));
  const product = a * b; // exact in f64: 24-bit by 24-bit significands
  const sum = product + acc;
  const rounded = f(sum);
  if (rounded === sum) return rounded;
  // sum was rounded to f64 once already; that can only matter where it landed exactly halfway
  // between two f32s, and then the exact sum's side decides (TwoSum gives what f64 dropped)
  const back = sum - product;
  const dropped = product - (sum - back) + (acc - back);
  const other = f32Neighbour(rounded, rounded < sum);
  if (dropped === 0 || Math.abs(sum - rounded) !== Math.abs(other - sum)) return rounded;
  return dropped > 0 ? Math.max(rounded, other) : Math.min(rounded, other);
}

function expectBitIdentical(actual: Float32Array, expected: Float32Array) {
  expect(actual.length).toBe(expected.length);
  const differing = [...actual.keys()].filter((i) => !Object.is(actual[i], expected[i]));
  expect(differing.slice(0, 5).map((i) => `cell ${i}: ${actual[i]} != ${expected[i]}`)).toEqual([]);
}

/** out[m, n] = sum_k a[m, k] b[k, n] (or b[n, k] with transB), summed in k order in f32. */
function matmulSource(this: KernelThis, a: Float32Array, b: Float32Array): number {
  const cell = this.thread.x;
  const row = floorDiv(cell, this.constants.N!);
  const col = cell - row * this.constants.N!;
  const aBase = row * this.constants.K!;
  const bBase = col * this.constants.bCol!;
  let sum = 0;
  for (let k = 0; k < this.constants.K!; k++) {
    sum += a[aBase + k * 1]! * b[bBase + k * this.constants.bK!]!;
  }
  return sum;
}

function matmulExpected(a: Float32Array, b: Float32Array, M: number, K: number, N: number, transB: boolean) {
  const out = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let sum = 0;
      for (let k = 0; k < K; k++) sum = multiplyAdd(sum, a[m * K + k]!, b[transB ? n * K + k : k * N + n]!);
      out[m * N + n] = sum;
    }
  }
  return out;
}

describe('the gpu.js patch', () => {
  it('is applied', () => {
    expect(stats()).toBeDefined();
  });

  it.each([
    ['rows a multiple of 4 (a uniform, b consecutive)', 12, 20, 16, false],
    ['b transposed (b strided: gathered)', 12, 20, 16, true],
    ['rows of 7 (quads that straddle rows: no shape)', 5, 9, 7, false],
    ['one row of 4', 1, 3, 4, false],
  ])('matmul, %s', async (_, M, K, N, transB) => {
    const a = random(M * K, 1);
    const b = random(K * N, 2);
    const constants = { N, K, bCol: transB ? K : 1, bK: transB ? 1 : N };
    const { output, emitted } = await run(matmulSource, M * N, constants, [a, b]);
    expectBitIdentical(output, matmulExpected(a, b, M, K, N, transB));
    // aBase and bBase are lane-shaped consts: the k loop is versioned, with both kinds of load
    expect(emitted).toMatchObject({ versionedLoops: 1 });
    expect(emitted.vectorLoads).toBeGreaterThan(0);
    expect(emitted.splatLoads).toBeGreaterThan(0);
    // the sum's `+=` as a multiply-add (in the vector and the scalar function, both versions of
    // the loop), bit for bit in the lanes and in a scalar tail (rows of 7: 35 cells, 3 in the tail)
    if (wasmMultiplyAdd === 'off') expect(emitted.multiplyAdds).toBe(0);
    else expect(emitted.multiplyAdds).toBeGreaterThan(1);
  });

  it('an LSTM-style gate: scaled lane terms (uniform, consecutive), a plain consecutive one, a sigmoid', async () => {
    const B = 3;
    const H = 8;
    const GH = 4 * H;
    function gate(this: KernelThis, h: Float32Array, wT: Float32Array, bias: Float32Array): number {
      const cell = this.thread.x;
      const b = floorDiv(cell, this.constants.GH!);
      const row = cell - b * this.constants.GH!;
      let pre = bias[row]!;
      for (let k = 0; k < this.constants.H!; k++) {
        pre += h[b * this.constants.H! + k]! * wT[k * this.constants.GH! + row]! - wT[row * this.constants.H! + k]!;
      }
      return 1 / (1 + Math.exp(-pre));
    }
    const h = random(B * H, 3);
    const wT = random(H * GH, 4);
    const bias = random(GH, 5);
    const { output: actual, emitted } = await run(gate, B * GH, { H, GH }, [h, wT, bias]);
    expect(emitted.versionedLoops).toBe(1);
    // The sigmoid's Math.exp is the patch's f32 exp (see expF32).
    const expected = new Float32Array(B * GH);
    for (let b = 0; b < B; b++) {
      for (let row = 0; row < GH; row++) {
        let pre = bias[row]!;
        for (let k = 0; k < H; k++) pre = f(pre + f(f(h[b * H + k]! * wT[k * GH + row]!) - wT[row * H + k]!));
        expected[b * GH + row] = f(1 / f(1 + expF32(f(-pre))));
      }
    }
    expectBitIdentical(actual, expected);
  });

  it.each([3, 4, 1000, 2 ** 23 + 1, 2 ** 24 - 1])('floorDiv by %i is f32x4 code with the scalar call\'s bits in every lane', async (D) => {
    // a from the thread index (an i32 lane) and from an array (an f32 lane), around multiples of D
    // and up to 2^24 - 1, the largest index a kernel sees (MAX_KERNEL_CELLS)
    function quotients(this: KernelThis, a: Float32Array): number {
      const cell = this.thread.x;
      return floorDiv(a[cell]!, this.constants.D!) * 2 + floorDiv(cell, this.constants.D!) * 3;
    }
    const values = [0, 1, D - 1, D, D + 1, 2 * D - 1, 2 * D, 2 ** 24 - 1, 2 ** 24 - 2, 2 ** 23, 12345, 2 ** 24 - D];
    const a = Float32Array.from({ length: 64 }, (_, i) => Math.max(0, Math.min(2 ** 24 - 1, values[i % values.length]! + (i >> 4))));
    const expected = Float32Array.from(a, (value, cell) => f(f(Math.floor(value / D) * 2) + f(Math.floor(cell / D) * 3)));
    const vectorized = await run(quotients, a.length, { D }, [a]);
    expect(vectorized.emitted.vectorHelperCalls).toBe(2);
    expectBitIdentical(vectorized.output, expected);
    const registered = WebAssemblyFunctionNode.vectorHelpers.floorDiv;
    delete WebAssemblyFunctionNode.vectorHelpers.floorDiv;
    try {
      const perLane = await run(quotients, a.length, { D }, [a]);
      expect(perLane.emitted.vectorHelperCalls).toBe(0);
      expectBitIdentical(perLane.output, expected);
    } finally {
      WebAssemblyFunctionNode.vectorHelpers.floorDiv = registered;
    }
  });

  it('three lane terms (no versioning), a fractional const, and a counter used as a number', async () => {
    function mixed(this: KernelThis, a: Float32Array): number {
      const x = this.thread.x;
      const p = x + 1;
      const q = x + 2;
      const half = x + 0.5;
      let s = 0;
      for (let k = 0; k < 6; k++) {
        s += a[x + k]! + a[p + k]! * a[q + k]! + a[half + k]! + k * 0.25;
      }
      return s;
    }
    const a = random(64, 6);
    const expected = new Float32Array(40);
    for (let x = 0; x < 40; x++) {
      let s = 0;
      for (let k = 0; k < 6; k++) {
        const term = f(f(f(a[x + k]! + f(a[x + 1 + k]! * a[x + 2 + k]!)) + a[Math.trunc(x + 0.5 + k)]!) + f(k * 0.25));
        s = f(s + term);
      }
      expected[x] = s;
    }
    const { output, emitted } = await run(mixed, 40, {}, [a]);
    expectBitIdentical(output, expected);
    expect(emitted.versionedLoops).toBe(0); // four lane-shaped consts: more versions than it is worth
  });

  it('loops with <=, a non-literal start, break and continue, and a lane-varying branch', async () => {
    function loops(this: KernelThis, a: Float32Array): number {
      const x = this.thread.x;
      const base = floorDiv(x, 8) * 8;
      let s = 0;
      for (let k = 0; k <= 4; k++) {
        if (k === 3) {
          continue;
        }
        s += a[base + k]!;
      }
      for (let k = 2; k < 10; k++) {
        if (k === 7) {
          break;
        }
        s += a[x + k]! * 2;
      }
      let start = 1;
      for (let k = start; k < 4; k++) {
        s += a[x + k]!;
      }
      if (x % 3 === 0) {
        // its own counter name: gpu.js types locals by name, and one assigned under a lane-varying
        // branch would make every loop counting with it lane-varying
        for (let j = 0; j < 3; j++) {
          s += a[x + j]! * 0.5;
        }
      }
      return s;
    }
    const a = random(48, 7);
    const expected = new Float32Array(32);
    for (let x = 0; x < 32; x++) {
      const base = Math.floor(x / 8) * 8;
      let s = 0;
      for (let k = 0; k <= 4; k++) if (k !== 3) s = f(s + a[base + k]!);
      for (let k = 2; k < 7; k++) s = f(s + f(a[x + k]! * 2));
      for (let k = 1; k < 4; k++) s = f(s + a[x + k]!);
      if (x % 3 === 0) for (let k = 0; k < 3; k++) s = f(s + f(a[x + k]! * 0.5));
      expected[x] = s;
    }
    const { output, emitted } = await run(loops, 32, {}, [a]);
    expectBitIdentical(output, expected);
    // base, and x in the uniform loops; never inside the lane-varying branch
    expect(emitted.versionedLoops).toBeGreaterThan(0);
  });

  it('a loop whose shaped loads a range check proves in bounds reads without clamps; past an end it keeps them', async () => {
    // out[x] = sum over k < 6 of a[x + k] + b[q * 4 + k * k]: a is 2 short of the last quad's
    // reads, so that quad fails the check and runs the clamped loop (lane 0's index held at
    // length - 4, as before the check existed); b's index is not affine in k, so it is never unclamped
    function window(this: KernelThis, a: Float32Array, b: Float32Array): number {
      const x = this.thread.x;
      const q = floorDiv(x, 4);
      let s = 0;
      for (let k = 0; k < 6; k++) {
        s += a[x + k]! + b[q * 4 + k * k]!;
      }
      return s;
    }
    const cells = 32;
    const a = random(cells + 2, 11);
    const b = random(cells + 25, 12);
    const expected = new Float32Array(cells);
    for (let x = 0; x < cells; x++) {
      const lane = x % 4;
      let s = 0;
      for (let k = 0; k < 6; k++) s = f(s + f(a[Math.min(x - lane + k, a.length - 4) + lane]! + b[x - lane + k * k]!));
      expected[x] = s;
    }
    const { output, emitted } = await run(window, cells, {}, [a, b]);
    expectBitIdentical(output, expected);
    expect(emitted.checkedLoops).toBeGreaterThan(0);
    // a's load, once in each version of the loop that the check guards (q uniform, x consecutive)
    expect(emitted.unclampedLoads).toBeGreaterThan(0);
    expect(emitted.unclampedLoads).toBeLessThan(emitted.vectorLoads! + emitted.splatLoads!);
  });

  it('constant index terms move to the load offset only where the rest of the index is not negative', async () => {
    // a[y + 4 + k] reads a[x + k]; the first quad's y + k is negative, so that quad keeps the
    // constant in its index (with the 4 in the offset it would address below the memory and trap)
    function shifted(this: KernelThis, a: Float32Array): number {
      const x = this.thread.x;
      const y = x - 4;
      let s = 0;
      for (let k = 0; k < 3; k++) {
        s += a[y + 4 + k]!;
      }
      return s;
    }
    const a = random(20, 13);
    const expected = Float32Array.from({ length: 16 }, (_, x) => f(f(a[x]! + a[x + 1]!) + a[x + 2]!));
    const { output, emitted } = await run(shifted, 16, {}, [a]);
    expectBitIdentical(output, expected);
    expect(emitted.unclampedLoads).toBeGreaterThan(0);
  });

  it('exp and tanh run inside the module in f32, within 2 ulp of Math.exp and Math.tanh, the same bits in vector lanes and scalar tails', async () => {
    const next = mulberry32(8);
    const scales = [1e-30, 1e-6, 1e-3, 0.0625, 0.625, 1, 5, 20, 90, 120];
    const special = [0, -0, NaN, Infinity, -Infinity, 0.625, -0.625, 0.62500006, 88.72, 88.73, -87.33, -103.97, -104, 1e-45, 3e38, -3e38];
    // 4,099 cells: quads through the f32x4 path and a tail of 3 through the scalar one, which
    // holds three of the specials again
    const x = Float32Array.from({ length: 4099 }, (_, i) => (i < special.length ? special[i]! : (next() * 2 - 1) * scales[i % scales.length]!));
    x.set([0.625, -87.33, 88.72], 4096);
    function exp(this: KernelThis, v: Float32Array): number {
      return Math.exp(v[this.thread.x]!);
    }
    function tanh(this: KernelThis, v: Float32Array): number {
      return Math.tanh(v[this.thread.x]!);
    }
    const expOut = (await run(exp, x.length, {}, [x])).output;
    const tanhOut = (await run(tanh, x.length, {}, [x])).output;
    expectBitIdentical(expOut, x.map(expF32));
    expectBitIdentical(tanhOut, x.map(tanhF32));
    expect([expOut[4096], expOut[4097], expOut[4098]]).toEqual([expOut[5], expOut[10], expOut[8]]);
    expect([tanhOut[4096], tanhOut[4097], tanhOut[4098]]).toEqual([tanhOut[5], tanhOut[10], tanhOut[8]]);
    // ulps from the exact value, where it is a normal f32 (below that, within one subnormal step)
    const ulps = (actual: number, exact: number) => Math.abs(actual - exact) / 2 ** (Math.floor(Math.log2(Math.abs(f(exact)))) - 23);
    for (const [out, exact] of [[expOut, Math.exp], [tanhOut, Math.tanh]] as const) {
      const worst = Math.max(...[...x.keys()].map((i) => {
        const want = exact(x[i]!);
        if (Number.isNaN(want) || !Number.isFinite(f(want)) || want === 0) return Object.is(out[i], f(want)) ? 0 : Infinity;
        return Math.abs(want) < 2 ** -126 ? Math.abs(out[i]! - want) / 2 ** -149 : ulps(out[i]!, want);
      }));
      expect(worst).toBeLessThanOrEqual(2);
    }
    expect([...expOut.slice(0, 5)]).toEqual([1, 1, NaN, Infinity, 0]);
    expect([...tanhOut.slice(0, 5)]).toEqual([0, -0, NaN, 1, -1]);
  });

  it.each([
    ['Array(4)', 'fused-sync', 8, 6, 12],
    ['Array(4)', 'fused-threaded', 64, 32, 128],
    ['Array(8)', 'fused-sync', 8, 6, 16],
    ['Array(8)', 'fused-threaded', 64, 32, 128],
  ] as const)('an %s step feeds the next step of a pipeline as a flat array (%s)', async (returnType, executor, M, K, N) => {
    // core's product of four rows (and two panels for Array(8)) a thread, then its kernel
    // reading the packed cells back as [M, N]
    const tile = returnType === 'Array(8)' ? 2 : 1;
    const productSpec = packedMatmulSpec([M, K], [K, N], {}, tile === 2)!;
    expect(productSpec.returnType).toBe(returnType);
    const unpackSpec = unpackRowsSpec(M, N, false, tile);
    const settings = { precision: 'single', tactic: 'precision' } as const;
    const fourValues = { returnType: productSpec.returnType }; // a kernel setting gpu.js's typings leave out
    const product = gpu.createKernel(productSpec.source as never, { ...settings, ...fourValues, constants: { ...productSpec.constants }, output: [productSpec.outputSize] });
    const unpacked = gpu.createKernel(unpackSpec.source as never, { ...settings, constants: { ...unpackSpec.constants }, output: [unpackSpec.outputSize] });
    const pipeline = gpu.createPipeline(function (a: unknown, b: unknown) {
      return [unpacked(product(a, b))];
    } as never);
    const a = random(M * K, 9);
    const b = random(K * N, 10);
    const [actual] = (await pipeline(a, columnPanels(b, K, N))) as Float32Array[];
    expect(pipeline.executorKind).toBe(executor);
    const expected = matmulExpected(a, b, M, K, N, false);
    expectBitIdentical(actual!, expected);
    pipeline.destroy();
    // flatResults: true returns the step itself as one flat array, 4 or 8 values a cell: cell
    // (q, c) holds rows 4q..4q+3 of column c, or of columns n and n + 4, n = 8 (c div 4) + c mod 4
    const flat = gpu.createPipeline(function (a: unknown, b: unknown) {
      return [product(a, b)];
    } as never, { flatResults: true });
    const [cells] = (await flat(a, columnPanels(b, K, N))) as unknown[];
    expect(cells).toBeInstanceOf(Float32Array);
    const width = 4 * tile;
    const packedExpected = Float32Array.from({ length: M * N }, (_, i) => {
      const cell = Math.floor(i / width);
      const [quad, c] = [Math.floor(cell / (N / tile)), cell % (N / tile)];
      const column = tile === 1 ? c : 8 * Math.floor(c / 4) + (c % 4) + 4 * Math.floor((i % width) / 4);
      return expected[(quad * 4 + (i % 4)) * N + column]!;
    });
    expectBitIdentical(cells as Float32Array, packedExpected);
    flat.destroy();
  });

  it.each([
    ['fused-sync', 6],
    ['fused-threaded', 8190],
  ] as const)('planarComponents stores an Array(4) step as four planes, under a divergent return too (%s, %i cells)', async (executor, cells) => {
    // positive and negative values alternate in runs of three: lanes of one vector take both returns
    function four(this: KernelThis, a: Float32Array): number[] {
      const x = a[this.thread.x]!;
      if (x > 0) return [x, 2 * x + 1, -x, x * x];
      return [x, 3, x - 1, 0.5];
    }
    // the next step reads component c of cell i at c cells + i
    function sumPlanes(this: KernelThis, planes: Float32Array): number {
      const i = this.thread.x;
      return planes[i]! + 10 * planes[this.constants.cells! + i]! + 100 * planes[2 * this.constants.cells! + i]! + 1000 * planes[3 * this.constants.cells! + i]!;
    }
    const settings = { precision: 'single', tactic: 'precision', output: [cells] as number[] } as const;
    const planar = { returnType: 'Array(4)', planarComponents: true }; // kernel settings gpu.js's typings leave out
    const kernel = gpu.createKernel(four as never, { ...settings, ...planar });
    const reader = gpu.createKernel(sumPlanes as never, { ...settings, constants: { cells } });
    const a = Float32Array.from({ length: cells }, (_, i) => (Math.floor(i / 3) % 2 === 0 ? 1 : -1) * (1 + (i % 7)));
    const expected = Array.from(a, (x) => (x > 0 ? [x, 2 * x + 1, -x, x * x] : [x, 3, x - 1, 0.5]));
    const flat = gpu.createPipeline(function (a: unknown) {
      const values = kernel(a);
      return [values, reader(values)];
    } as never, { flatResults: true });
    const [planes, sums] = (await flat(a)) as Float32Array[];
    expect(flat.executorKind).toBe(executor);
    expectBitIdentical(planes!, Float32Array.from({ length: 4 * cells }, (_, k) => expected[k % cells]![Math.floor(k / cells)]!));
    expectBitIdentical(sums!, Float32Array.from(expected, ([v0, v1, v2, v3]) => v0! + 10 * v1! + 100 * v2! + 1000 * v3!));
    flat.destroy();
    // shaped results come back as cells of four values, as without planes
    const shaped = gpu.createPipeline(function (a: unknown) {
      return [kernel(a)];
    } as never);
    const [asCells] = (await shaped(a)) as Float32Array[][];
    expect(Array.from(asCells!, (cell) => Array.from(cell))).toEqual(expected);
    shaped.destroy();
  });

  it('copyArguments: false reads argument arrays at execution instead of copying them at the call', async () => {
    function double(this: KernelThis, a: Float32Array): number {
      return a[this.thread.x]! * 2;
    }
    const kernel = gpu.createKernel(double as never, { output: [4], precision: 'single', tactic: 'precision' });
    for (const copyArguments of [true, false]) {
      const pipeline = gpu.createPipeline(function (a: unknown) {
        return [kernel(a)];
      } as never, { copyArguments });
      const a = new Float32Array([1, 2, 3, 4]);
      const pending = pipeline(a);
      a[0] = 10; // after the call, before it runs
      const [out] = (await pending) as Float32Array[];
      expect(out![0]).toBe(copyArguments ? 2 : 20);
      pipeline.destroy();
    }
  });

  it.each([
    ['fused-sync', 8],
    ['fused-threaded', 8192],
  ])('borrowResults: true returns views of the executor memory, valid until the next call (%s)', async (executor, cells) => {
    function double(this: KernelThis, a: Float32Array): number {
      return a[this.thread.x]! * 2;
    }
    function addOne(this: KernelThis, a: Float32Array): number {
      return a[this.thread.x]! + 1;
    }
    const first = gpu.createKernel(double as never, { output: [cells], precision: 'single', tactic: 'precision' });
    const second = gpu.createKernel(addOne as never, { output: [cells], precision: 'single', tactic: 'precision' });
    const input = (value: number) => new Float32Array(cells).fill(value);
    for (const borrowResults of [false, true]) {
      const pipeline = gpu.createPipeline(function (a: unknown) {
        const doubled = first(a);
        return [doubled, second(doubled)];
      } as never, { flatResults: true, borrowResults });
      const [doubled, plusOne] = (await pipeline(input(3))) as Float32Array[];
      expect(pipeline.executorKind).toBe(executor);
      expect([doubled![0], doubled![cells - 1], plusOne![0], plusOne![cells - 1]]).toEqual([6, 6, 7, 7]);
      // the views share the executor's memory, which the next call overwrites; copies keep their values
      expect(doubled!.buffer === plusOne!.buffer).toBe(borrowResults);
      await pipeline(input(5));
      expect([doubled![0], plusOne![cells - 1]]).toEqual(borrowResults ? [10, 11] : [6, 7]);
      pipeline.destroy();
    }
  });

  it("the default pool has a worker for each CPU the process may run on (its affinity), not each CPU of the machine", () => {
    const pool = require.resolve('gpu.js/src/backend/web-assembly/worker-pool.js');
    const script = `const lease = require(${JSON.stringify(pool)}).acquireWorkerPool(); console.log(lease.shared.pool.size); lease.destroy();`;
    // taskset (util-linux) pins the child to CPU 0
    expect(execFileSync('taskset', ['-c', '0', process.execPath, '-e', script], { encoding: 'utf8' }).trim()).toBe('1');
    expect(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).trim()).toBe(String(availableParallelism()));
  });

  it('threaded kernels and pipelines share one pool of workers, and a destroyed pipeline leaves it working', async () => {
    // Linux's count of this process's threads: each gpu.js worker is one
    const threads = () => Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]);
    const poolSize = availableParallelism(); // gpu.js's default pool size
    const before = threads();
    const settings = { precision: 'single', tactic: 'precision' } as const;
    const M = 64;
    const K = 32;
    const a = random(M * K, 11);
    // five kernel shapes and two pipelines, each threaded (gpu.js gives a worker 4,096 cells or more)
    const products = [128, 132, 136, 140, 144].map((N) => {
      const b = random(K * N, N);
      const kernel = gpu.createKernel(matmulSource as never, { ...settings, constants: { N, K, bCol: 1, bK: N }, output: [M * N] });
      return { N, b, kernel, expected: matmulExpected(a, b, M, K, N, false) };
    });
    for (const { b, kernel, expected } of products) expectBitIdentical(Float32Array.from((await kernel(a, b)) as Float32Array), expected);
    const pipelines = products.slice(0, 2).map(({ kernel }) => gpu.createPipeline(function (x: unknown, y: unknown) {
      return [kernel(x, y)];
    } as never));
    // calls in flight together, alternating between the two plans: each plan's workers meet in
    // barriers, so the shared workers must see the plans' runs in one order
    const calls = Array.from({ length: 12 }, (_, i) => pipelines[i % 2]!(a, products[i % 2]!.b) as Promise<Float32Array[]>);
    const outputs = await Promise.all(calls);
    outputs.forEach((output, i) => expectBitIdentical(output[0]!, products[i % 2]!.expected));
    expect(pipelines.map((pipeline) => pipeline.executorKind)).toEqual(['fused-threaded', 'fused-threaded']);
    expect(threads() - before).toBeLessThanOrEqual(poolSize);
    // gpu.js gave each its own workers and destroying a pipeline terminated them
    pipelines[0]!.destroy();
    const [again] = (await pipelines[1]!(a, products[1]!.b)) as Float32Array[];
    expectBitIdentical(again!, products[1]!.expected);
    expectBitIdentical(Float32Array.from((await products[4]!.kernel(a, products[4]!.b)) as Float32Array), products[4]!.expected);
    expect(threads() - before).toBeLessThanOrEqual(poolSize);
    pipelines[1]!.destroy();
  });

  it("a threaded pipeline's workers claim each step's cells in chunks: every cell once, each step after the whole of the one before", async () => {
    const M = 63;
    const K = 32;
    const N = 133; // 8,379 cells: the last chunk is a short one
    const cells = M * N;
    const a = random(M * K, 21);
    const b = random(K * N, 22);
    function gather(this: KernelThis, product: Float32Array): number {
      // each cell reads one far from its own, most likely in a chunk another worker ran (cell * 1009
      // stays below 2^24, exact in f32)
      const cell = this.thread.x;
      return product[cell * 1009 - floorDiv(cell * 1009, this.constants.cells!) * this.constants.cells!]! * 2 + 1;
    }
    const settings = { precision: 'single', tactic: 'precision' } as const;
    const product = gpu.createKernel(matmulSource as never, { ...settings, constants: { N, K, bCol: 1, bK: N }, output: [cells] });
    const gathered = gpu.createKernel(gather as never, { ...settings, constants: { cells }, output: [cells] });
    const pipeline = gpu.createPipeline(function (x: unknown, y: unknown) {
      const p = product(x, y);
      return [p, gathered(p), gathered(gathered(p))];
    } as never, { flatResults: true });
    const expectedProduct = matmulExpected(a, b, M, K, N, false);
    const gatherExpected = (from: Float32Array) => Float32Array.from(from, (_, cell) => f(f(from[(cell * 1009) % cells]! * 2) + 1));
    const { acquireWorkerPool } = require('gpu.js/src/backend/web-assembly/worker-pool.js');
    const lease = acquireWorkerPool();
    try {
      for (let call = 0; call < 3; call++) {
        const [p, once, twice] = (await pipeline(a, b)) as Float32Array[];
        expect(pipeline.executorKind).toBe('fused-threaded');
        expectBitIdentical(p!, expectedProduct);
        expectBitIdentical(once!, gatherExpected(expectedProduct));
        expectBitIdentical(twice!, gatherExpected(gatherExpected(expectedProduct)));
      }
      // about 8 chunks a worker, multiples of 4
      const { workerCount, cells: stepCells, chunks } = lease.shared.pool.lastDispatch;
      const chunk = Math.ceil(cells / (workerCount * 8 * 4)) * 4;
      expect(stepCells.length).toBeGreaterThanOrEqual(3);
      expect(stepCells).toEqual(stepCells.map(() => cells));
      expect(chunks).toEqual(stepCells.map(() => chunk));
    } finally {
      lease.destroy();
      pipeline.destroy();
    }
  });

  it('steps of kernels with the same localBlocks meet at no barrier, each worker on the same blocks; a buffer a worker may still read keeps one', async () => {
    const M = 64;
    const K = 16;
    const N = 128; // 8,192 cells: two workers or more
    const blocks = M / 4; // four rows a block
    const a = random(M * K, 31);
    const b = random(K * N, 32);
    function rowMix(this: KernelThis, previous: Float32Array): number {
      // two values of the cell's own row of the step before: itself and another column
      const cell = this.thread.x;
      const row = floorDiv(cell, this.constants.N!);
      const col = cell - row * this.constants.N!;
      const other = col * 7 + 3 - floorDiv(col * 7 + 3, this.constants.N!) * this.constants.N!;
      return previous[row * this.constants.N! + other]! * 0.5 + previous[cell]! * 0.25 + 1;
    }
    const settings = { precision: 'single', tactic: 'precision' } as const;
    const product = gpu.createKernel(matmulSource as never, { ...settings, constants: { N, K, bCol: 1, bK: N }, output: [M * N] });
    const mix = gpu.createKernel(rowMix as never, { ...settings, constants: { N }, output: [M * N], localBlocks: blocks } as never);
    const mixExpected = (from: Float32Array) => Float32Array.from(from, (v, cell) => {
      const row = Math.floor(cell / N);
      return f(f(f(from[row * N + ((cell - row * N) * 7 + 3) % N]! * 0.5) + f(v * 0.25)) + 1);
    });
    const steps = 10;
    // the product and every step results (no buffer reused), or only the last step (the steps
    // share two buffers, one of them the product's, which the first mixing step reads)
    const everyStep = gpu.createPipeline(function (x: unknown, y: unknown) {
      let h = product(x, y);
      const outputs = [h];
      for (let s = 0; s < steps; s++) outputs.push((h = mix(h)));
      return outputs;
    } as never, { flatResults: true });
    const lastStep = gpu.createPipeline(function (x: unknown, y: unknown) {
      let h = product(x, y);
      for (let s = 0; s < steps; s++) h = mix(h);
      return [h];
    } as never, { flatResults: true });
    const expected = [mixExpected(matmulExpected(a, b, M, K, N, false))];
    while (expected.length < steps) expected.push(mixExpected(expected[expected.length - 1]!));
    const { acquireWorkerPool } = require('gpu.js/src/backend/web-assembly/worker-pool.js');
    const lease = acquireWorkerPool();
    try {
      for (let call = 0; call < 3; call++) {
        const [, ...outputs] = (await everyStep(a, b)) as Float32Array[];
        expect(everyStep.executorKind).toBe('fused-threaded');
        outputs.forEach((output, s) => expectBitIdentical(output, expected[s]!));
      }
      expect(lease.shared.pool.lastDispatch.barriers).toEqual([true, ...Array<boolean>(steps - 1).fill(false), true]);
      expect(lease.shared.pool.lastDispatch.blocks).toEqual([0, ...Array<number>(steps).fill(blocks)]);
      for (let call = 0; call < 3; call++) {
        const [last] = (await lastStep(a, b)) as Float32Array[];
        expectBitIdentical(last!, expected[steps - 1]!);
      }
      // the second mixing step writes the product's buffer while a worker may still be reading
      // the product in the first (anywhere: it is no block kernel's output), so a barrier parts them
      expect(lease.shared.pool.lastDispatch.barriers).toEqual([true, true, ...Array<boolean>(steps - 2).fill(false), true]);
      expect(lease.shared.pool.lastDispatch.blocks).toEqual([0, 0, ...Array<number>(steps - 1).fill(blocks)]);
    } finally {
      lease.destroy();
      everyStep.destroy();
      lastStep.destroy();
    }
  });

  it('a threaded pipeline whose process is stopped for longer than the stall timeout finishes when continued', async () => {
    // the barrier's stall check once read the wall clock: SIGSTOP then SIGCONT (Ctrl-Z, fg) or a
    // laptop asleep for a minute aborted a training run with "barrier stalled"
    const pauseMs = 4000;
    const child = spawn(process.execPath, [new URL('./fixtures/paused-pipeline.cjs', import.meta.url).pathname], {
      // steps of about 600 ms: after SIGCONT a check sees none land for a while, and stalls shorter
      // than the timeout (3 s) are not deadlocks
      env: { ...process.env, STALL_TIMEOUT_MS: '3000', STEP_MS: '600' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await new Promise<void>((resolve) => child.stdout.on('data', (chunk) => {
      stdout += chunk;
      if (stdout.includes('running')) resolve();
    }));
    await sleep(300);
    child.kill('SIGSTOP');
    await sleep(pauseMs);
    child.kill('SIGCONT');
    expect({ code: await exited, stderr }).toEqual({ code: 0, stderr: '' });
    // the run was under way while the process stood still
    const elapsed = Number(/done (\d+)/.exec(stdout)![1]);
    expect(elapsed).toBeGreaterThan(pauseMs);
  }, 60_000);
});
