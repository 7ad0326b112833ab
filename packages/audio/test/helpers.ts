import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temporary directory and a function that removes it. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'recurrent-audio-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function sine(n: number, hz: number, sampleRate: number, amplitude = 0.5, phase = 0): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => amplitude * Math.sin((2 * Math.PI * hz * i) / sampleRate + phase));
}

export interface RawWav {
  container?: string;
  riffSize?: number;
  form?: string;
  formatCode?: number;
  channels?: number;
  sampleRate?: number;
  byteRate?: number;
  blockAlign?: number;
  bits?: number;
  /** Bytes appended to the 16-byte fmt body (an extension). */
  fmtExtra?: Uint8Array;
  dataSize?: number;
  data?: Uint8Array;
  /** Chunks to put between 'fmt ' and 'data'. */
  between?: Uint8Array;
  /** Cut the file to this many bytes. */
  truncateTo?: number;
}

/** A WAV file written byte by byte, with whatever lies its header should tell. */
export function rawWav(spec: RawWav = {}): Uint8Array {
  const channels = spec.channels ?? 1;
  const bits = spec.bits ?? 16;
  const sampleRate = spec.sampleRate ?? 16000;
  const blockAlign = spec.blockAlign ?? channels * Math.ceil(bits / 8);
  const data = spec.data ?? new Uint8Array(200);
  const extra = spec.fmtExtra ?? new Uint8Array(0);
  const between = spec.between ?? new Uint8Array(0);
  const total = 12 + 8 + 16 + extra.length + between.length + 8 + data.length;
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  const tag = (at: number, text: string): void => bytes.set([...text].map((c) => c.charCodeAt(0)), at);
  tag(0, spec.container ?? 'RIFF');
  view.setUint32(4, spec.riffSize ?? total - 8, true);
  tag(8, spec.form ?? 'WAVE');
  tag(12, 'fmt ');
  view.setUint32(16, 16 + extra.length, true);
  view.setUint16(20, spec.formatCode ?? 1, true);
  view.setUint16(22, channels, true);
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, spec.byteRate ?? sampleRate * blockAlign, true);
  view.setUint16(32, blockAlign, true);
  view.setUint16(34, bits, true);
  bytes.set(extra, 36);
  let at = 36 + extra.length;
  bytes.set(between, at);
  at += between.length;
  tag(at, 'data');
  view.setUint32(at + 4, spec.dataSize ?? data.length, true);
  bytes.set(data, at + 8);
  return spec.truncateTo === undefined ? bytes : bytes.slice(0, spec.truncateTo);
}

/** The 24 bytes that extend a WAVE_FORMAT_EXTENSIBLE fmt chunk to 40 (cbSize = 22 and what it counts). */
export function extensible(formatCode: number, validBits: number, channelMask = 4): Uint8Array {
  const bytes = new Uint8Array(24);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, 22, true);
  view.setUint16(2, validBits, true);
  view.setUint32(4, channelMask, true);
  view.setUint16(8, formatCode, true);
  bytes.set([0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71], 10);
  return bytes;
}

/** The frequency of the largest DFT magnitude of `x`, searched on a grid of `step` Hz. */
export function peakFrequency(x: Float32Array, sampleRate: number, from: number, to: number, step: number): number {
  let best = from;
  let bestPower = -1;
  for (let hz = from; hz <= to; hz += step) {
    let re = 0;
    let im = 0;
    for (let i = 0; i < x.length; i++) {
      const angle = (2 * Math.PI * hz * i) / sampleRate;
      re += x[i]! * Math.cos(angle);
      im -= x[i]! * Math.sin(angle);
    }
    if (re * re + im * im > bestPower) [best, bestPower] = [hz, re * re + im * im];
  }
  return best;
}
