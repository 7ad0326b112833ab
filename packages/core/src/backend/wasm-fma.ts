import v8 from 'node:v8';

// The parts of the WebAssembly global used here (this package compiles without the DOM library).
declare const WebAssembly: {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
};

/**
 * How WebAssembly kernels compute `acc += a * b` on floats (see `fusedMultiplyAdd` in
 * patches/gpu.js): 'fused' with relaxed SIMD's multiply-add where the CPU fuses it (x86 with FMA3,
 * ARM64; one rounding, and faster: fewer instructions in every product's inner loop), 'separate'
 * where the engine accepts relaxed SIMD but multiplies and adds apart, 'off' without relaxed SIMD
 * or with RECURRENT_WASM_FMA=0 (a multiply, then an add, each rounded).
 */
export type WasmMultiplyAdd = 'fused' | 'separate' | 'off';

// (func (export "madd") (param f32 f32 f32) (result f32): lane 0 of f32x4.relaxed_madd of three splats
const PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x08, 0x01, 0x60, 0x03, 0x7d, 0x7d, 0x7d, 0x01, 0x7d,
  0x03, 0x02, 0x01, 0x00,
  0x07, 0x08, 0x01, 0x04, 0x6d, 0x61, 0x64, 0x64, 0x00, 0x00,
  0x0a, 0x16, 0x01, 0x14, 0x00,
  0x20, 0x00, 0xfd, 0x13, 0x20, 0x01, 0xfd, 0x13, 0x20, 0x02, 0xfd, 0x13,
  0xfd, 0x85, 0x02, 0xfd, 0x1f, 0x00, 0x0b,
]);

/**
 * Turns on relaxed SIMD where this engine has it (Node 20's V8 only behind
 * --experimental-wasm-relaxed-simd, which can be set at run time before a module uses it; later
 * Nodes ship it) and says which multiply-add the kernels will get.
 */
export function probeWasmMultiplyAdd(env: NodeJS.ProcessEnv = process.env): WasmMultiplyAdd {
  if (env.RECURRENT_WASM_FMA === '0') return 'off';
  if (!WebAssembly.validate(PROBE)) {
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
    if (!WebAssembly.validate(PROBE)) return 'off';
  }
  const { madd } = new WebAssembly.Instance(new WebAssembly.Module(PROBE)).exports as { madd(a: number, b: number, c: number): number };
  // (1 + 2^-12)^2 = 1 + 2^-11 + 2^-24: fused, minus 1 + 2^-11 leaves 2^-24; a product rounded
  // to f32 first has lost it. Anything else is not this multiply-add (an engine numbering its
  // relaxed SIMD opcodes otherwise): the kernels then keep the multiply and the add.
  const residue = madd(1 + 2 ** -12, 1 + 2 ** -12, -(1 + 2 ** -11));
  return residue === 2 ** -24 ? 'fused' : residue === 0 ? 'separate' : 'off';
}
