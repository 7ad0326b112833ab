export { writeFileAtomic } from './atomic.js';
export { loadStateDictFile, saveStateDict, type LoadStateDictFileOptions } from './state.js';
export {
  MAX_HEADER_BYTES, MAX_RANK, readSafetensors, SafetensorsError, writeSafetensors, type SafetensorsDtype, type SafetensorsFile,
  type StoredTensor, type TensorData, type TensorToWrite,
} from './safetensors.js';
