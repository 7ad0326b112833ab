export { audioFeatures, DEFAULT_FEATURES, entriesFor, loadUtterances, transcriptEntries, type Entry, type FeatureSettings, type Split, type Utterance } from './data.js';
export { APP, FORMAT_VERSION, loadModelFolder, parameterCount, saveModelFolder, type SpeechFolderConfig } from './folder.js';
export { BLANK, LABEL_UNITS, LabelSet, normaliseTranscript, type LabelUnit } from './labels.js';
export { batchInput, SpeechModel, speechToOnnx, type SpeechConfig } from './model.js';
export { batchLoss, evaluate, makeBatches, minimumSteps, trainSpeech, transcribe, type Batch, type Evaluation, type TimedToken, type Transcription } from './pipeline.js';
export { posteriorPlot } from './plots.js';
