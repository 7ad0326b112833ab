import { GPU } from 'gpu.js';
import os from 'node:os';
import { wasmMultiplyAdd } from './backend.js';
import type { BackendDriver } from './types.js';

/** WebAssembly with f32x4 SIMD; gpu.js splits large kernels across worker threads under asyncMode. */
export const webasmDriver: BackendDriver = {
  name: 'webasm',
  async probe() {
    const threads = os.availableParallelism();
    if (!GPU.isWebAssemblySupported) {
      return {
        name: 'webasm',
        available: false,
        reason: 'this JavaScript engine lacks WebAssembly SIMD; use Node 20 or newer',
        adapter: '',
        hardware: false,
      };
    }
    return {
      name: 'webasm',
      available: true,
      reason: `WebAssembly SIMD${wasmMultiplyAdd === 'fused' ? ' with fused multiply-add' : ''}, up to ${threads} worker threads`,
      adapter: `WebAssembly SIMD x${threads} threads`,
      hardware: false,
    };
  },
};
