export { APP, FORMAT_VERSION, InputError, loadModelFolder, saveModelFolder, type SentimentFolderConfig } from './folder.js';
export { SentimentModel, sentimentToOnnx, type SentimentConfig } from './model.js';
export { evaluate, makeBatches, predict, predictedClasses, prepare, trainSentiment, type Batch, type Evaluation, type Prepared, type TrainOptions } from './pipeline.js';
