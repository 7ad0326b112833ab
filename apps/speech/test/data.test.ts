import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { entriesFor } from '../src/data.js';

const dir = mkdtempSync(join(tmpdir(), 'speech-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('entriesFor on the user\'s transcript', () => {
  const transcript = join(dir, 'transcript.tsv');
  writeFileSync(transcript, Array.from({ length: 40 }, (_, i) => `clip${i}.wav\tText ${i}\n`).join(''));

  it('holds out a seeded 10% for validation, the same for train and eval with one seed', () => {
    const train = entriesFor(transcript, 'train', 5).map((e) => e.file);
    const validation = entriesFor(transcript, 'validation', 5).map((e) => e.file);
    expect(validation).toHaveLength(4);
    expect(train).toHaveLength(36);
    expect(new Set([...train, ...validation]).size).toBe(40);
    expect(entriesFor(transcript, 'validation', 5).map((e) => e.file)).toEqual(validation);
    expect(entriesFor(transcript, 'validation', 6).map((e) => e.file)).not.toEqual(validation);
    expect(entriesFor(transcript, 'test', 5)).toHaveLength(40);
  });

  it('reads a folder holding transcript.tsv, normalising the text and naming each line', () => {
    const [first] = entriesFor(dir, 'test', 1);
    expect(first).toEqual({ file: join(dir, 'clip0.wav'), text: 'text 0', where: `${transcript}:1` });
  });
});
