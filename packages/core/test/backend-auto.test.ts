import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gpuDeviceFiles, selectBackend } from '../src/index.js';

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
