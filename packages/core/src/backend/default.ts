import type { Backend } from './backend.js';
import { createBackend } from './registry.js';
import type { BackendChoice } from './types.js';

let current: Promise<Backend> | undefined;

/**
 * The backend modules run on unless `module.to(backend)` says otherwise, like PyTorch's default
 * device: started on first use with `auto`, or set here once for the whole program.
 */
export function getDefaultBackend(): Promise<Backend> {
  current ??= createBackend('auto');
  return current;
}

/** Makes `backend` (or a new one of `choice`) the default; returns it. */
export async function setDefaultBackend(backend: Backend | BackendChoice): Promise<Backend> {
  current = typeof backend === 'string' ? createBackend(backend) : Promise.resolve(backend);
  return current;
}
