/**
 * A sentiment model on disk is a folder: config.json (architecture, labels, text settings,
 * training settings), model.safetensors (PyTorch names: embedding.weight,
 * encoder.weight_ih_l0, ..., head.weight) and vocabulary.json. Each file is written atomically.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
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
    text = readFileSync(configPath, 'utf8');
  } catch (error) {
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
  for (const file of ['model.safetensors', 'vocabulary.json']) {
    if (!existsSync(join(dir, file))) throw new InputError(`${join(dir, file)}: missing from the model folder; ${retrain}`);
  }
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
