export { bucketBatches, padBatch, truncate, type BucketOptions, type PaddedBatch, type Truncation } from './batching.js';
export { createTokenizer, detokenize, SPACE_MARK, TOKENIZER_KINDS, type Tokenizer, type TokenizerKind, type TokenizerOptions } from './tokenize.js';
export { PAD, UNK, Vocabulary, type VocabularyOptions } from './vocabulary.js';
export {
  classificationReport, closestReferences, corpusBleu, editDistance, errorProfile, errorRate, errorRateOf, sentenceBleu, tokenize13a, wordErrorRate,
  type BleuOptions, type BleuScore, type BleuSmoothing, type ClassificationReport, type ClassScores, type Closest, type ErrorProfile,
} from './metrics.js';
