import { Backend } from './backend.js';
import { cpuDriver } from './cpu.js';
import { BACKEND_NAMES, BackendUnavailableError, type BackendChoice, type BackendDriver, type BackendName, type ProbeResult } from './types.js';
import { webasmDriver } from './webasm.js';
import { gpuDeviceFiles, webgpuDriver } from './webgpu.js';

/** The explicit registry: one driver per backend, in order of preference. */
const DRIVERS: Readonly<Record<BackendName, BackendDriver>> = {
  webgpu: webgpuDriver,
  webasm: webasmDriver,
  cpu: cpuDriver,
};

export function isBackendChoice(value: string): value is BackendChoice {
  return value === 'auto' || (BACKEND_NAMES as readonly string[]).includes(value);
}

export function probeBackend(name: BackendName): Promise<ProbeResult> {
  return DRIVERS[name].probe();
}

export function probeAll(): Promise<ProbeResult[]> {
  return Promise.all(BACKEND_NAMES.map((name) => probeBackend(name)));
}

export interface BackendSelection {
  readonly probe: ProbeResult;
  /** Why this backend was chosen, e.g. "no hardware WebGPU adapter (llvmpipe is software); WebAssembly SIMD". */
  readonly why: string;
}

/**
 * Resolves a choice to a backend that starts here. `auto` takes a hardware WebGPU adapter,
 * else webasm, else cpu (on Linux without a GPU device file it does not look for an adapter);
 * an explicit name that cannot start throws with the fix.
 */
export async function selectBackend(choice: BackendChoice = 'auto'): Promise<BackendSelection> {
  if (choice !== 'auto') {
    if (!isBackendChoice(choice)) {
      throw new BackendUnavailableError(
        `unknown backend '${String(choice)}'; expected one of auto, ${BACKEND_NAMES.join(', ')}`,
      );
    }
    const probe = await probeBackend(choice);
    if (!probe.available) {
      throw new BackendUnavailableError(`backend '${choice}' cannot start: ${probe.reason}`);
    }
    return { probe, why: `asked for ${choice}` };
  }
  let noGpu: string;
  if (gpuDeviceFiles()?.length === 0) {
    // Dawn is not started at all: without a GPU device file it could only find a software adapter.
    noGpu = 'no GPU on this machine (no /dev/dri/renderD*, /dev/nvidia* or /dev/dxg; --backend webgpu tries WebGPU anyway)';
  } else {
    const webgpu = await probeBackend('webgpu');
    if (webgpu.available && webgpu.hardware) {
      return { probe: webgpu, why: `hardware WebGPU adapter: ${webgpu.adapter}` };
    }
    noGpu = webgpu.available ? `no hardware WebGPU adapter (${webgpu.adapter} is software)` : `no WebGPU (${webgpu.reason})`;
  }
  const webasm = await probeBackend('webasm');
  if (webasm.available) return { probe: webasm, why: `${noGpu}; using ${webasm.reason}` };
  return { probe: await probeBackend('cpu'), why: `${noGpu}; ${webasm.reason}; using plain JavaScript` };
}

/** Starts a backend: `await createBackend('auto')`, `await createBackend('webgpu')`, ... */
export async function createBackend(choice: BackendChoice = 'auto'): Promise<Backend> {
  const { probe } = await selectBackend(choice);
  return new Backend(probe);
}

/**
 * Starts the chosen backend, tells `announce` which one and why (a CLI passes a stderr writer),
 * runs `work` on it and releases it, also when `work` throws.
 */
export async function withBackend<T>(choice: BackendChoice, work: (backend: Backend) => Promise<T>, announce?: (line: string) => void): Promise<T> {
  const selection = await selectBackend(choice);
  announce?.(`backend ${selection.probe.name}: ${selection.why}`);
  const backend = new Backend(selection.probe);
  try {
    return await work(backend);
  } finally {
    await backend.dispose();
  }
}
