import { closeSync, ftruncateSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AudioError, decodeWav, readWav } from '../src/index.js';
import { extensible, rawWav, tempDir } from './helpers.js';

const { dir, cleanup } = tempDir();
afterAll(cleanup);

/** Writes `bytes` as `name` in the temp dir and returns the error readWav throws for it. */
function failure(name: string, bytes: Uint8Array | string): AudioError {
  const file = join(dir, name);
  writeFileSync(file, bytes);
  return caught(() => readWav(file));
}

function caught(read: () => unknown): AudioError {
  try {
    read();
  } catch (error) {
    expect(error).toBeInstanceOf(AudioError);
    const e = error as AudioError;
    expect(e.name).toBe('AudioError');
    expect(e.message).not.toContain('\n');
    return e;
  }
  throw new Error('expected an AudioError');
}

const path = (name: string): string => join(dir, name);
const ffmpeg = (name: string): string => `convert it with \`ffmpeg -i ${name} -c:a pcm_s16le out.wav\``;

describe('readWav refuses broken input with one-line AudioErrors', () => {
  it('a missing file, a directory, an empty file', () => {
    expect(caught(() => readWav(path('nope.wav'))).message).toBe(`${path('nope.wav')}: no such file; check the path`);
    mkdirSync(path('folder.wav'));
    expect(caught(() => readWav(path('folder.wav'))).message).toBe(`${path('folder.wav')}: is a directory, not a WAV file; pass the path of a .wav file`);
    expect(failure('empty.wav', new Uint8Array(0)).message).toBe(`${path('empty.wav')}: file is empty (0 bytes); record or export the audio again`);
  });

  it('files that are not WAV: MP3, text, other RIFF types, RF64', () => {
    const mp3 = new Uint8Array([0x49, 0x44, 0x33, 0x04, 0, 0, 0, 0, 0, 0x21, 0xff, 0xfb, 0x90, 0x64]);
    expect(failure('song.mp3', mp3).message).toBe(`${path('song.mp3')}: not a WAV file (it looks like MP3 audio); ${ffmpeg('song.mp3')}`);
    expect(failure('notes.wav', 'hello, this is not audio\n').message).toBe(
      `${path('notes.wav')}: not a WAV file (it looks like text); ${ffmpeg('notes.wav')}`,
    );
    expect(failure('movie.wav', rawWav({ form: 'AVI ' })).message).toBe(
      `${path('movie.wav')}: not a WAV file (a RIFF file of type "AVI "); ${ffmpeg('movie.wav')}`,
    );
    expect(failure('big.wav', rawWav({ container: 'RF64' })).message).toContain('RF64 (64-bit WAV) files are not supported');
    expect(failure('my song.wav', 'text').message).toContain("ffmpeg -i 'my song.wav' -c:a pcm_s16le out.wav");
  });

  it('a truncated file says how many bytes are missing', () => {
    const whole = rawWav({ data: new Uint8Array(200) }); // 44 + 200 bytes
    expect(failure('cut.wav', whole.slice(0, 194)).message).toBe(
      `${path('cut.wav')}: truncated WAV file: the data chunk claims 200 bytes but only 150 are present (50 bytes missing); copy or export the file again`,
    );
    expect(failure('cut-riff.wav', rawWav({ riffSize: 236 + 100 })).message).toBe(
      `${path('cut-riff.wav')}: truncated WAV file: the RIFF header claims 344 bytes but the file has 244 (100 bytes missing); copy or export the file again`,
    );
    expect(failure('stub.wav', 'RIFF').message).toContain('truncated WAV file: only 4 bytes');
  });

  it('zero-length audio', () => {
    expect(failure('silent.wav', rawWav({ data: new Uint8Array(0) })).message).toBe(
      `${path('silent.wav')}: WAV file has no audio (its data chunk is empty); record or export it again`,
    );
  });

  it('unsupported encodings name the format code and suggest ffmpeg', () => {
    expect(failure('mulaw.wav', rawWav({ formatCode: 7, bits: 8 })).message).toBe(
      `${path('mulaw.wav')}: unsupported WAV encoding µ-law (format code 0x0007); ${ffmpeg('mulaw.wav')}`,
    );
    expect(failure('alaw.wav', rawWav({ formatCode: 6, bits: 8 })).message).toBe(
      `${path('alaw.wav')}: unsupported WAV encoding A-law (format code 0x0006); ${ffmpeg('alaw.wav')}`,
    );
    expect(failure('ima.wav', rawWav({ formatCode: 0x11, bits: 4, blockAlign: 256 })).message).toContain(
      'unsupported WAV encoding IMA ADPCM (format code 0x0011)',
    );
    expect(failure('ms.wav', rawWav({ formatCode: 2, bits: 4, blockAlign: 256 })).message).toContain(
      'unsupported WAV encoding Microsoft ADPCM (format code 0x0002)',
    );
    expect(failure('odd.wav', rawWav({ formatCode: 0x1234 })).message).toContain('unsupported WAV encoding (format code 0x1234)');
    expect(failure('pcm12.wav', rawWav({ bits: 12, blockAlign: 2 })).message).toContain('unsupported WAV encoding 12-bit PCM (format code 0x0001)');
    expect(failure('f16.wav', rawWav({ formatCode: 3, bits: 16 })).message).toContain('unsupported WAV encoding 16-bit float (format code 0x0003)');
    expect(failure('extmulaw.wav', rawWav({ formatCode: 0xfffe, bits: 8, fmtExtra: extensible(7, 8) })).message).toContain(
      'unsupported WAV encoding µ-law (format code 0x0007)',
    );
  });

  it('a sample rate of 0 and 0 channels', () => {
    expect(failure('rate0.wav', rawWav({ sampleRate: 0 })).message).toBe(
      `${path('rate0.wav')}: corrupt WAV header: it says the sample rate is 0 Hz; re-export the file or ${ffmpeg('rate0.wav')}`,
    );
    expect(failure('mono0.wav', rawWav({ channels: 0 })).message).toBe(
      `${path('mono0.wav')}: corrupt WAV header: it says the audio has 0 channels; re-export the file or ${ffmpeg('mono0.wav')}`,
    );
  });

  it('headers whose sizes lie', () => {
    expect(failure('align.wav', rawWav({ blockAlign: 3 })).message).toContain(
      'corrupt WAV header: its block align is 3 bytes but 1 channel(s) of 16-bit samples take 2',
    );
    expect(failure('riff-small.wav', rawWav({ riffSize: 20 })).message).toContain(
      'corrupt WAV header: the data chunk ends at byte 244, past the 28 bytes the RIFF header claims',
    );
    const list = new Uint8Array([...'LIST'].map((c) => c.charCodeAt(0)).concat([0xe8, 0x03, 0, 0, 1, 2, 3, 4]));
    expect(failure('list.wav', rawWav({ between: list })).message).toMatch(/corrupt WAV header: the "LIST" chunk at byte 36 claims 1000 bytes but only \d+ remain/);
    expect(failure('frames.wav', rawWav({ data: new Uint8Array(201) })).message).toContain(
      "the data chunk's 201 bytes are not a whole number of 2-byte frames",
    );
    expect(failure('fmt8.wav', rawWav().slice(0, 12)).message).toContain('it has no "fmt " chunk');
    const noData = rawWav().slice(0, 36);
    new DataView(noData.buffer).setUint32(4, 28, true);
    expect(failure('nodata.wav', noData).message).toContain('WAV file has no "data" chunk (no audio)');
  });

  it('NaN or infinite float samples', () => {
    const data = new Uint8Array(new Float32Array([0, NaN, Infinity, 0.5]).buffer);
    expect(failure('nan.wav', rawWav({ formatCode: 3, bits: 32, data })).message).toContain('WAV file has 2 sample(s) that are NaN or infinite');
  });

  it('a file over the size limit, checked before reading it', () => {
    expect(caught(() => readWav(path('cut-riff.wav'), { maxBytes: 100 })).message).toBe(
      `${path('cut-riff.wav')}: file is 244 bytes, over the 100 bytes limit; split it into shorter files with \`ffmpeg -i cut-riff.wav -f segment -segment_time 600 -c copy part%03d.wav\``,
    );
    // A sparse 1 GiB + 1 file: the default limit refuses it from its size alone.
    const huge = path('huge.wav');
    const fd = openSync(huge, 'w');
    ftruncateSync(fd, 1024 ** 3 + 1);
    closeSync(fd);
    expect(caught(() => readWav(huge)).message).toBe(
      `${huge}: file is 1073741825 bytes, over the 1 GiB limit; split it into shorter files with \`ffmpeg -i huge.wav -f segment -segment_time 600 -c copy part%03d.wav\``,
    );
  });

  it('decodeWav names the bytes by the name it is given', () => {
    expect(caught(() => decodeWav(new TextEncoder().encode('<html>'), 'upload-3')).message).toBe(
      `upload-3: not a WAV file (it looks like text); ${ffmpeg('upload-3')}`,
    );
    expect(() => decodeWav(rawWav(), 'x.wav', { sampleRate: 0 })).toThrow(RangeError);
  });
});
