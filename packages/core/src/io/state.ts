/** Model weights on disk: a state dict as a safetensors file PyTorch loads as it is. */
import { basename } from 'node:path';
import { Tensor } from '../tensor.js';
import { readSafetensors, SafetensorsError, writeSafetensors } from './safetensors.js';

/**
 * Writes named tensors (a module's `stateDict()`) as float32 safetensors, atomically. In PyTorch:
 * `module.load_state_dict({k: torch.from_numpy(v) ...})` with any safetensors reader.
 */
export function saveStateDict(file: string, dict: ReadonlyMap<string, Tensor>, metadata: Record<string, string> = {}): void {
  writeSafetensors(file, new Map([...dict].map(([name, t]) => [name, { shape: t.shape, data: t.data }])), { format: 'pt', ...metadata });
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

/**
 * Reads a state dict from safetensors. F32 is taken as is and F64 rounded to float32 (PyTorch
 * double checkpoints); any other dtype is refused, naming the tensor, and so are NaN or infinite
 * values (and F64 values beyond float32's range) unless `allowNonFinite`. Returns the tensors by
 * name and the file's metadata.
 */
export function loadStateDictFile(file: string, options: LoadStateDictFileOptions = {}): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  const read = readSafetensors(file);
  const tensors = new Map<string, Tensor>();
  const fail = (name: string, message: string) => new SafetensorsError(`${basename(file)}: tensor '${name}' ${message}`);
  for (const [name, stored] of read.tensors) {
    if (stored.dtype !== 'F32' && stored.dtype !== 'F64') {
      throw fail(name, `has dtype ${stored.dtype}; model weights must be F32 or F64 (convert with tensor.float() in PyTorch)`);
    }
    const source = stored.data as Float32Array | Float64Array;
    const data = source instanceof Float32Array ? source : Float32Array.from(source);
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
