import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { BackendUnavailableError, gpuDeviceFiles, selectBackend } from '../src/index.js';

describe('auto backend without a GPU', () => {
  const root = mkdtempSync(join(tmpdir(), 'dev-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('finds the device files that reach a GPU, and only those', () => {
    const dev = join(root, 'gpu');
    mkdirSync(join(dev, 'dri'), { recursive: true });
    for (const name of ['null', 'nvidiactl', 'nvidia-uvm', 'nvidia0', 'dxg', 'dri/card0', 'dri/renderD128', 'dri/by-path']) writeFileSync(join(dev, name), '');
    expect(gpuDeviceFiles(dev, 'linux')!.sort()).toEqual(['dri/renderD128', 'dxg', 'nvidia0'].map((name) => join(dev, name)));
  });

  it('finds none in a /dev without them, or where /dev/dri is missing', () => {
    const dev = join(root, 'plain');
    mkdirSync(dev);
    for (const name of ['null', 'zero', 'tty0', 'vda']) writeFileSync(join(dev, name), '');
    expect(gpuDeviceFiles(dev, 'linux')).toEqual([]);
    expect(gpuDeviceFiles(join(root, 'missing'), 'linux')).toEqual([]);
  });

  it('says nothing on other platforms (they are probed as before)', () => {
    expect(gpuDeviceFiles(root, 'darwin')).toBeUndefined();
    expect(gpuDeviceFiles(root, 'win32')).toBeUndefined();
  });

  // This machine's own /dev: CI machines have no GPU; where one is lent, the probe runs as before.
  it.skipIf(gpuDeviceFiles()?.length !== 0)('picks WebAssembly without starting Dawn', async () => {
    const selection = await selectBackend('auto');
    expect(selection.probe.name).toBe('webasm');
    expect(selection.why).toMatch(/^no GPU on this machine .*; using WebAssembly SIMD/);
    // Dawn, once started, is installed as navigator.gpu (Node 20 has no navigator of its own).
    expect((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu).toBeUndefined();
  });
});

describe('RECURRENT_THREADS', () => {
  const { acquireWorkerPool } = createRequire(import.meta.url)('gpu.js/src/backend/web-assembly/worker-pool.js') as {
    acquireWorkerPool: () => { shared: { pool: { size: number } }; destroy: () => void };
  };
  const defaultPoolSize = () => {
    const lease = acquireWorkerPool();
    const { size } = lease.shared.pool;
    lease.destroy();
    return size;
  };
  afterEach(async () => {
    delete process.env.RECURRENT_THREADS;
    await selectBackend('webasm'); // the default pool back to every CPU for the tests after
  });

  it('sets the webasm worker pool, and says so in the reason', async () => {
    process.env.RECURRENT_THREADS = '1';
    const { probe } = await selectBackend('webasm');
    expect(probe.reason).toMatch(/, 1 worker thread \(RECURRENT_THREADS\)$/);
    expect(defaultPoolSize()).toBe(1);
    delete process.env.RECURRENT_THREADS;
    expect((await selectBackend('webasm')).probe.reason).toMatch(new RegExp(`up to ${availableParallelism()} worker threads?$`));
    expect(defaultPoolSize()).toBe(availableParallelism());
  });

  it.each(['0', 'two', '1.5', '-1'])('refuses %j in one line that names it', async (value) => {
    process.env.RECURRENT_THREADS = value;
    await expect(selectBackend('webasm')).rejects.toThrow(
      new BackendUnavailableError(`RECURRENT_THREADS must be a whole number >= 1 (the webasm backend's worker threads), got '${value}'; set it so, or unset it to use every CPU`),
    );
  });
});
