export {
  Adagrad, Adam, AdamW, clipGradNorm, clipGradValue, Optimizer, RMSprop, SGD, type AdagradOptions, type AdamOptions, type OptimizerState, type RMSpropOptions,
  type SGDOptions,
} from './optimizers.js';
export { CosineAnnealingLR, ExponentialLR, LRSchedule, ReduceLROnPlateau, StepLR, WarmupLinearLR, type ReduceLROnPlateauOptions } from './schedules.js';
