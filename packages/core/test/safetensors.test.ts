import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_HEADER_BYTES, readSafetensors, readSafetensorsHeader, writeSafetensors } from '../src/io/safetensors.js';

const folder = mkdtempSync(join(tmpdir(), 'safetensors-'));

/** A file made of a raw header object and data bytes, exactly as given. */
function craft(name: string, header: unknown, data: Uint8Array = new Uint8Array(0), claimedLength?: bigint): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(claimedLength ?? BigInt(json.length));
  const file = join(folder, name);
  writeFileSync(file, Buffer.concat([length, json, data]));
  return file;
}

describe('safetensors', () => {
  it('round-trips tensors, dtypes, shapes and metadata', () => {
    const file = join(folder, 'round.safetensors');
    const weight = Float32Array.from([1, -2, 3.5, 4, 5, 6]);
    writeSafetensors(file, {
      weight_ih_l0: { shape: [2, 3], data: weight },
      double: { shape: [2], data: Float64Array.from([Math.PI, -1e-300]) },
      lengths: { shape: [3], data: BigInt64Array.from([5n, 3n, 1n]) },
      empty: { shape: [0, 4], data: new Float32Array(0) },
    }, { format: 'pt', config: '{"a":1}' });
    const read = readSafetensors(file);
    expect(read.metadata).toEqual({ format: 'pt', config: '{"a":1}' });
    expect(read.tensors.get('weight_ih_l0')).toEqual({ dtype: 'F32', shape: [2, 3], data: weight });
    expect([...(read.tensors.get('double')!.data as Float64Array)]).toEqual([Math.PI, -1e-300]);
    expect([...(read.tensors.get('lengths')!.data as BigInt64Array)]).toEqual([5n, 3n, 1n]);
    expect(read.tensors.get('empty')!.shape).toEqual([0, 4]);
    // The data starts 8-byte aligned, and nothing but the file itself is left behind.
    expect(readFileSync(file).readBigUInt64LE(0) % 8n).toBe(0n);
    expect(readdirSync(folder).filter((f) => f.startsWith('round'))).toEqual(['round.safetensors']);
  });

  it('reads the files PyTorch fixtures were written as (F64 and I64)', () => {
    const fixture = readSafetensors(new URL('../fixtures/pytorch/lstm_bidirectional_2_layers_packed_batch_first.safetensors', import.meta.url).pathname);
    expect(fixture.tensors.get('weight_ih_l1_reverse')).toMatchObject({ dtype: 'F64', shape: [12, 6] });
    expect([...(fixture.tensors.get('lengths')!.data as BigInt64Array)]).toEqual([5n, 3n, 1n, 4n]);
  });

  const f32 = (offsets: [number, number], shape = [2]) => ({ dtype: 'F32', shape, data_offsets: offsets });
  const hostile: Array<[string, () => string, string]> = [
    ['a file shorter than the length field', () => { const f = join(folder, 'short'); writeFileSync(f, Buffer.from([1, 2, 3])); return f; }, 'fewer than the 8-byte header length'],
    ['a header length beyond the file', () => craft('beyond', { a: f32([0, 8]) }, new Uint8Array(8), 1_000_000n), 'the header claims 1000000 bytes but only'],
    ['a header length over 100 MB', () => craft('huge', {}, new Uint8Array(0), BigInt(MAX_HEADER_BYTES) + 1n), 'over the 100000000-byte limit'],
    ['a header of 2^64-1 bytes', () => craft('max', {}, new Uint8Array(0), 2n ** 64n - 1n), 'over the 100000000-byte limit'],
    ['a header that is not JSON', () => craft('notjson', '{"a": ', new Uint8Array(0)), 'the header is not valid JSON'],
    ['a header that is not an object', () => craft('array', '[1, 2]'), 'does not start with "{"'],
    ['an unknown dtype', () => craft('dtype', { a: { dtype: 'F128', shape: [1], data_offsets: [0, 16] } }, new Uint8Array(16)), "tensor 'a' has unknown dtype \"F128\""],
    ['offsets out of range', () => craft('range', { a: f32([0, 8]), b: f32([8, 1_000_000_016], [250_000_002]) }, new Uint8Array(16)), "tensor 'b' has data_offsets [8, 1000000016] outside the 16 bytes of data"],
    ['overlapping tensors', () => craft('overlap', { a: f32([0, 8]), b: f32([4, 12]) }, new Uint8Array(12)), "tensor 'b' overlaps the tensor before it"],
    ['a gap between tensors', () => craft('gap', { a: f32([0, 8]), b: f32([12, 20]) }, new Uint8Array(20)), "a gap of 4 bytes before tensor 'b'"],
    ['bytes that disagree with the shape', () => craft('mismatch', { a: f32([0, 12]) }, new Uint8Array(12)), "needs 8 bytes, its offsets give 12"],
    ['trailing bytes no tensor covers', () => craft('trailing', { a: f32([0, 8]) }, new Uint8Array(16)), 'the tensors cover 8 bytes but the file holds 16'],
    ['a negative dimension', () => craft('negative', { a: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, new Uint8Array(8)), "tensor 'a' has an invalid shape [-2]"],
  ];
  it.each(hostile)('refuses %s with a clear error', (_, make, message) => {
    const file = make();
    expect(() => readSafetensors(file)).toThrow(message);
    expect(() => readSafetensorsHeader(file)).toThrow(message);
  });

  it('reads the header alone: names, dtypes, shapes and byte counts in the order of the data', () => {
    const file = join(folder, 'header.safetensors');
    writeSafetensors(file, {
      b: { shape: [2, 3], data: new Float32Array(6) },
      a: { shape: [4], data: new Uint16Array(4), dtype: 'BF16' },
      flags: { shape: [3], data: Uint8Array.from([1, 0, 1]), dtype: 'BOOL' },
    }, { format: 'pt' });
    const header = readSafetensorsHeader(file);
    expect([...header.tensors]).toEqual([
      ['b', { dtype: 'F32', shape: [2, 3], bytes: 24 }],
      ['a', { dtype: 'BF16', shape: [4], bytes: 8 }],
      ['flags', { dtype: 'BOOL', shape: [3], bytes: 3 }],
    ]);
    expect(header.metadata).toEqual({ format: 'pt' });
    expect(header.fileBytes).toBe(readFileSync(file).length);
    // raw bytes must fill the shape at the dtype's size
    expect(() => writeSafetensors(join(folder, 'short-raw.safetensors'), { a: { shape: [4], data: new Uint8Array(6), dtype: 'F16' } })).toThrow(
      "tensor 'a' has shape [4] but 6 bytes, not 8",
    );
  });

  it('names a missing file', () => {
    expect(() => readSafetensors(join(folder, 'nope.safetensors'))).toThrow(/cannot open .*nope\.safetensors: ENOENT/);
  });
});
