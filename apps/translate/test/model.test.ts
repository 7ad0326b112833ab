import { describe, expect, it } from 'vitest';
import { crossEntropy, Tape, Tensor, withBackend } from '@recurrent/core';
import {
  batchLoss, BOS_INDEX, decodeBatch, EOS_INDEX, lengthNormalised, nbestOracle, parameterCount, rescoreCandidates, targetLogProbabilities, TranslateModel, type Batch, type TranslateConfig,
} from '../src/index.js';

const base: TranslateConfig = {
  sourceVocabularySize: 7, targetVocabularySize: 6, embedding: 3, hidden: 2, layers: 1, decoderHidden: 4, decoderLayers: 1,
  cell: 'lstm', attention: 'general', inputFeeding: false, dropout: 0, seed: 3,
};

/** Two sources of lengths 3 and 2, targets of lengths 3 and 2 (with <eos>). */
const batch: Batch = {
  source: Tensor.from([3, 2], [4, 5, 6, 2, 5, 0]),
  sourceLengths: [3, 2],
  targetIn: Tensor.from([3, 2], [2, 2, 4, 5, 5, 0]),
  targetOut: Tensor.from([3, 2], [4, 5, 5, 3, 3, 0]),
  targetLengths: [3, 2],
};

/** batch.source's columns: the two sources as token lists. */
const sources = [[4, 6, 5], [5, 2]];

const argmax = (row: Float32Array) => row.reduce((best, v, i) => (v > row[best]! ? i : best), 0);

describe('TranslateModel', () => {
  it.each([
    ['lstm', 'general', 2], ['gru', 'dot', 1], ['lstm', 'none', 1], ['gru', 'additive', 2],
  ] as const)('%s with %s attention: the parameter count config.json is checked against is exact', (cell, attention, layers) => {
    for (const inputFeeding of [false, true]) {
      const config = { ...base, cell, attention, layers, decoderLayers: layers, inputFeeding, decoderHidden: attention === 'dot' ? 4 : 5 };
      const model = new TranslateModel(config);
      expect(parameterCount(config)).toBe(model.parameters().reduce((s, p) => s + p.value.size, 0));
    }
  });

  it('teacher-forced logits are the same through the parallel path and step by step', async () => {
    await withBackend('cpu', async (backend) => {
      for (const [cell, attention] of [['lstm', 'general'], ['gru', 'dot'], ['lstm', 'none']] as const) {
        const model = new TranslateModel({ ...base, cell, attention, layers: 2, decoderLayers: 2 }).to(backend).eval();
        expect(model.parallelDecoding).toBe(true);
        const parallel = await model.forward(batch.source, batch.sourceLengths, batch.targetIn, batch.targetLengths);
        // A ratio just under 1 takes the step path, and draws the reference every time here.
        const stepwise = await model.forward(batch.source, batch.sourceLengths, batch.targetIn, batch.targetLengths, { teacherForcing: 0.999999, random: () => 0 });
        const V = base.targetVocabularySize;
        // Steps past a sequence's end differ (the parallel decoder stops there) and are never scored.
        for (let t = 0; t < 3; t++)
          for (let b = 0; b < 2; b++) {
            if (t >= batch.targetLengths[b]!) continue;
            for (let v = 0; v < V; v++) expect(stepwise.data[(t * 2 + b) * V + v]).toBeCloseTo(parallel.data[(t * 2 + b) * V + v]!, 5);
          }
      }
    });
  });

  it.each([
    ['general', false], ['general', true], ['additive', false],
  ] as const)('on webasm the output layer and its loss run as one operation (%s attention, input feeding %s): the same loss, the same gradients to rounding', async (attention, inputFeeding) => {
    await withBackend('webasm', async (backend) => {
      // 4 steps of 2 targets and 8 classes: the shapes linearCrossEntropy fuses
      const long: Batch = { ...batch, targetIn: Tensor.from([4, 2], [2, 2, 4, 5, 5, 6, 6, 0]), targetOut: Tensor.from([4, 2], [4, 5, 5, 6, 6, 3, 3, 0]), targetLengths: [4, 3] };
      // With dropout: both passes replay the same draws (the generators' states restored between).
      const model = new TranslateModel({ ...base, targetVocabularySize: 8, attention, inputFeeding, dropout: 0.3 }).to(backend).train();
      const draws = model.randomStates();
      // The decoders that run step by step: against the output layer applied a step at a time
      // (a ratio just under 1 takes that path, and draws the reference every time here).
      const stepwise = model.parallelDecoding ? {} : { teacherForcing: 0.999999, random: () => 0 };
      const gradients = () => new Map(model.namedParameters().map(([name, p]) => [name, Float32Array.from(p.grad.data)]));
      model.zeroGrad();
      const unfused = new Tape();
      const { loss, logits } = await unfused.run(async () => {
        const logits = await model.forward(long.source, long.sourceLengths, long.targetIn, long.targetLengths, stepwise);
        return { loss: await crossEntropy(logits.reshape([8, 8]), long.targetOut.reshape([8]), { ignoreIndex: 0, backend }), logits };
      });
      await unfused.backward(loss);
      const expected = gradients();
      model.zeroGrad();
      model.setRandomStates(draws);
      const fused = new Tape();
      const step = await fused.run(() => batchLoss(model, long, backend));
      await fused.backward(step.loss);
      expect(step.loss.data[0]).toBe(loss.data[0]);
      for (const [name, grad] of gradients()) {
        const want = expected.get(name)!;
        const worst = grad.reduce((w, v, i) => Math.max(w, Math.abs(v - want[i]!)), 0);
        expect(worst, name).toBeLessThan(1e-6);
      }
      const right = [0, 1, 2, 3, 4, 5, 6].filter((i) => argmax(logits.data.subarray(i * 8, i * 8 + 8)) === long.targetOut.data[i]).length;
      expect(step).toMatchObject({ correct: right, tokens: 7 });
    });
  });

  it.each([
    ['general', false], ['additive', false], ['general', true], ['none', true],
  ] as const)('gradients match finite differences (%s attention, input feeding %s)', async (attention, inputFeeding) => {
    await withBackend('cpu', async (backend) => {
      const model = new TranslateModel({ ...base, attention, inputFeeding, cell: 'gru' }).to(backend).train();
      const lossValue = async () => (await batchLoss(model, batch, backend)).loss.data[0]!;
      model.zeroGrad();
      const tape = new Tape();
      const { loss } = await tape.run(() => batchLoss(model, batch, backend));
      await tape.backward(loss);
      const h = 1e-2;
      let checked = 0;
      for (const [name, p] of model.namedParameters()) {
        // A few entries of every parameter (all of the small ones).
        const step = Math.max(1, Math.floor(p.value.size / 6));
        for (let i = 0; i < p.value.size; i += step) {
          const saved = p.value.data[i]!;
          p.value.data[i] = saved + h;
          const up = await lossValue();
          p.value.data[i] = saved - h;
          const down = await lossValue();
          p.value.data[i] = saved;
          const numeric = (up - down) / (2 * h);
          expect(Math.abs(p.grad.data[i]! - numeric), `${name}[${i}]: analytic ${p.grad.data[i]}, numeric ${numeric}`).toBeLessThan(2e-3 + 2e-2 * Math.abs(numeric));
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(30);
    });
  });

  it('off a tape the encoder\'s output is disposed once copied into the memory (its buffer serves the next batch); decoding is unchanged', async () => {
    await withBackend('webasm', async (backend) => {
      const model = new TranslateModel({ ...base, targetVocabularySize: 9, seed: 11 }).to(backend).eval();
      const outputs: Tensor[] = [];
      const forward = model.encoder.forward.bind(model.encoder);
      model.encoder.forward = async (...args: Parameters<typeof forward>) => {
        const result = await forward(...args);
        outputs.push(result.output);
        return result;
      };
      const other = { source: Tensor.from([3, 2], [6, 4, 5, 5, 4, 0]), lengths: [3, 2] };
      const first = await decodeBatch(model, batch.source, batch.sourceLengths, { maxTokens: 6 });
      await decodeBatch(model, other.source, other.lengths, { maxTokens: 6 });
      expect(await decodeBatch(model, batch.source, batch.sourceLengths, { maxTokens: 6 })).toEqual(first);
      expect(outputs.map((o) => o.isDisposed)).toEqual([true, true, true]);
      // On a tape the output stays for the backward pass.
      await new Tape().run(() => model.encode(batch.source, batch.sourceLengths));
      expect(outputs[3]!.isDisposed).toBe(false);
    });
  });

  it('beam search of width 1 is greedy; a wider beam finds an output at least as likely when lengths are not normalised', async () => {
    await withBackend('cpu', async (backend) => {
      const model = new TranslateModel({ ...base, targetVocabularySize: 9, seed: 11 }).to(backend);
      const greedy = await decodeBatch(model, batch.source, batch.sourceLengths, { maxTokens: 6 });
      const one = await decodeBatch(model, batch.source, batch.sourceLengths, { beam: 1, maxTokens: 6 });
      expect(one).toEqual(greedy);
      const wide = await decodeBatch(model, batch.source, batch.sourceLengths, { beam: 4, lengthPenalty: 0, maxTokens: 6 });
      wide.forEach((w, b) => {
        // Greedy's output is among beam search's candidates unless pruned; both end with <eos> or the limit.
        if (greedy[b]!.tokens.length < 6) expect(w.logProbability).toBeGreaterThanOrEqual(greedy[b]!.logProbability - 1e-6);
        expect(w.attention).toHaveLength(w.tokens.length);
        w.attention.forEach((row) => expect(row.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 5));
      });
    });
  });

  it('an ensemble picks each token by the mean of its members\' probabilities; of one model twice, it is that model', async () => {
    await withBackend('cpu', async (backend) => {
      const config = { ...base, targetVocabularySize: 9 };
      const first = new TranslateModel({ ...config, seed: 11 }).to(backend);
      const second = new TranslateModel({ ...config, seed: 12, cell: 'gru', decoderHidden: 5 }).to(backend);
      const options = { maxTokens: 6 };
      expect(await decodeBatch([first, first], batch.source, batch.sourceLengths, options)).toEqual(await decodeBatch(first, batch.source, batch.sourceLengths, options));
      const ensemble = await decodeBatch([first, second], batch.source, batch.sourceLengths, options);
      const firstAlone = await decodeBatch(first, batch.source, batch.sourceLengths, options);
      expect(ensemble.map((d) => d.tokens)).not.toEqual(firstAlone.map((d) => d.tokens));
      // Replay the ensemble's output through each member: at every step its token is the argmax of
      // log((p1 + p2) / 2), and its log-probability is their sum.
      const V = config.targetVocabularySize;
      const members = [first, second];
      const started = [];
      for (const model of members) started.push(await model.encode(batch.source, batch.sourceLengths));
      let states = started.map((s) => s.state);
      const steps = Math.max(...ensemble.map((d) => d.tokens.length + 1));
      const expected = [0, 0];
      for (let t = 0; t < steps; t++) {
        const previous = ensemble.map((d) => (t === 0 ? BOS_INDEX : d.tokens[t - 1] ?? EOS_INDEX));
        const outs: Array<Awaited<ReturnType<TranslateModel['step']>>> = [];
        for (const [i, model] of members.entries()) outs.push(await model.step(started[i]!.encoded, states[i]!, previous));
        states = outs.map((o) => o.state);
        ensemble.forEach((d, b) => {
          // past its <eos>, or at the limit (no <eos> scored there)
          if (t > d.tokens.length || (t === d.tokens.length && t === 6)) return;
          const probabilities = Array.from({ length: V }, () => 0);
          for (const out of outs) {
            const row = [...out.logits.data.subarray(b * V, (b + 1) * V)];
            const max = Math.max(...row);
            const total = row.reduce((s, x) => s + Math.exp(x - max), 0);
            row.forEach((x, v) => (probabilities[v]! += Math.exp(x - max) / total / outs.length));
          }
          const token = t < d.tokens.length ? d.tokens[t]! : EOS_INDEX;
          expect(probabilities.indexOf(Math.max(...probabilities.slice(1)))).toBe(token);
          expected[b]! += Math.log(probabilities[token]!);
        });
      }
      ensemble.forEach((d, b) => expect(d.logProbability).toBeCloseTo(expected[b]!, 6));
      // Beam search over the ensemble finds an output at least as likely, its attention the members' mean.
      const wide = await decodeBatch([first, second], batch.source, batch.sourceLengths, { beam: 4, lengthPenalty: 0, maxTokens: 6 });
      wide.forEach((w, b) => {
        if (ensemble[b]!.tokens.length < 6) expect(w.logProbability).toBeGreaterThanOrEqual(ensemble[b]!.logProbability - 1e-6);
        w.attention.forEach((row) => expect(row.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 5));
      });
    });
  });

  it('a right-to-left model decodes last token first and hands back reading order; scoring reads targets as each model was trained', async () => {
    await withBackend('cpu', async (backend) => {
      const config = { ...base, targetVocabularySize: 9, seed: 11 };
      const forward = new TranslateModel(config).to(backend);
      const backward = new TranslateModel({ ...config, reverseTarget: true }).to(backend);
      backward.loadStateDict(forward.stateDict());
      const turned = <T>(list: readonly T[]) => [...list].reverse();
      for (const beam of [1, 3]) {
        const ahead = await decodeBatch(forward, batch.source, batch.sourceLengths, { beam, maxTokens: 30 });
        const back = await decodeBatch(backward, batch.source, batch.sourceLengths, { beam, maxTokens: 30 });
        back.forEach((d, b) => {
          expect(d.tokens).toEqual(turned(ahead[b]!.tokens));
          expect(d.attention).toEqual(turned(ahead[b]!.attention));
          expect(d.logProbability).toBe(ahead[b]!.logProbability);
          expect(d.candidates?.map((c) => c.tokens)).toEqual(ahead[b]!.candidates?.map((c) => turned(c.tokens)));
        });
        // Teacher-forced, each finished output's (and candidate's) log-probability is what decoding
        // summed, <eos> included; one cut at the step limit (2 x 3 + 10 = 16 and 14) has no <eos>.
        const limit = (b: number) => 2 * batch.sourceLengths[b]! + 10;
        const ended = ahead.flatMap((d, b) => (d.candidates ?? [d]).filter((c) => c.tokens.length < limit(b)).map((c) => ({ c, b })));
        if (beam > 1) expect(ended.length).toBeGreaterThan(1); // greedy runs to the limit with these weights
        const scored = await targetLogProbabilities(forward, ended.map(({ b }) => sources[b]!), ended.map(({ c }) => c.tokens), 3);
        scored.forEach((score, i) => expect(score).toBeCloseTo(ended[i]!.c.logProbability, 5));
        // The right-to-left model reads a target reversed: its reading-order output scores the same.
        expect(await targetLogProbabilities(backward, sources, back.map((d) => d.tokens), 2)).toEqual(await targetLogProbabilities(forward, sources, ahead.map((d) => d.tokens), 2));
      }
      await expect(decodeBatch([forward, backward], batch.source, batch.sourceLengths)).rejects.toThrow("an ensemble's members must write targets in the same order");
    });
  });

  it('targets of the same source share one encoding and score as each pair alone does, across passes, on both decoder paths', async () => {
    await withBackend('cpu', async (backend) => {
      const alphabet = [4, 5, 6, 7];
      const groups = [[4, 6, 5], [5, 2], [5, 2], [6], [4, 6, 5], [2, 2, 2, 3, 5]];
      // 1-4 targets a source; the adjacent runs of [5, 2] make one group, the repeat of [4, 6, 5] further on a group of its own
      const pairs = groups.flatMap((source, g) => Array.from({ length: 1 + (g % 4) }, (_, k) => ({ source, target: alphabet.slice(0, 1 + ((g + k) % 4)).reverse() })));
      for (const settings of [{ attention: 'general', inputFeeding: false }, { attention: 'additive', inputFeeding: true }] as const) {
        const model = new TranslateModel({ ...base, ...settings, targetVocabularySize: 9, layers: 2 }).to(backend);
        const alone: number[] = [];
        for (const { source, target } of pairs) alone.push(...(await targetLogProbabilities(model, [source], [target], 1)));
        for (const batchSize of [2, 3, 8]) {
          const shared = await targetLogProbabilities(model, pairs.map((p) => p.source), pairs.map((p) => p.target), batchSize);
          expect(shared).toHaveLength(pairs.length);
          shared.forEach((score, i) => expect(score).toBeCloseTo(alone[i]!, 5));
        }
      }
    });
  });

  it('rescoring picks the candidate of the best (weighted) mean log-probability; a model rescoring its own beam keeps its choice', async () => {
    await withBackend('cpu', async (backend) => {
      const config = { ...base, targetVocabularySize: 9 };
      const first = new TranslateModel({ ...config, seed: 11 }).to(backend);
      const second = new TranslateModel({ ...config, seed: 12, reverseTarget: true }).to(backend);
      const settings = { lengthPenalty: 0.6, batchSize: 3 };
      const decoded = await decodeBatch(first, batch.source, batch.sourceLengths, { beam: 4, lengthPenalty: 0.6, maxTokens: 6 });
      expect(decoded.every((d) => d.candidates!.length >= 4 && d.candidates![0]!.tokens === d.tokens)).toBe(true);
      expect((await rescoreCandidates(first, [first], sources, decoded, settings)).map((d) => d.tokens)).toEqual(decoded.map((d) => d.tokens));
      // Weight 0 leaves the rescorer no say: the beam's own choice.
      const second0 = await rescoreCandidates(first, [second], sources, decoded, { ...settings, rescoreWeight: 0 });
      expect(second0.map((d) => d.tokens)).toEqual(decoded.map((d) => d.tokens));
      // Against the weighted mean of every model's teacher-forced score, computed here: one decoder
      // with a right-to-left rescorer, and an ensemble of two (whose members score again) with it,
      // at equal weights (the default) and with the rescorer's share at 0.8.
      const third = new TranslateModel({ ...config, seed: 13, cell: 'gru' }).to(backend);
      const pair = await decodeBatch([first, third], batch.source, batch.sourceLengths, { beam: 4, lengthPenalty: 0.6, maxTokens: 6 });
      let choicesMoved = 0;
      for (const [decoders, beams] of [[[first], decoded], [[first, third], pair]] as const) {
        for (const rescoreWeight of [undefined, 0.8]) {
          const rescored = await rescoreCandidates(decoders, [second], sources, beams, { ...settings, rescoreWeight });
          for (const [b, d] of beams.entries()) {
            const candidates = d.candidates!.map((c) => c.tokens);
            const own = candidates.map(() => sources[b]!);
            const scores: number[][] = [];
            for (const model of [...decoders, second]) scores.push(await targetLogProbabilities(model, own, candidates, 4));
            const weights = rescoreWeight === undefined ? scores.map(() => 1 / scores.length) : [...decoders.map(() => (1 - rescoreWeight) / decoders.length), rescoreWeight];
            const means = candidates.map((_, k) => scores.reduce((sum, s, m) => sum + weights[m]! * s[k]!, 0));
            const ranks = candidates.map((tokens, k) => lengthNormalised(means[k]!, tokens.length + 1, 0.6));
            const best = ranks.indexOf(Math.max(...ranks));
            expect(rescored[b]!.tokens).toEqual(candidates[best]);
            expect(rescored[b]!.logProbability).toBeCloseTo(means[best]!, 5);
            expect(rescored[b]!.attention).toBe(d.candidates![best]!.attention);
            // its candidates: the same ones, ranked by the rescoring, best (the output) first
            const order = candidates.map((_, k) => k).sort((i, j) => ranks[j]! - ranks[i]!);
            expect(rescored[b]!.candidates!.map((c) => c.tokens)).toEqual(order.map((k) => candidates[k]));
            if (best !== 0) choicesMoved++;
          }
        }
      }
      // The rescorer changed some choices, or the comparisons above would prove little.
      expect(choicesMoved).toBeGreaterThan(0);
    });
  });

  it("with the rescorer's own decodes, the pool joins both beams' candidates and every model scores every one", async () => {
    await withBackend('cpu', async (backend) => {
      const config = { ...base, targetVocabularySize: 9 };
      const forward = new TranslateModel({ ...config, seed: 11 }).to(backend);
      const backward = new TranslateModel({ ...config, seed: 12, reverseTarget: true }).to(backend);
      const options = { beam: 4, lengthPenalty: 0.6, maxTokens: 6 };
      const ahead = await decodeBatch(forward, batch.source, batch.sourceLengths, options);
      const back = await decodeBatch(backward, batch.source, batch.sourceLengths, options);
      const key = (tokens: readonly number[]) => tokens.join(' ');
      let joined = 0;
      for (const rescoreWeight of [undefined, 0.3]) {
        const rescored = await rescoreCandidates(forward, [backward], sources, ahead, { lengthPenalty: 0.6, batchSize: 3, rescoreWeight }, back);
        for (const [b, d] of rescored.entries()) {
          // Each token list once, the left-to-right beam's first and in its order, then the other's new ones.
          const own = ahead[b]!.candidates!.map((c) => key(c.tokens));
          const theirs = back[b]!.candidates!.map((c) => key(c.tokens)).filter((k) => !own.includes(k));
          const pool = d.candidates!.map((c) => c.tokens);
          expect(pool.map(key).sort()).toEqual([...own, ...new Set(theirs)].sort());
          joined += theirs.length;
          const scores = [await targetLogProbabilities(forward, pool.map(() => sources[b]!), pool, 4), await targetLogProbabilities(backward, pool.map(() => sources[b]!), pool, 4)];
          const weights = rescoreWeight === undefined ? [0.5, 0.5] : [1 - rescoreWeight, rescoreWeight];
          const means = pool.map((_, k) => weights[0]! * scores[0]![k]! + weights[1]! * scores[1]![k]!);
          const ranks = pool.map((tokens, k) => lengthNormalised(means[k]!, tokens.length + 1, 0.6));
          const best = ranks.indexOf(Math.max(...ranks));
          expect(d.tokens).toEqual(pool[best]);
          expect(d.logProbability).toBeCloseTo(means[best]!, 5);
          // the n-best list: best (the output) first, ranked by each one's mean
          expect(d.candidates![0]!.tokens).toEqual(d.tokens);
          const ranked = d.candidates!.map((c) => lengthNormalised(c.logProbability, c.tokens.length + 1, 0.6));
          ranked.forEach((r, k) => k > 0 && expect(r).toBeLessThanOrEqual(ranked[k - 1]!));
        }
      }
      // The right-to-left beam proposed candidates the other lacked, or the pool would be the same.
      expect(joined).toBeGreaterThan(0);
    });
  });
});

describe('nbestOracle', () => {
  it('counts an input right when any of its candidates matches any of its references', () => {
    const candidates = [[['a', 'b'], ['a', 'c']], [['x']], [['d'], ['e', 'f'], ['e']]];
    const references = [[['a', 'c']], [['y'], ['z']], [['g'], ['e']]];
    // the second candidate of the first input, the third of the third; none of the second's
    expect(nbestOracle(candidates, references)).toEqual({ sequenceErrorRate: 1 / 3, candidates: 2 });
  });
});
