export { KIND_CODE, stepKernelSpecs, type StepShape } from './kernels.js';
export { recurrentBackward, recurrentForward, sequenceMask, type SequenceBatch, type SequenceGradients, type SequenceResult } from './sequence.js';
