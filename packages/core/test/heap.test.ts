import { describe, expect, it } from 'vitest';
import { configureHeapForTraining } from '../src/heap.js';

describe('configureHeapForTraining', () => {
  it('sets the heap growing flag unless the process was started with its own', () => {
    expect(configureHeapForTraining(['--heap-growing-percent=50'], '')).toBe(false);
    expect(configureHeapForTraining([], '--max-old-space-size=4096 --heap_growing_percent=80')).toBe(false);
    expect(configureHeapForTraining(['--max-old-space-size=4096'], '--enable-source-maps')).toBe(true);
  });
});
