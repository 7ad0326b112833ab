/**
 * The corpus's data (corpus.json) and what running a case takes: placeholders, setup steps, the
 * command lines and @recurrent/core's loaders, and the paths a case must leave alone.
 */
import { createHash } from 'node:crypto';
import {
  appendFileSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync,
  truncateSync, writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadStateDictFile, readSafetensors, saveStateDict } from '@recurrent/core';

export const HERE = dirname(fileURLToPath(import.meta.url));
export const CASES_DIR = join(HERE, 'cases');

export const APPS = ['sentiment', 'translate', 'speech'] as const;
export type App = (typeof APPS)[number];

/** What a case does to its fresh {tmp} folder before the command runs; every path may hold placeholders. */
export type Step =
  /** Copies a file or a folder (recursively). */
  | { readonly copy: string; readonly to: string }
  | { readonly move: string; readonly to: string }
  | { readonly remove: string }
  | { readonly mkdir: string }
  /** Writes UTF-8 text. */
  | { readonly write: string; readonly text: string }
  /** A symbolic link at `link` whose target is `target`, as written (relative or absolute). */
  | { readonly link: string; readonly target: string }
  /** Cuts a file to its first `bytes` bytes. */
  | { readonly truncate: string; readonly bytes: number }
  /** Pads a file with spaces to `bytes` bytes (a JSON file stays valid JSON). */
  | { readonly grow: string; readonly bytes: number }
  /** Edits a JSON file: fields by dotted path are set, deleted, incremented by 1, or a list loses its last item. */
  | { readonly json: string; readonly set?: Readonly<Record<string, unknown>>; readonly delete?: readonly string[]; readonly increment?: string; readonly pop?: string }
  /** Sets the first `count` values of a tensor of a safetensors file to NaN. */
  | { readonly nan: string; readonly tensor: string; readonly count: number };

interface CaseBase {
  /** Unique, kebab-case: the CLI (or core), the thing given, what is wrong with it. */
  readonly id: string;
  /** One of the CATEGORIES of table.mjs. */
  readonly category: string;
  /** What the input is, in a few words, for the table. */
  readonly input: string;
  readonly setup?: readonly Step[];
  /** Environment variables set for the command (CLI cases only). */
  readonly env?: Readonly<Record<string, string>>;
  readonly args: readonly string[];
  /**
   * Exactly the line the user sees, with absolute paths written as placeholders: {cases}, {tmp},
   * {model:<app>}, {data:speech}.
   */
  readonly message: string;
}

export interface CliCase extends CaseBase {
  readonly cli: App;
  readonly exit: number;
}

/** A loader of @recurrent/core called through its API; `args` are its arguments. */
export interface CoreCase extends CaseBase {
  readonly cli: 'core';
  readonly call: keyof typeof CORE_CALLS;
  /** The name of the error it throws. */
  readonly error: string;
}

export type Case = CliCase | CoreCase;

export const CORE_CALLS = {
  readSafetensors: (file: string) => readSafetensors(file),
  loadStateDictFile: (file: string) => loadStateDictFile(file),
} as const;

export function loadCorpus(): Case[] {
  return (JSON.parse(readFileSync(join(HERE, 'corpus.json'), 'utf8')) as { cases: Case[] }).cases;
}

/** The `bin` script of an app's package, e.g. apps/sentiment/bin/sentiment.mjs. */
export function binOf(app: App): string {
  const manifest = createRequire(import.meta.url).resolve(`@recurrent/${app}/package.json`);
  const { bin } = JSON.parse(readFileSync(manifest, 'utf8')) as { bin: Record<string, string> };
  return join(dirname(manifest), bin[app]!);
}

/** Placeholder -> absolute path. */
export type Places = ReadonlyMap<string, string>;

export function fill(text: string, places: Places): string {
  return text.replace(/\{[a-z]+(?::[a-z]+)?\}/g, (name) => {
    const path = places.get(name);
    if (path === undefined) throw new Error(`unknown placeholder ${name} in ${JSON.stringify(text)}`);
    return path;
  });
}

/** `text` with each placeholder's path written back as the placeholder (the longest path first). */
export function unfill(text: string, places: Places): string {
  const longestFirst = [...places].sort(([, a], [, b]) => b.length - a.length);
  return longestFirst.reduce((out, [name, path]) => out.split(path).join(name), text);
}

type Json = Record<string, unknown>;
/** The object holding the field at a dotted path, and the field's name. */
function field(root: Json, path: string): [Json, string] {
  const parts = path.split('.');
  let at = root;
  for (const part of parts.slice(0, -1)) at = at[part] as Json;
  return [at, parts.at(-1)!];
}

export function runStep(step: Step, places: Places): void {
  const p = (path: string) => fill(path, places);
  if ('copy' in step) cpSync(p(step.copy), p(step.to), { recursive: true });
  else if ('move' in step) renameSync(p(step.move), p(step.to));
  else if ('remove' in step) rmSync(p(step.remove), { recursive: true });
  else if ('mkdir' in step) mkdirSync(p(step.mkdir), { recursive: true });
  else if ('write' in step) writeFileSync(p(step.write), step.text);
  else if ('link' in step) symlinkSync(p(step.target), p(step.link));
  else if ('truncate' in step) truncateSync(p(step.truncate), step.bytes);
  else if ('grow' in step) appendFileSync(p(step.grow), ' '.repeat(step.bytes - statSync(p(step.grow)).size));
  else if ('json' in step) {
    const config = JSON.parse(readFileSync(p(step.json), 'utf8')) as Json;
    for (const [path, value] of Object.entries(step.set ?? {})) {
      const [at, name] = field(config, path);
      at[name] = value;
    }
    for (const path of step.delete ?? []) {
      const [at, name] = field(config, path);
      delete at[name];
    }
    if (step.increment !== undefined) {
      const [at, name] = field(config, step.increment);
      at[name] = (at[name] as number) + 1;
    }
    if (step.pop !== undefined) {
      const [at, name] = field(config, step.pop);
      (at[name] as unknown[]).pop();
    }
    writeFileSync(p(step.json), `${JSON.stringify(config, null, 2)}\n`);
  } else {
    const { tensors, metadata } = loadStateDictFile(p(step.nan));
    tensors.get(step.tensor)!.data.fill(Number.NaN, 0, step.count);
    saveStateDict(p(step.nan), tensors, metadata);
  }
}

/** Every entry under `dir`: a file's SHA-256, a link's target (never followed), a folder's name. Empty if `dir` does not exist. */
export function snapshot(dir: string): Map<string, string> {
  const entries = new Map<string, string>();
  const walk = (relative: string) => {
    for (const name of readdirSync(join(dir, relative)).sort()) {
      const path = join(relative, name);
      const stats = lstatSync(join(dir, path));
      if (stats.isSymbolicLink()) entries.set(path, `-> ${readlinkSync(join(dir, path))}`);
      else if (stats.isDirectory()) {
        entries.set(`${path}/`, '');
        walk(path);
      } else if (stats.isFile()) entries.set(path, createHash('sha256').update(readFileSync(join(dir, path))).digest('hex'));
      else entries.set(path, 'special');
    }
  };
  if (existsSync(dir)) walk('');
  return entries;
}

/** The flags whose value is a path a command writes. */
export const OUTPUT_FLAGS = ['--out', '--outputs', '--plot', '--tracks', '--onnx', '--candidates'] as const;

/** The paths a case's command would write, by its flags. */
export function outputPaths(args: readonly string[]): string[] {
  return args.flatMap((arg, i) => ((OUTPUT_FLAGS as readonly string[]).includes(args[i - 1] ?? '') ? [arg] : []));
}
