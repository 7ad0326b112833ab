// The few WebAssembly APIs the host's SIMD loops use (optim/adam-simd.ts, host-loops.ts): lib
// ES2022 has no WebAssembly types, and lib DOM would bring the whole browser with them.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Memory {
    constructor(descriptor: { initial: number });
    readonly buffer: ArrayBuffer;
    grow(pages: number): number;
  }
  class Instance {
    constructor(module: Module, imports: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
  function validate(bytes: Uint8Array): boolean;
}
