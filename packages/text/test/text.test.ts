import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bucketBatches, createTokenizer, detokenize, padBatch, SPACE_MARK, truncate, Vocabulary } from '../src/index.js';

describe('tokenizers', () => {
  const review = "I <b>loved</b> it.<br /><br />Isn't it GREAT? 10/10!";
  it('treebank (default): lower case, HTML stripped, punctuation and clitics as tokens', () => {
    expect(createTokenizer()(review)).toEqual(['i', 'loved', 'it.', 'is', "n't", 'it', 'great', '?', '10/10', '!']);
  });
  it('words, wordpunct, characters and symbols', () => {
    expect(createTokenizer({ kind: 'words' })(review)).toEqual(['i', 'loved', 'it', 'isn', 't', 'it', 'great', '10', '10']);
    expect(createTokenizer({ kind: 'wordpunct', lowercase: false })('Hi, you!')).toEqual(['Hi', ',', 'you', '!']);
    expect(createTokenizer({ kind: 'characters' })(' Ab  c ')).toEqual(['a', 'b', ' ', 'c']);
    expect(createTokenizer({ kind: 'symbols', lowercase: false })('HH AH0  L OW1')).toEqual(['HH', 'AH0', 'L', 'OW1']);
  });
  it('reversible: wordpunct tokens marked after spaces, detokenized back to the text', () => {
    const tokenize = createTokenizer({ kind: 'reversible', lowercase: false, stripHtml: false });
    const text = "  L'homme  dit : « c'est-à-dire 3,5 % »  ";
    const tokens = tokenize(text);
    expect(tokens.slice(0, 5)).toEqual(['L', "'", 'homme', `${SPACE_MARK}dit`, `${SPACE_MARK}:`]);
    expect(detokenize(tokens, 'reversible')).toBe(text.replace(/\s+/g, ' ').trim());
    expect(detokenize(['a', 'b'], 'characters')).toBe('ab');
    expect(detokenize(['HH', 'AY1'], 'symbols')).toBe('HH AY1');
  });
  it('refuses an unknown kind', () => {
    expect(() => createTokenizer({ kind: 'bpe' as never })).toThrow('unknown tokenizer kind "bpe"');
  });
});

describe('Vocabulary', () => {
  const corpus = [['the', 'cat', 'sat'], ['the', 'dog', 'sat'], ['the', 'end']];
  it('keeps tokens by frequency, ties alphabetically, with <pad> 0 and <unk> 1', () => {
    const vocabulary = Vocabulary.build(corpus);
    expect(vocabulary.tokens).toEqual(['<pad>', '<unk>', 'the', 'sat', 'cat', 'dog', 'end']);
    expect(vocabulary.encode(['the', 'bird'])).toEqual([2, 1]);
    expect(vocabulary.decode([3, 0])).toEqual(['sat', '<pad>']);
  });
  it('applies minFrequency, maxSize and extra specials', () => {
    expect(Vocabulary.build(corpus, { minFrequency: 2 }).tokens).toEqual(['<pad>', '<unk>', 'the', 'sat']);
    expect(Vocabulary.build(corpus, { maxSize: 3 }).tokens).toEqual(['<pad>', '<unk>', 'the']);
    expect(Vocabulary.build(corpus, { specials: ['<bos>'], maxSize: 4 }).tokens).toEqual(['<pad>', '<unk>', '<bos>', 'the']);
  });
  it('saves and loads, and names the file when it is not a vocabulary', () => {
    const folder = mkdtempSync(join(tmpdir(), 'vocab-'));
    const file = join(folder, 'vocab.json');
    const vocabulary = Vocabulary.build(corpus);
    vocabulary.save(file);
    expect(Vocabulary.load(file).tokens).toEqual(vocabulary.tokens);
    const bad = join(folder, 'bad.json');
    writeFileSync(bad, '{"tokens": ["<pad>", "<unk>", "a", "a"]}');
    expect(() => Vocabulary.load(bad)).toThrow(`${bad}: the vocabulary lists "a" twice (entries 2 and 3)`);
    writeFileSync(bad, 'not json');
    expect(() => Vocabulary.load(bad)).toThrow(`${bad}: not a vocabulary file`);
  });
});

describe('batching', () => {
  it('truncates by head, tail or head and tail', () => {
    const s = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(truncate(s, 4, 'head')).toEqual([1, 2, 3, 4]);
    expect(truncate(s, 4, 'tail')).toEqual([7, 8, 9, 10]);
    expect(truncate(s, 8, 'head+tail')).toEqual([1, 2, 5, 6, 7, 8, 9, 10]);
    expect(truncate(s, 20)).toEqual(s);
  });
  it('buckets similar lengths together, covers every example once, and is seeded', () => {
    const lengths = Array.from({ length: 100 }, (_, i) => (i * 37) % 50 + 1);
    const batches = bucketBatches(lengths, { batchSize: 8, seed: 3 });
    expect(batches.flat().sort((a, b) => a - b)).toEqual(lengths.map((_, i) => i));
    for (const batch of batches.slice(0, -1)) {
      const ls = batch.map((i) => lengths[i]!);
      expect(Math.max(...ls) - Math.min(...ls)).toBeLessThanOrEqual(4);
    }
    expect(bucketBatches(lengths, { batchSize: 8, seed: 3 })).toEqual(batches);
    expect(bucketBatches(lengths, { batchSize: 8, seed: 4 })).not.toEqual(batches);
    expect(bucketBatches(lengths, { batchSize: 8, dropLast: true }).every((b) => b.length === 8)).toBe(true);
  });
  it("sorts equal first lengths by the second (a pair's target side)", () => {
    // 16 pairs of one source length: without the second key, batches mix short and long targets.
    const sources = Array.from({ length: 16 }, () => 5);
    const targets = Array.from({ length: 16 }, (_, i) => (i % 2 === 0 ? 3 : 20));
    const longest = (batches: number[][]) => batches.map((b) => Math.max(...b.map((i) => targets[i]!))).sort((a, b) => a - b);
    expect(longest(bucketBatches(sources, { batchSize: 8, seed: 1, secondLengths: targets }))).toEqual([3, 20]);
    expect(longest(bucketBatches(sources, { batchSize: 8, seed: 1 }))).toEqual([20, 20]);
    expect(() => bucketBatches(sources, { batchSize: 8, secondLengths: [1] })).toThrow('secondLengths has 1 entries for 16 examples');
  });
  it('pads to a multiple of 8 steps, time-major', () => {
    const { tokens, lengths } = padBatch([[5, 6, 7], [8]], 0);
    expect(tokens.shape).toEqual([8, 2]);
    expect(lengths).toEqual([3, 1]);
    expect([...tokens.data.subarray(0, 6)]).toEqual([5, 8, 6, 0, 7, 0]);
  });
});
