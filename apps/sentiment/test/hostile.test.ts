import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadStateDictFile, saveStateDict } from '@recurrent/core';
import { MAX_PARAMETERS } from '@recurrent/train';
import { InputError, loadModelFolder, parameterCount } from '../src/folder.js';
import { SentimentModel, type SentimentConfig } from '../src/model.js';
import { makeReviews, run } from './helpers.js';

/**
 * Hostile model folders: configs claiming enormous or absurd models, paths that lead out of the
 * folder, files that are not files, NaN weights and safetensors headers that lie. Each is refused
 * with exit code 2 and one line naming the file and what is wrong, before anything large is built,
 * and the folder is left as it was.
 */
const shared = mkdtempSync(join(tmpdir(), 'sentiment-hostile-'));
const reviews = join(shared, 'reviews.tsv');
const trained = join(shared, 'trained');
const retrain = 'restore the file, or train a new model with `sentiment train --out <new folder>`';
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

let count = 0;
/** A copy of the trained model folder (without its run), altered by `change`. */
function modelCopy(change: (dir: string) => void): string {
  const dir = join(shared, `case-${++count}`);
  cpSync(trained, dir, { recursive: true });
  rmSync(join(dir, 'run'), { recursive: true, force: true });
  change(dir);
  return dir;
}
type Json = Record<string, any>;
function editConfig(dir: string, edit: (config: Json) => void): void {
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Json;
  edit(config);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
}
const withConfig = (edit: (config: Json) => void) => modelCopy((dir) => editConfig(dir, edit));
/** Every entry under `dir`: a file's SHA-256, a link's target (never followed: one leads to /dev/zero), a folder's name. */
function snapshot(dir: string): Map<string, string> {
  const entries = new Map<string, string>();
  const walk = (relative: string) => {
    for (const name of readdirSync(join(dir, relative)).sort()) {
      const path = join(relative, name);
      const stats = lstatSync(join(dir, path));
      if (stats.isSymbolicLink()) entries.set(path, `-> ${readlinkSync(join(dir, path))}`);
      else if (stats.isDirectory()) {
        entries.set(`${path}/`, '');
        walk(path);
      } else entries.set(path, createHash('sha256').update(readFileSync(join(dir, path))).digest('hex'));
    }
  };
  walk('');
  return entries;
}
/** The 8-byte length, the header, then `data` bytes of zeros: a safetensors file as its header says. */
function safetensorsBytes(header: unknown, data: number): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, Buffer.alloc(data)]);
}

describe('sentiment, given a hostile model folder', () => {
  beforeAll(async () => {
    writeFileSync(reviews, makeReviews(60, 4));
    const result = await run(['train', '--data', reviews, '--out', trained, '--epochs', '1', '--hidden', '8', '--embedding', '8', '--min-freq', '1', '--batch-size', '8']);
    expect(result.code, result.stderr).toBe(0);
    writeFileSync(join(shared, 'outside.safetensors'), readFileSync(join(trained, 'model.safetensors')));
  });

  const cases: Array<[string, () => string, RegExp]> = [
    // Enormous, absurd or missing dimensions in config.json: refused before the model is built.
    ['a hidden size of a billion', () => withConfig((c) => (c.model.hidden = 1e9)),
      /config\.json: model\.hidden is 1,000,000,000, over the limit of 65,536; restore the file/],
    ['a vocabulary of 10^15 tokens', () => withConfig((c) => (c.model.vocabularySize = 1e15)),
      /config\.json: model\.vocabularySize is 1,000,000,000,000,000, over the limit of 10,000,000; restore the file/],
    ['an embedding of 2^40', () => withConfig((c) => (c.model.embedding = 2 ** 40)),
      /config\.json: model\.embedding is 1,099,511,627,776, over the limit of 65,536; restore the file/],
    ['a thousand layers', () => withConfig((c) => (c.model.layers = 1000)), /config\.json: model\.layers is 1,000, over the limit of 64; restore the file/],
    ['a million classes', () => withConfig((c) => (c.model.classes = 1e6)), /config\.json: model\.classes is 1,000,000, over the limit of 100,000; restore the file/],
    ['a negative hidden size', () => withConfig((c) => (c.model.hidden = -8)),
      /config\.json: model\.hidden must be a whole number from 1 to 65,536, got -8; restore the file/],
    ['a fractional embedding', () => withConfig((c) => (c.model.embedding = 7.5)),
      /config\.json: model\.embedding must be a whole number from 1 to 65,536, got 7\.5; restore the file/],
    ['a hidden size written as a string', () => withConfig((c) => (c.model.hidden = '8')),
      /config\.json: model\.hidden must be a whole number from 1 to 65,536, got "8"; restore the file/],
    ['no layers', () => withConfig((c) => delete c.model.layers), /config\.json: model\.layers must be a whole number from 1 to 64, got nothing; restore the file/],
    ['fields each within limits, together 655 million parameters', () => withConfig((c) => Object.assign(c.model, { embedding: 65_536, vocabularySize: 10_000 })),
      new RegExp(`config\\.json: the model it describes has [\\d,]+ parameters \\([\\d.]+ GB of float32\\), over the limit of ${MAX_PARAMETERS.toLocaleString('en-US')}; restore the file`)],
    ['a config within the limits, with weights far too small for it', () => withConfig((c) => (c.model.hidden = 4096)),
      /model\.safetensors: [\d,]+ bytes, too few for the [\d,]+ parameters config\.json describes; the files come from different models: restore the file/],
    ['an unknown cell', () => withConfig((c) => (c.model.cell = 'transformer')),
      /config\.json: model\.cell must be one of "lstm", "gru", "rnn", got "transformer"; restore the file/],
    ['a dropout of 1.5', () => withConfig((c) => (c.model.dropout = 1.5)), /config\.json: model\.dropout must be a number in \[0, 1\), got 1\.5; restore the file/],
    ['labels that disagree with the classes', () => withConfig((c) => c.labels.push('neutral')),
      /config\.json: labels lists 3 labels but model\.classes is 2; restore the file/],
    ['a maxLength of 0', () => withConfig((c) => (c.maxLength = 0)), /config\.json: maxLength must be a whole number from 1 to 10,000,000, got 0; restore the file/],
    ['an unknown tokenizer', () => withConfig((c) => (c.tokenizer = { kind: 'bpe' })),
      /config\.json: tokenizer\.kind must be one of "words", "treebank", "wordpunct", "characters", "symbols", got "bpe"; restore the file/],
    ['an unknown truncation', () => withConfig((c) => (c.truncation = 'middle')),
      /config\.json: truncation must be one of "head", "tail", "head\+tail", got "middle"; restore the file/],
    ['a config.json of 2 MB', () => withConfig((c) => (c.training.notes = 'x'.repeat(2 << 20))),
      /config\.json: [\d,]+ bytes, over the limit of 1,048,576 for this file; restore the file/],
    // Paths out of the folder: the file names are fixed, and links must stay inside.
    ['vocabulary.json linked to ../../etc/passwd', () => modelCopy((dir) => {
      rmSync(join(dir, 'vocabulary.json'));
      symlinkSync(`${'../'.repeat(dir.split('/').length)}etc/passwd`, join(dir, 'vocabulary.json'));
    }), /vocabulary\.json: a link to \/etc\/passwd, outside the model folder; a model folder's files must be inside it: copy the file in, or train a new model/],
    ['model.safetensors linked to a copy outside the folder', () => modelCopy((dir) => {
      rmSync(join(dir, 'model.safetensors'));
      symlinkSync('../outside.safetensors', join(dir, 'model.safetensors'));
    }), /model\.safetensors: a link to .*\/outside\.safetensors, outside the model folder; a model folder's files must be inside it/],
    ['model.safetensors linked to /dev/zero', () => modelCopy((dir) => {
      rmSync(join(dir, 'model.safetensors'));
      symlinkSync('/dev/zero', join(dir, 'model.safetensors'));
    }), /model\.safetensors: a link to \/dev\/zero, outside the model folder/],
    ['config.json linked to a file outside', () => modelCopy((dir) => {
      renameSync(join(dir, 'config.json'), join(shared, `config-${count}.json`));
      symlinkSync(join(shared, `config-${count}.json`), join(dir, 'config.json'));
    }), /config\.json: a link to .*\/config-\d+\.json, outside the model folder/],
    ['model.safetensors that is a folder', () => modelCopy((dir) => {
      rmSync(join(dir, 'model.safetensors'));
      mkdirSync(join(dir, 'model.safetensors'));
    }), /model\.safetensors: not a regular file \(a folder\); restore the file/],
    // Weights.
    ['NaN weights', () => modelCopy((dir) => {
      const { tensors, metadata } = loadStateDictFile(join(dir, 'model.safetensors'));
      tensors.get('encoder.weight_ih_l0')!.data.fill(Number.NaN, 0, 12);
      saveStateDict(join(dir, 'model.safetensors'), tensors, metadata);
    }), new RegExp(`model\\.safetensors: tensor 'encoder\\.weight_ih_l0' holds 12 NaN/Inf values \\(of \\d+\\); the file is damaged or comes from a training run that diverged; ${escape(retrain)}$`)],
    ['a header claiming a 2^40-element tensor in 1 KB', () => modelCopy((dir) => writeFileSync(join(dir, 'model.safetensors'),
      safetensorsBytes({ 'embedding.weight': { dtype: 'F32', shape: [2 ** 20, 2 ** 20], data_offsets: [0, 1024] } }, 1024))),
      /model\.safetensors: tensor 'embedding\.weight' of shape \[1048576, 1048576\] and dtype F32 needs 4398046511104 bytes, its offsets give 1024; restore the file/],
    ['overlapping tensors', () => modelCopy((dir) => writeFileSync(join(dir, 'model.safetensors'),
      safetensorsBytes({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12))),
      /model\.safetensors: tensor 'b' overlaps the tensor before it, 'a' \(bytes 0 to 8\): it begins at byte 4; restore the file/],
  ];
  // One after another: each case starts a process, and these tests share the machine.
  it.for(cases)('refuses %s: exit code 2, one line, the folder untouched', async ([, make, message]) => {
    const dir = make();
    const before = snapshot(dir);
    const result = await run(['predict', '--model', dir, 'a fine film']);
    expect(result.code, result.stderr).toBe(2);
    const lines = result.stderr.split('\n').filter(Boolean);
    expect(lines, result.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^sentiment: /);
    expect(lines[0]).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at .*\.m?js:\d+/);
    expect(result.stdout).toBe('');
    expect(snapshot(dir)).toEqual(before);
  });

  it('refuses a model.safetensors that is a named pipe without opening it', async () => {
    const dir = modelCopy((d) => {
      rmSync(join(d, 'model.safetensors'));
      execFileSync('mkfifo', [join(d, 'model.safetensors')]);
    });
    const result = await run(['predict', '--model', dir, 'a fine film']);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/^sentiment: .*model\.safetensors: not a regular file \(a device, pipe or socket\); restore the file/);
  });

  it('reads no path from config.json: path-like fields are ignored, the model predicts as before', async () => {
    const expected = await run(['predict', '--model', trained, 'a fine film', 'an awful film']);
    expect(expected.code, expected.stderr).toBe(0);
    const dir = withConfig((c) => {
      c.vocabulary = '../../etc/passwd';
      c.vocabularyFile = '/etc/passwd';
      c.weights = '../../../../etc/shadow';
      c.model.path = '../../etc/passwd';
      c.tokenizer.vocabulary = '../../etc/passwd';
    });
    const result = await run(['predict', '--model', dir, 'a fine film', 'an awful film']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(expected.stdout);
  });

  it('follows links that stay inside the folder', async () => {
    const dir = modelCopy((d) => {
      mkdirSync(join(d, 'weights'));
      renameSync(join(d, 'model.safetensors'), join(d, 'weights', 'model.safetensors'));
      symlinkSync('weights/model.safetensors', join(d, 'model.safetensors'));
    });
    const result = await run(['predict', '--model', dir, 'a fine film']);
    expect(result.code, result.stderr).toBe(0);
  });
});

describe('loadModelFolder, given enormous dimensions', () => {
  it('refuses them at once, allocating nothing large', () => {
    const dir = join(shared, 'in-process');
    mkdirSync(dir, { recursive: true });
    const model: SentimentConfig = { vocabularySize: 10_000, classes: 2, embedding: 65_536, hidden: 65_536, layers: 64, cell: 'lstm', bidirectional: true, pooling: 'max', dropout: 0, seed: 1 };
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ app: 'sentiment', version: 1, model, labels: ['neg', 'pos'], tokenizer: {}, maxLength: 256, truncation: 'head', training: {} }));
    writeFileSync(join(dir, 'vocabulary.json'), '{"tokens": ["<pad>", "<unk>"]}');
    writeFileSync(join(dir, 'model.safetensors'), safetensorsBytes({}, 0));
    const before = process.memoryUsage();
    const start = performance.now();
    expect(() => loadModelFolder(dir)).toThrow(InputError);
    expect(() => loadModelFolder(dir)).toThrow(/over the limit of 250,000,000/);
    expect(performance.now() - start).toBeLessThan(500);
    expect(process.memoryUsage().arrayBuffers - before.arrayBuffers).toBeLessThan(16 << 20);
  });

  it('counts parameters as SentimentModel builds them', () => {
    for (const cell of ['lstm', 'gru', 'rnn'] as const) {
      for (const [layers, bidirectional] of [[1, false], [2, true], [3, false]] as const) {
        const config: SentimentConfig = { vocabularySize: 11, classes: 3, embedding: 5, hidden: 4, layers, cell, bidirectional, pooling: 'last', dropout: 0.1, seed: 1 };
        const built = [...new SentimentModel(config).stateDict().values()].reduce((sum, t) => sum + t.size, 0);
        expect(parameterCount(config), `${cell} ${layers} ${bidirectional}`).toBe(built);
      }
    }
  });
});
