export { addNoise, isSilent, rmsDbfs, specAugment, type SpecAugmentOptions } from './augment.js';
export { AudioError } from './errors.js';
export {
  frameCount, hzToMel, logMelSpectrogram, melFilterbank, melToHz, mfcc, normalizeFeatures, type Features, type LogMelOptions,
  type MelFilterbank, type WindowName,
} from './features.js';
export { resample } from './resample.js';
export {
  decodeWav, MAX_WAV_BYTES, readWav, writeWav, type Audio, type ReadWavOptions, type SourceFormat, type WriteWavOptions,
} from './wav.js';
