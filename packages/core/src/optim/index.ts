export { Adam, AdamW, clipGradNorm, clipGradValue, Optimizer, SGD, type AdamOptions, type OptimizerState, type SGDOptions } from './optimizers.js';
export { CosineAnnealingLR, ExponentialLR, LRSchedule, StepLR, WarmupLinearLR } from './schedules.js';
