/**
 * Where a training step of the translation model goes, by phase and by tape node (a diagnostic,
 * not a benchmark: no peer, and nothing here is a claim of speed). The model of the G2P runs in
 * apps/translate/README.md (2.3 M parameters) on a synthetic batch of their shape:
 *
 *   node bench/dist/translate-step.js [--batch 64] [--source 9] [--target 8] [--layers 1] [--steps 30] [--backend webasm]
 *     [--attention general|dot|additive|none] [--input-feeding] [--target-vocabulary 43]
 *
 * (`--layers 2`: the 3.9 M model of the later G2P runs, a second bidirectional encoder layer.
 * `--input-feeding` or `--attention additive`: the decoder runs step by step; as for the other
 * decoders, the output layer and the loss then run once over all steps, as the app trains them.)
 *
 * Prints milliseconds a step: the forward pass, the loss, the whole backward pass and each kind
 * of node in it (Linear and LSTM nodes by shape), clipping with Adam, and the step. Major garbage
 * collections land in whichever phase allocates when they start; `node --trace-gc` shows them.
 */
import { parseArgs } from 'node:util';
import { Adam, BACKEND_NAMES, clipGradNorm, createBackend, linearCrossEntropy, Tape, Tensor, type Differentiable } from '@recurrent/core';
import { ATTENTION_KINDS, TranslateModel } from '@recurrent/translate';
import { oneOf, parseFlags, positive } from './cli.js';

const USAGE = 'node bench/dist/translate-step.js [--batch 64] [--source 9] [--target 8] [--layers 1] [--steps 30] [--backend webasm] [--attention general|dot|additive|none] [--input-feeding] [--target-vocabulary 43]';
const { values } = parseFlags(USAGE, (args) => parseArgs({
  args,
  options: {
    batch: { type: 'string', default: '64' },
    source: { type: 'string', default: '9' },
    target: { type: 'string', default: '8' },
    layers: { type: 'string', default: '1' },
    steps: { type: 'string', default: '30' },
    backend: { type: 'string', default: 'webasm' },
    attention: { type: 'string', default: 'general' },
    'input-feeding': { type: 'boolean', default: false },
    'target-vocabulary': { type: 'string', default: '43' },
  },
}));
const [B, S, T, layers, steps, V] = (['batch', 'source', 'target', 'layers', 'steps', 'target-vocabulary'] as const).map((flag) => positive(flag, values[flag], true)) as [number, number, number, number, number, number];
const backendName = oneOf('backend', values.backend, BACKEND_NAMES);
const attention = oneOf('attention', values.attention, ATTENTION_KINDS);
const warmup = 5;

const backend = await createBackend(backendName);
// CMUdict's sizes: about 30 letters and 43 phoneme classes with the specials (en-fr: 8,000 words).
const model = new TranslateModel({
  sourceVocabularySize: 30, targetVocabularySize: V, embedding: 64, hidden: 256, layers, decoderHidden: 384, decoderLayers: 1,
  cell: 'lstm', attention, inputFeeding: values['input-feeding'], dropout: 0.3, seed: 1,
}).to(backend);
model.train();
const optimizer = new Adam(model.parameters(), { lr: 1e-3 });

let state = 1;
const token = (from: number, count: number) => from + Math.floor(((state = (state * 16807) % 2147483647) / 2147483647) * count);
const source = Tensor.from([S, B], Array.from({ length: S * B }, () => token(4, 26)));
const targetIn = Tensor.from([T, B], Array.from({ length: T * B }, () => token(4, V - 4)));
const targetOut = Tensor.from([T * B], Array.from({ length: T * B }, () => token(4, V - 4)));
const sourceLengths = Array<number>(B).fill(S);
const targetLengths = Array<number>(B).fill(T);

const totals = new Map<string, number>();
const add = (phase: string, since: number) => totals.set(phase, (totals.get(phase) ?? 0) + performance.now() - since);
const shapeOf = (input: Differentiable) => (input ? ('value' in input ? input.value.shape : input.shape) : []);

// Each node's backward timed under its name (Linear by its weight's shape, LSTM by its input's).
const record = Tape.prototype.record;
Tape.prototype.record = function (this: Tape, name, inputs, outputs, backward) {
  const weight = shapeOf(inputs[1]);
  const label = name === 'Linear' ? `${name} [${weight.join(', ')}], ${inputs[0]!.shape.reduce((a, b) => a * b, 1) / weight[1]!} rows` : name === 'LSTM' ? `${name} [${shapeOf(inputs[0]).join(', ')}]` : name;
  return record.call(this, name, inputs, outputs, async (gradients, context) => {
    const start = performance.now();
    const result = await backward(gradients, context);
    add(`  backward: ${label}`, start);
    return result;
  });
};

for (let step = 0; step < warmup + steps; step++) {
  if (step === warmup) totals.clear();
  const start = performance.now();
  optimizer.zeroGrad();
  const tape = new Tape();
  const { loss } = await tape.run(async () => {
    const features = await model.outputFeatures(source, sourceLengths, targetIn, targetLengths);
    add('forward', start);
    const lossStart = performance.now();
    const result = await linearCrossEntropy(features, model.output, targetOut, { ignoreIndex: 0, backend });
    add('loss', lossStart);
    return result;
  });
  const backwardStart = performance.now();
  await tape.backward(loss);
  add('backward', backwardStart);
  const updateStart = performance.now();
  clipGradNorm(model.parameters(), 1);
  optimizer.step();
  add('clip and Adam', updateStart);
  add('step', start);
}
await backend.dispose();

const parameters = model.parameters().reduce((sum, p) => sum + p.value.size, 0);
process.stdout.write(`translation model (${(parameters / 1e6).toFixed(1)} M parameters), batch ${B}, ${S} source and ${T} target steps, ${backendName}: ms a step over ${steps} steps\n`);
for (const [phase, ms] of [...totals].sort((a, b) => b[1] - a[1])) process.stdout.write(`${phase.padEnd(48)} ${(ms / steps).toFixed(2).padStart(8)}\n`);
