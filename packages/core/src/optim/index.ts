export {
  Adagrad, Adam, AdamW, clipGradNorm, clipGradValue, Optimizer, RMSprop, SGD, type AdagradOptions, type AdamOptions, type GroupSettings, type OptimizerState,
  type ParamGroup, type ParamsOrGroups, type RMSpropOptions, type SGDOptions,
} from './optimizers.js';
export {
  CosineAnnealingLR, CosineAnnealingWarmRestarts, ExponentialLR, LambdaLR, LinearLR, LRSchedule, MultiStepLR, OneCycleLR, ReduceLROnPlateau, StepLR, WarmupLinearLR,
  type OneCycleLROptions, type ReduceLROnPlateauOptions,
} from './schedules.js';
export { AveragedModel, type AveragedModelOptions } from './averaged-model.js';
