import { GPU } from 'gpu.js';
import { createRequire } from 'node:module';
import os from 'node:os';
import { wasmMultiplyAdd } from './backend.js';
import { BackendUnavailableError, type BackendDriver } from './types.js';

const require = createRequire(import.meta.url);
const { setDefaultPoolSize } = require('gpu.js/src/backend/web-assembly/worker-pool.js') as { setDefaultPoolSize: (size: number | null) => void };

/**
 * The worker threads webasm splits kernels across: RECURRENT_THREADS where it is set (as
 * OMP_NUM_THREADS sets PyTorch's), else one for each CPU this process may run on (its affinity:
 * taskset, a container's cpuset). Two trainings on a 2-CPU machine each with RECURRENT_THREADS=1
 * (or each pinned with taskset) do more steps an hour than one with both CPUs: our workers wait
 * while the main thread works alone.
 */
export function workerThreads(): { threads: number; configured: boolean } {
  const value = process.env.RECURRENT_THREADS;
  if (value === undefined || value === '') return { threads: os.availableParallelism(), configured: false };
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new BackendUnavailableError(`RECURRENT_THREADS must be a whole number >= 1 (the webasm backend's worker threads), got '${value}'; set it so, or unset it to use every CPU`);
  }
  return { threads: Number(value), configured: true };
}

/** WebAssembly with f32x4 SIMD; gpu.js splits large kernels across worker threads under asyncMode. */
export const webasmDriver: BackendDriver = {
  name: 'webasm',
  async probe() {
    const { threads, configured } = workerThreads();
    if (!GPU.isWebAssemblySupported) {
      return {
        name: 'webasm',
        available: false,
        reason: 'this JavaScript engine lacks WebAssembly SIMD; use Node 20 or newer',
        adapter: '',
        hardware: false,
      };
    }
    setDefaultPoolSize(threads);
    const thread = `${threads} worker thread${threads === 1 ? '' : 's'}`;
    return {
      name: 'webasm',
      available: true,
      reason: `WebAssembly SIMD${wasmMultiplyAdd === 'fused' ? ' with fused multiply-add' : ''}, ${configured ? `${thread} (RECURRENT_THREADS)` : `up to ${thread}`}`,
      adapter: `WebAssembly SIMD x${threads} threads`,
      hardware: false,
    };
  },
};
