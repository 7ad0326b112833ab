import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTokenizer } from '@recurrent/text';
import * as ort from 'onnxruntime-web';
import { loadModelFolder } from '../src/folder.js';
import { balancedClassWeights } from '../src/pipeline.js';
import { makeReviews, run } from './helpers.js';

/** The `sentiment` binary end to end on a small, clearly separable data set of the user's own. */
const folder = mkdtempSync(join(tmpdir(), 'sentiment-'));

describe('sentiment train, eval, predict', () => {
  const data = join(folder, 'reviews.tsv');
  const heldOut = join(folder, 'held-out.tsv');
  writeFileSync(data, makeReviews(200, 1));
  writeFileSync(heldOut, makeReviews(60, 2));
  const model = join(folder, 'model');

  it('trains a model folder that labels held-out reviews', async () => {
    const trained = await run(['train', '--data', data, '--out', model, '--epochs', '4', '--hidden', '16', '--embedding', '16', '--min-freq', '1', '--lr', '0.01', '--batch-size', '16', '--json']);
    expect(trained.code).toBe(0);
    const report = JSON.parse(trained.stdout) as { validationAccuracy: number; trainExamples: number };
    expect(report.trainExamples).toBe(180);
    expect(report.validationAccuracy).toBeGreaterThan(0.9);
    const config = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8')) as { app: string; labels: string[] };
    expect(config).toMatchObject({ app: 'sentiment', labels: ['neg', 'pos'] });
    // The run's report: curves of loss and accuracy, four epochs in the table.
    const html = readFileSync(join(model, 'run', 'report.html'), 'utf8');
    expect(html).toContain('<h1>sentiment: 180 training texts, bidirectional LSTM</h1>');
    expect((html.match(/<figure><svg/g) ?? []).length).toBeGreaterThanOrEqual(2);
    expect(readFileSync(join(model, 'run', 'plots', 'accuracy.svg'), 'utf8')).toContain('validation, at the end of each epoch');
    expect(html.match(/<tr><td>4<\/td>/)).not.toBeNull();

    const evaluated = await run(['eval', '--model', model, '--data', heldOut, '--json']);
    expect(evaluated.code).toBe(0);
    const result = JSON.parse(evaluated.stdout) as { accuracy: number; confusion: number[][]; macroF1: number; classes: Record<string, { recall: number; support: number }> };
    expect(result.accuracy).toBeGreaterThan(0.9);
    expect(result.confusion.flat().reduce((a, b) => a + b, 0)).toBe(60);
    // per class: the confusion matrix's rows read as recall and support
    expect(result.classes.neg!.support + result.classes.pos!.support).toBe(60);
    expect(result.classes.neg!.recall).toBe(result.confusion[0]![0]! / result.classes.neg!.support);
    expect(result.macroF1).toBeGreaterThan(0.9);
    const table = await run(['eval', '--model', model, '--data', heldOut]);
    expect(table.stdout).toMatch(/^accuracy \d+\.\d\d% on 60 examples \(loss \d\.\d{4}\), macro F1 \d+\.\d%\n/);
    expect(table.stdout).toContain('precision');
    // Cut to 2 tokens, most reviews lose their cue word: --max-length overrides the model's length.
    const cut = await run(['eval', '--model', model, '--data', heldOut, '--json', '--max-length', '2']);
    const cutResult = JSON.parse(cut.stdout) as { accuracy: number; maxLength: number };
    expect(cutResult.maxLength).toBe(2);
    expect(cutResult.accuracy).toBeLessThan(result.accuracy);

    const predicted = await run(['predict', '--model', model, 'the plot was superb and the actors wonderful', 'a boring film I hated']);
    expect(predicted.code).toBe(0);
    expect(predicted.stdout.split('\n').filter(Boolean).map((line) => line.split('\t')[0])).toEqual(['pos', 'neg']);
    const fromStdin = await run(['predict', '--model', model, '--json'], 'an awful story\n');
    expect(JSON.parse(fromStdin.stdout)).toMatchObject({ text: 'an awful story', label: 'neg' });
  });

  it('exports the model as ONNX, which onnxruntime-web runs to predict\'s probabilities', async () => {
    const onnxFile = join(folder, 'model.onnx');
    const exported = await run(['export', '--model', model, '--onnx', onnxFile, '--json']);
    expect(exported.code, exported.stderr).toBe(0);
    const summary = JSON.parse(exported.stdout) as { bytes: number; labels: string[] };
    expect(summary.labels).toEqual(['neg', 'pos']);
    expect(readFileSync(onnxFile).length).toBe(summary.bytes);
    const text = 'the plot was superb and the actors wonderful';
    const predicted = JSON.parse((await run(['predict', '--model', model, '--json', text])).stdout) as { probabilities: Record<string, number> };
    // tokenised as predict does: the folder's tokenizer and vocabulary
    const { vocabulary, config } = loadModelFolder(model);
    const ids = vocabulary.encode(createTokenizer(config.tokenizer)(text));
    const session = await ort.InferenceSession.create(readFileSync(onnxFile));
    const result = await session.run({
      tokens: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]),
      lengths: new ort.Tensor('int32', Int32Array.from([ids.length]), [1]),
    });
    const probabilities = result.probabilities!.data as Float32Array;
    expect(Math.abs(probabilities[0]! - predicted.probabilities.neg!)).toBeLessThan(1e-5);
    expect(Math.abs(probabilities[1]! - predicted.probabilities.pos!)).toBeLessThan(1e-5);
  });

  it('refuses to train over an existing run without --resume, keeping what is there', async () => {
    const again = await run(['train', '--data', data, '--out', model, '--epochs', '1']);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already holds a training run; pass --resume to continue it');
    expect(existsSync(join(model, 'model.safetensors'))).toBe(true);
  });

  it('stops early with --patience once validation accuracy stops improving', async () => {
    // A learning rate too small to change a prediction: the first epoch's accuracy is never beaten.
    const stalled = await run(['train', '--data', data, '--out', join(folder, 'stalled'), '--epochs', '5', '--patience', '1', '--lr', '1e-9', '--hidden', '8', '--embedding', '8', '--batch-size', '32', '--json']);
    expect(stalled.code).toBe(0);
    expect(JSON.parse(stalled.stdout)).toMatchObject({ epochs: 2, stoppedEarly: true });
  });

  it('trains with --recurrent-dropout (Keras\'s recurrent_dropout) and records it in the model folder', async () => {
    const out = join(folder, 'recurrent-dropout');
    const trained = await run(['train', '--data', data, '--out', out, '--epochs', '4', '--hidden', '16', '--embedding', '16', '--min-freq', '1', '--lr', '0.01', '--batch-size', '16', '--recurrent-dropout', '0.2', '--json']);
    expect(trained.code, trained.stderr).toBe(0);
    expect(JSON.parse(trained.stdout).validationAccuracy).toBeGreaterThan(0.85);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { model: { recurrentDropout: number } };
    expect(config.model.recurrentDropout).toBe(0.2);
    const predicted = await run(['predict', '--model', out, 'a boring film I hated']);
    expect(predicted.code).toBe(0);
  });

  it('makes one optimiser step of every two batches with --accumulate 2', async () => {
    const out = join(folder, 'accumulate');
    const trained = await run(['train', '--data', data, '--out', out, '--epochs', '1', '--hidden', '8', '--embedding', '8', '--batch-size', '16', '--accumulate', '2', '--json']);
    expect(trained.code, trained.stderr).toBe(0);
    const { steps } = JSON.parse(trained.stdout) as { steps: number };
    const checkpoint = JSON.parse(readFileSync(join(out, 'run', 'checkpoint.json'), 'utf8')) as { step: number; optimizerStep: number };
    expect(checkpoint.step).toBe(steps);
    expect(checkpoint.optimizerStep).toBe(Math.ceil(steps / 2));
  });

  it('weighs a rare class up with --class-weights balanced', async () => {
    // about one review in eight negative
    const lines = makeReviews(240, 5).trim().split('\n');
    const rare = [lines[0]!, ...lines.slice(1).filter((line, i) => line.endsWith('\tpos') || i % 8 === 0)];
    const skewed = join(folder, 'skewed.tsv');
    writeFileSync(skewed, `${rare.join('\n')}\n`);
    const out = join(folder, 'balanced');
    const trained = await run(['train', '--data', skewed, '--out', out, '--epochs', '1', '--hidden', '8', '--embedding', '8', '--min-freq', '1', '--batch-size', '8', '--class-weights', 'balanced', '--json']);
    expect(trained.code, trained.stderr).toBe(0);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { labels: string[]; training: { classWeights: number[] } };
    const [neg, pos] = config.labels.map((label) => config.training.classWeights[config.labels.indexOf(label)]!);
    expect(neg).toBeGreaterThan(2);
    expect(pos).toBeLessThan(1);
    expect(1 / neg! + 1 / pos!).toBeCloseTo(2, 10); // each class's weight x its count is N / C
    expect(balancedClassWeights([0, 0, 0, 1], 2)).toEqual([4 / 6, 2]);
    expect(balancedClassWeights([0, 0], 2)).toEqual([0.5, 0]); // a class with no examples gets 0
  });

  it('runs the learning-rate range test with --find-lr instead of training', async () => {
    const out = join(folder, 'lr-find');
    const found = await run(['train', '--data', data, '--out', out, '--hidden', '8', '--embedding', '8', '--batch-size', '16', '--find-lr', '--json']);
    expect(found.code, found.stderr).toBe(0);
    expect(JSON.parse(found.stdout)).toMatchObject({ svg: join(out, 'run', 'lr-find.svg'), steps: expect.any(Number) });
    expect(existsSync(join(out, 'run', 'lr-find.json'))).toBe(true);
    expect(existsSync(join(out, 'model.safetensors'))).toBe(false);
  });

  it('halves the learning rate with --schedule plateau after two epochs without a better validation accuracy', async () => {
    // As above, an lr too small to change a prediction (but above ReduceLROnPlateau's eps of 1e-8)
    const out = join(folder, 'plateau');
    const stalled = await run(['train', '--data', data, '--out', out, '--epochs', '4', '--schedule', 'plateau', '--lr', '1e-6', '--hidden', '8', '--embedding', '8', '--batch-size', '32', '--json']);
    expect(stalled.code).toBe(0);
    const lrs = readFileSync(join(out, 'run', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; lr: number })
      .filter((l) => l.kind === 'epoch').map((l) => l.lr);
    expect(lrs).toEqual([1e-6, 1e-6, 1e-6, 5e-7]);
  });

  const bad: Array<[string, () => string[], RegExp]> = [
    ['a data file with a missing column', () => {
      writeFileSync(join(folder, 'cols.tsv'), 'fine film\tpos\njust text\n');
      return ['train', '--data', join(folder, 'cols.tsv'), '--out', join(folder, 'm1')];
    }, /cols\.tsv:2: 1 column, expected 2/],
    ['a review with no tokens', () => {
      writeFileSync(join(folder, 'empty-text.csv'), 'good,pos\n"   ",neg\nbad,neg\nfine,pos\n');
      return ['train', '--data', join(folder, 'empty-text.csv'), '--out', join(folder, 'm2')];
    }, /empty-text\.csv:2: the text has no tokens after tokenising \("   "\); remove the row or give it text/],
    ['a batch size of zero', () => ['train', '--batch-size', '0'], /--batch-size must be an integer >= 1, got '0'/],
    ['a patience of zero', () => ['train', '--patience', '0'], /--patience must be an integer >= 1, got '0'/],
    ['a missing model folder', () => ['predict', '--model', join(folder, 'none'), 'hi'], /no such model folder/],
    ['a model folder of another app', () => {
      const other = join(folder, 'other');
      mkdirSync(other, { recursive: true });
      writeFileSync(join(other, 'config.json'), '{"app": "translate", "version": 1}');
      return ['predict', '--model', other, 'hi'];
    }, /a model of the "translate" app, not a sentiment model/],
    ['a model folder from a newer version', () => {
      const newer = join(folder, 'newer');
      mkdirSync(newer, { recursive: true });
      writeFileSync(join(newer, 'config.json'), '{"app": "sentiment", "version": 99}');
      return ['eval', '--model', newer];
    }, /format version 99 is newer than this program's 1/],
  ];
  it.each(bad)('answers %s with one line and exit code 2', async (_, args, message) => {
    const result = await run(args());
    expect(result.code).toBe(2);
    const ours = result.stderr.split('\n').filter((l) => l.startsWith('sentiment:') || l.startsWith('error:'));
    expect(ours).toHaveLength(1);
    expect(ours[0]).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at .*\.m?js:\d+/);
  });
});
