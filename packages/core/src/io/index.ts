export { writeFileAtomic } from './atomic.js';
export { loadStateDictFile, saveStateDict } from './state.js';
export {
  MAX_HEADER_BYTES, readSafetensors, SafetensorsError, writeSafetensors, type SafetensorsDtype, type SafetensorsFile,
  type StoredTensor, type TensorData, type TensorToWrite,
} from './safetensors.js';
