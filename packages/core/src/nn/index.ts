export { Dropout, Embedding, LayerNorm, Linear, type EmbeddingOptions, type LayerNormOptions, type LinearOptions } from './layers.js';
export {
  binaryCrossEntropyWithLogits, crossEntropy, huberLoss, l1Loss, mseLoss, nllLoss, smoothL1Loss, type CrossEntropyOptions, type NllLossOptions, type Reduction,
  type RegressionLossOptions,
} from './losses.js';
export { linearCrossEntropy, type LinearCrossEntropyOptions, type LinearCrossEntropyResult } from './linear-cross-entropy.js';
export { checkOption, Module, type LoadStateDictResult } from './module.js';
export {
  GRU, LSTM, recurrentFromConfig, RecurrentLayer, RNN, type ForwardOptions, type RecurrentConfig, type LSTMOptions, type RecurrentBaseOptions, type RecurrentOptions,
  type RecurrentOutput, type RNNOptions,
} from './recurrent.js';
export { GRUCell, LSTMCell, RecurrentCell, RNNCell, type CellOptions, type RNNCellOptions } from './cells.js';
export { concatFeatures, poolSequence, type PoolingMode } from './pooling.js';
export { JordanRNN, type JordanOptions, type JordanOutput } from './jordan.js';
export { gradCheck, type GradCheckFailure, type GradCheckOptions, type GradCheckResult } from './gradcheck.js';
export { detach, Gradients, Parameter, Tape, WeightProduct, type BackwardContext, type BackwardFunction, type Differentiable } from './tape.js';
export { Attention, ATTENTION_SCORES, type AttentionOptions, type AttentionOutput, type AttentionScore } from './attention.js';
export * as functional from './functional.js';
export * as init from './init-public.js';
export { padSequence, unpadSequence, type PadOptions } from './rnn-utils.js';
export { LogSoftmax, ReLU, Sequential, Sigmoid, Softmax, Tanh, type TensorModule } from './sequential.js';
export { ctcLoss, type CtcLossOptions } from './ctc.js';
export {
  ctcGreedyDecode, ctcPrefixBeamSearch, type CtcBeamSearchOptions, type CtcDecodeOptions, type CtcGreedyResult, type CtcHypothesis,
  type CtcLanguageModel, type CtcSpan,
} from './ctc-decode.js';
