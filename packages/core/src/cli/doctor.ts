import { performance } from 'node:perf_hooks';
import { Backend } from '../backend/backend.js';
import { probeAll, selectBackend } from '../backend/registry.js';
import type { BackendName } from '../backend/types.js';
import { matmul } from '../kernels/matmul.js';
import { mulberry32 } from '../random.js';
import { Tensor } from '../tensor.js';

export interface DoctorRow {
  readonly backend: BackendName;
  readonly works: boolean;
  readonly adapter: string;
  readonly note: string;
  /** Square matmul GFLOP/s including transfers; null where the backend does not start. */
  readonly gflops: number | null;
}

export interface DoctorReport {
  readonly node: string;
  readonly matmulSize: number;
  readonly backends: DoctorRow[];
  readonly auto: { readonly backend: BackendName; readonly why: string };
}

function randomSquare(size: number, seed: number): Tensor {
  const random = mulberry32(seed);
  return Tensor.from([size, size], Array.from({ length: size * size }, () => random() * 2 - 1));
}

/**
 * Repeats an n x n x n matmul for about `seconds` after one warm-up call (which compiles it)
 * and returns GFLOP/s counting 2n^3 flops per call. Each call uploads its inputs and reads its
 * output back, so this is the speed a caller of `matmul` sees, not the bare kernel's.
 */
export async function measureMatmul(backend: Backend, size: number, seconds: number): Promise<number> {
  const a = randomSquare(size, 1);
  const b = randomSquare(size, 2);
  await matmul(backend, a, b);
  let calls = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    await matmul(backend, a, b);
    calls++;
    elapsed = (performance.now() - start) / 1000;
  } while (elapsed < seconds);
  return (2 * size ** 3 * calls) / elapsed / 1e9;
}

export async function runDoctor(options: { seconds: number; size: number; onProgress?: (message: string) => void }): Promise<DoctorReport> {
  const rows: DoctorRow[] = [];
  for (const probe of await probeAll()) {
    let gflops: number | null = null;
    if (probe.available) {
      options.onProgress?.(`measuring ${probe.name} matmul for ${options.seconds} s`);
      const backend = new Backend(probe);
      try {
        gflops = await measureMatmul(backend, options.size, options.seconds);
      } finally {
        await backend.dispose();
      }
    }
    rows.push({ backend: probe.name, works: probe.available, adapter: probe.adapter, note: probe.reason, gflops });
  }
  const auto = await selectBackend('auto');
  return { node: process.version, matmulSize: options.size, backends: rows, auto: { backend: auto.probe.name, why: auto.why } };
}

/** cli-table3 styles: its colours on a terminal, none in a pipe or a log file. */
export function plainWhenPiped(): { head: string[]; border: string[] } | undefined {
  return process.stdout.isTTY ? undefined : { head: [], border: [] };
}
