export { SpeechDataError } from './errors.js';
export {
  BLOCK_SIZE, generateSpeechDataset, generationSettings, planSplit, SPLITS, type GenerateOptions, type GenerateProgress, type GenerationSettings,
  type NoiseOptions, type SpeechManifest, type SpeechTask, type SplitName, type SplitSummary, type UtterancePlan,
} from './generate.js';
export {
  createSynthesizer, ESPEAK_PACKAGE, ESPEAK_SAMPLE_RATE, espeakVersion, type SpeakOptions, type Speech, type Synthesizer, type SynthesizerOptions,
  type VariantInfo, type VoiceInfo,
} from './synthesizer.js';
export {
  ACCENTS, HOLD_OUT_SHARE, splitVoices, VARIANTS, VOICE_CATALOGUE, type Accent, type HoldOut, type Sex, type SpeakerVoice, type VoiceSplit,
} from './voices.js';
export { DIGIT_WORDS, WORDS } from './words.js';
