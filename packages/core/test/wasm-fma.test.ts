import { WebAssemblyFunctionNode } from 'gpu.js';
import { describe, expect, it } from 'vitest';
import { wasmMultiplyAdd } from '../src/backend/backend.js';
import { probeWasmMultiplyAdd } from '../src/backend/wasm-fma.js';

describe('the webasm multiply-add', () => {
  it('is relaxed SIMD where Node has it (Node 20 behind a flag the probe sets), off when asked', () => {
    expect(['fused', 'separate']).toContain(probeWasmMultiplyAdd({}));
    expect(probeWasmMultiplyAdd({ RECURRENT_WASM_FMA: '0' })).toBe('off');
    // what the kernels of this process compile with, settled before the first one
    expect(WebAssemblyFunctionNode.fusedMultiplyAdd).toBe(wasmMultiplyAdd !== 'off');
  });
});
