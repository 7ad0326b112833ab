import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BackendDriver, ProbeResult } from './types.js';

const MESA_HINT =
  'install a Vulkan driver: a GPU vendor driver, or on Debian 12 Mesa 25 lavapipe with ' +
  "`echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/backports.list" +
  ' && apt-get update && apt-get install -y -t bookworm-backports mesa-vulkan-drivers`';

/** Software rasterisers that expose a WebGPU adapter but are not a GPU. */
const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|swiftshader|software/i;

interface GpuAdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

let probed: Promise<ProbeResult> | undefined;

/** Device files through which Linux programs reach a GPU (names under /dev). */
const GPU_DEVICE_FILE = /^(dri\/renderD\d+|nvidia\d+|dxg)$/;

/**
 * The device files under `devRoot` through which a Linux program reaches a GPU: DRM render nodes
 * (Mesa's drivers; NVIDIA's with nvidia-drm), NVIDIA's own `/dev/nvidia<N>`, WSL2's `/dev/dxg`.
 * Where there is none, the only WebGPU adapter can be a software one (lavapipe), so `auto` need
 * not start Dawn, which prints warnings about lavapipe's limits. Undefined where the platform is
 * not Linux (nothing to tell there).
 */
export function gpuDeviceFiles(devRoot = '/dev', platform: string = process.platform): string[] | undefined {
  if (platform !== 'linux') return undefined;
  const list = (folder: string): string[] => {
    try {
      return readdirSync(join(devRoot, folder));
    } catch {
      return [];
    }
  };
  return [...list(''), ...list('dri').map((name) => `dri/${name}`)]
    .filter((name) => GPU_DEVICE_FILE.test(name))
    .map((name) => join(devRoot, name));
}

/**
 * Installs Dawn (npm `webgpu`) as `navigator.gpu` so gpu.js's webgpu mode finds it,
 * then asks for an adapter. Runs once per process; later calls share the answer.
 */
export function installWebGpu(): Promise<ProbeResult> {
  probed ??= probeOnce();
  return probed;
}

async function probeOnce(): Promise<ProbeResult> {
  const unavailable = (reason: string): ProbeResult => ({
    name: 'webgpu',
    available: false,
    reason,
    adapter: '',
    hardware: false,
  });
  const scope = globalThis as { navigator?: { gpu?: unknown } };
  if (!scope.navigator?.gpu) {
    let dawn: { create(flags: string[]): unknown; globals: object };
    try {
      dawn = (await import('webgpu')) as unknown as typeof dawn;
    } catch (error) {
      return unavailable(
        `the npm package \`webgpu\` (>= 0.6, Dawn for Node) could not be loaded (${(error as Error).message.split('\n')[0]}); ` +
          'run `pnpm install` in the workspace',
      );
    }
    Object.assign(globalThis, dawn.globals);
    const gpu = dawn.create([]);
    if (scope.navigator) {
      Object.defineProperty(scope.navigator, 'gpu', { value: gpu, configurable: true });
    } else {
      Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
    }
  }
  const gpu = scope.navigator!.gpu as { requestAdapter(): Promise<{ info: GpuAdapterInfoLike } | null> };
  let adapter: { info: GpuAdapterInfoLike } | null;
  try {
    adapter = await gpu.requestAdapter();
  } catch (error) {
    return unavailable(`requesting a WebGPU adapter failed (${(error as Error).message}); ${MESA_HINT}`);
  }
  if (!adapter) return unavailable(`Dawn found no WebGPU adapter; ${MESA_HINT}`);
  const info = adapter.info;
  const adapterName = info.description || [info.vendor, info.architecture, info.device].filter(Boolean).join(' ');
  const software =
    info.isFallbackAdapter === true || SOFTWARE_ADAPTER.test(`${info.architecture} ${info.device} ${info.description}`);
  return {
    name: 'webgpu',
    available: true,
    reason: software
      ? 'software adapter (runs WGSL on the CPU: correct but slow)'
      : 'hardware adapter',
    adapter: adapterName,
    hardware: !software,
  };
}

export const webgpuDriver: BackendDriver = {
  name: 'webgpu',
  probe: installWebGpu,
};
