/**
 * safetensors, the format's own rules: an 8-byte little-endian header length N, N bytes of JSON
 * (`{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}`, padded
 * with spaces), then the tensors' bytes, little-endian, contiguous, in offset order, with no gaps.
 *
 * Files from strangers are checked before any large allocation: the header length against the
 * file size and a 100 MB cap, every offset against the data size, overlaps and gaps, dtypes,
 * and each tensor's byte length against its shape.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { endianness } from 'node:os';
import { basename } from 'node:path';
import { writeFileAtomic } from './atomic.js';

/** Byte size of each dtype the format defines. */
const DTYPE_SIZES = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, I64: 8, U64: 8, F64: 8,
} as const;
export type SafetensorsDtype = keyof typeof DTYPE_SIZES;

/** The header may not exceed this (the reference implementation's limit). */
export const MAX_HEADER_BYTES = 100_000_000;

export type TensorData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array | Int16Array | Uint16Array | Uint32Array | BigUint64Array;

export interface StoredTensor {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** Typed by dtype: F32 -> Float32Array, F64 -> Float64Array, I64 -> BigInt64Array, ...; F16/BF16/F8 as raw bytes. */
  readonly data: TensorData;
}

export interface SafetensorsFile {
  readonly tensors: Map<string, StoredTensor>;
  readonly metadata: Record<string, string>;
}

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

function isDtype(value: unknown): value is SafetensorsDtype {
  return typeof value === 'string' && Object.hasOwn(DTYPE_SIZES, value);
}

function typedView(dtype: SafetensorsDtype, bytes: ArrayBuffer): TensorData {
  switch (dtype) {
    case 'F32': return new Float32Array(bytes);
    case 'F64': return new Float64Array(bytes);
    case 'I32': return new Int32Array(bytes);
    case 'U32': return new Uint32Array(bytes);
    case 'I64': return new BigInt64Array(bytes);
    case 'U64': return new BigUint64Array(bytes);
    case 'I16': return new Int16Array(bytes);
    case 'U16': return new Uint16Array(bytes);
    case 'I8': return new Int8Array(bytes);
    default: return new Uint8Array(bytes); // BOOL, U8, and half/8-bit floats as raw bytes
  }
}

function dtypeOf(data: TensorData): SafetensorsDtype {
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof Float64Array) return 'F64';
  if (data instanceof Int32Array) return 'I32';
  if (data instanceof Uint32Array) return 'U32';
  if (data instanceof BigInt64Array) return 'I64';
  if (data instanceof BigUint64Array) return 'U64';
  if (data instanceof Int16Array) return 'I16';
  if (data instanceof Uint16Array) return 'U16';
  if (data instanceof Int8Array) return 'I8';
  return 'U8';
}

interface HeaderEntry {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: number[];
  readonly begin: number;
  readonly end: number;
}

/** Parses and validates a header against the size of the data that follows it. */
function parseHeader(file: string, json: string, dataBytes: number): { entries: HeaderEntry[]; metadata: Record<string, string> } {
  const fail = (message: string) => new SafetensorsError(`${basename(file)}: ${message}`);
  let header: unknown;
  try {
    header = JSON.parse(json);
  } catch (error) {
    throw fail(`the header is not valid JSON (${(error as Error).message}); the file is damaged or not safetensors`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw fail('the header must be a JSON object');
  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null) throw fail('__metadata__ must be an object of strings');
      for (const [key, text] of Object.entries(value)) {
        if (typeof text !== 'string') throw fail(`__metadata__.${key} must be a string`);
        metadata[key] = text;
      }
      continue;
    }
    const { dtype, shape, data_offsets: offsets } = (value ?? {}) as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!isDtype(dtype)) throw fail(`tensor '${name}' has unknown dtype ${JSON.stringify(dtype)}; expected one of ${Object.keys(DTYPE_SIZES).join(', ')}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw fail(`tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw fail(`tensor '${name}' has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin || end > dataBytes) {
      throw fail(`tensor '${name}' has data_offsets [${begin}, ${end}] outside the ${dataBytes} bytes of data`);
    }
    const elements = (shape as number[]).reduce((a, b) => a * b, 1);
    if (elements * DTYPE_SIZES[dtype] !== end - begin) {
      throw fail(`tensor '${name}' of shape [${shape.join(', ')}] and dtype ${dtype} needs ${elements * DTYPE_SIZES[dtype]} bytes, its offsets give ${end - begin}`);
    }
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }
  // Tensors must tile the data exactly: sorted by offset, each starting where the last ended.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const entry of entries) {
    if (entry.begin < expected) throw fail(`tensor '${entry.name}' overlaps the tensor before it (offset ${entry.begin} < ${expected})`);
    if (entry.begin > expected) throw fail(`there is a gap of ${entry.begin - expected} bytes before tensor '${entry.name}'`);
    expected = entry.end;
  }
  if (expected !== dataBytes) throw fail(`the tensors cover ${expected} bytes but the file holds ${dataBytes} bytes of data`);
  return { entries, metadata };
}

function readExactly(fd: number, length: number, position: number): Buffer {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buffer, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return buffer.subarray(0, done);
}

/** Reads a .safetensors file, refusing malformed or hostile ones with a SafetensorsError. */
export function readSafetensors(file: string): SafetensorsFile {
  if (endianness() !== 'LE') throw new SafetensorsError('safetensors data is little-endian; this machine is big-endian');
  const fail = (message: string) => new SafetensorsError(`${basename(file)}: ${message}`);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    throw new SafetensorsError(`cannot open ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    const size = statSync(file).size;
    if (size < 8) throw fail(`the file has ${size} bytes, fewer than the 8-byte header length`);
    const headerLength = readExactly(fd, 8, 0).readBigUInt64LE(0);
    if (headerLength > BigInt(MAX_HEADER_BYTES)) throw fail(`the header claims ${headerLength} bytes, over the ${MAX_HEADER_BYTES}-byte limit`);
    if (headerLength > BigInt(size - 8)) throw fail(`the header claims ${headerLength} bytes but only ${size - 8} follow`);
    const n = Number(headerLength);
    const json = readExactly(fd, n, 8).toString('utf8');
    if (!json.startsWith('{')) throw fail('the header does not start with "{"; not a safetensors file');
    const dataStart = 8 + n;
    const { entries, metadata } = parseHeader(file, json, size - dataStart);
    const tensors = new Map<string, StoredTensor>();
    for (const entry of entries) {
      const bytes = readExactly(fd, entry.end - entry.begin, dataStart + entry.begin);
      // Copy into a fresh, aligned ArrayBuffer: typed arrays need offsets aligned to their size.
      const aligned = new ArrayBuffer(bytes.length);
      new Uint8Array(aligned).set(bytes);
      tensors.set(entry.name, { dtype: entry.dtype, shape: entry.shape, data: typedView(entry.dtype, aligned) });
    }
    return { tensors, metadata };
  } finally {
    closeSync(fd);
  }
}

export interface TensorToWrite {
  readonly shape: readonly number[];
  readonly data: TensorData;
}

/**
 * Writes tensors (in the given order) and string metadata as a .safetensors file, atomically:
 * a crash never leaves a half-written file (see `writeFileAtomic`).
 */
export function writeSafetensors(file: string, tensors: ReadonlyMap<string, TensorToWrite> | Record<string, TensorToWrite>, metadata: Record<string, string> = {}): void {
  if (endianness() !== 'LE') throw new SafetensorsError('safetensors data is little-endian; this machine is big-endian');
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, tensor] of entries) {
    const elements = tensor.shape.reduce((a: number, b: number) => a * b, 1);
    if (elements !== tensor.data.length) {
      throw new SafetensorsError(`${basename(file)}: tensor '${name}' has shape [${tensor.shape.join(', ')}] but ${tensor.data.length} values`);
    }
    header[name] = { dtype: dtypeOf(tensor.data), shape: tensor.shape, data_offsets: [offset, offset + tensor.data.byteLength] };
    offset += tensor.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8); // align the data to 8 bytes
  const lengthBytes = Buffer.alloc(8);
  lengthBytes.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  writeFileAtomic(file, [
    lengthBytes,
    json,
    ...entries.map(([, tensor]) => new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength)),
  ]);
}
