import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { InputError, loadModelFolder, parameterCount } from '../src/folder.js';
import { SentimentModel, type SentimentConfig } from '../src/model.js';
import { makeReviews, run } from './helpers.js';

/**
 * Hostile model folders beyond the one-line refusals of the bad-input corpus (tests/bad-input,
 * where configs claiming enormous or absurd models, links out of the folder, NaN weights and
 * lying safetensors headers are checked message by message): a weights file that is a named pipe
 * is refused without being opened, nothing in config.json is read as a path, links that stay
 * inside the folder are followed, and loading refuses enormous dimensions before allocating.
 */
const shared = mkdtempSync(join(tmpdir(), 'sentiment-hostile-'));
const reviews = join(shared, 'reviews.tsv');
const trained = join(shared, 'trained');
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
  /** A model folder with this config, a two-token vocabulary and an empty weights file. */
  const folderWithEmptyWeights = (name: string, model: SentimentConfig) => {
    const dir = join(shared, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ app: 'sentiment', version: 1, model, labels: ['neg', 'pos'], tokenizer: {}, maxLength: 256, truncation: 'head', training: {} }));
    writeFileSync(join(dir, 'vocabulary.json'), '{"tokens": ["<pad>", "<unk>"]}');
    writeFileSync(join(dir, 'model.safetensors'), safetensorsBytes({}, 0));
    return dir;
  };

  it('refuses them at once, allocating nothing large', () => {
    const dir = folderWithEmptyWeights('in-process', { vocabularySize: 10_000, classes: 2, embedding: 65_536, hidden: 65_536, layers: 64, cell: 'lstm', bidirectional: true, pooling: 'max', dropout: 0, seed: 1 });
    const before = process.memoryUsage();
    const start = performance.now();
    expect(() => loadModelFolder(dir)).toThrow(InputError);
    expect(() => loadModelFolder(dir)).toThrow(/over the limit of 250,000,000/);
    expect(performance.now() - start).toBeLessThan(500);
    expect(process.memoryUsage().arrayBuffers - before.arrayBuffers).toBeLessThan(16 << 20);
  });

  it('refuses weights too small for a config within the limits before building the model', () => {
    // 134 million parameters (537 MB of float32), within every limit; the weights file is empty.
    const dir = folderWithEmptyWeights('in-process-small-weights', { vocabularySize: 2, classes: 2, embedding: 4, hidden: 4096, layers: 1, cell: 'lstm', bidirectional: true, pooling: 'max', dropout: 0, seed: 1 });
    const before = process.memoryUsage();
    const start = performance.now();
    expect(() => loadModelFolder(dir)).toThrow(/model\.safetensors: 10 bytes, too few for the 134,430,730 parameters config\.json describes/);
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
