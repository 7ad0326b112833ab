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
    // Under CI also a JSON report per package, which .ci/run sums: the counts hold even where a
    // package's console output is cut short in turbo's interleaved log.
    reporters: process.env.CI ? ['verbose', 'json'] : ['default'],
    outputFile: { json: 'test-results.json' },
  },
});
