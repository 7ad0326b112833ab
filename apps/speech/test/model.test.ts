import { Adam, mulberry32, Tape, Tensor, withBackend } from '@recurrent/core';
import { describe, expect, it } from 'vitest';
import type { Utterance } from '../src/data.js';
import { LabelSet, normaliseTranscript } from '../src/labels.js';
import { batchInput, SpeechModel, type SpeechConfig } from '../src/model.js';
import { batchLoss, evaluate, makeBatches, minimumSteps, transcribe } from '../src/pipeline.js';

const MEL = 6;
const features = { sampleRate: 16_000, melBins: MEL, frameMs: 25, hopMs: 10 };

/**
 * A toy "speech" task the model must learn in seconds: each letter a-c lights its own pair of
 * mel bins for 3-5 frames, with 1-3 frames of low noise between letters.
 */
function toyUtterance(text: string, random: () => number): Utterance {
  const rows: number[][] = [];
  const quiet = () => Array.from({ length: MEL }, () => (random() - 0.5) * 0.2);
  for (const letter of text) {
    for (let k = 0; k < 1 + Math.floor(random() * 3); k++) rows.push(quiet());
    const bin = 2 * (letter.charCodeAt(0) - 97);
    for (let k = 0; k < 3 + Math.floor(random() * 3); k++) rows.push(quiet().map((v, b) => (b === bin || b === bin + 1 ? 2 + v : v)));
  }
  rows.push(quiet());
  return { file: `${text}.wav`, where: `${text}.wav`, text, features: Float32Array.from(rows.flat()), frames: rows.length, seconds: rows.length / 100 };
}

function toySet(count: number, seed: number): Utterance[] {
  const random = mulberry32(seed);
  return Array.from({ length: count }, () => toyUtterance(Array.from({ length: 1 + Math.floor(random() * 4) }, () => 'abc'[Math.floor(random() * 3)]).join(''), random));
}

const config: SpeechConfig = { melBins: MEL, stack: 1, hidden: 16, layers: 1, cell: 'lstm', dropout: 0, outputs: 4, seed: 3 };

describe('labels', () => {
  it('build from transcripts, encode with the blank at 0, and name a label outside the set', () => {
    const labels = LabelSet.build(['Three  one', 'two'], 'characters');
    expect(labels.labels.join('')).toBe(' ehnortw');
    expect(labels.size).toBe(9);
    expect(labels.decode(labels.encode('one two', 'x'))).toBe('one two');
    expect(() => labels.encode('five', 'data.tsv:3')).toThrow(/^data\.tsv:3: "f" is not in the model's label set \(␣ehnortw\)/);
    const words = LabelSet.build(['three one', 'two'], 'words');
    expect(words.encode('one two', 'x')).toEqual([1, 3]);
    expect(normaliseTranscript('  Héllo\tWORLD ')).toBe('héllo world');
  });

  it('count the steps CTC needs: a blank between repeated labels', () => {
    expect(minimumSteps([1, 2, 3])).toBe(3);
    expect(minimumSteps([1, 1, 2, 2, 2])).toBe(8);
    expect(minimumSteps([])).toBe(0);
  });
});

describe('batchInput', () => {
  it('stacks frames side by side, time-major, zero-padded to a multiple of 8', () => {
    const a = { features: Float32Array.from({ length: 5 * 2 }, (_, i) => i + 1), frames: 5 };
    const b = { features: Float32Array.from({ length: 2 * 2 }, (_, i) => -(i + 1)), frames: 2 };
    const { input, lengths } = batchInput([a, b], 2, 2);
    expect(lengths).toEqual([3, 1]);
    expect(input.shape).toEqual([8, 2, 4]);
    const at = (t: number, n: number) => Array.from(input.data.subarray((t * 2 + n) * 4, (t * 2 + n + 1) * 4));
    expect(at(0, 0)).toEqual([1, 2, 3, 4]);
    expect(at(2, 0)).toEqual([9, 10, 0, 0]);
    expect(at(0, 1)).toEqual([-1, -2, -3, -4]);
    expect(at(1, 1)).toEqual([0, 0, 0, 0]);
  });
});

describe('SpeechModel', () => {
  it('gives log-probabilities, and the CTC gradient matches finite differences', async () => {
    await withBackend('cpu', async (backend) => {
      const model = new SpeechModel({ ...config, hidden: 4, stack: 2 }).to(backend).train();
      const labels = new LabelSet(['a', 'b', 'c'], 'characters');
      const utterances = toySet(3, 5);
      const targets = utterances.map((u) => labels.encode(u.text, u.file));
      const [batch] = makeBatches(utterances, targets, model, 3, { shuffle: false, seed: 0 });
      const logProbs = await model.forward(batch!.input, batch!.lengths);
      for (let i = 0; i < logProbs.size; i += 4) {
        const row = logProbs.data.subarray(i, i + 4);
        expect(row.reduce((s, v) => s + Math.exp(v), 0)).toBeCloseTo(1, 5);
      }
      model.zeroGrad();
      const tape = new Tape();
      const loss = await tape.run(() => batchLoss(model, batch!, backend));
      await tape.backward(loss);
      const value = async () => (await batchLoss(model, batch!, backend)).data[0]!;
      const h = 1e-2;
      let checked = 0;
      for (const [name, p] of model.namedParameters()) {
        const step = Math.max(1, Math.floor(p.value.size / 5));
        for (let i = 0; i < p.value.size; i += step) {
          const saved = p.value.data[i]!;
          p.value.data[i] = saved + h;
          const up = await value();
          p.value.data[i] = saved - h;
          const down = await value();
          p.value.data[i] = saved;
          const numeric = (up - down) / (2 * h);
          expect(Math.abs(p.grad.data[i]! - numeric), `${name}[${i}]: analytic ${p.grad.data[i]}, numeric ${numeric}`).toBeLessThan(2e-3 + 2e-2 * Math.abs(numeric));
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(20);
    });
  });

  it('learns a toy labelling task with CTC, and transcribes held-out utterances with times', async () => {
    await withBackend('cpu', async (backend) => {
      const model = new SpeechModel(config).to(backend);
      const labels = new LabelSet(['a', 'b', 'c'], 'characters');
      const train = toySet(64, 1);
      const targets = train.map((u) => labels.encode(u.text, u.file));
      const optimizer = new Adam(model.parameters(), { lr: 0.03 });
      let first = NaN;
      let last = NaN;
      for (let epoch = 0; epoch < 30; epoch++) {
        for (const batch of makeBatches(train, targets, model, 16, { shuffle: true, seed: epoch })) {
          model.train();
          model.zeroGrad();
          const tape = new Tape();
          const loss = await tape.run(() => batchLoss(model, batch, backend));
          await tape.backward(loss);
          await optimizer.step();
          if (Number.isNaN(first)) first = loss.data[0]!;
          last = loss.data[0]!;
        }
      }
      expect(last).toBeLessThan(first / 4);
      const heldOut = toySet(20, 99);
      const result = await evaluate(model, labels, heldOut, features, { beam: 1, batchSize: 8 });
      expect(result.cer).toBeLessThan(0.1);
      const beam = await evaluate(model, labels, heldOut, features, { beam: 4, batchSize: 8 });
      expect(beam.cer).toBeLessThanOrEqual(result.cer + 0.02);
      const [one] = await transcribe(model, labels, [heldOut[0]!], features, { beam: 1, batchSize: 1, keepPosteriors: true });
      expect(one!.tokens.map((t) => t.text).join('')).toBe(one!.text);
      one!.tokens.forEach((t, i) => {
        expect(t.end).toBeGreaterThan(t.start);
        if (i > 0) expect(t.start).toBeGreaterThanOrEqual(one!.tokens[i - 1]!.end);
        expect(t.end).toBeLessThanOrEqual(heldOut[0]!.seconds + 1e-9);
      });
      expect(one!.logProbs).toHaveLength(one!.steps * 4);
      expect(one!.words).toEqual([{ text: one!.text, start: one!.tokens[0]!.start, end: one!.tokens.at(-1)!.end }]);
    });
  });
});

describe('Tensor input checks', () => {
  it('refuses input of the wrong width', async () => {
    const model = new SpeechModel(config);
    await expect(model.forward(Tensor.zeros([4, 1, MEL + 1]), [4])).rejects.toThrow(`input must be [T, 1, ${MEL}], got [4, 1, 7]`);
  });
});
