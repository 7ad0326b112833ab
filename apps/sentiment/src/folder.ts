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
import { existsSync, mkdirSync, readFileSync, realpathSync, statSync, type Stats } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { loadStateDictFile, saveStateDict, writeFileAtomic } from '@recurrent/core';
import { Vocabulary, type TokenizerOptions, type Truncation } from '@recurrent/text';
import { SentimentModel, type SentimentConfig } from './model.js';

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

/** Bad input a user can fix: the CLI prints its one-line message and exits 2. */
export class InputError extends Error {
  override name = 'InputError';
}

export function saveModelFolder(dir: string, model: SentimentModel, vocabulary: Vocabulary, config: Omit<SentimentFolderConfig, 'app' | 'version' | 'model'>): void {
  mkdirSync(dir, { recursive: true });
  vocabulary.save(join(dir, 'vocabulary.json'));
  saveStateDict(join(dir, 'model.safetensors'), model.stateDict(), { app: APP });
  const full: SentimentFolderConfig = { app: APP, version: FORMAT_VERSION, model: model.config, ...config };
  writeFileAtomic(join(dir, 'config.json'), [`${JSON.stringify(full, null, 2)}\n`]);
}

/** Limits on config.json's model fields: far above any sentiment model, far below what would exhaust memory. */
export const CONFIG_LIMITS = {
  vocabularySize: 10_000_000, classes: 100_000, embedding: 65_536, hidden: 65_536, layers: 64, maxLength: 10_000_000,
} as const;
/** Most parameters a loaded model may have: 250 million, 1 GB of float32. */
export const MAX_PARAMETERS = 250_000_000;
/** config.json is a few hundred bytes; vocabulary.json a few megabytes (this allows 10 million tokens). */
const MAX_CONFIG_BYTES = 1 << 20;
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
  const refuse = (message: string) => new InputError(`${configPath}: ${message}; ${retrain}`);
  const model = config.model as unknown as Record<string, unknown>;
  const whole = (value: unknown, field: string, min: number, max: number) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      throw refuse(`${field} must be a whole number from ${min} to ${max.toLocaleString('en-US')}, got ${JSON.stringify(value) ?? 'nothing'}`);
    }
    if (value > max) throw refuse(`${field} is ${value.toLocaleString('en-US')}, over the limit of ${max.toLocaleString('en-US')}`);
  };
  const oneOf = (value: unknown, field: string, values: readonly unknown[]) => {
    if (!values.includes(value)) throw refuse(`${field} must be one of ${values.map((v) => JSON.stringify(v)).join(', ')}, got ${JSON.stringify(value) ?? 'nothing'}`);
  };
  if (typeof model !== 'object' || model === null || Array.isArray(model)) throw refuse('model must be an object');
  whole(model.vocabularySize, 'model.vocabularySize', 2, CONFIG_LIMITS.vocabularySize);
  whole(model.classes, 'model.classes', 2, CONFIG_LIMITS.classes);
  whole(model.embedding, 'model.embedding', 1, CONFIG_LIMITS.embedding);
  whole(model.hidden, 'model.hidden', 1, CONFIG_LIMITS.hidden);
  whole(model.layers, 'model.layers', 1, CONFIG_LIMITS.layers);
  oneOf(model.cell, 'model.cell', ['lstm', 'gru', 'rnn']);
  oneOf(model.bidirectional, 'model.bidirectional', [true, false]);
  oneOf(model.pooling, 'model.pooling', ['last', 'mean', 'max']);
  if (typeof model.dropout !== 'number' || !(model.dropout >= 0 && model.dropout < 1)) throw refuse(`model.dropout must be a number in [0, 1), got ${JSON.stringify(model.dropout) ?? 'nothing'}`);
  whole(model.seed, 'model.seed', 0, Number.MAX_SAFE_INTEGER);
  const parameters = parameterCount(config.model);
  if (parameters > MAX_PARAMETERS) {
    throw refuse(`the model it describes has ${parameters.toLocaleString('en-US')} parameters (${(parameters * 4 / 1e9).toFixed(1)} GB of float32), over the limit of ${MAX_PARAMETERS.toLocaleString('en-US')}`);
  }
  if (!config.labels.every((label) => typeof label === 'string')) throw refuse('labels must be a list of strings');
  if (config.labels.length !== model.classes) throw refuse(`labels lists ${config.labels.length} labels but model.classes is ${model.classes as number}`);
  whole(config.maxLength, 'maxLength', 1, CONFIG_LIMITS.maxLength);
  oneOf(config.truncation, 'truncation', ['head', 'tail', 'head+tail']);
  const tokenizer = config.tokenizer as unknown as Record<string, unknown>;
  if (typeof tokenizer !== 'object' || Array.isArray(tokenizer)) throw refuse('tokenizer must be an object');
  if (tokenizer.kind !== undefined) oneOf(tokenizer.kind, 'tokenizer.kind', ['words', 'treebank', 'wordpunct', 'characters', 'symbols']);
  for (const flag of ['lowercase', 'stripHtml']) {
    if (tokenizer[flag] !== undefined) oneOf(tokenizer[flag], `tokenizer.${flag}`, [true, false]);
  }
}

/**
 * Refuses `dir/name` unless it is a regular file inside `dir` once links are followed (a link to
 * ../../etc/passwd, /dev/zero or a folder is refused), and not larger than `maxBytes`.
 * Returns its size.
 */
function checkInside(dir: string, name: string, retrain: string, maxBytes = Number.POSITIVE_INFINITY): number {
  const path = join(dir, name);
  let real: string;
  let stats: Stats;
  try {
    real = realpathSync(path);
    const inside = relative(realpathSync(dir), real);
    if (inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
      throw new InputError(`${path}: a link to ${real}, outside the model folder; a model folder's files must be inside it: copy the file in, or ${retrain.replace(/^restore the file, or /, '')}`);
    }
    stats = statSync(real);
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError(`${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); check the file and its permissions`);
  }
  if (!stats.isFile()) throw new InputError(`${path}: not a regular file (${stats.isDirectory() ? 'a folder' : 'a device, pipe or socket'}); ${retrain}`);
  if (stats.size > maxBytes) {
    throw new InputError(`${path}: ${stats.size.toLocaleString('en-US')} bytes, over the limit of ${maxBytes.toLocaleString('en-US')} for this file; ${retrain}`);
  }
  return stats.size;
}

/** A JSON.parse message with the line it points at, when it gives a position. */
function jsonError(text: string, error: Error): { line: number | undefined; message: string } {
  const position = /at position (\d+)/.exec(error.message);
  const line = position ? text.slice(0, Number(position[1])).split('\n').length : undefined;
  return { line, message: error.message.replace(/ \(line \d+ column \d+\)$/, '') };
}

export function loadModelFolder(dir: string): { model: SentimentModel; vocabulary: Vocabulary; config: SentimentFolderConfig } {
  const configPath = join(dir, 'config.json');
  const retrain = "restore the file, or train a new model with `sentiment train --out <new folder>`";
  if (!existsSync(dir)) throw new InputError(`${dir}: no such model folder; train one with \`sentiment train --out ${dir}\``);
  if (!existsSync(configPath)) {
    if (existsSync(join(dir, 'run', 'checkpoint.json'))) {
      throw new InputError(`${dir}: training has not finished (a checkpoint in ${join(dir, 'run')}, no model yet); continue it with \`sentiment train --out ${dir} --resume\` and the same options`);
    }
    throw new InputError(`${configPath}: missing; a model folder holds config.json, model.safetensors and vocabulary.json: give the folder \`sentiment train --out\` wrote`);
  }
  let config: SentimentFolderConfig;
  let text: string;
  try {
    checkInside(dir, 'config.json', retrain, MAX_CONFIG_BYTES);
    text = readFileSync(configPath, 'utf8');
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError(`${configPath}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); check its permissions`);
  }
  try {
    config = JSON.parse(text) as SentimentFolderConfig;
  } catch (error) {
    const { line, message } = jsonError(text, error as Error);
    throw new InputError(`${configPath}${line === undefined ? '' : `:${line}`}: not valid JSON (${message}); ${retrain}`);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new InputError(`${configPath}: not a model configuration (a JSON object); ${retrain}`);
  if (config.app !== APP) throw new InputError(`${configPath}: a model of the ${JSON.stringify(config.app ?? 'unknown')} app, not a sentiment model; give a folder written by \`sentiment train\``);
  if (config.version > FORMAT_VERSION) throw new InputError(`${configPath}: format version ${config.version} is newer than this program's ${FORMAT_VERSION}; upgrade recurrent`);
  const missing = (['model', 'labels', 'tokenizer', 'maxLength', 'truncation'] as const).filter((key) => config[key] === undefined || config[key] === null);
  if (missing.length > 0 || !Array.isArray(config.labels) || typeof config.model !== 'object') {
    throw new InputError(`${configPath}: incomplete (${missing.length > 0 ? `no ${missing.join(', ')}` : 'labels must be a list and model an object'}); ${retrain}`);
  }
  checkConfig(configPath, config, retrain);
  for (const file of ['model.safetensors', 'vocabulary.json']) {
    if (!existsSync(join(dir, file))) throw new InputError(`${join(dir, file)}: missing from the model folder; ${retrain}`);
  }
  checkInside(dir, 'vocabulary.json', retrain, MAX_VOCABULARY_BYTES);
  const weightBytes = checkInside(dir, 'model.safetensors', retrain);
  let vocabulary: Vocabulary;
  try {
    vocabulary = Vocabulary.load(join(dir, 'vocabulary.json'));
  } catch (error) {
    const message = (error as Error).message.replace(/; write it with Vocabulary\.save$/, '');
    throw new InputError(`${message.includes('vocabulary.json') ? message : `${join(dir, 'vocabulary.json')}: ${message}`}; ${retrain}`);
  }
  if (vocabulary.size !== config.model.vocabularySize) {
    throw new InputError(`${dir}: vocabulary.json has ${vocabulary.size} tokens but config.json says ${config.model.vocabularySize}; the files come from different models`);
  }
  // F32 weights take 4 bytes a parameter (F64 8): a file smaller than that cannot hold the model,
  // so a config inflated to the limit is refused before the model is built. (Small models are
  // built and compared tensor by tensor instead, which names the first tensor that differs.)
  const parameters = parameterCount(config.model);
  if (parameters * 4 > weightBytes && parameters * 4 > 64 << 20) {
    throw new InputError(`${join(dir, 'model.safetensors')}: ${weightBytes.toLocaleString('en-US')} bytes, too few for the ${parameters.toLocaleString('en-US')} parameters config.json describes; the files come from different models: ${retrain}`);
  }
  const model = new SentimentModel(config.model);
  try {
    model.loadStateDict(loadStateDictFile(join(dir, 'model.safetensors')).tensors);
  } catch (error) {
    // A state-dict error lists one problem per line: keep the first and count the others.
    const message = (error as Error).message;
    const [first = '', ...more] = message.split(/\n\t?/).filter((line) => line && !/^Error\(s\) in loading state_dict/.test(line));
    const detail = `${first.replace(/^.*model\.safetensors: /, '').replace(/\.$/, '')}${more.length > 0 ? `; and ${more.length} more` : ''}`;
    throw new InputError(
      /state_dict/.test(message)
        ? `${join(dir, 'model.safetensors')}: does not fit config.json (${detail}); the files come from different models: ${retrain}`
        : `${join(dir, 'model.safetensors')}: ${detail}; ${retrain}`,
    );
  }
  return { model, vocabulary, config };
}
