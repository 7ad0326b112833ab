export { CHECKPOINT_VERSION, CheckpointError, hasCheckpoint, loadCheckpoint, saveCheckpoint, type TrainingState } from './checkpoint.js';
export { Progress, type ProgressMetrics } from './progress.js';
export { train, TrainingError, type StepResult, type TrainerOptions, type TrainingSummary, type TrainingTask } from './trainer.js';
export { readMetrics, writeRunReport, type RunReport, type RunReportOptions } from './report.js';
