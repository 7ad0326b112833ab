export { Backend, MAX_CACHED_PIPELINE_STEPS, MAX_CACHED_PIPELINES, MAX_KERNEL_CELLS, wasmMultiplyAdd, type KernelSpec } from './backend.js';
export type { WasmMultiplyAdd } from './wasm-fma.js';
export { getDefaultBackend, setDefaultBackend } from './default.js';
export { createBackend, isBackendChoice, probeAll, probeBackend, selectBackend, withBackend, type BackendSelection } from './registry.js';
export { BACKEND_NAMES, BackendUnavailableError, type BackendChoice, type BackendName, type ProbeResult } from './types.js';
export { gpuDeviceFiles } from './webgpu.js';
