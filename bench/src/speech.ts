/**
 * Labelling latency of the speech app: one 10-second WAV file, end to end (read and resample,
 * log-mel features, the bidirectional model, greedy CTC decoding with word times), on each of
 * our backends that starts here. The bar: well under a second on webasm.
 *
 *   node bench/dist/speech.js [--model models/speech] [--seconds 10] [--runs 5]
 *
 * Without --model it times an untrained model of the app's default size (40 mel bins, 3 frames
 * stacked, 2 bidirectional LSTM layers of 128, 28 outputs): latency does not depend on the
 * weights. The audio is 10 s of speech-like noise bursts at 44.1 kHz, so resampling is timed too.
 * Output: a table and bench/results/<date>-speech-label.json.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeWav } from '@recurrent/audio';
import { BACKEND_NAMES, mulberry32, probeBackend, withBackend } from '@recurrent/core';
import { audioFeatures, DEFAULT_FEATURES, LabelSet, loadModelFolder, SpeechModel, transcribe } from '@recurrent/speech';
import { parseFlags, positive } from './cli.js';
import { medianSeconds } from './timing.js';

const USAGE = 'node bench/dist/speech.js [--model models/speech] [--seconds 10] [--runs 5]';
const { values } = parseFlags(USAGE, (args) => parseArgs({
  args,
  options: { model: { type: 'string' }, seconds: { type: 'string', default: '10' }, runs: { type: 'string', default: '5' } },
}));
const seconds = positive('seconds', values.seconds);
const runs = positive('runs', values.runs, true);

const { model, labels, features } = values.model
  ? (() => {
    const loaded = loadModelFolder(values.model);
    return { model: loaded.model, labels: loaded.labels, features: loaded.config.features };
  })()
  : {
    model: new SpeechModel({ melBins: DEFAULT_FEATURES.melBins, stack: 3, hidden: 128, layers: 2, cell: 'lstm', dropout: 0, outputs: 28, seed: 1 }),
    labels: new LabelSet([..." 'abcdefghijklmnopqrstuvwxyz"], 'characters'),
    features: DEFAULT_FEATURES,
  };

// 10 s at 44.1 kHz: bursts of filtered noise (syllable-like) and pauses.
const rate = 44_100;
const random = mulberry32(7);
const samples = new Float32Array(Math.round(seconds * rate));
let previous = 0;
for (let i = 0; i < samples.length; i++) {
  const envelope = Math.max(0, Math.sin((i / rate) * Math.PI * 3));
  previous = 0.7 * previous + 0.3 * (random() * 2 - 1);
  samples[i] = 0.5 * envelope * previous;
}
const file = join(mkdtempSync(join(tmpdir(), 'speech-bench-')), 'ten-seconds.wav');
writeWav(file, samples, rate);

const rows: { backend: string; seconds: number; realTimeFactor: number }[] = [];
for (const name of BACKEND_NAMES) {
  const probe = await probeBackend(name);
  if (!probe.available) {
    console.log(`${name}: not available here (${probe.reason})`);
    continue;
  }
  await withBackend(name, async (backend) => {
    model.to(backend);
    const label = async () => {
      const { features: frames, frames: count, seconds: length } = audioFeatures(file, features);
      return transcribe(model, labels, [{ file, where: file, text: '', features: frames, frames: count, seconds: length }], features, { beam: 1, batchSize: 1 });
    };
    const taken = await medianSeconds(label, runs);
    rows.push({ backend: name, seconds: taken, realTimeFactor: taken / seconds });
    console.log(`${name}: labelling ${seconds} s of audio takes ${(taken * 1000).toFixed(0)} ms (median of ${runs}; ${(seconds / taken).toFixed(0)}x real time)`);
  });
}
const out = new URL(`../results/${new Date().toISOString().slice(0, 10)}-speech-label.json`, import.meta.url);
writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), audioSeconds: seconds, model: model.config, runs, rows }, null, 2)}\n`);
console.log(`written ${out.pathname}`);
