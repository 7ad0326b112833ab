import { describe, expect, it } from 'vitest';
import { LENGTH_MULTIPLE, makeBatches, PairSet } from '../src/pipeline.js';
import { BOS_INDEX, EOS_INDEX } from '../src/model.js';

describe('training pairs and their batches', () => {
  const pairs = [
    { source: [5, 6, 7], target: [8] },
    { source: [9], target: [10, 11, 12, 13, 14] },
    { source: [], target: [15, 16] },
  ];

  it('PairSet keeps each pair\'s tokens, flat', () => {
    const set = new PairSet(pairs);
    expect(set.size).toBe(3);
    pairs.forEach((pair, i) => {
      expect([...set.source(i)]).toEqual(pair.source);
      expect([...set.target(i)]).toEqual(pair.target);
      expect(set.sourceLength(i)).toBe(pair.source.length);
      expect(set.targetLength(i)).toBe(pair.target.length);
    });
  });

  it('batches pairs of equal source length by target length, and pads each side to a multiple', () => {
    // Eight pairs with 3-token sources: four with 1-token targets, four with 9-token targets.
    const many = Array.from({ length: 8 }, (_, i) => ({ source: [4, 5, 6], target: Array.from({ length: i % 2 === 0 ? 1 : 9 }, () => 7) }));
    const batches = makeBatches(new PairSet(many), 4, { shuffle: true, seed: 2 });
    expect(batches.map((b) => Math.max(...b.targetLengths)).sort((a, b) => a - b)).toEqual([2, 10]); // with <eos>
    for (const batch of batches) {
      expect(batch.source.shape[0]! % LENGTH_MULTIPLE).toBe(0);
      expect(batch.targetIn.shape[0]! % LENGTH_MULTIPLE).toBe(0);
    }
    const [short] = batches.filter((b) => Math.max(...b.targetLengths) === 2);
    expect(short!.targetIn.shape).toEqual([LENGTH_MULTIPLE, 4]);
    expect([...short!.targetIn.data.subarray(0, 8)]).toEqual([BOS_INDEX, BOS_INDEX, BOS_INDEX, BOS_INDEX, 7, 7, 7, 7]);
    expect([...short!.targetOut.data.subarray(0, 8)]).toEqual([7, 7, 7, 7, EOS_INDEX, EOS_INDEX, EOS_INDEX, EOS_INDEX]);
  });
});
