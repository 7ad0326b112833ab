/**
 * A sentiment model on disk is a folder: config.json (architecture, labels, text settings,
 * training settings), model.safetensors (PyTorch names: embedding.weight,
 * encoder.weight_ih_l0, ..., head.weight) and vocabulary.json. Each file is written atomically.
 *
 * Loading trusts none of it: config.json is checked field by field against limits before the
 * model is built (so a config claiming a billion-unit layer allocates nothing), the weights file
 * must be large enough for the model the config describes, each file must be a regular file whose
 * real path is inside the folder (a link to ../../etc/passwd or /dev/zero is refused), and the
 * weights must be finite. The file names are fixed: nothing in config.json is a path.
 */
import { join } from 'node:path';
import { checkInsideFolder, checkParameterCount, configChecker, InputError, loadFolderWeights, readFolderConfig, saveFolder } from '@recurrent/train';
import { Vocabulary, type TokenizerOptions, type Truncation } from '@recurrent/text';
import { SentimentModel, type SentimentConfig } from './model.js';

export { InputError };

export const APP = 'sentiment';
export const FORMAT_VERSION = 1;

export interface SentimentFolderConfig {
  readonly app: typeof APP;
  readonly version: number;
  readonly model: SentimentConfig;
  readonly labels: readonly string[];
  readonly tokenizer: TokenizerOptions;
  readonly maxLength: number;
  readonly truncation: Truncation;
  readonly training: Readonly<Record<string, unknown>>;
}

export function saveModelFolder(dir: string, model: SentimentModel, vocabulary: Vocabulary, config: Omit<SentimentFolderConfig, 'app' | 'version' | 'model'>): void {
  const full: SentimentFolderConfig = { app: APP, version: FORMAT_VERSION, model: model.config, ...config };
  saveFolder(dir, APP, model, full, { 'vocabulary.json': (path) => vocabulary.save(path) });
}

/** Limits on config.json's model fields: far above any sentiment model, far below what would exhaust memory. */
export const CONFIG_LIMITS = {
  vocabularySize: 10_000_000, classes: 100_000, embedding: 65_536, hidden: 65_536, layers: 64, maxLength: 10_000_000,
} as const;
/** vocabulary.json is a few megabytes (this allows 10 million tokens). */
const MAX_VOCABULARY_BYTES = 256 << 20;

/** The parameter count of the model `config` describes (as SentimentModel builds it). */
export function parameterCount(config: SentimentConfig): number {
  const gates = { lstm: 4, gru: 3, rnn: 1 }[config.cell];
  const directions = config.bidirectional ? 2 : 1;
  let count = config.vocabularySize * config.embedding;
  for (let layer = 0; layer < config.layers; layer++) {
    const input = layer === 0 ? config.embedding : directions * config.hidden;
    count += directions * gates * config.hidden * (input + config.hidden + 2);
  }
  return count + (directions * config.hidden + 1) * config.classes;
}

/**
 * Refuses a config.json whose fields are missing, of the wrong kind, or beyond the limits, before
 * anything is built from it: each message names the field and what it must be.
 */
function checkConfig(configPath: string, config: SentimentFolderConfig, retrain: string): void {
  const { refuse, whole, oneOf, fraction, object } = configChecker(configPath, retrain);
  const model = config.model as unknown as Record<string, unknown>;
  object(model, 'model');
  whole(model.vocabularySize, 'model.vocabularySize', 2, CONFIG_LIMITS.vocabularySize);
  whole(model.classes, 'model.classes', 2, CONFIG_LIMITS.classes);
  whole(model.embedding, 'model.embedding', 1, CONFIG_LIMITS.embedding);
  whole(model.hidden, 'model.hidden', 1, CONFIG_LIMITS.hidden);
  whole(model.layers, 'model.layers', 1, CONFIG_LIMITS.layers);
  oneOf(model.cell, 'model.cell', ['lstm', 'gru', 'rnn']);
  oneOf(model.bidirectional, 'model.bidirectional', [true, false]);
  oneOf(model.pooling, 'model.pooling', ['last', 'mean', 'max']);
  fraction(model.dropout, 'model.dropout');
  if (model.recurrentDropout !== undefined) fraction(model.recurrentDropout, 'model.recurrentDropout');
  whole(model.seed, 'model.seed', 0, Number.MAX_SAFE_INTEGER);
  checkParameterCount(configPath, parameterCount(config.model), retrain);
  if (!config.labels.every((label) => typeof label === 'string')) throw refuse('labels must be a list of strings');
  if (config.labels.length !== model.classes) throw refuse(`labels lists ${config.labels.length} labels but model.classes is ${model.classes as number}`);
  whole(config.maxLength, 'maxLength', 1, CONFIG_LIMITS.maxLength);
  oneOf(config.truncation, 'truncation', ['head', 'tail', 'head+tail']);
  const tokenizer = config.tokenizer as unknown as Record<string, unknown>;
  object(tokenizer, 'tokenizer');
  if (tokenizer.kind !== undefined) oneOf(tokenizer.kind, 'tokenizer.kind', ['words', 'treebank', 'wordpunct', 'characters', 'symbols']);
  for (const flag of ['lowercase', 'stripHtml']) {
    if (tokenizer[flag] !== undefined) oneOf(tokenizer[flag], `tokenizer.${flag}`, [true, false]);
  }
}

export function loadModelFolder(dir: string): { model: SentimentModel; vocabulary: Vocabulary; config: SentimentFolderConfig } {
  const configPath = join(dir, 'config.json');
  const retrain = "restore the file, or train a new model with `sentiment train --out <new folder>`";
  const config = readFolderConfig(dir, { app: APP, version: FORMAT_VERSION, files: ['model.safetensors', 'vocabulary.json'], retrain }) as unknown as SentimentFolderConfig;
  const missing = (['model', 'labels', 'tokenizer', 'maxLength', 'truncation'] as const).filter((key) => config[key] === undefined || config[key] === null);
  if (missing.length > 0 || !Array.isArray(config.labels) || typeof config.model !== 'object') {
    throw new InputError(`${configPath}: incomplete (${missing.length > 0 ? `no ${missing.join(', ')}` : 'labels must be a list and model an object'}); ${retrain}`);
  }
  checkConfig(configPath, config, retrain);
  checkInsideFolder(dir, 'vocabulary.json', retrain, MAX_VOCABULARY_BYTES);
  let vocabulary: Vocabulary;
  try {
    vocabulary = Vocabulary.load(join(dir, 'vocabulary.json'));
  } catch (error) {
    const message = (error as Error).message.replace(/; write it with Vocabulary\.save$/, '');
    throw new InputError(`${message.includes('vocabulary.json') ? message : `${join(dir, 'vocabulary.json')}: ${message}`}; ${retrain}`);
  }
  if (vocabulary.size !== config.model.vocabularySize) {
    throw new InputError(`${join(dir, 'vocabulary.json')}: ${vocabulary.size} tokens but config.json says ${config.model.vocabularySize}; the files come from different models: ${retrain}`);
  }
  const model = loadFolderWeights(dir, () => new SentimentModel(config.model), parameterCount(config.model), retrain);
  return { model, vocabulary, config };
}
