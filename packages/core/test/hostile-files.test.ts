/**
 * Hostile safetensors files, each made here byte by byte: every one is refused with one message
 * naming the file and what is wrong, before any allocation larger than the file itself. (The
 * bad-input corpus, tests/bad-input, holds more: header lengths that lie, headers that are not
 * UTF-8 or JSON, an unknown dtype, a negative dimension, a 2^40-element tensor in 1 KB, offsets out
 * of range or overlapping, NaN weights.)
 */
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadStateDictFile, saveStateDict } from '../src/io/state.js';
import { MAX_HEADER_BYTES, readSafetensors, SafetensorsError, writeSafetensors } from '../src/io/safetensors.js';
import { Tensor } from '../src/tensor.js';

const folder = mkdtempSync(join(tmpdir(), 'hostile-'));

/** `hostile.safetensors`-style file: the 8-byte length (the real one unless `claimed`), the header text or object, then `data`. */
function craft(name: string, header: unknown, data: Uint8Array | number = 0, claimed?: bigint): string {
  const json = Buffer.isBuffer(header) ? header : Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(claimed ?? BigInt(json.length));
  const file = join(folder, `${name}.safetensors`);
  writeFileSync(file, Buffer.concat([length, json, typeof data === 'number' ? new Uint8Array(data) : data]));
  return file;
}

/** The message `read` refuses `file` with (failing the test if it does not refuse, or with another error). */
function refusal(read: () => unknown): string {
  try {
    read();
  } catch (error) {
    expect(error).toBeInstanceOf(SafetensorsError);
    return (error as Error).message;
  }
  throw new Error('the file was accepted');
}

const f32 = (data_offsets: [number, number], shape = [2]) => ({ dtype: 'F32', shape, data_offsets });

describe('hostile safetensors files', () => {
  const cases: Array<[string, () => string, string]> = [
    // The length field and the header itself.
    ['a header length over the 100 MB limit', () => craft('limit', {}, 0, BigInt(MAX_HEADER_BYTES) + 1n),
      'limit.safetensors: the header claims 100000001 bytes, over the 100000000-byte limit'],
    ['a header that is a JSON array', () => craft('array', '[1, 2]'), 'array.safetensors: the header does not start with "{"; not a safetensors file'],
    ['a header that is a JSON string', () => craft('string', '"{}"'), 'string.safetensors: the header does not start with "{"; not a safetensors file'],
    ['a tensor named twice', () => craft('twice', '{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}', 8),
      "twice.safetensors: the header names tensor 'a' twice; the file is damaged"],
    ['a name twice, written with an escape the second time', () => craft('escaped', '{"ab": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}, "a\\u0062": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}}'),
      "escaped.safetensors: the header names tensor 'ab' twice; the file is damaged"],
    ['__metadata__ twice', () => craft('meta-twice', '{"__metadata__": {"a": "1"}, "__metadata__": {"a": "2"}}'),
      'meta-twice.safetensors: the header names __metadata__ twice; the file is damaged'],
    // Tensor entries.
    ['an entry that is not an object', () => craft('number', { a: 5 }), "number.safetensors: tensor 'a' must be an object of dtype, shape and data_offsets, got 5"],
    ['an entry that is null', () => craft('null', { a: null }), "null.safetensors: tensor 'a' must be an object of dtype, shape and data_offsets, got null"],
    ['an entry without a dtype', () => craft('nodtype', { a: { shape: [2], data_offsets: [0, 8] } }, 8), "nodtype.safetensors: tensor 'a' has no dtype"],
    ['an entry with nothing', () => craft('empty-entry', { a: {} }), "empty-entry.safetensors: tensor 'a' has no dtype, no shape, no data_offsets"],
    ['an entry without data_offsets', () => craft('nooffsets', { a: { dtype: 'F32', shape: [2] } }, 8), "nooffsets.safetensors: tensor 'a' has no data_offsets"],
    ['a dtype that is not a string', () => craft('dtype-number', { a: { dtype: 4, shape: [1], data_offsets: [0, 4] } }, 4),
      "dtype-number.safetensors: tensor 'a' has unknown dtype 4; expected one of BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, I64, U64, F64"],
    // Shapes.
    ['a fractional dimension', () => craft('fraction', { a: { dtype: 'F32', shape: [1.5, 2], data_offsets: [0, 12] } }, 12),
      "fraction.safetensors: tensor 'a' has an invalid shape [1.5,2]; dimensions are whole numbers >= 0"],
    ['a dimension past 2^53', () => craft('unsafe', { a: { dtype: 'F32', shape: [2 ** 60], data_offsets: [0, 8] } }, 8),
      "unsafe.safetensors: tensor 'a' has an invalid shape [1152921504606847000]; dimensions are whole numbers >= 0"],
    ['a shape that is not a list', () => craft('shape-string', { a: { dtype: 'F32', shape: '2', data_offsets: [0, 8] } }, 8),
      "shape-string.safetensors: tensor 'a' has an invalid shape \"2\"; dimensions are whole numbers >= 0"],
    ['a shape of 65 dimensions', () => craft('rank', { a: { dtype: 'F32', shape: Array(65).fill(1), data_offsets: [0, 4] } }, 4),
      "rank.safetensors: tensor 'a' has 65 dimensions, more than 64"],
    ['a shape whose product overflows 2^64', () => craft('overflow', { a: { dtype: 'F64', shape: [2 ** 52, 2 ** 52, 2 ** 52], data_offsets: [0, 8] } }, 8),
      "overflow.safetensors: tensor 'a' of shape [4503599627370496, 4503599627370496, 4503599627370496] and dtype F64 needs 730750818665451459101842416358141509827966271488 bytes, its offsets give 8"],
    ['a shape whose product wraps to 0 in 64 bits', () => craft('wrap', { a: { dtype: 'U8', shape: [2 ** 33, 2 ** 31], data_offsets: [0, 0] } }),
      "wrap.safetensors: tensor 'a' of shape [8589934592, 2147483648] and dtype U8 needs 18446744073709551616 bytes, its offsets give 0"],
    ['bytes that disagree with the shape', () => craft('mismatch', { a: f32([0, 12]) }, 12),
      "mismatch.safetensors: tensor 'a' of shape [2] and dtype F32 needs 8 bytes, its offsets give 12"],
    // Offsets.
    ['offsets that are not a pair', () => craft('triple', { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8, 16] } }, 8),
      "triple.safetensors: tensor 'a' has invalid data_offsets [0,8,16]; expected [begin, end], whole numbers >= 0"],
    ['a negative offset', () => craft('negative-offset', { a: f32([-8, 0]) }, 8),
      "negative-offset.safetensors: tensor 'a' has invalid data_offsets [-8,0]; expected [begin, end], whole numbers >= 0"],
    ['reversed offsets', () => craft('reversed', { a: f32([8, 0]) }, 8),
      "reversed.safetensors: tensor 'a' has reversed data_offsets [8, 0]: the end comes before the beginning"],
    ['an offset of 2^62 in a small file', () => craft('far', { a: f32([2 ** 62, 2 ** 62 + 8]) }, 8),
      "far.safetensors: tensor 'a' has invalid data_offsets [4611686018427388000,4611686018427388000]; expected [begin, end], whole numbers >= 0"],
    ['two tensors on the same bytes', () => craft('alias', { a: f32([0, 8]), b: f32([0, 8]) }, 8),
      "alias.safetensors: tensor 'b' overlaps the tensor before it, 'a' (bytes 0 to 8): it begins at byte 0"],
    ['a gap between tensors', () => craft('gap', { a: f32([0, 8]), b: f32([12, 20]) }, 20),
      "gap.safetensors: there is a gap of 4 bytes before tensor 'b'; no tensor covers bytes 8 to 12"],
    ['trailing bytes no tensor covers', () => craft('trailing', { a: f32([0, 8]) }, 16),
      'trailing.safetensors: the tensors cover 8 bytes but the file holds 16 bytes of data; 8 trailing bytes belong to no tensor'],
    ['data and no tensors', () => craft('no-tensors', {}, 8),
      'no-tensors.safetensors: the tensors cover 0 bytes but the file holds 8 bytes of data; 8 trailing bytes belong to no tensor'],
    // __metadata__.
    ['__metadata__ that is a list', () => craft('meta-list', { __metadata__: ['a'] }), 'meta-list.safetensors: __metadata__ must be an object of strings, got ["a"]'],
    ['__metadata__ that is a string', () => craft('meta-string', { __metadata__: 'pt' }), 'meta-string.safetensors: __metadata__ must be an object of strings, got "pt"'],
    ['__metadata__ with a number', () => craft('meta-number', { __metadata__: { format: 'pt', epoch: 3 } }), 'meta-number.safetensors: __metadata__.epoch must be a string, got 3'],
    ['__metadata__ with an object', () => craft('meta-object', { __metadata__: { nested: { a: '1' } } }), 'meta-object.safetensors: __metadata__.nested must be a string, got {"a":"1"}'],
    // Not a file.
    ['a folder', () => { const f = join(folder, 'folder.safetensors'); mkdirSync(f); return f; }, 'folder.safetensors: not a regular file (a folder)'],
    ['a link to /dev/zero', () => { const f = join(folder, 'zero.safetensors'); symlinkSync('/dev/zero', f); return f; }, 'zero.safetensors: not a regular file (a device, pipe or socket)'],
  ];
  it.each(cases)('refuses %s', (_, make, message) => {
    const file = make();
    expect(refusal(() => readSafetensors(file))).toBe(message);
  });

  it('cuts a megabyte-long name or value short in its message', () => {
    const name = 'x'.repeat(1 << 20);
    const message = refusal(() => readSafetensors(craft('long-name', { [name]: { dtype: 'F32', shape: Array(1000).fill(0), data_offsets: [0, 0] } })));
    expect(message).toBe(`long-name.safetensors: tensor '${'x'.repeat(100)}...' has 1000 dimensions, more than 64`);
    const shape = refusal(() => readSafetensors(craft('long-shape', { a: { dtype: 'F32', shape: [...Array(100_000).fill(1), -1], data_offsets: [0, 0] } })));
    expect(shape).toBe(`long-shape.safetensors: tensor 'a' has an invalid shape [${'1,'.repeat(39)}1...; dimensions are whole numbers >= 0`);
  });

  it('keeps a __proto__ metadata key as data', () => {
    const read = readSafetensors(craft('proto', '{"__metadata__": {"__proto__": "x", "format": "pt"}}'));
    expect(Object.getPrototypeOf(read.metadata)).toBe(Object.prototype);
    expect(Object.entries(read.metadata)).toEqual([['__proto__', 'x'], ['format', 'pt']]);
  });

  it('accepts zero-size tensors sharing an offset, and keys that merely look alike', () => {
    const read = readSafetensors(craft('zeros', '{"a": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}, "A": {"dtype": "F32", "shape": [0, 3], "data_offsets": [0, 0]}, "a ": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}, "__metadata__": {"a": "a"}}', 2));
    expect([...read.tensors.keys()].sort()).toEqual(['A', 'a', 'a ']);
  });

  it('refuses a header claiming a 2^40-element tensor in a 1 KB file at once, allocating nothing large', () => {
    const files = [
      craft('huge-shape', { a: { dtype: 'F32', shape: [2 ** 40], data_offsets: [0, 1016] } }, 1016),
      craft('huge-offsets', { a: { dtype: 'F32', shape: [2 ** 40], data_offsets: [0, 2 ** 42] } }, 1016),
      craft('huge-header', { a: { dtype: 'F32', shape: [2 ** 40], data_offsets: [0, 2 ** 42] } }, 1016, 2n ** 40n),
    ];
    for (const file of files) {
      const before = process.memoryUsage();
      const start = performance.now();
      expect(() => readSafetensors(file)).toThrow(SafetensorsError);
      expect(performance.now() - start).toBeLessThan(100);
      const after = process.memoryUsage();
      expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(1 << 20);
      expect(after.rss - before.rss).toBeLessThan(64 << 20);
    }
  });
});

describe('loadStateDictFile on hostile weights', () => {
  const weights = (name: string, values: number[], dtype: 'F32' | 'F64' = 'F32') => {
    const file = join(folder, `${name}.safetensors`);
    const data = dtype === 'F32' ? Float32Array.from(values) : Float64Array.from(values);
    writeSafetensors(file, { 'encoder.bias_ih_l0': { shape: [2], data: new Float32Array(2) }, 'encoder.weight_ih_l0': { shape: [values.length], data } });
    return file;
  };

  // F32 NaN and infinite weights: case core-nan-weights of the bad-input corpus (tests/bad-input).
  it('refuses NaN and infinite F64 weights, naming the tensor and the count', () => {
    const double = weights('nan64', [Number.NEGATIVE_INFINITY, 0], 'F64');
    expect(refusal(() => loadStateDictFile(double))).toBe(
      "nan64.safetensors: tensor 'encoder.weight_ih_l0' holds 1 NaN/Inf values (of 2); the file is damaged or comes from a training run that diverged",
    );
  });

  it('refuses F64 weights that become infinite as float32', () => {
    const file = weights('overflow64', [1e300, -1e39, 1], 'F64');
    expect(refusal(() => loadStateDictFile(file))).toBe(
      "overflow64.safetensors: tensor 'encoder.weight_ih_l0' holds 2 F64 values (of 3) beyond float32's range of ±3.4e38; they cannot be float32 weights",
    );
  });

  it('takes them with allowNonFinite, and finite weights either way', () => {
    const file = weights('allowed', [Number.NaN, 1]);
    const { tensors } = loadStateDictFile(file, { allowNonFinite: true });
    expect(Number.isNaN(tensors.get('encoder.weight_ih_l0')!.data[0])).toBe(true);
    const fine = join(folder, 'fine.safetensors');
    saveStateDict(fine, new Map([['w', new Tensor([2], Float32Array.from([3.4e38, -1e-45]))]]));
    expect([...loadStateDictFile(fine).tensors.get('w')!.data]).toEqual([Math.fround(3.4e38), Math.fround(-1e-45)]);
  });
});
