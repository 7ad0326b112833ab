/**
 * A translation model on disk is a folder: config.json (architecture, task, tokenisers, length
 * limits, training settings), model.safetensors (PyTorch-style names: sourceEmbedding.weight,
 * encoder.weight_ih_l0, ..., attention.key.weight, output.weight), source-vocabulary.json and
 * target-vocabulary.json. Loading trusts none of it (see @recurrent/train's folder.ts): fields are
 * checked against limits before anything is built, files must lie inside the folder.
 */
import { join } from 'node:path';
import {
  checkInsideFolder, checkParameterCount, configChecker, InputError, loadFolderWeights, readFolderConfig, saveFolder,
} from '@recurrent/train';
import { TOKENIZER_KINDS, Vocabulary } from '@recurrent/text';
import type { TaskKind, TextSides } from './data.js';
import { ATTENTION_KINDS, BOS, BOS_INDEX, EOS, EOS_INDEX, TranslateModel, type TranslateConfig } from './model.js';
import type { Vocabularies } from './pipeline.js';

export const APP = 'translate';
export const FORMAT_VERSION = 1;

/** The longest inputs and outputs (in tokens, <eos> included) the model trains and runs on. */
export interface Limits {
  readonly maxSourceLength: number;
  readonly maxTargetLength: number;
}

export interface TranslateFolderConfig {
  readonly app: typeof APP;
  readonly version: number;
  readonly model: TranslateConfig;
  readonly task: TaskKind;
  readonly text: TextSides;
  readonly limits: Limits;
  readonly training: Readonly<Record<string, unknown>>;
}

const FILES = ['model.safetensors', 'source-vocabulary.json', 'target-vocabulary.json'] as const;

export function saveModelFolder(dir: string, model: TranslateModel, vocabularies: Vocabularies, config: Omit<TranslateFolderConfig, 'app' | 'version' | 'model'>): void {
  const full: TranslateFolderConfig = { app: APP, version: FORMAT_VERSION, model: model.config, ...config };
  saveFolder(dir, APP, model, full, {
    'source-vocabulary.json': (path) => vocabularies.source.save(path),
    'target-vocabulary.json': (path) => vocabularies.target.save(path),
  });
}

/** Limits on config.json's fields: far above any model here, far below what would exhaust memory. */
export const CONFIG_LIMITS = { vocabularySize: 10_000_000, embedding: 65_536, hidden: 65_536, layers: 64, length: 100_000 } as const;
const MAX_VOCABULARY_BYTES = 256 << 20;

/** The parameter count of the model `config` describes (as TranslateModel builds it). */
export function parameterCount(c: TranslateConfig): number {
  const gates = c.cell === 'lstm' ? 4 : 3;
  const recurrent = (input: number, hidden: number, layers: number, directions: number) => {
    let count = 0;
    for (let l = 0; l < layers; l++) count += directions * gates * hidden * ((l === 0 ? input : directions * hidden) + hidden + 2);
    return count;
  };
  const H2 = 2 * c.hidden;
  const extra = c.attention === 'additive' ? H2 : c.inputFeeding ? c.decoderHidden : 0;
  let count = (c.sourceVocabularySize + c.targetVocabularySize) * c.embedding;
  count += recurrent(c.embedding, c.hidden, c.layers, 2) + recurrent(c.embedding + extra, c.decoderHidden, c.decoderLayers, 1);
  count += (c.cell === 'lstm' ? 2 : 1) * (H2 + 1) * c.decoderHidden;
  if (c.attention !== 'none') {
    count += (H2 + c.decoderHidden) * c.decoderHidden; // combine
    count += c.attention === 'dot' ? 0 : c.attention === 'general' ? H2 * c.decoderHidden : H2 * c.decoderHidden + (c.decoderHidden + 1) * c.decoderHidden + c.decoderHidden;
  }
  return count + (c.decoderHidden + 1) * c.targetVocabularySize;
}

function checkConfig(configPath: string, config: TranslateFolderConfig, retrain: string): void {
  const { refuse, whole, oneOf, fraction, object } = configChecker(configPath, retrain);
  const model = config.model as unknown as Record<string, unknown>;
  object(model, 'model');
  whole(model.sourceVocabularySize, 'model.sourceVocabularySize', 2, CONFIG_LIMITS.vocabularySize);
  whole(model.targetVocabularySize, 'model.targetVocabularySize', 4, CONFIG_LIMITS.vocabularySize);
  for (const field of ['embedding', 'hidden', 'decoderHidden'] as const) whole(model[field], `model.${field}`, 1, CONFIG_LIMITS[field === 'embedding' ? 'embedding' : 'hidden']);
  for (const field of ['layers', 'decoderLayers'] as const) whole(model[field], `model.${field}`, 1, CONFIG_LIMITS.layers);
  oneOf(model.cell, 'model.cell', ['lstm', 'gru']);
  oneOf(model.attention, 'model.attention', ATTENTION_KINDS);
  oneOf(model.inputFeeding, 'model.inputFeeding', [true, false]);
  fraction(model.dropout, 'model.dropout');
  whole(model.seed, 'model.seed', 0, Number.MAX_SAFE_INTEGER);
  if (model.reverseTarget !== undefined) oneOf(model.reverseTarget, 'model.reverseTarget', [true, false]);
  if (model.attention === 'dot' && model.decoderHidden !== 2 * (model.hidden as number)) throw refuse(`model.attention "dot" needs decoderHidden = 2 x hidden, got ${model.decoderHidden as number} and ${model.hidden as number}`);
  checkParameterCount(configPath, parameterCount(config.model), retrain);
  oneOf(config.task, 'task', ['en-fr', 'g2p', 'pairs']);
  object(config.limits, 'limits');
  whole(config.limits.maxSourceLength, 'limits.maxSourceLength', 1, CONFIG_LIMITS.length);
  whole(config.limits.maxTargetLength, 'limits.maxTargetLength', 2, CONFIG_LIMITS.length);
  object(config.text, 'text');
  for (const side of ['source', 'target'] as const) {
    const tokenizer = config.text[side] as unknown as Record<string, unknown>;
    object(tokenizer, `text.${side}`);
    oneOf(tokenizer.kind, `text.${side}.kind`, TOKENIZER_KINDS);
    for (const flag of ['lowercase', 'stripHtml']) if (tokenizer[flag] !== undefined) oneOf(tokenizer[flag], `text.${side}.${flag}`, [true, false]);
  }
}

function loadVocabulary(dir: string, name: string, size: number, retrain: string): Vocabulary {
  const path = join(dir, name);
  checkInsideFolder(dir, name, retrain, MAX_VOCABULARY_BYTES);
  let vocabulary: Vocabulary;
  try {
    vocabulary = Vocabulary.load(path);
  } catch (error) {
    const message = (error as Error).message.replace(/; write it with Vocabulary\.save$/, '');
    throw new InputError(`${message.includes(name) ? message : `${path}: ${message}`}; ${retrain}`);
  }
  if (vocabulary.size !== size) throw new InputError(`${path}: ${vocabulary.size} tokens but config.json says ${size}; the files come from different models: ${retrain}`);
  return vocabulary;
}

export function loadModelFolder(dir: string): { model: TranslateModel; vocabularies: Vocabularies; config: TranslateFolderConfig } {
  const configPath = join(dir, 'config.json');
  const retrain = 'restore the file, or train a new model with `translate train --out <new folder>`';
  const config = readFolderConfig(dir, { app: APP, version: FORMAT_VERSION, files: FILES, retrain }) as unknown as TranslateFolderConfig;
  const missing = (['model', 'task', 'text', 'limits'] as const).filter((key) => config[key] === undefined || config[key] === null);
  if (missing.length > 0) throw new InputError(`${configPath}: incomplete (no ${missing.join(', ')}); ${retrain}`);
  checkConfig(configPath, config, retrain);
  const source = loadVocabulary(dir, 'source-vocabulary.json', config.model.sourceVocabularySize, retrain);
  const target = loadVocabulary(dir, 'target-vocabulary.json', config.model.targetVocabularySize, retrain);
  if (target.indexOf(BOS) !== BOS_INDEX || target.indexOf(EOS) !== EOS_INDEX) {
    throw new InputError(`${join(dir, 'target-vocabulary.json')}: ${BOS} and ${EOS} must be entries 2 and 3; ${retrain}`);
  }
  const model = loadFolderWeights(dir, () => new TranslateModel(config.model), parameterCount(config.model), retrain);
  return { model, vocabularies: { source, target }, config };
}

/**
 * Loads one model folder, or several to decode as an ensemble, and any to rescore their
 * candidates with. All must read and write the same tokens: the same task, tokenisers and
 * vocabularies (architectures may differ); the decoding models must also write in the same
 * order (a right-to-left model can only rescore left-to-right ones, and back), and so must the
 * rescoring ones where they decode too (`rescorersDecode`). The first folder's config (task,
 * limits, text) stands for them all, with the smallest source limit.
 */
export function loadModelFolders(dirs: readonly string[], rescoreDirs: readonly string[] = [], rescorersDecode = false): {
  models: TranslateModel[]; rescorers: TranslateModel[]; vocabularies: Vocabularies; config: TranslateFolderConfig;
} {
  const all = [...dirs, ...rescoreDirs];
  const loaded = all.map((dir) => loadModelFolder(dir));
  const first = loaded[0]!;
  for (const [i, member] of loaded.entries()) {
    const differs = (what: string) => new InputError(
      `${all[i]}: its ${what} differs from ${all[0]}'s, so the two cannot decode together; an ensemble needs models trained on the same task and data with the same vocabulary and token options`,
    );
    if (member.config.task !== first.config.task) throw differs('task');
    if (JSON.stringify(member.config.text) !== JSON.stringify(first.config.text)) throw differs('tokenisation (config.json text)');
    for (const side of ['source', 'target'] as const) {
      const a = member.vocabularies[side].tokens;
      const b = first.vocabularies[side].tokens;
      if (a.length !== b.length || a.some((token, k) => token !== b[k])) throw differs(`${side} vocabulary`);
    }
    const order = (c: TranslateFolderConfig) => (c.model.reverseTarget === true ? 'right to left' : 'left to right');
    if (i < dirs.length && order(member.config) !== order(first.config)) {
      throw new InputError(`${all[i]}: it writes targets ${order(member.config)} and ${all[0]} ${order(first.config)}, so the two cannot decode together; give it with --rescore to rescore the other's candidates`);
    }
    if (rescorersDecode && i > dirs.length && order(member.config) !== order(loaded[dirs.length]!.config)) {
      throw new InputError(`--rescorers-decode: ${all[i]} writes targets ${order(member.config)} and ${all[dirs.length]} the other way, so they cannot decode together; leave out --rescorers-decode or one of them`);
    }
  }
  const maxSourceLength = Math.min(...loaded.map((member) => member.config.limits.maxSourceLength));
  return {
    models: loaded.slice(0, dirs.length).map((member) => member.model),
    rescorers: loaded.slice(dirs.length).map((member) => member.model),
    vocabularies: first.vocabularies,
    config: { ...first.config, limits: { ...first.config.limits, maxSourceLength } },
  };
}
