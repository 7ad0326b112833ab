import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ctcGreedyDecode } from '@recurrent/core';
import * as ort from 'onnxruntime-web';
import { audioFeatures } from '../src/data.js';
import { loadModelFolder } from '../src/folder.js';
import { dataAndModel, run } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'speech-cli-'));
const data = join(dir, 'digits');
const model = join(dir, 'model');
beforeAll(() => dataAndModel(data, model), 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('speech', () => {
  it('synth writes the splits once and reuses them for the same options', async () => {
    for (const split of ['train', 'validation', 'test']) expect(existsSync(join(data, split, 'transcript.tsv'))).toBe(true);
    const lines = readFileSync(join(data, 'train', 'transcript.tsv'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(24);
    expect(lines[0]).toMatch(/^\d+\.wav\t(zero|one|two|three|four|five|six|seven|eight|nine)( \w+)*$/);
    const before = statSync(join(data, 'manifest.json')).mtimeMs;
    const again = await run(['synth', '--out', data, '--train', '24', '--validation', '6', '--test', '6', '--noise', '0', '--seed', '3', '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).splits.train.utterances).toBe(24);
    expect(statSync(join(data, 'manifest.json')).mtimeMs).toBe(before);
  });

  it('train writes a model folder with PyTorch names and a run report', () => {
    const config = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ app: 'speech', version: 1, model: { melBins: 40, stack: 3, hidden: 8, layers: 1, cell: 'lstm' }, labels: { unit: 'characters' } });
    expect(config.labels.labels).toContain(' ');
    expect(config.model.outputs).toBe(config.labels.labels.length + 1);
    const header = readFileSync(join(model, 'model.safetensors'));
    const names = Object.keys(JSON.parse(header.subarray(8, 8 + Number(header.readBigUInt64LE(0))).toString()));
    expect(names).toEqual(expect.arrayContaining(['encoder.weight_ih_l0', 'encoder.weight_hh_l0_reverse', 'output.weight', 'output.bias']));
    const report = readFileSync(join(model, 'run', 'report.html'), 'utf8');
    expect(report).toContain('Spectrograms and CTC posteriors');
  });

  it('eval prints CER and WER and writes every transcript', async () => {
    const result = await run(['eval', '--model', model, '--json']);
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout);
    expect(summary).toMatchObject({ split: 'test', utterances: 6, beam: 1 });
    expect(summary.cer).toBeGreaterThanOrEqual(0);
    expect(summary.wer).toBeGreaterThanOrEqual(0);
    const outputs = readFileSync(summary.outputs, 'utf8').trim().split('\n');
    expect(outputs[0]).toBe('file\ttranscript\treference');
    expect(outputs).toHaveLength(7);
    const text = await run(['eval', '--model', model, '--split', 'validation', '--beam', '3']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/validation\): 6 utterances, .*beam 3/);
    expect(text.stdout).toMatch(/character error rate \d+\.\d\d%\s+word error rate \d+\.\d\d%/);
  });

  it('label gives word times as JSON, an Audacity label track and a posterior plot', async () => {
    const wav = join(data, 'test', readFileSync(join(data, 'test', 'transcript.tsv'), 'utf8').split('\t')[0]!);
    const tracks = join(dir, 'tracks');
    const plot = join(dir, 'plot.svg');
    const result = await run(['label', '--model', model, wav, wav, '--json', '--tracks', tracks, '--plot', plot]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toEqual(lines[1]);
    expect(lines[0]).toMatchObject({ file: wav });
    expect(lines[0].seconds).toBeGreaterThan(0.2);
    for (const w of [...lines[0].words, ...lines[0].labels]) {
      expect(w.end).toBeGreaterThan(w.start);
      expect(w.end).toBeLessThanOrEqual(lines[0].seconds + 0.05);
    }
    const track = readFileSync(join(tracks, `${wav.split('/').at(-1)!.replace('.wav', '')}.txt`), 'utf8');
    expect(track.split('\n').filter(Boolean)).toHaveLength(lines[0].words.length);
    for (const name of ['plot-1.svg', 'plot-2.svg']) expect(readFileSync(join(dir, name), 'utf8').startsWith('<svg')).toBe(true);
    const plain = await run(['label', '--model', model, wav]);
    expect(plain.stdout.split('\n')[0]).toBe(`${wav}: ${lines[0].text}`);
  });

  it('export writes ONNX whose greedy decoding of a WAV gives label\'s transcript', async () => {
    const wav = join(data, 'test', readFileSync(join(data, 'test', 'transcript.tsv'), 'utf8').split('\t')[0]!);
    const onnxFile = join(dir, 'speech.onnx');
    const exported = await run(['export', '--model', model, '--onnx', onnxFile, '--json']);
    expect(exported.code, exported.stderr).toBe(0);
    const summary = JSON.parse(exported.stdout) as { bytes: number; classes: string[] };
    expect(summary.classes[0]).toBe('<blank>');
    expect(readFileSync(onnxFile).length).toBe(summary.bytes);
    const { config } = loadModelFolder(model);
    const { features, frames } = audioFeatures(wav, config.features);
    const session = await ort.InferenceSession.create(readFileSync(onnxFile));
    const result = await session.run({
      frames: new ort.Tensor('float32', features, [1, frames, config.features.melBins]),
      lengths: new ort.Tensor('int32', Int32Array.of(frames), [1]),
    });
    const steps = (result.steps!.data as Int32Array)[0]!;
    const decoded = ctcGreedyDecode((result.log_probs!.data as Float32Array).subarray(0, steps * summary.classes.length), steps, summary.classes.length);
    const text = decoded.tokens.map((k) => summary.classes[k]).join('');
    const labelled = JSON.parse((await run(['label', '--model', model, wav, '--json'])).stdout) as { text: string };
    expect(labelled.text.length).toBeGreaterThan(0); // the tiny model says something
    expect(text.trim()).toBe(labelled.text);
  });
});
