import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { writeFileAtomic } from '@recurrent/core/io';
import wavefile from 'wavefile';
import { AudioError } from './errors.js';
import { resample } from './resample.js';

/** The largest WAV file read by default: 1 GiB (about 9 hours of 16-bit mono at 16 kHz). */
export const MAX_WAV_BYTES = 1024 ** 3;

export interface ReadWavOptions {
  /** Resample to this rate (whole Hz); by default the file's own rate is kept. */
  sampleRate?: number;
  /** Refuse files larger than this many bytes (default `MAX_WAV_BYTES`, 1 GiB). */
  maxBytes?: number;
}

export interface SourceFormat {
  channels: number;
  /** '8', '16', '24' or '32' (integer PCM), '32f' or '64f' (IEEE float). */
  bitDepth: string;
  sampleRate: number;
}

export interface Audio {
  /** Mono (the mean of the channels), in [-1, 1]. */
  samples: Float32Array;
  sampleRate: number;
  /** Duration of `samples` at `sampleRate`. */
  durationSeconds: number;
  sourceFormat: SourceFormat;
}

export interface WriteWavOptions {
  /** '16' (default): 16-bit PCM, rounded and clipped to [-1, 1); '32f': 32-bit float, exact. */
  bitDepth?: '16' | '32f';
}

/** Where the samples are and how to read them, after the header has been checked. */
interface WavLayout {
  bigEndian: boolean;
  float: boolean;
  /** Bits per sample in the file (the container width; extensible files may use fewer). */
  bits: number;
  channels: number;
  sampleRate: number;
  blockAlign: number;
  dataStart: number;
  frames: number;
  bitDepth: string;
}

const FORMAT_NAMES: Readonly<Record<number, string>> = {
  0x0002: 'Microsoft ADPCM',
  0x0006: 'A-law',
  0x0007: 'µ-law',
  0x0011: 'IMA ADPCM',
  0x0031: 'GSM 6.10',
  0x0050: 'MPEG audio',
  0x0055: 'MP3',
  0x0161: 'WMA',
  0x2000: 'AC-3',
};

/** The GUID tail shared by the WAVE_FORMAT_EXTENSIBLE sub-formats that carry a plain format code. */
const KSDATAFORMAT_TAIL = [0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];

/** Streaming writers leave this in size fields they never come back to fill in. */
const UNSET_SIZE = 0xffffffff;

/** Bytes of sample data handed to wavefile at a time: bounds memory to the output plus this. */
const DECODE_BLOCK_BYTES = 1 << 18;

/** A file name as a shell word, for the ffmpeg command lines in error messages. */
function shellWord(name: string): string {
  const base = basename(name) || 'in.wav';
  return /^[\w.+@%-]+$/.test(base) ? base : `'${base.replaceAll("'", `'\\''`)}'`;
}

function convertHint(name: string): string {
  return `convert it with \`ffmpeg -i ${shellWord(name)} -c:a pcm_s16le out.wav\``;
}

function formatLimit(bytes: number): string {
  if (bytes >= 1024 ** 3 && bytes % 1024 ** 3 === 0) return `${bytes / 1024 ** 3} GiB`;
  if (bytes >= 1024 ** 2 && bytes % 1024 ** 2 === 0) return `${bytes / 1024 ** 2} MiB`;
  return `${bytes} bytes`;
}

function tooLarge(name: string, size: number, limit: number): AudioError {
  return new AudioError(
    `${name}: file is ${size} bytes, over the ${formatLimit(limit)} limit; ` +
      `split it into shorter files with \`ffmpeg -i ${shellWord(name)} -f segment -segment_time 600 -c copy part%03d.wav\``,
  );
}

/** A guess at what a non-WAV file is, so the message can say more than "not a WAV". */
function sniff(bytes: Uint8Array): string {
  const ascii = (from: number, length: number): string => String.fromCharCode(...bytes.subarray(from, from + length));
  if (ascii(0, 3) === 'ID3' || (bytes[0] === 0xff && ((bytes[1] ?? 0) & 0xe0) === 0xe0)) return 'it looks like MP3 audio';
  if (ascii(0, 4) === 'OggS') return 'it looks like Ogg audio';
  if (ascii(0, 4) === 'fLaC') return 'it looks like FLAC audio';
  if (ascii(4, 4) === 'ftyp') return 'it looks like MP4/M4A audio';
  if (ascii(0, 4) === 'FORM') return 'it looks like AIFF audio';
  const head = bytes.subarray(0, 512);
  if (head.every((b) => b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0x20 && b !== 0x7f))) return 'it looks like text';
  return 'no RIFF/WAVE header';
}

/** Checks the RIFF structure and the format of `bytes`; throws an AudioError for anything off. */
function parseWav(bytes: Uint8Array, name: string): WavLayout {
  const length = bytes.length;
  if (length === 0) throw new AudioError(`${name}: file is empty (0 bytes); record or export the audio again`);
  const ascii = (from: number): string => String.fromCharCode(...bytes.subarray(from, from + 4));
  const container = ascii(0);
  if (container === 'RF64') {
    throw new AudioError(`${name}: RF64 (64-bit WAV) files are not supported; ${convertHint(name)}`);
  }
  if ((container === 'RIFF' || container === 'RIFX') && length < 12) {
    throw new AudioError(`${name}: truncated WAV file: only ${length} bytes, too short for a WAV header; copy or export the file again`);
  }
  if (container !== 'RIFF' && container !== 'RIFX') {
    throw new AudioError(`${name}: not a WAV file (${sniff(bytes)}); ${convertHint(name)}`);
  }
  if (ascii(8) !== 'WAVE') {
    throw new AudioError(`${name}: not a WAV file (a RIFF file of type "${ascii(8)}"); ${convertHint(name)}`);
  }
  const bigEndian = container === 'RIFX';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (at: number): number => view.getUint16(at, !bigEndian);
  const u32 = (at: number): number => view.getUint32(at, !bigEndian);
  const corrupt = (problem: string): AudioError =>
    new AudioError(`${name}: corrupt WAV header: ${problem}; re-export the file or ${convertHint(name)}`);

  // Walk the chunks until both 'fmt ' and 'data' are found; chunks are padded to even sizes.
  let fmt: { at: number; size: number } | undefined;
  let data: { at: number; size: number } | undefined;
  for (let at = 12; at + 8 <= length && !(fmt && data); ) {
    const id = ascii(at);
    const size = u32(at + 4);
    if (id === 'data') {
      data = { at: at + 8, size };
      if (size === UNSET_SIZE || at + 8 + size > length) break; // to the end of the file, or truncated
    } else if (at + 8 + size > length) {
      throw corrupt(`the "${id}" chunk at byte ${at} claims ${size} bytes but only ${length - at - 8} remain`);
    } else if (id === 'fmt ') {
      fmt = { at: at + 8, size };
    }
    at += 8 + size + (size & 1);
  }
  if (!fmt) throw corrupt('it has no "fmt " chunk before its audio');
  if (!data) throw new AudioError(`${name}: WAV file has no "data" chunk (no audio); record or export it again`);
  if (fmt.size < 16) throw corrupt(`the "fmt " chunk is ${fmt.size} bytes, shorter than the 16 it needs`);

  let formatCode = u16(fmt.at);
  const channels = u16(fmt.at + 2);
  const sampleRate = u32(fmt.at + 4);
  const blockAlign = u16(fmt.at + 12);
  const bits = u16(fmt.at + 14);
  if (formatCode === 0xfffe) {
    // WAVE_FORMAT_EXTENSIBLE: the real format code opens the sub-format GUID.
    const guid = fmt.at + 24;
    if (fmt.size < 40) throw corrupt(`the extensible "fmt " chunk is ${fmt.size} bytes, shorter than the 40 it needs`);
    if (KSDATAFORMAT_TAIL.some((b, i) => bytes[guid + 4 + i] !== b) || u16(guid + 2) !== 0) {
      throw new AudioError(`${name}: unsupported WAV encoding (an extensible sub-format that is not PCM or float); ${convertHint(name)}`);
    }
    formatCode = u16(guid);
  }
  if (channels === 0) throw corrupt('it says the audio has 0 channels');
  if (sampleRate === 0) throw corrupt('it says the sample rate is 0 Hz');
  const float = formatCode === 3;
  const supported = (formatCode === 1 && [8, 16, 24, 32].includes(bits)) || (float && (bits === 32 || bits === 64));
  if (!supported) {
    const what = formatCode === 1 ? `${bits}-bit PCM` : formatCode === 3 ? `${bits}-bit float` : FORMAT_NAMES[formatCode];
    const code = `0x${formatCode.toString(16).padStart(4, '0')}`;
    throw new AudioError(`${name}: unsupported WAV encoding${what ? ` ${what}` : ''} (format code ${code}); ${convertHint(name)}`);
  }
  if (blockAlign !== channels * (bits / 8)) {
    throw corrupt(`its block align is ${blockAlign} bytes but ${channels} channel(s) of ${bits}-bit samples take ${channels * (bits / 8)}`);
  }

  // The data size: an unset one (a stream that was never finalised) means "to the end of the file".
  const dataSize = data.size === UNSET_SIZE ? Math.floor((length - data.at) / blockAlign) * blockAlign : data.size;
  const present = length - data.at;
  if (dataSize > present) {
    throw new AudioError(
      `${name}: truncated WAV file: the data chunk claims ${dataSize} bytes but only ${present} are present ` +
        `(${dataSize - present} bytes missing); copy or export the file again`,
    );
  }
  if (dataSize % blockAlign !== 0) {
    throw corrupt(`the data chunk's ${dataSize} bytes are not a whole number of ${blockAlign}-byte frames`);
  }
  const riffSize = u32(4);
  if (riffSize !== UNSET_SIZE && riffSize !== 0) {
    const riffEnd = 8 + riffSize;
    if (riffEnd > length) {
      throw new AudioError(
        `${name}: truncated WAV file: the RIFF header claims ${riffEnd} bytes but the file has ${length} ` +
          `(${riffEnd - length} bytes missing); copy or export the file again`,
      );
    }
    if (riffEnd < data.at + dataSize) {
      throw corrupt(`the data chunk ends at byte ${data.at + dataSize}, past the ${riffEnd} bytes the RIFF header claims`);
    }
  }
  if (dataSize === 0) throw new AudioError(`${name}: WAV file has no audio (its data chunk is empty); record or export it again`);
  const bitDepth = float ? `${bits}f` : `${bits}`;
  return { bigEndian, float, bits, channels, sampleRate, blockAlign, dataStart: data.at, frames: dataSize / blockAlign, bitDepth };
}

/** A plain 44-byte header for `byteLength` bytes of samples laid out as `layout` says. */
function canonicalHeader(layout: WavLayout, byteLength: number): Uint8Array {
  const header = new Uint8Array(44);
  const view = new DataView(header.buffer);
  const le = !layout.bigEndian;
  const tag = (at: number, text: string): void => header.set([...text].map((c) => c.charCodeAt(0)), at);
  tag(0, layout.bigEndian ? 'RIFX' : 'RIFF');
  view.setUint32(4, 36 + byteLength, le);
  tag(8, 'WAVE');
  tag(12, 'fmt ');
  view.setUint32(16, 16, le);
  view.setUint16(20, layout.float ? 3 : 1, le);
  view.setUint16(22, layout.channels, le);
  view.setUint32(24, layout.sampleRate, le);
  view.setUint32(28, (layout.sampleRate * layout.blockAlign) >>> 0, le);
  view.setUint16(32, layout.blockAlign, le);
  view.setUint16(34, layout.bits, le);
  tag(36, 'data');
  view.setUint32(40, byteLength, le);
  return header;
}

/**
 * The samples mixed down to mono. wavefile decodes them, a block at a time behind a plain header:
 * that keeps memory near the size of the output, and reads extensible float files, which
 * wavefile would otherwise decode as integers.
 */
function decodeSamples(bytes: Uint8Array, layout: WavLayout, name: string): Float32Array {
  const { channels, blockAlign, frames } = layout;
  const scale = layout.float ? 1 : 2 ** -(layout.bits - 1);
  const offset = !layout.float && layout.bits === 8 ? 128 : 0; // 8-bit PCM is unsigned
  const out = new Float32Array(frames);
  const framesPerBlock = Math.max(1, Math.floor(DECODE_BLOCK_BYTES / blockAlign));
  let nonFinite = 0;
  for (let first = 0; first < frames; first += framesPerBlock) {
    const count = Math.min(framesPerBlock, frames - first);
    const byteLength = count * blockAlign;
    const block = new Uint8Array(44 + byteLength);
    block.set(canonicalHeader(layout, byteLength));
    const start = layout.dataStart + first * blockAlign;
    block.set(bytes.subarray(start, start + byteLength), 44);
    const values = new wavefile.WaveFile(block).getSamples(true, Float64Array);
    for (let f = 0; f < count; f++) {
      let sum = 0;
      for (let c = 0; c < channels; c++) sum += (values[f * channels + c]! - offset) * scale;
      let v = sum / channels;
      if (!Number.isFinite(v)) {
        nonFinite++;
        v = 0;
      }
      out[first + f] = v > 1 ? 1 : v < -1 ? -1 : v; // only float files can stray past full scale
    }
  }
  if (nonFinite > 0) {
    throw new AudioError(`${name}: WAV file has ${nonFinite} sample(s) that are NaN or infinite; re-export it or ${convertHint(name)}`);
  }
  return out;
}

/**
 * Decodes WAV bytes (named `name` in errors) to mono float samples, resampled to
 * `options.sampleRate` if given. Throws an AudioError for anything that is not a sound WAV file of
 * 8/16/24/32-bit PCM or 32/64-bit float.
 */
export function decodeWav(bytes: Uint8Array, name: string, options: ReadWavOptions = {}): Audio {
  const limit = options.maxBytes ?? MAX_WAV_BYTES;
  if (bytes.length > limit) throw tooLarge(name, bytes.length, limit);
  const target = options.sampleRate;
  if (target !== undefined && (!Number.isInteger(target) || target < 1 || target > 0xffffffff)) {
    throw new RangeError(`decodeWav: sampleRate must be a whole number of Hz from 1 to 4294967295, got ${target}`);
  }
  const layout = parseWav(bytes, name);
  let samples = decodeSamples(bytes, layout, name);
  let sampleRate = layout.sampleRate;
  if (target !== undefined && target !== sampleRate) {
    samples = resample(samples, sampleRate, target);
    sampleRate = target;
  }
  return {
    samples,
    sampleRate,
    durationSeconds: samples.length / sampleRate,
    sourceFormat: { channels: layout.channels, bitDepth: layout.bitDepth, sampleRate: layout.sampleRate },
  };
}

function fsError(file: string, error: unknown, verb: 'read' | 'write'): AudioError | unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return new AudioError(verb === 'read' ? `${file}: no such file; check the path` : `${file}: its directory does not exist; create it first`);
    case 'EACCES':
    case 'EPERM':
      return new AudioError(`${file}: cannot ${verb} it (permission denied); check its permissions`);
    case 'EISDIR':
      return new AudioError(`${file}: is a directory, not a WAV file; pass the path of a .wav file`);
    case 'ENOTDIR':
      return new AudioError(`${file}: a part of the path is not a directory; check the path`);
    case 'ENOSPC':
      return new AudioError(`${file}: cannot write it (no space left on the device); free some space`);
    default:
      return code ? new AudioError(`${file}: cannot ${verb} it (${code}); check the path`) : error;
  }
}

/** Reads a WAV file to mono float samples: see `decodeWav`. Refuses files over `options.maxBytes` (1 GiB). */
export function readWav(file: string, options: ReadWavOptions = {}): Audio {
  const limit = options.maxBytes ?? MAX_WAV_BYTES;
  let bytes: Uint8Array;
  try {
    const stats = statSync(file);
    if (stats.isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
    // Checked before reading, so a huge file is refused without loading it.
    if (stats.size > limit) throw tooLarge(file, stats.size, limit);
    bytes = readFileSync(file);
  } catch (error) {
    throw error instanceof AudioError ? error : fsError(file, error, 'read');
  }
  return decodeWav(bytes, file, options);
}

/**
 * Writes mono `samples` as a WAV file (wavefile encodes it), atomically: a crash leaves the old
 * file or the whole new one, never half of one.
 */
export function writeWav(file: string, samples: Float32Array, sampleRate: number, options: WriteWavOptions = {}): void {
  const bitDepth = options.bitDepth ?? '16';
  if (!Number.isInteger(sampleRate) || sampleRate < 1 || sampleRate * (bitDepth === '16' ? 2 : 4) > 0xffffffff) {
    throw new RangeError(`writeWav: sampleRate must be a positive whole number of Hz, got ${sampleRate}`);
  }
  if (bitDepth !== '16' && bitDepth !== '32f') throw new RangeError(`writeWav: bitDepth must be '16' or '32f', got ${String(bitDepth)}`);
  if (samples.length === 0) throw new RangeError(`writeWav: ${file}: no samples to write (readWav refuses empty files)`);
  const bad = samples.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new RangeError(`writeWav: ${file}: sample ${bad} is ${samples[bad]}; only finite samples can be written`);
  const wav = new wavefile.WaveFile();
  if (bitDepth === '16') {
    // The inverse of the reader's v / 32768: round to nearest, clip to the int16 range.
    const ints = new Int16Array(samples.length);
    for (let i = 0; i < samples.length; i++) ints[i] = Math.max(-32768, Math.min(32767, Math.round(samples[i]! * 32768)));
    wav.fromScratch(1, sampleRate, '16', ints);
  } else {
    wav.fromScratch(1, sampleRate, '32f', samples);
  }
  try {
    writeFileAtomic(file, [wav.toBuffer()]);
  } catch (error) {
    throw fsError(file, error, 'write');
  }
}
