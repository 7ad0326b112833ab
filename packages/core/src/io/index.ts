export { writeFileAtomic } from './atomic.js';
export {
  bfloat16ToFloat32, convertSafetensorsFile, float16ToFloat32, float32ToBfloat16, float32ToFloat16, loadStateDictFile, saveStateDict, type ConvertedFile, type LoadStateDictFileOptions, type SaveStateDictOptions,
} from './state.js';
export {
  MAX_HEADER_BYTES, MAX_RANK, readSafetensors, readSafetensorsHeader, SafetensorsError, writeSafetensors, type SafetensorsDtype, type SafetensorsFile,
  type StoredTensor, type TensorData, type TensorEntry, type TensorToWrite,
} from './safetensors.js';
export { OnnxGraph, ONNX_OPSET, recurrentToOnnx, type OnnxDim, type OnnxElementType } from './onnx.js';
