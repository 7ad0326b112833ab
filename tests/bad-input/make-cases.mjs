#!/usr/bin/env node
/**
 * Writes the corpus's input files into cases/ (`pnpm --filter @recurrent/bad-input-corpus cases`).
 * The files are committed; this script says byte for byte what each one holds (BOMs, CRLF line
 * ends, Latin-1 bytes and lying WAV or safetensors headers do not show in an editor), and the
 * corpus test checks that cases/ is exactly what it writes. Everything is deterministic: no
 * randomness without a fixed seed, no dates.
 */
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '@recurrent/core';

const here = dirname(fileURLToPath(import.meta.url));
export const CASES_DIR = join(here, 'cases');

const utf8 = (/** @type {string} */ text) => Buffer.from(text, 'utf8');
const latin1 = (/** @type {string} */ text) => Buffer.from(text, 'latin1');
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
/** UTF-16LE with its byte-order mark, as Windows Notepad and Excel write "Unicode text". */
const utf16 = (/** @type {string} */ text) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
const crlf = (/** @type {string} */ text) => text.replace(/\n/g, '\r\n');

/**
 * @typedef {object} WavSpec A WAV file written byte by byte, with whatever lies its header should tell.
 * @property {number} [formatCode] 1 PCM, 3 float, 6 A-law, 7 µ-law
 * @property {number} [channels]
 * @property {number} [sampleRate]
 * @property {number} [bits]
 * @property {number} [blockAlign]
 * @property {number} [riffSize] what the RIFF header claims (default: the truth)
 * @property {number} [dataSize] what the data chunk claims (default: the truth)
 * @property {Uint8Array} [data]
 * @property {number} [truncateTo] cut the file to this many bytes
 */

/** @param {WavSpec} spec */
export function wav(spec = {}) {
  const channels = spec.channels ?? 1;
  const bits = spec.bits ?? 16;
  const sampleRate = spec.sampleRate ?? 8000;
  const blockAlign = spec.blockAlign ?? channels * Math.ceil(bits / 8);
  const data = Buffer.from(spec.data ?? new Uint8Array(0));
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(spec.riffSize ?? 36 + data.length, 4);
  header.write('WAVEfmt ', 8, 'latin1');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(spec.formatCode ?? 1, 20);
  header.writeUInt16LE(channels, 22);
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * blockAlign, 28);
  header.writeUInt16LE(blockAlign, 32);
  header.writeUInt16LE(bits, 34);
  header.write('data', 36, 'latin1');
  header.writeUInt32LE(spec.dataSize ?? data.length, 40);
  const bytes = Buffer.concat([header, data]);
  return spec.truncateTo === undefined ? bytes : bytes.subarray(0, spec.truncateTo);
}

/**
 * 16-bit PCM samples of a sine at `hz`, `seconds` long, at `rate` Hz and half scale.
 * @param {number} hz
 * @param {number} seconds
 */
export function tone(hz, seconds, rate = 8000) {
  const n = Math.round(seconds * rate);
  const data = Buffer.alloc(2 * n);
  for (let i = 0; i < n; i++) data.writeInt16LE(Math.round(16383 * Math.sin((2 * Math.PI * hz * i) / rate)), 2 * i);
  return data;
}

/**
 * The 8-byte little-endian header length (the true one unless `claimed`), the header (an object,
 * or text or bytes taken as they are), then `data` zero bytes (or the bytes given): a safetensors file.
 * @param {unknown} header
 * @param {number | Uint8Array} [data]
 * @param {bigint} [claimed]
 */
export function safetensors(header, data = 0, claimed) {
  const json = Buffer.isBuffer(header) ? header : Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(claimed ?? BigInt(json.length));
  return Buffer.concat([length, json, typeof data === 'number' ? Buffer.alloc(data) : Buffer.from(data)]);
}

/**
 * Reviews of filler words and one word that decides the class: `text<TAB>label` lines under a header.
 * @param {number} count
 * @param {number} seed
 */
function reviews(count, seed) {
  const random = mulberry32(seed);
  const pick = (/** @type {readonly string[]} */ items) => items[Math.floor(random() * items.length)];
  const filler = ['the', 'film', 'was', 'a', 'story', 'about', 'actors', 'and', 'plot', 'it'];
  const cue = { pos: ['great', 'wonderful', 'superb', 'loved'], neg: ['awful', 'boring', 'terrible', 'hated'] };
  const lines = ['text\tlabel'];
  for (let i = 0; i < count; i++) {
    const label = random() < 0.5 ? 'pos' : 'neg';
    const words = Array.from({ length: 3 + Math.floor(random() * 4) }, () => pick(filler));
    words.splice(Math.floor(random() * words.length), 0, pick(cue[label]));
    lines.push(`${words.join(' ')}\t${label}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * `word<TAB>its letters reversed, spaced` over the letters a-f.
 * @param {number} count
 * @param {number} seed
 */
function reversals(count, seed) {
  const random = mulberry32(seed);
  return Array.from({ length: count }, () => {
    const word = Array.from({ length: 2 + Math.floor(random() * 3) }, () => 'abcdef'[Math.floor(random() * 6)]).join('');
    return `${word}\t${[...word].reverse().join(' ')}\n`;
  }).join('');
}

/**
 * The training set of the tiny speech model the corpus labels with: tones, one per utterance,
 * with transcripts over a few letters. Not committed: the test writes it into its temp folder.
 * @returns {Map<string, Buffer>}
 */
export function speechTrainingSet() {
  const texts = ['one', 'two', 'six', 'ten', 'one two', 'two six', 'six ten', 'ten one'];
  const files = new Map();
  texts.forEach((_, i) => files.set(`t${i}.wav`, wav({ data: tone(200 + 100 * i, 0.5) })));
  files.set('transcript.tsv', utf8(texts.map((text, i) => `t${i}.wav\t${text}\n`).join('')));
  return files;
}

/** Every file of cases/, by path relative to it. */
export function caseFiles() {
  /** @type {Map<string, Buffer>} */
  const files = new Map();
  const add = (/** @type {string} */ path, /** @type {Buffer | string} */ bytes) => files.set(path, typeof bytes === 'string' ? utf8(bytes) : bytes);

  // sentiment: the tiny model's training data, then data files that are wrong in one way each.
  add('sentiment/reviews.tsv', reviews(40, 4));
  add('sentiment/empty.tsv', '');
  const random = mulberry32(9);
  add('sentiment/random.csv', Buffer.from(Array.from({ length: 2048 }, () => Math.floor(random() * 256))));
  add('sentiment/utf16.csv', utf16('text,label\ngreat film,pos\nawful film,neg\n'));
  add('sentiment/latin1.tsv', latin1('text\tlabel\ngood\tpos\nna\xefve\tneg\n'));
  add('sentiment/header-only.csv', 'text,label\n');
  add('sentiment/unclosed-quote.csv', 'text,label\ngood,pos\n"bad film,neg\nfine,pos\nawful,neg\n');
  add('sentiment/no-label.tsv', 'great film\tpos\nawful\n');
  add('sentiment/three-columns.csv', 'text,label\ngreat film,pos\nslow, but fine,pos\nawful,neg\n');
  add('sentiment/bom-crlf-empty-label.csv', Buffer.concat([BOM, utf8(crlf('text,label\ngreat film,pos\n\nawful film,\nboring,neg\n'))]));
  add('sentiment/one-label.tsv', 'great film\tpos\nloved it\tpos\nsuperb\tpos\n');
  add('sentiment/kaggle.csv', 'review,sentiment\ngreat film,positive\nloved it,positive\nawful,negative\nboring,negative\n');
  add('sentiment/no-tokens.tsv', 'text\tlabel\ngreat film\tpos\nawful\tneg\n<br />\tneg\nsuperb\tpos\n');
  add('sentiment/lone-label.tsv', 'text\tlabel\ngreat film\tpos\nawful\tneg\nsuperb\tpos\nboring\tneg\nso-so\tmeh\n');
  add('sentiment/flat/a.txt', 'a fine film\n');
  add('sentiment/latin1-folder/pos/a.txt', 'a fine film\n');
  add('sentiment/latin1-folder/neg/b.txt', latin1('a na\xefve,\nclumsy film\n'));
  add('sentiment/neutral-bom-crlf.tsv', Buffer.concat([BOM, utf8(crlf('text\tlabel\ngreat\tpos\nmeh\tneutral\nawful\tneg\n'))]));
  add('sentiment/eval-empty-text.csv', 'great,pos\n"",neg\n');
  add('sentiment/image.png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]));
  add('sentiment/utf16.txt', utf16('a fine film\n'));
  add('sentiment/blank-lines.txt', '\n   \n\t\n');

  // translate: the tiny model's pairs, then pair files that are wrong in one way each.
  add('translate/pairs.tsv', reversals(30, 3));
  add('translate/empty.tsv', '');
  add('translate/one-column.tsv', 'hello\nworld\n');
  add('translate/empty-target.tsv', 'a\tb\nc\t \n');
  add('translate/no-source-words.tsv', 'hello\tbonjour\n!!!\t!!!\n');
  add('translate/binary.tsv', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 1, 2]));
  add('translate/latin1.tsv', latin1('chat\tcat\nd\xe9j\xe0\talready\n'));
  add('translate/utf16.tsv', utf16('chat\tcat\n'));
  add('translate/bom-crlf-no-tab.tsv', Buffer.concat([BOM, utf8(crlf('ab\tb a\ncd\td c\nef f e\n'))]));
  add('translate/one-pair.tsv', 'ab\tb a\n');
  add('translate/blank.txt', '\n\n');
  add('translate/latin1.txt', latin1('abc\nd\xe9f\n'));

  // speech: one good recording, then WAV files that are wrong in one way each.
  const good = tone(440, 0.3);
  add('speech/good.wav', wav({ data: good }));
  add('speech/empty.wav', '');
  add('speech/notes.wav', 'these are my notes, not audio\n');
  add('speech/song.wav', Buffer.from([0x49, 0x44, 0x33, 0x04, 0, 0, 0, 0, 0, 0x21, 0xff, 0xfb, 0x90, 0x64, 0, 0]));
  add('speech/truncated.wav', wav({ data: good, truncateTo: 44 + 1000 }));
  add('speech/no-audio.wav', wav({ data: new Uint8Array(0) }));
  add('speech/alaw.wav', wav({ formatCode: 6, bits: 8, data: new Uint8Array(800).fill(0xd5) }));
  const short = good.subarray(0, 800);
  add('speech/rate-0.wav', wav({ sampleRate: 0, data: short }));
  add('speech/riff-too-small.wav', wav({ data: short, riffSize: 20 }));
  add('speech/block-align.wav', wav({ data: short, blockAlign: 3 }));
  add('speech/odd-frames.wav', wav({ data: good.subarray(0, 201) }));
  add('speech/silent.wav', wav({ data: new Uint8Array(1600) }));
  const nan = Buffer.alloc(4 * 800);
  for (let i = 0; i < 800; i++) nan.writeFloatLE(i % 100 === 0 ? Number.NaN : 0.25 * Math.sin(i / 3), 4 * i);
  add('speech/nan-float.wav', wav({ formatCode: 3, bits: 32, data: nan }));
  // Transcripts for training and evaluation (their WAVs are the files above).
  add('speech/transcripts/empty.tsv', '');
  add('speech/transcripts/utf16.tsv', utf16('../good.wav\tone\n'));
  add('speech/transcripts/latin1.tsv', latin1('../good.wav\tone\n../silent.wav\tna\xefve\n'));
  add('speech/transcripts/missing-wav-bom-crlf.tsv', Buffer.concat([BOM, utf8(crlf('../good.wav\tone\nnowhere.wav\ttwo\n'))]));
  add('speech/transcripts/no-tab.tsv', '../good.wav\tone\n../silent.wav two\n');
  add('speech/transcripts/unclosed-quote.csv', 'path,sentence\n../good.wav,one\n../silent.wav,"two\n');
  add('speech/transcripts/no-sentence.csv', 'path,text\n../good.wav,one\n');
  add('speech/transcripts/listed-twice.tsv', '../good.wav\tone\n../good.wav\ttwo\n');
  add('speech/transcripts/outside-labels.tsv', '../good.wav\tquick brown fox!\n');
  add('speech/bad-folder/transcript.tsv', 'notes.wav\tone\nempty.wav\ttwo\nstill-notes.wav\tthree\n');
  add('speech/bad-folder/notes.wav', 'these are my notes, not audio\n');
  add('speech/bad-folder/empty.wav', '');
  add('speech/bad-folder/still-notes.wav', 'more notes\n');

  // core: safetensors files read through @recurrent/core's API, no command line.
  const f32 = (/** @type {[number, number]} */ offsets, shape = [2]) => ({ dtype: 'F32', shape, data_offsets: offsets });
  add('core/short.safetensors', Buffer.from([1, 2, 3]));
  add('core/header-beyond-file.safetensors', safetensors({ a: f32([0, 8]) }, 8, 1_000_000n));
  add('core/header-2-64.safetensors', safetensors({}, 0, 2n ** 64n - 1n));
  add('core/header-not-json.safetensors', safetensors('{"a": '));
  add('core/header-latin1.safetensors', safetensors(latin1('{"caf\xe9": 1}')));
  add('core/huge-shape.safetensors', safetensors({ 'embedding.weight': f32([0, 1024], [2 ** 20, 2 ** 20]) }, 1024));
  add('core/overlapping.safetensors', safetensors({ a: f32([0, 8]), b: f32([4, 12]) }, 12));
  add('core/out-of-range.safetensors', safetensors({ a: f32([0, 8]), b: f32([8, 1_000_000_016], [250_000_002]) }, 16));
  add('core/negative-dimension.safetensors', safetensors({ a: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, 8));
  add('core/unknown-dtype.safetensors', safetensors({ a: { dtype: 'F128', shape: [1], data_offsets: [0, 16] } }, 16));
  const values = Buffer.alloc(24);
  [1, Number.NaN, 2, Number.POSITIVE_INFINITY, Number.NaN, -3].forEach((v, i) => values.writeFloatLE(v, 4 * i));
  add('core/nan-weights.safetensors', safetensors({ 'encoder.weight_ih_l0': f32([0, 24], [6]) }, values));
  return files;
}

/** Every file under `dir`, by path relative to it. @param {string} dir */
export function filesUnder(dir) {
  /** @type {string[]} */
  const out = [];
  const walk = (/** @type {string} */ at) => {
    for (const name of readdirSync(at).sort()) {
      const path = join(at, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.push(relative(dir, path));
    }
  };
  walk(dir);
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  rmSync(CASES_DIR, { recursive: true, force: true });
  const files = caseFiles();
  for (const [path, bytes] of files) {
    mkdirSync(dirname(join(CASES_DIR, path)), { recursive: true });
    writeFileSync(join(CASES_DIR, path), bytes);
  }
  process.stdout.write(`${files.size} files in ${relative(process.cwd(), CASES_DIR) || '.'}\n`);
}
