export { writeFileAtomic } from './atomic.js';
export {
  MAX_HEADER_BYTES, readSafetensors, SafetensorsError, writeSafetensors, type SafetensorsDtype, type SafetensorsFile,
  type StoredTensor, type TensorData, type TensorToWrite,
} from './safetensors.js';
