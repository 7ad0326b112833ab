import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '@recurrent/train';
import { readTranscript } from '../src/transcript.js';

const dir = mkdtempSync(join(tmpdir(), 'speech-transcript-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;
const write = (content: string | Uint8Array, name = `t${counter++}.txt`) => {
  const file = join(dir, name);
  writeFileSync(file, content);
  return file;
};
const fails = (content: string | Uint8Array, message: string | RegExp) => {
  const file = write(content);
  let error: unknown;
  try {
    readTranscript(file);
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(InputError);
  const text = (error as Error).message.replace(file, 'FILE');
  if (typeof message === 'string') expect(text).toBe(message);
  else expect(text).toMatch(message);
  expect(text).not.toContain('\n');
};

describe('readTranscript', () => {
  it('reads file<TAB>text lines, with BOM, CRLF, blank lines and extra columns', () => {
    const file = write('\ufeffa.wav\tthree one four\r\n\r\nsub/b.wav\t  Hello,   World  \textra column\r\n/abs/c.wav\tdon\'t "stop"\n');
    expect(readTranscript(file)).toEqual([
      { file: join(dir, 'a.wav'), text: 'three one four', line: 1 },
      { file: join(dir, 'sub', 'b.wav'), text: 'Hello, World', line: 3 },
      { file: '/abs/c.wav', text: 'don\'t "stop"', line: 4 },
    ]);
    expect(readTranscript(file, { audioDir: '/data/clips' })[0]!.file).toBe('/data/clips/a.wav');
    expect(readTranscript(write('a.wav\tpath\n'))).toEqual([{ file: join(dir, 'a.wav'), text: 'path', line: 1 }]);
  });

  it('reads a Common Voice style CSV: header with path and sentence, quotes, BOM, CRLF', () => {
    const csv = [
      '\ufeffclient_id,path,sentence,up_votes',
      'x1,one.wav,"Hello, world",2',
      'x2, two.wav ,"She said ""hi"" and left",0',
      'x3,three.wav,"a line',
      'break",1',
      '',
      'x4,four.wav,plain text with a "quote" inside,0',
    ].join('\r\n');
    const file = write(csv, 'validated.csv');
    expect(readTranscript(file)).toEqual([
      { file: join(dir, 'one.wav'), text: 'Hello, world', line: 2 },
      { file: join(dir, 'two.wav'), text: 'She said "hi" and left', line: 3 },
      { file: join(dir, 'three.wav'), text: 'a line break', line: 4 },
      { file: join(dir, 'four.wav'), text: 'plain text with a "quote" inside', line: 7 },
    ]);
  });

  it('reads a Common Voice TSV (tab-separated header, quotes literal)', () => {
    const file = write('client_id\tpath\tsentence\tup_votes\nabc\tcommon_voice_en_1.mp3\t"Quoted," he said.\t2\n', 'train.tsv');
    expect(readTranscript(file, { audioDir: join(dir, 'clips') })).toEqual([
      { file: join(dir, 'clips', 'common_voice_en_1.mp3'), text: '"Quoted," he said.', line: 2 },
    ]);
  });

  it('refuses bad files with one line naming file:line and the fix', () => {
    fails('a.wav\tone\nb.wav two\n', 'FILE:2: no tab between the audio file and its text; separate them with one tab');
    fails('a.wav one\n', /^FILE:1: no tab in the line; write one "file<TAB>text" line per recording, or a CSV\/TSV/);
    fails('a.wav\tone\nb.wav\t  \n', 'FILE:2: the text of b.wav is empty; transcribe it or remove the line');
    fails('\tone\n', 'FILE:1: the audio file name is empty; write the file name before the text');
    fails('a.wav\tone\nb.wav\ttwo\n./a.wav\tthree\n', 'FILE:3: ./a.wav is listed again (first on line 1); keep one line per audio file');
    fails('path,sentence\na.wav,"never closed\nb.wav,two\n', 'FILE:2: a quoted field is never closed; add the closing " (write a quote inside a field as "")');
    fails('path,sentence\na.wav,"closed" early,x\n', 'FILE:2: text after a closing quote; quote the whole field and write a quote inside it as ""');
    fails('path,text\na.wav,one\n', 'FILE:1: the header has no "sentence" column; name the audio column "path" and the text column "sentence"');
    fails('client,path,sentence\nx,a.wav\n', "FILE:2: only 2 column(s) but the header has 3; give every row the header's columns");
    fails('path,sentence\n', 'FILE: the file has a header but no rows; add one row per recording');
    fails('', /^FILE: the file is empty;/);
    fails('\n  \n', /^FILE: the file has only blank lines;/);
    fails(Buffer.from('\ufeffa.wav\tone\n', 'utf16le'), 'FILE: the file is UTF-16 text; save it as UTF-8');
    fails(Buffer.concat([Buffer.from('a.wav\tone\nb.wav\tt'), Buffer.from([0xe9]), Buffer.from('te\n')]), 'FILE:2: not valid UTF-8 text; save the file as UTF-8');
    fails(Buffer.from([0x52, 0x49, 0x46, 0x46, 0, 0, 0, 0]), /^FILE:1: the file holds NUL bytes, so it is binary/);
    expect(() => readTranscript(join(dir, 'missing.tsv'))).toThrow(`${join(dir, 'missing.tsv')}: no such file; check the path`);
    mkdirSync(join(dir, 'folder'));
    expect(() => readTranscript(join(dir, 'folder'))).toThrow('is a folder, not a transcript file');
  });
});
