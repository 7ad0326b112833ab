export { CHECKPOINT_VERSION, CheckpointError, hasCheckpoint, loadCheckpoint, saveCheckpoint, type TrainingState } from './checkpoint.js';
export { Progress, type ProgressMetrics } from './progress.js';
export {
  checkRunFolder, epochSchedule, SCHEDULE_KINDS, train, TrainingError, type ScheduleKind, type StepResult, type TrainerOptions, type TrainingSummary, type TrainingTask,
} from './trainer.js';
export { readMetrics, writeRunReport, type RunReport, type RunReportOptions } from './report.js';
export {
  addTrainingOptions, announce, backendOption, checkAverageLast, choiceFlag, EXIT_BAD_INPUT, reportLrFinder, fractionFlag, integerFlag, interruptibleTraining, isOutOfMemory, isUserError, positiveFlag, runProgram,
  requireWritable, unwritableFile, unwritableFolder, type TrainingFlagDefaults,
} from './cli.js';
export {
  checkInsideFolder, checkParameterCount, configChecker, InputError, jsonError, loadFolderWeights, MAX_CONFIG_BYTES, MAX_PARAMETERS, readFolderConfig, saveFolder,
  type FolderIdentity,
} from './folder.js';
export { findLearningRate, writeLrFinderReport, type LrFinderOptions, type LrFinderResult } from './lr-finder.js';
