import { mulberry32, shuffle } from '@recurrent/core';

export interface Split<T> {
  readonly train: T[];
  readonly validation: T[];
  readonly test: T[];
}

/**
 * A seeded three-way split: `items` shuffled with mulberry32(seed) (Fisher-Yates), the first
 * `testSize` to test, the next `validationSize` to validation, the rest to train. Test comes
 * first so that changing the validation size never moves an item into or out of test.
 */
export function seededSplit<T>(items: readonly T[], seed: number, testSize: number, validationSize: number): Split<T> {
  for (const [name, size] of [['testSize', testSize], ['validationSize', validationSize]] as const) {
    if (!Number.isInteger(size) || size < 0) throw new RangeError(`${name} must be a whole number >= 0, got ${size}`);
  }
  if (testSize + validationSize > items.length) {
    throw new RangeError(`testSize + validationSize = ${testSize + validationSize} is more than the ${items.length} items; ask for fewer`);
  }
  const order = shuffle(items, mulberry32(seed));
  return {
    test: order.slice(0, testSize),
    validation: order.slice(testSize, testSize + validationSize),
    train: order.slice(testSize + validationSize),
  };
}
