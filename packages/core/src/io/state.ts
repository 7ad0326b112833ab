/** Model weights on disk: a state dict as a safetensors file PyTorch loads as it is. */
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { Tensor } from '../tensor.js';
import { readSafetensors, SafetensorsError, writeSafetensors, type TensorToWrite } from './safetensors.js';

export interface SaveStateDictOptions {
  /**
   * The stored precision: F32 (default, exact), or F16 / BF16 (half the bytes; each value rounded
   * to nearest, ties to even, as PyTorch's model.half() / model.bfloat16()). A value beyond F16's
   * range (±65,504) is refused rather than stored as infinity, which no loader would accept.
   */
  readonly dtype?: 'F32' | 'F16' | 'BF16';
}

/**
 * Writes named tensors (a module's `stateDict()`) as safetensors, atomically (float32 unless
 * `dtype` says otherwise). In PyTorch: `module.load_state_dict({k: torch.from_numpy(v) ...})` with
 * any safetensors reader.
 */
export function saveStateDict(file: string, dict: ReadonlyMap<string, Tensor>, metadata: Record<string, string> = {}, options: SaveStateDictOptions = {}): void {
  const dtype = options.dtype ?? 'F32';
  writeSafetensors(file, new Map([...dict].map(([name, t]) => [name, storedAs(file, name, t.shape, t.data, dtype)])), { format: 'pt', ...metadata });
}

/** float32 values as a tensor to write in `dtype`; F16 overflow refused, naming the file and tensor. */
function storedAs(file: string, name: string, shape: readonly number[], data: Float32Array, dtype: 'F32' | 'F16' | 'BF16'): TensorToWrite {
  if (dtype === 'F32') return { shape, data };
  const bits = dtype === 'F16' ? float32ToFloat16(data) : float32ToBfloat16(data);
  if (dtype === 'F16') {
    let overflow = 0;
    for (let i = 0; i < bits.length; i++) if ((bits[i]! & 0x7fff) === 0x7c00 && Number.isFinite(data[i]!)) overflow++;
    if (overflow > 0) throw new SafetensorsError(`${basename(file)}: tensor '${name}' has ${overflow} values beyond F16's range of ±65,504; save it as F32 or BF16`);
  }
  return { shape, data: bits, dtype };
}

export interface ConvertedFile {
  /** Floating-point tensors stored in the new dtype. */
  readonly converted: number;
  /** Other tensors (integers, booleans, 8-bit floats), copied as they were. */
  readonly kept: number;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
}

/**
 * Rewrites a safetensors file's floating-point tensors (F32, F64, F16, BF16) in `dtype` (F16 and
 * BF16 rounded as `saveStateDict` rounds them, F64 rounded to float32 first), keeping the order,
 * the other tensors and the metadata: PyTorch's `model.half()` / `.bfloat16()` / `.float()` on a
 * file. Writes `output` atomically (it may be `input`); a value beyond F16's range is refused and
 * nothing is written.
 */
export function convertSafetensorsFile(input: string, output: string, dtype: 'F32' | 'F16' | 'BF16'): ConvertedFile {
  const read = readSafetensors(input);
  let converted = 0;
  const tensors = new Map<string, TensorToWrite>();
  for (const [name, stored] of read.tensors) {
    const data = asFloat32(stored.dtype, stored.data);
    if (data === undefined) {
      tensors.set(name, { shape: stored.shape, data: stored.data, dtype: stored.dtype });
    } else {
      const overflow = stored.dtype === 'F64' ? countNonFinite(data) - countNonFinite(stored.data as Float64Array) : 0;
      if (overflow > 0) throw new SafetensorsError(`${basename(input)}: tensor '${name}' holds ${overflow} F64 values beyond float32's range of ±3.4e38; they cannot be converted`);
      tensors.set(name, storedAs(input, name, stored.shape, data, dtype));
      converted++;
    }
  }
  const bytesBefore = statSync(input).size;
  writeSafetensors(output, tensors, read.metadata);
  return { converted, kept: tensors.size - converted, bytesBefore, bytesAfter: statSync(output).size };
}

/** float32 values as IEEE 754 half-precision bits, rounded to nearest, ties to even (subnormals, overflow to infinity, NaN kept). */
export function float32ToFloat16(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < out.length; i++) {
    const x = bits[i]!;
    const sign = (x >>> 16) & 0x8000;
    const exponent = (x >>> 23) & 0xff;
    const mantissa = x & 0x7fffff;
    if (exponent === 0xff) {
      out[i] = sign | 0x7c00 | (mantissa ? 0x200 : 0);
      continue;
    }
    const e = exponent - 112; // the F16 exponent field this value would have
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00;
    } else if (e <= 0) {
      // subnormal (or zero): the 24-bit significand shifted to units of 2^-24
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      const significand = mantissa | 0x800000;
      const shift = 14 - e;
      let half = significand >>> shift;
      const rest = significand & ((1 << shift) - 1);
      const halfway = 1 << (shift - 1);
      if (rest > halfway || (rest === halfway && half & 1)) half++;
      out[i] = sign | half;
    } else {
      // a carry out of the mantissa steps the exponent, up to infinity: what rounding should do
      let half = (e << 10) | (mantissa >>> 13);
      const rest = mantissa & 0x1fff;
      if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
      out[i] = sign | half;
    }
  }
  return out;
}

/** float32 values as bfloat16 bits, rounded to nearest, ties to even (NaN kept quiet). */
export function float32ToBfloat16(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < out.length; i++) {
    const x = bits[i]!;
    if ((x & 0x7fffffff) > 0x7f800000) out[i] = (x >>> 16) | 0x40;
    else out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}

export interface LoadStateDictFileOptions {
  /**
   * Accept NaN and infinite values. Default false: weights (and optimizer state) holding them
   * come from a damaged file or a run that diverged, and would only produce NaN; training never
   * writes them (it skips non-finite steps).
   */
  readonly allowNonFinite?: boolean;
}

/** How many values of `data` are NaN or infinite. */
function countNonFinite(data: Float32Array | Float64Array): number {
  let count = 0;
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) count++;
  return count;
}

/** IEEE 754 half precision (F16, little-endian bytes) as float32: exact, subnormals included. */
export function float16ToFloat32(bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.byteLength >> 1);
  for (let i = 0; i < out.length; i++) {
    const h = view.getUint16(2 * i, true);
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const fraction = h & 0x3ff;
    if (exponent === 0) out[i] = sign * fraction * 2 ** -24;
    else if (exponent === 0x1f) out[i] = fraction ? NaN : sign * Infinity;
    else out[i] = sign * (1024 + fraction) * 2 ** (exponent - 25);
  }
  return out;
}

/** bfloat16 (BF16, little-endian bytes) as float32: the upper half of a float32's bits, exact. */
export function bfloat16ToFloat32(bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bits = new Uint32Array(bytes.byteLength >> 1);
  for (let i = 0; i < bits.length; i++) bits[i] = view.getUint16(2 * i, true) << 16;
  return new Float32Array(bits.buffer);
}

/** A stored floating-point tensor's values as float32 (F16 and BF16 exactly, F64 rounded); undefined for other dtypes. */
function asFloat32(dtype: string, data: unknown): Float32Array | undefined {
  switch (dtype) {
    case 'F32': return data as Float32Array;
    case 'F64': return Float32Array.from(data as Float64Array);
    case 'F16': return float16ToFloat32(data as Uint8Array);
    case 'BF16': return bfloat16ToFloat32(data as Uint8Array);
    default: return undefined;
  }
}

/**
 * Reads a state dict from safetensors. F32 is taken as is, F16 and BF16 widened exactly (what
 * PyTorch's model.half() and model.bfloat16() save) and F64 rounded to float32 (double
 * checkpoints); any other dtype is refused, naming the tensor, and so are NaN or infinite values
 * (and F64 values beyond float32's range) unless `allowNonFinite`. Returns the tensors by name
 * and the file's metadata.
 */
export function loadStateDictFile(file: string, options: LoadStateDictFileOptions = {}): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  const read = readSafetensors(file);
  const tensors = new Map<string, Tensor>();
  const fail = (name: string, message: string) => new SafetensorsError(`${basename(file)}: tensor '${name}' ${message}`);
  for (const [name, stored] of read.tensors) {
    const data = asFloat32(stored.dtype, stored.data);
    if (!data) throw fail(name, `has dtype ${stored.dtype}; model weights must be F32, F16, BF16 or F64 (convert with tensor.float() in PyTorch)`);
    const source = stored.dtype === 'F64' ? (stored.data as Float64Array) : data;
    if (!options.allowNonFinite) {
      const bad = countNonFinite(source);
      if (bad > 0) throw fail(name, `holds ${bad} NaN/Inf values (of ${source.length}); the file is damaged or comes from a training run that diverged`);
      const overflow = data === source ? 0 : countNonFinite(data);
      if (overflow > 0) throw fail(name, `holds ${overflow} F64 values (of ${source.length}) beyond float32's range of ±3.4e38; they cannot be float32 weights`);
    }
    tensors.set(name, new Tensor(stored.shape, data));
  }
  return { tensors, metadata: read.metadata };
}
