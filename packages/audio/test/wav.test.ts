import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import wavefile from 'wavefile';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeWav, readWav, resample, rmsDbfs, writeWav } from '../src/index.js';
import { extensible, peakFrequency, rawWav, sine, tempDir } from './helpers.js';

const { dir, cleanup } = tempDir();
afterAll(cleanup);

/** Integer PCM codes of `x` in [-1, 1] at `bits`, as a WAV stores them (8-bit is unsigned). */
function quantise(x: Float64Array, bits: number): number[] {
  const scale = 2 ** (bits - 1);
  return Array.from(x, (v) => Math.max(-scale, Math.min(scale - 1, Math.round(v * scale))) + (bits === 8 ? 128 : 0));
}

/** Writes `channels` with wavefile as bit depth `code` ('8', '16', '24', '32', '32f', '64'). */
function writeWith(file: string, channels: Float64Array[], sampleRate: number, code: string, container = 'RIFF'): void {
  const integer = !code.endsWith('f') && code !== '64';
  const data = channels.map((c) => (integer ? quantise(c, Number(code)) : Array.from(c)));
  const wav = new wavefile.WaveFile();
  wav.fromScratch(channels.length, sampleRate, code, data.length === 1 ? data[0]! : data, { container });
  writeFileSync(file, wav.toBuffer());
}

function maxError(actual: Float32Array, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  return worst;
}

describe('readWav: encodings', () => {
  const n = 1600;
  const left = sine(n, 440, 16000, 0.5);
  const right = sine(n, 440, 16000, 0.3, 1);
  const mean = left.map((v, i) => (v + right[i]!) / 2);
  const float32Slack = 6e-8; // the Float32Array output rounds values near 0.5

  for (const bits of [8, 16, 24, 32]) {
    const halfStep = 2 ** -bits; // half of one quantisation step, 2 / 2^bits
    it(`reads ${bits}-bit PCM, mono and stereo, within half a quantisation step`, () => {
      const mono = join(dir, `pcm${bits}-mono.wav`);
      writeWith(mono, [left], 16000, String(bits));
      const a = readWav(mono);
      expect(a.sampleRate).toBe(16000);
      expect(a.durationSeconds).toBeCloseTo(0.1, 12);
      expect(a.sourceFormat).toEqual({ channels: 1, bitDepth: String(bits), sampleRate: 16000 });
      expect(maxError(a.samples, left)).toBeLessThanOrEqual(halfStep + float32Slack);

      const stereo = join(dir, `pcm${bits}-stereo.wav`);
      writeWith(stereo, [left, right], 16000, String(bits));
      const b = readWav(stereo);
      expect(b.sourceFormat).toEqual({ channels: 2, bitDepth: String(bits), sampleRate: 16000 });
      expect(maxError(b.samples, mean)).toBeLessThanOrEqual(halfStep + float32Slack);
    });
  }

  it('reads 32-bit float exactly (to Float32) and 64-bit float to Float32 rounding, mono and stereo', () => {
    for (const [code, bitDepth] of [['32f', '32f'], ['64', '64f']] as const) {
      const mono = join(dir, `float${code}-mono.wav`);
      writeWith(mono, [left], 16000, code);
      const a = readWav(mono);
      expect(a.sourceFormat).toEqual({ channels: 1, bitDepth, sampleRate: 16000 });
      expect(maxError(a.samples, Float32Array.from(left))).toBe(0);
      const stereo = join(dir, `float${code}-stereo.wav`);
      writeWith(stereo, [left, right], 16000, code);
      expect(maxError(readWav(stereo).samples, mean)).toBeLessThanOrEqual(float32Slack);
    }
  });

  it('clips float samples beyond full scale to [-1, 1]', () => {
    const file = join(dir, 'hot.wav');
    writeWith(file, [Float64Array.from([1.5, -2, 0.25])], 16000, '32f');
    expect(Array.from(readWav(file).samples)).toEqual([1, -1, 0.25]);
  });

  it('reads WAVE_FORMAT_EXTENSIBLE 24-bit PCM and 32-bit float', () => {
    const codes = quantise(left, 24);
    const pcm = new Uint8Array(n * 3);
    codes.forEach((v, i) => pcm.set([v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff], i * 3));
    const a = decodeWav(rawWav({ formatCode: 0xfffe, bits: 24, fmtExtra: extensible(1, 24), data: pcm }), 'ext24.wav');
    expect(a.sourceFormat.bitDepth).toBe('24');
    expect(maxError(a.samples, left)).toBeLessThanOrEqual(2 ** -24 + float32Slack);

    const floats = Float32Array.from(left);
    const b = decodeWav(rawWav({ formatCode: 0xfffe, bits: 32, fmtExtra: extensible(3, 32), data: new Uint8Array(floats.buffer) }), 'extf.wav');
    expect(b.sourceFormat.bitDepth).toBe('32f');
    expect(maxError(b.samples, floats)).toBe(0);
  });

  it('reads big-endian RIFX files', () => {
    const file = join(dir, 'rifx.wav');
    writeWith(file, [left], 16000, '16', 'RIFX');
    expect(maxError(readWav(file).samples, left)).toBeLessThanOrEqual(2 ** -16 + float32Slack);
  });

  it('reads a streamed file whose data size was never filled in (0xFFFFFFFF) to the end', () => {
    const data = new Uint8Array(new Int16Array([0, 16384, -16384, 32767]).buffer);
    const a = decodeWav(rawWav({ data, dataSize: 0xffffffff, riffSize: 0xffffffff }), 'stream.wav');
    expect(Array.from(a.samples)).toEqual([0, 0.5, -0.5, 32767 / 32768]);
  });

  it('skips chunks before the data and ignores an odd-sized chunk pad byte', () => {
    const list = new Uint8Array([...'LIST'].map((c) => c.charCodeAt(0)).concat([3, 0, 0, 0, 1, 2, 3, 0]));
    const data = new Uint8Array(new Int16Array([8192, -8192]).buffer);
    expect(Array.from(decodeWav(rawWav({ between: list, data }), 'list.wav').samples)).toEqual([0.25, -0.25]);
  });
});

describe('readWav: resampling', () => {
  it('resamples 44.1 kHz to 16 kHz keeping the frequency, level and phase of a 440 Hz sine', () => {
    const file = join(dir, 'sine44k.wav');
    writeWith(file, [sine(44100, 440, 44100)], 44100, '16');
    const audio = readWav(file, { sampleRate: 16000 });
    expect(audio.sampleRate).toBe(16000);
    expect(audio.sourceFormat.sampleRate).toBe(44100);
    expect(audio.samples.length).toBe(16000);
    expect(audio.durationSeconds).toBe(1);
    expect(peakFrequency(audio.samples, 16000, 430, 450, 1)).toBe(440);
    let crossings = 0;
    for (let i = 1; i < audio.samples.length; i++) if (audio.samples[i - 1]! < 0 !== audio.samples[i]! < 0) crossings++;
    expect(Math.abs(crossings - 880)).toBeLessThanOrEqual(1);
    // Away from the ends (where the filter sees zeros), it is the ideal 16 kHz sine.
    const ideal = sine(16000, 440, 16000);
    expect(maxError(audio.samples.subarray(100, 15900), ideal.subarray(100, 15900))).toBeLessThan(1e-3);
  });

  it('filters out what would alias: a 12 kHz tone is gone at 16 kHz', () => {
    const out = resample(Float32Array.from(sine(44100, 12000, 44100)), 44100, 16000);
    expect(rmsDbfs(out.subarray(100, out.length - 100))).toBeLessThan(-80);
  });

  it('upsamples 8 kHz to 16 kHz and handles rate pairs too odd to tabulate (96001 -> 15999 Hz)', () => {
    const up = resample(Float32Array.from(sine(8000, 440, 8000)), 8000, 16000);
    expect(up.length).toBe(16000);
    expect(maxError(up.subarray(100, 15900), sine(16000, 440, 16000).subarray(100, 15900))).toBeLessThan(1e-3);
    const odd = resample(Float32Array.from(sine(24000, 1000, 96001)), 96001, 15999);
    expect(odd.length).toBe(Math.round((24000 * 15999) / 96001));
    expect(maxError(odd.subarray(100, odd.length - 100), sine(odd.length, 1000, 15999).subarray(100, odd.length - 100))).toBeLessThan(1e-3);
  });

  it('keeps a constant exactly constant and returns a copy at the same rate', () => {
    const dc = resample(new Float32Array(4410).fill(0.25), 44100, 16000);
    for (const v of dc.subarray(100, dc.length - 100)) expect(v).toBeCloseTo(0.25, 6);
    const x = Float32Array.from([0.1, 0.2]);
    const same = resample(x, 16000, 16000);
    expect(same).toEqual(x);
    expect(same).not.toBe(x);
    expect(() => resample(x, 0, 16000)).toThrow(RangeError);
  });
});

describe('writeWav', () => {
  const x = Float32Array.from(sine(1600, 440, 16000, 0.9));

  it('round-trips 16-bit within half a step and 32-bit float exactly, atomically', () => {
    const file = join(dir, 'out.wav');
    writeWav(file, x, 16000);
    const a = readWav(file);
    expect(a.sourceFormat).toEqual({ channels: 1, bitDepth: '16', sampleRate: 16000 });
    expect(maxError(a.samples, x)).toBeLessThanOrEqual(2 ** -16 + 6e-8);
    writeWav(file, x, 22050, { bitDepth: '32f' }); // over the old one
    const b = readWav(file);
    expect(b.sourceFormat).toEqual({ channels: 1, bitDepth: '32f', sampleRate: 22050 });
    expect(maxError(b.samples, x)).toBe(0);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('clips to the 16-bit range', () => {
    const file = join(dir, 'clip.wav');
    writeWav(file, Float32Array.from([2, -2, 1]), 8000);
    expect(Array.from(readWav(file).samples)).toEqual([32767 / 32768, -1, 32767 / 32768]);
  });

  it('refuses a missing directory with an AudioError and bad arguments with RangeErrors', () => {
    const file = join(dir, 'no-such-dir', 'out.wav');
    expect(() => writeWav(file, x, 16000)).toThrow(`${file}: its directory does not exist; create it first`);
    expect(existsSync(file)).toBe(false);
    expect(() => writeWav(join(dir, 'a.wav'), x, 0)).toThrow(RangeError);
    expect(() => writeWav(join(dir, 'a.wav'), new Float32Array(0), 16000)).toThrow(RangeError);
    expect(() => writeWav(join(dir, 'a.wav'), Float32Array.from([0, NaN]), 16000)).toThrow(RangeError);
  });
});
