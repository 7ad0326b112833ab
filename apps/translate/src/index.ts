export { APP, FORMAT_VERSION, loadModelFolder, parameterCount, saveModelFolder, type Limits, type TranslateFolderConfig } from './folder.js';
export { EN_FR_TEXT, G2P_TEXT, loadPairsExamples, loadTask, tokenizePairs, type Example, type TaskData, type TaskKind, type TextSides } from './data.js';
export { decodeBatch, gatherEncoding, gatherState, lengthNormalised, type Candidate, type DecodeOptions, type Decoded } from './decode.js';
export { ATTENTION_KINDS, BOS, BOS_INDEX, EOS, EOS_INDEX, TranslateModel, type AttentionKind, type DecoderState, type Encoded, type TranslateConfig } from './model.js';
export {
  batchLoss, buildVocabularies, evaluate, makeBatches, nbestOracle, PairSet, prepareTraining, rescoreCandidates, targetLogProbabilities, trainingPairs, trainTranslation, translateTokens, validationLoss,
  type Batch, type DecodeSettings, type Evaluation, type PrepareSettings, type TrainingData, type Vocabularies,
} from './pipeline.js';
export { translateToOnnx, type TranslateOnnx } from './onnx.js';
export { attentionHeatmap } from './plots.js';
export { attentionProfile, type AttentionProfile } from './attention-profile.js';
