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

/**
 * Reads a state dict from safetensors. F32 is taken as is and F64 rounded to float32 (PyTorch
 * double checkpoints); any other dtype is refused, naming the tensor. Returns the tensors by name
 * and the file's metadata.
 */
export function loadStateDictFile(file: string): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  const read = readSafetensors(file);
  const tensors = new Map<string, Tensor>();
  for (const [name, stored] of read.tensors) {
    if (stored.dtype !== 'F32' && stored.dtype !== 'F64') {
      throw new SafetensorsError(`${basename(file)}: tensor '${name}' has dtype ${stored.dtype}; model weights must be F32 or F64 (convert with tensor.float() in PyTorch)`);
    }
    const data = stored.data instanceof Float32Array ? stored.data : Float32Array.from(stored.data as Float64Array);
    tensors.set(name, new Tensor(stored.shape, data));
  }
  return { tensors, metadata: read.metadata };
}
