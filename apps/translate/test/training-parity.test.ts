import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Adam, clipGradNorm, loadStateDictFile, Tape, Tensor, withBackend, type BackendName } from '@recurrent/core';
import { batchLoss, TranslateModel, type Batch } from '../src/index.js';

/**
 * Our training step is the PyTorch peer's (bench/seq2seq/seq2seq.py): from the same initial
 * weights, over the same four batches, the loss and gradient norm of every step and the weights
 * after the last Adam step (with clipping) match the fixture that
 * fixtures/make_training_fixture.py wrote with PyTorch 1.13.
 */
const { tensors, metadata } = loadStateDictFile(fileURLToPath(new URL('../fixtures/training-parity.safetensors', import.meta.url)));
const sizes = JSON.parse(metadata.config!) as { sourceVocabularySize: number; targetVocabularySize: number; embedding: number; hidden: number; decoderHidden: number; lr: number; clip: number };
const losses = JSON.parse(metadata.losses!) as number[];
const norms = JSON.parse(metadata.norms!) as number[];
const withPrefix = (prefix: string) => new Map([...tensors].filter(([name]) => name.startsWith(prefix)).map(([name, t]) => [name.slice(prefix.length), t]));
/** Valid steps of each column of a [T, B] id tensor (0 pads the end). */
const lengths = (ids: Tensor) => Array.from({ length: ids.shape[1]! }, (_, b) => Array.from({ length: ids.shape[0]! }, (_, t) => ids.data[t * ids.shape[1]! + b]!).filter((id) => id !== 0).length);

describe('training parity with PyTorch', () => {
  it.each(['cpu', 'webasm'] as BackendName[])('%s: four Adam steps with clipping give the peer\'s losses, gradient norms and weights', async (name) => {
    await withBackend(name, async (backend) => {
      const model = new TranslateModel({
        sourceVocabularySize: sizes.sourceVocabularySize, targetVocabularySize: sizes.targetVocabularySize, embedding: sizes.embedding, hidden: sizes.hidden, layers: 1,
        decoderHidden: sizes.decoderHidden, decoderLayers: 1, cell: 'lstm', attention: 'general', inputFeeding: false, dropout: 0, seed: 0,
      }).to(backend);
      model.loadStateDict(withPrefix('initial.'));
      const parameters = model.parameters();
      const optimizer = new Adam(parameters, { lr: sizes.lr });
      model.train();
      for (let n = 0; n < losses.length; n++) {
        const source = tensors.get(`batch${n}.source`)!;
        const targetOut = tensors.get(`batch${n}.targetOut`)!;
        const batch: Batch = { source, sourceLengths: lengths(source), targetIn: tensors.get(`batch${n}.targetIn`)!, targetOut, targetLengths: lengths(targetOut) };
        const tape = new Tape();
        const { loss } = await tape.run(() => batchLoss(model, batch, backend));
        optimizer.zeroGrad();
        await tape.backward(loss);
        const norm = clipGradNorm(parameters, sizes.clip);
        optimizer.step();
        expect(loss.data[0], `loss of step ${n + 1}`).toBeCloseTo(losses[n]!, 5);
        expect(norm, `gradient norm of step ${n + 1}`).toBeCloseTo(norms[n]!, 5);
      }
      expect(norms.some((norm) => norm > sizes.clip), 'clipping acts on some step').toBe(true);
      const final = withPrefix('final.');
      for (const [parameter, value] of model.stateDict()) {
        const expected = final.get(parameter)!;
        expect(expected.shape, parameter).toEqual(value.shape);
        value.data.forEach((x, i) => expect(Math.abs(x - expected.data[i]!), `${parameter}[${i}]`).toBeLessThanOrEqual(2e-5 + 1e-4 * Math.abs(expected.data[i]!)));
      }
    });
  });
});
