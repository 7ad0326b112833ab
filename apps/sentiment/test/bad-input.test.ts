import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '@recurrent/core';
import { makeReviews, run, snapshot } from './helpers.js';

/**
 * Bad input of every kind: exit code 2, one line on stderr naming the file (and the line, where
 * there is one) and the fix, no stack trace, and a model folder already in --out left as it was.
 */
const shared = mkdtempSync(join(tmpdir(), 'sentiment-bad-'));
const reviews = join(shared, 'reviews.tsv');
const trained = join(shared, 'trained');
/** Each case works in a folder of its own (cases run concurrently), which holds `existing`, a finished model folder. */
let folder = '';
const path = (name: string) => join(folder, name);
const file = (name: string, content: string | Buffer) => {
  writeFileSync(path(name), content);
  return path(name);
};
/** A copy of the trained model folder (with its run), altered by `change`. */
const modelCopy = (name: string, change: (dir: string) => void) => {
  cpSync(trained, path(name), { recursive: true });
  change(path(name));
  return path(name);
};
const trainArgs = () => ['--out', path('existing'), '--epochs', '1', '--hidden', '8', '--embedding', '8', '--min-freq', '1', '--batch-size', '4'];

describe('sentiment, given bad input', () => {
  beforeAll(async () => {
    writeFileSync(reviews, makeReviews(60, 4));
    const result = await run(['train', '--data', reviews, '--out', trained, '--epochs', '1', '--hidden', '8', '--embedding', '8', '--min-freq', '1', '--batch-size', '8']);
    expect(result.code, result.stderr).toBe(0);
  });

  const train = (data: string, ...more: string[]) => ['train', '--data', data, ...trainArgs(), ...more];
  const cases: Array<[string, () => string[], RegExp]> = [
    // Data files for training.
    ['an empty data file', () => train(file('empty.tsv', '')), /empty\.tsv: the file is empty; give rows of text<TAB>label$/],
    ['a data file that does not exist', () => train(path('missing.csv')), /missing\.csv: no such file or folder; give a CSV\/TSV of text,label rows or a folder of class folders$/],
    ['a folder with no class folders', () => {
      mkdirSync(path('flat'), { recursive: true });
      writeFileSync(join(path('flat'), 'a.txt'), 'a fine film');
      return train(path('flat'));
    }, /flat: no class folders; give one sub-folder of \.txt files per class, at least 2 \(e\.g\. pos\/ and neg\/\)$/],
    ['a CSV with a header and no rows', () => train(file('header.csv', 'text,label\n')), /header\.csv: only a header, no examples; add rows of text,label below it$/],
    ['a CSV with an unterminated quote', () => train(file('quote.csv', 'text,label\ngood,pos\n"bad film,neg\nfine,pos\nawful,neg\n')),
      /quote\.csv:3: a quote opened on this line is never closed; close the quoted text with " \(a quote inside it is written ""\)$/],
    ['random bytes', () => {
      const random = mulberry32(9);
      return train(file('random.csv', Buffer.from(Array.from({ length: 2048 }, () => Math.floor(random() * 256)))));
    }, /random\.csv: binary data, not text \(compressed, a spreadsheet, an image\?\); give a UTF-8 text file/],
    ['Latin-1 text', () => train(file('latin1.tsv', Buffer.from('text\tlabel\ngood\tpos\nna\xefve\tneg\n', 'latin1'))),
      /latin1\.tsv:3: not valid UTF-8 text \(byte 0xef\); convert the file to UTF-8, e\.g\. `iconv -f latin1 -t utf-8`$/],
    ['a TSV with a label column missing', () => train(file('nolabel.tsv', 'great film\tpos\nawful\n')), /nolabel\.tsv:2: 1 column, expected 2 \(text<TAB>label\); add the label column$/],
    ['a TSV with one label only', () => train(file('one.tsv', 'great film\tpos\nloved it\tpos\nsuperb\tpos\n')),
      /one\.tsv: every example has the label "pos"; a classifier needs at least 2 classes: add examples of another label$/],
    ['a CSV whose header is not text,label', () => train(file('kaggle.csv', 'review,sentiment\ngreat film,positive\nloved it,positive\nawful,negative\nboring,negative\n')),
      /kaggle\.csv:1: label "sentiment" appears only on this line, so it looks like a header; name the columns text and label, or remove the row$/],
    ['a text of zero tokens', () => train(file('notokens.tsv', 'text\tlabel\ngreat film\tpos\nawful\tneg\n<br />\tneg\nsuperb\tpos\n')),
      /notokens\.tsv:4: the text has no tokens after tokenising \("<br \/>"\); remove the row or give it text$/],
    ['fewer training examples than a batch', () => ['train', '--data', reviews, ...trainArgs(), '--batch-size', '64'],
      /reviews\.tsv: 54 training examples \(validation held out\), fewer than --batch-size 64: no batch to train on; lower --batch-size or give more data$/],
    // Resuming.
    ['--resume with no checkpoint', () => train(reviews, '--resume'), /existing\/run: no checkpoint\.json to resume from; run without --resume to start$/],
    ['--resume with other model options', () => {
      const out = modelCopy('resume-other', () => undefined);
      return ['train', '--data', reviews, '--out', out, '--epochs', '2', '--hidden', '12', '--embedding', '8', '--min-freq', '1', '--batch-size', '8', '--resume'];
    }, /resume-other\/run\/checkpoint\.json: the checkpoint does not fit this model \(size mismatch for .*; and \d+ more\); resume with the options and data the run started with, or start a new run in another folder$/],
    // Model folders.
    ['a model folder missing model.safetensors', () => ['predict', '--model', modelCopy('no-weights', (dir) => rmSync(join(dir, 'model.safetensors'))), 'a fine film'],
      /no-weights\/model\.safetensors: missing from the model folder; restore the file, or train a new model with `sentiment train --out <new folder>`$/],
    ['a model folder missing vocabulary.json', () => ['eval', '--model', modelCopy('no-vocabulary', (dir) => rmSync(join(dir, 'vocabulary.json'))), '--data', reviews],
      /no-vocabulary\/vocabulary\.json: missing from the model folder; restore the file, or train/],
    ['a config.json that is not JSON', () => ['predict', '--model', modelCopy('bad-json', (dir) => writeFileSync(join(dir, 'config.json'), '{\n  "app": "sentiment",\n  oops\n}\n')), 'a fine film'],
      /bad-json\/config\.json:3: not valid JSON \(.*\); restore the file, or train a new model/],
    ['a config.json that is not an object', () => ['predict', '--model', modelCopy('null-config', (dir) => writeFileSync(join(dir, 'config.json'), 'null\n')), 'a fine film'],
      /null-config\/config\.json: not a model configuration \(a JSON object\); restore the file/],
    ['a vocabulary.json that is not JSON', () => ['predict', '--model', modelCopy('bad-vocabulary', (dir) => writeFileSync(join(dir, 'vocabulary.json'), 'not\njson\n')), 'a fine film'],
      /bad-vocabulary\/vocabulary\.json: not a vocabulary file \(.*\); restore the file, or train a new model/],
    ['a truncated model.safetensors', () => ['predict', '--model', modelCopy('truncated', (dir) => writeFileSync(join(dir, 'model.safetensors'), Buffer.alloc(40, 1))), 'a fine film'],
      /truncated\/model\.safetensors: .*; restore the file, or train a new model/],
    ['weights that do not fit config.json', () => ['predict', '--model', modelCopy('mixed', (dir) => {
      const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { model: { hidden: number } };
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, model: { ...config.model, hidden: 12 } }));
    }), 'a fine film'],
      /mixed\/model\.safetensors: does not fit config\.json \(size mismatch for .*; and \d+ more\); the files come from different models: restore the file/],
    ['a training that has not finished', () => ['predict', '--model', modelCopy('unfinished', (dir) => ['config.json', 'model.safetensors', 'vocabulary.json'].forEach((f) => rmSync(join(dir, f)))), 'a fine film'],
      /unfinished: training has not finished \(a checkpoint in .*unfinished\/run, no model yet\); continue it with `sentiment train --out .*unfinished --resume` and the same options$/],
    ['a model folder of another app', () => ['predict', '--model', modelCopy('translate', (dir) => writeFileSync(join(dir, 'config.json'), '{"app": "translate", "version": 1}')), 'hi'],
      /translate\/config\.json: a model of the "translate" app, not a sentiment model; give a folder written by `sentiment train`$/],
    // Data for eval and predict.
    ['eval data with a label the model does not know', () => ['eval', '--model', trained, '--data', file('neutral.tsv', 'text\tlabel\ngreat\tpos\nmeh\tneutral\nawful\tneg\n')],
      /neutral\.tsv:3: label "neutral" is not one the model knows \(neg, pos\); remove such rows, or evaluate a model trained with that label$/],
    ['eval data with a text of zero tokens', () => ['eval', '--model', trained, '--data', file('eval-empty.csv', 'great,pos\n"",neg\n')],
      /eval-empty\.csv:2: the text has no tokens after tokenising \(""\); remove the row or give it text$/],
    ['predict --file with a missing file', () => ['predict', '--model', trained, '--file', path('nothing.txt')], /nothing\.txt: no such file; check the path$/],
    ['predict --file with a binary file', () => ['predict', '--model', trained, '--file', file('image.png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]))],
      /image\.png: binary data, not text/],
  ];
  it.concurrent.for(cases)('answers %s with one line naming the file and the fix, exit code 2', async ([, make, message], { expect }) => {
    // `path`, `file` and `modelCopy` work in `folder`: set it, then make the case before any await.
    folder = mkdtempSync(join(shared, 'case-'));
    const own = folder;
    // The model folder a failed `train` must leave alone: a finished model, its run removed.
    modelCopy('existing', (dir) => rmSync(join(dir, 'run'), { recursive: true }));
    const args = make();
    const before = [snapshot(own), snapshot(trained)];
    const result = await run(args);
    expect(result.code, result.stderr).toBe(2);
    const ours = result.stderr.split('\n').filter((l) => l.startsWith('sentiment:') || l.startsWith('error:'));
    expect(ours, result.stderr).toHaveLength(1);
    expect(ours[0]).toMatch(/^sentiment: /);
    expect(ours[0]!.slice('sentiment: '.length)).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at .*\.m?js:\d+/);
    expect(result.stdout).toBe('');
    // Nothing written is lost, nor anything written at all: the model folders (the one in --out
    // included) and the data are byte for byte as they were.
    expect([snapshot(own), snapshot(trained)]).toEqual(before);
  });
});
