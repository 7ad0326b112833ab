/**
 * One row of `pnpm bench`, run in a child process of its own so that its peak memory (maxRSS)
 * is its own and no peer's globals leak into another's:
 *   node dist/row.js <peer> <workload> <train|inference|roofline> <runs> [reference] [--quick]
 * Prints one JSON line. `--quick` takes `pnpm bench --quick`'s short warm-up (see timing.ts).
 */
import { Backend, measureMatmul, probeBackend, type BackendName } from '@recurrent/core';
import { measureOurs } from './lstm.js';
import { measureBrain, measureOnnxRuntime, measureTfjs } from './peers.js';
import { FULL_BUDGET, QUICK_BUDGET } from './timing.js';
import { workloadNamed } from './workloads.js';

const args = process.argv.slice(2);
const [peer, workloadName, mode, runsText, reference] = args.filter((arg) => arg !== '--quick');
const runs = Number(runsText ?? 3);
const budget = args.includes('--quick') ? QUICK_BUDGET : FULL_BUDGET;

async function main(): Promise<object> {
  if (peer === 'webgpu' || peer === 'webasm' || peer === 'cpu') {
    const probe = await probeBackend(peer as BackendName);
    if (!probe.available) return { error: probe.reason };
    const backend = new Backend(probe);
    try {
      if (mode === 'roofline') {
        let best = 0;
        for (const size of [256, 512]) {
          await measureMatmul(backend, size, budget.warmupSeconds); // the warm-up every row gets (timing.ts)
          best = Math.max(best, await measureMatmul(backend, size, runs >= 3 ? 2 : 0.5));
        }
        return { gflops: best };
      }
      return await measureOurs(backend, workloadNamed(workloadName!), mode === 'train', runs, budget, reference === 'reference');
    } finally {
      await backend.dispose();
    }
  }
  const workload = workloadNamed(workloadName!);
  if (peer === 'tfjs-cpu' || peer === 'tfjs-wasm') return { tokensPerSecond: await measureTfjs(peer === 'tfjs-cpu' ? 'cpu' : 'wasm', workload, mode === 'train', runs, budget) };
  if (peer === 'onnxruntime-web') return measureOnnxRuntime(workload, runs, budget);
  if (peer === 'brain.js') return { tokensPerSecond: await measureBrain(workload, mode === 'train', runs, budget) };
  throw new Error(`unknown peer ${peer}`);
}

try {
  const result = await main();
  process.stdout.write(`${JSON.stringify({ ...result, maxRssMB: process.resourceUsage().maxRSS / 1024 })}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ error: (error as Error).message.split('\n')[0] })}\n`);
}
process.exit(0);
