import { defineConfig } from 'vitest/config';

/**
 * The shared vitest settings of every package. Tests run in child processes (forks), not worker
 * threads: Dawn's native module and gpu.js's wasm worker pool each want a process of their own.
 * Kernel compilation on software backends is slow, hence the long timeouts.
 */
export default defineConfig({
  test: {
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: process.env.CI ? ['verbose'] : ['default'],
  },
});
