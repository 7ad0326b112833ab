/** The gpu.js modes we run on. `headlessgl` is left out: the `gl` package does not build here. */
export const BACKEND_NAMES = ['webgpu', 'webasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
export type BackendChoice = BackendName | 'auto';

/** What probing a backend found: whether it starts here, on what, and if not, why. */
export interface ProbeResult {
  readonly name: BackendName;
  readonly available: boolean;
  /** Why it is (un)available, in words a user can act on. */
  readonly reason: string;
  /** Adapter or engine description, e.g. "llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)". */
  readonly adapter: string;
  /** True only for a WebGPU adapter that is real hardware (not lavapipe or SwiftShader). */
  readonly hardware: boolean;
}

/** One backend's way to start: each lives in its own file and is listed in the registry. */
export interface BackendDriver {
  readonly name: BackendName;
  probe(): Promise<ProbeResult>;
}

export class BackendUnavailableError extends Error {
  override name = 'BackendUnavailableError';
}
