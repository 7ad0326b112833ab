/**
 * safetensors, the format's own rules: an 8-byte little-endian header length N, N bytes of JSON
 * (`{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}`, padded
 * with spaces), then the tensors' bytes, little-endian, contiguous, in offset order, with no gaps.
 *
 * Files from strangers are checked before any large allocation: the header length against the
 * file size and a 100 MB cap, the header's UTF-8 and JSON (an object, no name twice), each
 * entry's fields, dtype and shape, every offset against the data size, each tensor's byte length
 * against its shape (in exact arithmetic, so a claimed 2^60-element tensor is refused, not
 * allocated), overlaps, gaps and trailing bytes, and `__metadata__` (strings only). Whatever a
 * header claims, reading allocates no more than the file's own size.
 */
import { closeSync, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
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

/** Most dimensions a tensor may have (PyTorch's and NumPy 2's limit is 64). */
export const MAX_RANK = 64;

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

/** A value for a message: JSON, cut short if long (a hostile header may hold megabytes). */
function show(value: unknown, limit = 80): string {
  const text = value === undefined ? 'nothing' : JSON.stringify(value);
  return text.length > limit ? `${text.slice(0, limit)}...` : text;
}

/** A tensor name for a message, quoted, cut short if long. */
function named(name: string): string {
  return `'${name.length > 100 ? `${name.slice(0, 100)}...` : name}'`;
}

/**
 * The first top-level key of a JSON object text that appears twice, if any (JSON.parse keeps
 * the last silently, so a second entry could hide the first). `json` must be valid JSON.
 */
function duplicateKey(json: string): string | undefined {
  const seen = new Set<string>();
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      while (json.charCodeAt(j) !== 0x22) j += json.charCodeAt(j) === 0x5c /* \ */ ? 2 : 1;
      if (depth === 1 && expectKey) {
        const key = JSON.parse(json.slice(i, j + 1)) as string;
        if (seen.has(key)) return key;
        seen.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      depth++;
      if (depth === 1) expectKey = true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    } else if (c === 0x2c /* , */ && depth === 1) {
      expectKey = true;
    }
  }
  return undefined;
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
  const twice = duplicateKey(json);
  if (twice !== undefined) throw fail(`the header names ${twice === '__metadata__' ? '__metadata__' : `tensor ${named(twice)}`} twice; the file is damaged`);
  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail(`__metadata__ must be an object of strings, got ${show(value)}`);
      for (const [key, text] of Object.entries(value)) {
        if (typeof text !== 'string') throw fail(`__metadata__.${key.length > 100 ? `${key.slice(0, 100)}...` : key} must be a string, got ${show(text)}`);
        // defineProperty: a key such as "__proto__" is kept as data, never as the prototype.
        Object.defineProperty(metadata, key, { value: text, enumerable: true, writable: true, configurable: true });
      }
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw fail(`tensor ${named(name)} must be an object of dtype, shape and data_offsets, got ${show(value)}`);
    }
    const { dtype, shape, data_offsets: offsets } = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const absent = (['dtype', 'shape', 'data_offsets'] as const).filter((key) => !Object.hasOwn(value, key));
    if (absent.length > 0) throw fail(`tensor ${named(name)} has no ${absent.join(', no ')}`);
    if (!isDtype(dtype)) throw fail(`tensor ${named(name)} has unknown dtype ${show(dtype)}; expected one of ${Object.keys(DTYPE_SIZES).join(', ')}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw fail(`tensor ${named(name)} has an invalid shape ${show(shape)}; dimensions are whole numbers >= 0`);
    }
    if (shape.length > MAX_RANK) throw fail(`tensor ${named(name)} has ${shape.length} dimensions, more than ${MAX_RANK}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw fail(`tensor ${named(name)} has invalid data_offsets ${show(offsets)}; expected [begin, end], whole numbers >= 0`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) throw fail(`tensor ${named(name)} has reversed data_offsets [${begin}, ${end}]: the end comes before the beginning`);
    if (end > dataBytes) {
      throw fail(`tensor ${named(name)} has data_offsets [${begin}, ${end}] outside the ${dataBytes} bytes of data`);
    }
    // Exact arithmetic: a product of safe integers can pass 2^53, where floats round.
    const bytes = (shape as number[]).reduce((a, d) => a * BigInt(d), BigInt(DTYPE_SIZES[dtype]));
    if (bytes !== BigInt(end - begin)) {
      throw fail(`tensor ${named(name)} of shape [${shape.join(', ')}] and dtype ${dtype} needs ${bytes} bytes, its offsets give ${end - begin}`);
    }
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }
  // Tensors must tile the data exactly: sorted by offset, each starting where the last ended.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  let previous: HeaderEntry | undefined;
  for (const entry of entries) {
    if (entry.begin < expected) {
      throw fail(`tensor ${named(entry.name)} overlaps the tensor before it, ${named(previous!.name)} (bytes ${previous!.begin} to ${previous!.end}): it begins at byte ${entry.begin}`);
    }
    if (entry.begin > expected) throw fail(`there is a gap of ${entry.begin - expected} bytes before tensor ${named(entry.name)}; no tensor covers bytes ${expected} to ${entry.begin}`);
    expected = entry.end;
    previous = entry;
  }
  if (expected !== dataBytes) throw fail(`the tensors cover ${expected} bytes but the file holds ${dataBytes} bytes of data; ${dataBytes - expected} trailing bytes belong to no tensor`);
  return { entries, metadata };
}

/** Fills `target` from `position`; refuses a file that ends early (it changed since its size was read). */
function readInto(fd: number, target: Uint8Array, position: number, fail: (message: string) => Error): void {
  for (let done = 0; done < target.length; ) {
    const n = readSync(fd, target, done, target.length - done, position + done);
    if (n === 0) throw fail(`the file ended at byte ${position + done}, before the ${target.length} bytes it should hold there; it changed while being read`);
    done += n;
  }
}

/** An open file's validated header: its entries in offset order, metadata and where the data begins. */
interface OpenedFile {
  readonly fd: number;
  readonly size: number;
  readonly dataStart: number;
  readonly entries: HeaderEntry[];
  readonly metadata: Record<string, string>;
}

/** Opens a .safetensors file and validates its header; the caller closes `fd`. */
function openSafetensors(file: string, fail: (message: string) => SafetensorsError): OpenedFile {
  if (endianness() !== 'LE') throw fail('safetensors data is little-endian; this machine is big-endian');
  // A FIFO or a device (/dev/zero) would block or never end: only regular files are opened.
  let kind: Stats | undefined;
  try {
    kind = statSync(file);
  } catch {
    // openSync below names the error.
  }
  if (kind !== undefined && !kind.isFile()) throw fail(`not a regular file (${kind.isDirectory() ? 'a folder' : 'a device, pipe or socket'})`);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    throw new SafetensorsError(`cannot open ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    const size = fstatSync(fd).size;
    if (size < 8) throw fail(`the file has ${size} bytes, fewer than the 8-byte header length`);
    const lengthBytes = Buffer.alloc(8);
    readInto(fd, lengthBytes, 0, fail);
    const headerLength = lengthBytes.readBigUInt64LE(0);
    if (headerLength > BigInt(MAX_HEADER_BYTES)) throw fail(`the header claims ${headerLength} bytes, over the ${MAX_HEADER_BYTES}-byte limit`);
    if (headerLength > BigInt(size - 8)) throw fail(`the header claims ${headerLength} bytes but only ${size - 8} follow`);
    const n = Number(headerLength);
    const headerBytes = Buffer.alloc(n);
    readInto(fd, headerBytes, 8, fail);
    let json: string;
    try {
      json = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
    } catch {
      throw fail('the header is not valid UTF-8 text; the file is damaged or not safetensors');
    }
    if (!json.startsWith('{')) throw fail('the header does not start with "{"; not a safetensors file');
    const dataStart = 8 + n;
    return { fd, size, dataStart, ...parseHeader(file, json, size - dataStart) };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

/** Reads a .safetensors file, refusing malformed or hostile ones with a SafetensorsError. */
export function readSafetensors(file: string): SafetensorsFile {
  const fail = (message: string) => new SafetensorsError(`${basename(file)}: ${message}`);
  const { fd, dataStart, entries, metadata } = openSafetensors(file, fail);
  try {
    const tensors = new Map<string, StoredTensor>();
    for (const entry of entries) {
      // A fresh ArrayBuffer per tensor: typed arrays need offsets aligned to their element size.
      const bytes = new ArrayBuffer(entry.end - entry.begin);
      readInto(fd, new Uint8Array(bytes), dataStart + entry.begin, fail);
      tensors.set(entry.name, { dtype: entry.dtype, shape: entry.shape, data: typedView(entry.dtype, bytes) });
    }
    return { tensors, metadata };
  } finally {
    closeSync(fd);
  }
}

/** One tensor as a header describes it. */
export interface TensorEntry {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** Bytes of data. */
  readonly bytes: number;
}

/**
 * A .safetensors file's header alone, validated as `readSafetensors` validates it (the data's
 * size included), without reading the tensors: tensors in the order of their data, the metadata
 * and the file's size in bytes.
 */
export function readSafetensorsHeader(file: string): { tensors: Map<string, TensorEntry>; metadata: Record<string, string>; fileBytes: number } {
  const { fd, size, entries, metadata } = openSafetensors(file, (message) => new SafetensorsError(`${basename(file)}: ${message}`));
  closeSync(fd);
  return { tensors: new Map(entries.map((e) => [e.name, { dtype: e.dtype, shape: e.shape, bytes: e.end - e.begin }])), metadata, fileBytes: size };
}

export interface TensorToWrite {
  readonly shape: readonly number[];
  readonly data: TensorData;
  /**
   * The stored dtype when the array's type does not say it: F16 or BF16 for a Uint16Array of
   * half-precision bits, or any dtype for its raw little-endian bytes (as `readSafetensors` gives
   * F16, BF16, F8 and BOOL tensors). Otherwise the dtype follows the array.
   */
  readonly dtype?: SafetensorsDtype;
}

/**
 * Writes tensors (in the given order) and string metadata as a .safetensors file, atomically:
 * a crash never leaves a half-written file (see `writeFileAtomic`).
 */
export function writeSafetensors(file: string, tensors: ReadonlyMap<string, TensorToWrite> | Record<string, TensorToWrite>, metadata: Record<string, string> = {}): void {
  if (endianness() !== 'LE') throw new SafetensorsError('safetensors data is little-endian; this machine is big-endian');
  const entries: Array<[string, TensorToWrite]> = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, tensor] of entries) {
    const elements = tensor.shape.reduce((a: number, b: number) => a * b, 1);
    const dtype = tensor.dtype ?? dtypeOf(tensor.data);
    const raw = tensor.data instanceof Uint8Array;
    if (tensor.dtype && tensor.dtype !== dtypeOf(tensor.data) && !raw && !(tensor.data instanceof Uint16Array && DTYPE_SIZES[dtype] === 2)) {
      throw new SafetensorsError(`${basename(file)}: tensor '${name}' is written as ${dtype}, which needs its bits in a Uint16Array (2-byte dtypes) or its bytes in a Uint8Array`);
    }
    if (raw ? elements * DTYPE_SIZES[dtype] !== tensor.data.byteLength : elements !== tensor.data.length) {
      const held = raw ? `${tensor.data.byteLength} bytes, not ${elements * DTYPE_SIZES[dtype]}` : `${tensor.data.length} values`;
      throw new SafetensorsError(`${basename(file)}: tensor '${name}' has shape [${tensor.shape.join(', ')}] but ${held}`);
    }
    header[name] = { dtype, shape: tensor.shape, data_offsets: [offset, offset + tensor.data.byteLength] };
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
