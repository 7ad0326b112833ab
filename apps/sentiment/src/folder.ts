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

export function loadModelFolder(dir: string): { model: SentimentModel; vocabulary: Vocabulary; config: SentimentFolderConfig } {
  const configPath = join(dir, 'config.json');
  if (!existsSync(dir)) throw new InputError(`${dir}: no such model folder; train one with \`sentiment train --out ${dir}\``);
  if (!existsSync(configPath)) throw new InputError(`${configPath}: missing; a model folder holds config.json, model.safetensors and vocabulary.json`);
  let config: SentimentFolderConfig;
  try {
    config = JSON.parse(readFileSync(configPath, 'utf8')) as SentimentFolderConfig;
  } catch (error) {
    throw new InputError(`${configPath}: not valid JSON (${(error as Error).message}); retrain or restore the file`);
  }
  if (config.app !== APP) throw new InputError(`${configPath}: a model of the ${JSON.stringify(config.app ?? 'unknown')} app, not a sentiment model`);
  if (config.version > FORMAT_VERSION) throw new InputError(`${configPath}: format version ${config.version} is newer than this program's ${FORMAT_VERSION}; upgrade recurrent`);
  for (const file of ['model.safetensors', 'vocabulary.json']) {
    if (!existsSync(join(dir, file))) throw new InputError(`${join(dir, file)}: missing from the model folder`);
  }
  let vocabulary: Vocabulary;
  try {
    vocabulary = Vocabulary.load(join(dir, 'vocabulary.json'));
  } catch (error) {
    throw new InputError((error as Error).message);
  }
  if (vocabulary.size !== config.model.vocabularySize) {
    throw new InputError(`${dir}: vocabulary.json has ${vocabulary.size} tokens but config.json says ${config.model.vocabularySize}; the files come from different models`);
  }
  const model = new SentimentModel(config.model);
  try {
    model.loadStateDict(loadStateDictFile(join(dir, 'model.safetensors')).tensors);
  } catch (error) {
    throw new InputError(`${join(dir, 'model.safetensors')}: ${(error as Error).message.replace(/\n\t/g, ' ')}`);
  }
  return { model, vocabulary, config };
}
