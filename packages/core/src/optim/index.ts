export {
  Adagrad, Adam, AdamW, clipGradNorm, clipGradValue, Optimizer, RMSprop, SGD, type AdagradOptions, type AdamOptions, type GroupSettings, type OptimizerState,
  type ParamGroup, type ParamsOrGroups, type RMSpropOptions, type SGDOptions,
} from './optimizers.js';
export { CosineAnnealingLR, ExponentialLR, LRSchedule, ReduceLROnPlateau, StepLR, WarmupLinearLR, type ReduceLROnPlateauOptions } from './schedules.js';
