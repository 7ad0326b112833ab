/**
 * Reading a model folder (config.json, model.safetensors and the app's other files) without
 * trusting it: each file must be a regular file whose real path is inside the folder (a link to
 * ../../etc/passwd or /dev/zero is refused) and under a size limit; config.json must be JSON
 * from this app and no newer format; the weights must be finite and fit the model the config
 * describes. Every refusal is an InputError with one line naming the file and the fix.
 */
import { existsSync, mkdirSync, readFileSync, realpathSync, statSync, type Stats } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { loadStateDictFile, saveStateDict, writeFileAtomic, type Module } from '@recurrent/core';

/** Bad input a user can fix: the CLI prints its one-line message and exits 2. */
export class InputError extends Error {
  override name = 'InputError';
}

/** config.json is a few hundred bytes: this allows far more. */
export const MAX_CONFIG_BYTES = 1 << 20;

/**
 * Refuses `dir/name` unless it is a regular file inside `dir` once links are followed, and not
 * larger than `maxBytes`. Returns its size. `retrain` ends each message (what to do instead).
 */
export function checkInsideFolder(dir: string, name: string, retrain: string, maxBytes = Number.POSITIVE_INFINITY): number {
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
export function jsonError(text: string, error: Error): { line: number | undefined; message: string } {
  const position = /at position (\d+)/.exec(error.message);
  const line = position ? text.slice(0, Number(position[1])).split('\n').length : undefined;
  return { line, message: error.message.replace(/ \(line \d+ column \d+\)$/, '') };
}

export interface FolderIdentity {
  /** The app that writes and reads such folders, e.g. 'sentiment'. */
  readonly app: string;
  /** The newest format version this program reads. */
  readonly version: number;
  /** The files besides config.json (e.g. model.safetensors, vocabulary.json). */
  readonly files: readonly string[];
  /** What to run instead, ending each message about a damaged file. */
  readonly retrain: string;
}

/**
 * Reads `dir/config.json` as a JSON object from `identity.app`, at most `identity.version`, and
 * checks the other files exist; the app checks the fields. A folder with a training checkpoint
 * and no model yet gets the resume command.
 */
export function readFolderConfig(dir: string, identity: FolderIdentity): Record<string, unknown> {
  const { app, retrain } = identity;
  const configPath = join(dir, 'config.json');
  if (!existsSync(dir)) throw new InputError(`${dir}: no such model folder; train one with \`${app} train --out ${dir}\``);
  if (!existsSync(configPath)) {
    if (existsSync(join(dir, 'run', 'checkpoint.json'))) {
      throw new InputError(`${dir}: training has not finished (a checkpoint in ${join(dir, 'run')}, no model yet); continue it with \`${app} train --out ${dir} --resume\` and the same options`);
    }
    throw new InputError(`${configPath}: missing; a model folder holds config.json, ${identity.files.join(' and ')}: give the folder \`${app} train --out\` wrote`);
  }
  let text: string;
  try {
    checkInsideFolder(dir, 'config.json', retrain, MAX_CONFIG_BYTES);
    text = readFileSync(configPath, 'utf8');
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError(`${configPath}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); check its permissions`);
  }
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (error) {
    const { line, message } = jsonError(text, error as Error);
    throw new InputError(`${configPath}${line === undefined ? '' : `:${line}`}: not valid JSON (${message}); ${retrain}`);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new InputError(`${configPath}: not a model configuration (a JSON object); ${retrain}`);
  const record = config as Record<string, unknown>;
  if (record.app !== app) throw new InputError(`${configPath}: a model of the ${JSON.stringify(record.app ?? 'unknown')} app, not a ${app} model; give a folder written by \`${app} train\``);
  if (typeof record.version === 'number' && record.version > identity.version) {
    throw new InputError(`${configPath}: format version ${record.version} is newer than this program's ${identity.version}; upgrade recurrent`);
  }
  for (const file of identity.files) {
    if (!existsSync(join(dir, file))) throw new InputError(`${join(dir, file)}: missing from the model folder; ${retrain}`);
  }
  return record;
}

/**
 * Checks config.json's model fields: whole numbers in ranges and values from lists; each
 * refusal names the field, what it must be and what it was.
 */
export function configChecker(configPath: string, retrain: string) {
  const refuse = (message: string) => new InputError(`${configPath}: ${message}; ${retrain}`);
  return {
    refuse,
    whole(value: unknown, field: string, min: number, max: number): void {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
        throw refuse(`${field} must be a whole number from ${min} to ${max.toLocaleString('en-US')}, got ${JSON.stringify(value) ?? 'nothing'}`);
      }
      if (value > max) throw refuse(`${field} is ${value.toLocaleString('en-US')}, over the limit of ${max.toLocaleString('en-US')}`);
    },
    oneOf(value: unknown, field: string, values: readonly unknown[]): void {
      if (!values.includes(value)) throw refuse(`${field} must be one of ${values.map((v) => JSON.stringify(v)).join(', ')}, got ${JSON.stringify(value) ?? 'nothing'}`);
    },
    fraction(value: unknown, field: string): void {
      if (typeof value !== 'number' || !(value >= 0 && value < 1)) throw refuse(`${field} must be a number in [0, 1), got ${JSON.stringify(value) ?? 'nothing'}`);
    },
    object(value: unknown, field: string): void {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw refuse(`${field} must be an object`);
    },
  };
}

/** Most parameters a loaded model may have: 250 million, 1 GB of float32. */
export const MAX_PARAMETERS = 250_000_000;

/** Refuses a config whose model would have more than MAX_PARAMETERS parameters. */
export function checkParameterCount(configPath: string, parameters: number, retrain: string): void {
  if (parameters > MAX_PARAMETERS) {
    throw new InputError(`${configPath}: the model it describes has ${parameters.toLocaleString('en-US')} parameters (${(parameters * 4 / 1e9).toFixed(1)} GB of float32), over the limit of ${MAX_PARAMETERS.toLocaleString('en-US')}; ${retrain}`);
  }
}

/**
 * Builds the model (`build`, from the checked config, with `parameters` parameters) and loads
 * `dir/model.safetensors` into it. A file too small for the model is refused before the model is
 * built, so a config inflated to the limits allocates nothing; a state-dict mismatch is reported
 * as one line: the first problem and how many more.
 */
export function loadFolderWeights<M extends Module>(dir: string, build: () => M, parameters: number, retrain: string): M {
  const file = join(dir, 'model.safetensors');
  const weightBytes = checkInsideFolder(dir, 'model.safetensors', retrain);
  // F32 weights take 4 bytes a parameter: a smaller file cannot hold the model, so a config
  // inflated to the limit is refused here. (Small models are compared tensor by tensor instead.)
  if (parameters * 4 > weightBytes && parameters * 4 > 64 << 20) {
    throw new InputError(`${file}: ${weightBytes.toLocaleString('en-US')} bytes, too few for the ${parameters.toLocaleString('en-US')} parameters config.json describes; the files come from different models: ${retrain}`);
  }
  const model = build();
  try {
    model.loadStateDict(loadStateDictFile(file).tensors);
  } catch (error) {
    const message = (error as Error).message;
    const [first = '', ...more] = message.split(/\n\t?/).filter((line) => line && !/^Error\(s\) in loading state_dict/.test(line));
    const detail = `${first.replace(/^.*model\.safetensors: /, '').replace(/\.$/, '')}${more.length > 0 ? `; and ${more.length} more` : ''}`;
    throw new InputError(
      /state_dict/.test(message)
        ? `${file}: does not fit config.json (${detail}); the files come from different models: ${retrain}`
        : `${file}: ${detail}; ${retrain}`,
    );
  }
  return model;
}

/**
 * Writes a model folder: `files` (name -> writer, each atomic), model.safetensors with the app's
 * name in its metadata, then config.json last, so a folder with a config.json is complete.
 */
export function saveFolder(dir: string, app: string, model: Module, config: object, files: Readonly<Record<string, (path: string) => void>> = {}): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, write] of Object.entries(files)) write(join(dir, name));
  saveStateDict(join(dir, 'model.safetensors'), model.stateDict(), { app });
  writeFileAtomic(join(dir, 'config.json'), [`${JSON.stringify(config, null, 2)}\n`]);
}
