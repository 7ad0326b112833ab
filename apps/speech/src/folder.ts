/**
 * A speech model on disk is a folder: config.json (architecture, label set, feature settings,
 * training settings) and model.safetensors (PyTorch-style names: encoder.weight_ih_l0, ...,
 * encoder.weight_hh_l1_reverse, output.weight, output.bias). Loading trusts none of it: fields are
 * checked against limits before anything is built (see @recurrent/train's folder.ts).
 */
import { join } from 'node:path';
import { checkParameterCount, configChecker, InputError, loadFolderWeights, readFolderConfig, saveFolder } from '@recurrent/train';
import type { FeatureSettings } from './data.js';
import { LABEL_UNITS, LabelSet, type LabelUnit } from './labels.js';
import { SpeechModel, type SpeechConfig } from './model.js';

export const APP = 'speech';
export const FORMAT_VERSION = 1;

export interface SpeechFolderConfig {
  readonly app: typeof APP;
  readonly version: number;
  readonly model: SpeechConfig;
  readonly labels: { readonly unit: LabelUnit; readonly labels: readonly string[] };
  readonly features: FeatureSettings;
  readonly training: Readonly<Record<string, unknown>>;
}

const FILES = ['model.safetensors'] as const;
export const CONFIG_LIMITS = { hidden: 65_536, layers: 64, stack: 64, melBins: 512, labels: 1_000_000, sampleRate: 384_000 } as const;

export function saveModelFolder(dir: string, model: SpeechModel, labels: LabelSet, config: Pick<SpeechFolderConfig, 'features' | 'training'>): void {
  const full: SpeechFolderConfig = { app: APP, version: FORMAT_VERSION, model: model.config, labels: { unit: labels.unit, labels: labels.labels }, ...config };
  saveFolder(dir, APP, model, full);
}

/** The parameter count of the model `config` describes (as SpeechModel builds it). */
export function parameterCount(c: SpeechConfig): number {
  const gates = c.cell === 'lstm' ? 4 : 3;
  let count = 0;
  for (let l = 0; l < c.layers; l++) count += 2 * gates * c.hidden * ((l === 0 ? c.melBins * c.stack : 2 * c.hidden) + c.hidden + 2);
  return count + (2 * c.hidden + 1) * c.outputs;
}

function checkConfig(configPath: string, config: SpeechFolderConfig, retrain: string): LabelSet {
  const { refuse, whole, oneOf, fraction, object } = configChecker(configPath, retrain);
  const model = config.model as unknown as Record<string, unknown>;
  object(model, 'model');
  whole(model.melBins, 'model.melBins', 1, CONFIG_LIMITS.melBins);
  whole(model.stack, 'model.stack', 1, CONFIG_LIMITS.stack);
  whole(model.hidden, 'model.hidden', 1, CONFIG_LIMITS.hidden);
  whole(model.layers, 'model.layers', 1, CONFIG_LIMITS.layers);
  whole(model.outputs, 'model.outputs', 2, CONFIG_LIMITS.labels);
  oneOf(model.cell, 'model.cell', ['lstm', 'gru']);
  fraction(model.dropout, 'model.dropout');
  whole(model.seed, 'model.seed', 0, Number.MAX_SAFE_INTEGER);
  checkParameterCount(configPath, parameterCount(config.model), retrain);
  object(config.labels, 'labels');
  oneOf(config.labels.unit, 'labels.unit', LABEL_UNITS);
  const list = config.labels.labels as unknown;
  if (!Array.isArray(list) || list.some((label) => typeof label !== 'string' || label.length === 0)) throw refuse('labels.labels must be a list of non-empty strings');
  if (list.length + 1 !== config.model.outputs) throw refuse(`labels.labels has ${list.length} labels, but model.outputs ${config.model.outputs} needs ${config.model.outputs - 1} (plus the blank)`);
  if (new Set(list).size !== list.length) throw refuse('labels.labels lists a label twice');
  object(config.features, 'features');
  const features = config.features as unknown as Record<string, unknown>;
  whole(features.sampleRate, 'features.sampleRate', 1000, CONFIG_LIMITS.sampleRate);
  whole(features.melBins, 'features.melBins', 1, CONFIG_LIMITS.melBins);
  if (features.melBins !== model.melBins) throw refuse(`features.melBins (${features.melBins as number}) and model.melBins (${model.melBins as number}) differ`);
  for (const field of ['frameMs', 'hopMs'] as const) {
    if (typeof features[field] !== 'number' || !((features[field] as number) > 0 && (features[field] as number) <= 1000)) throw refuse(`features.${field} must be a number of milliseconds in (0, 1000], got ${JSON.stringify(features[field]) ?? 'nothing'}`);
  }
  return new LabelSet(list as string[], config.labels.unit);
}

export function loadModelFolder(dir: string): { model: SpeechModel; labels: LabelSet; config: SpeechFolderConfig } {
  const configPath = join(dir, 'config.json');
  const retrain = 'restore the file, or train a new model with `speech train --out <new folder>`';
  const config = readFolderConfig(dir, { app: APP, version: FORMAT_VERSION, files: FILES, retrain }) as unknown as SpeechFolderConfig;
  const missing = (['model', 'labels', 'features'] as const).filter((key) => config[key] === undefined || config[key] === null);
  if (missing.length > 0) throw new InputError(`${configPath}: incomplete (no ${missing.join(', ')}); ${retrain}`);
  const labels = checkConfig(configPath, config, retrain);
  const model = loadFolderWeights(dir, () => new SpeechModel(config.model), parameterCount(config.model), retrain);
  return { model, labels, config };
}
