/**
 * Our rows: a recurrent layer of the workload on one backend. A training step is forward,
 * backward through time (loss = mean of the squared outputs, as the PyTorch peer) and an Adam
 * update; inference is forward only. Median of several runs after a warm-up run that compiles
 * every kernel and pipeline.
 */
import { Adam, Backend, GRU, LSTM, reference, Tape, Tensor, type RecurrentLayer } from '@recurrent/core';
import { medianSeconds, type TimingBudget } from './timing.js';
import { workloadInput, type Workload } from './workloads.js';

function model(w: Workload): RecurrentLayer {
  const options = { inputSize: w.inputSize, hiddenSize: w.hiddenSize, numLayers: w.numLayers, bidirectional: w.bidirectional, recurrentDropout: w.recurrentDropout ?? 0, seed: 1 };
  return w.cell === 'lstm' ? new LSTM(options) : new GRU(options);
}

export interface OurRow {
  readonly tokensPerSecond: number;
  /** Training: the losses of the first two steps (forward, then forward after one update); inference: the output's mean. */
  readonly check: number[];
  /** Max |output - float64 reference| on the first forward pass, where the reference was affordable. */
  readonly referenceError?: number;
}

export async function measureOurs(backend: Backend, w: Workload, training: boolean, runs: number, budget: TimingBudget, withReference: boolean): Promise<OurRow> {
  const layer = model(w).to(backend);
  const optimizer = new Adam(layer.parameters(), { lr: 1e-3 });
  const x = new Tensor([w.steps, w.batch, w.inputSize], workloadInput(w));
  const check: number[] = [];
  let firstOutput: Float32Array | undefined;
  const once = async () => {
    if (training) {
      const tape = new Tape();
      const { output } = await tape.run(() => layer.forward(x));
      firstOutput ??= output.data;
      // loss = mean(output^2); its gradient 2 output / n seeds the tape.
      const n = output.size;
      check.push(output.data.reduce((s, v) => s + v * v, 0) / n);
      optimizer.zeroGrad();
      await tape.backward(output, new Tensor(output.shape, output.data.map((v) => (2 * v) / n)));
      optimizer.step();
    } else {
      const { output, hN, cN } = await layer.forward(x);
      firstOutput ??= output.data.slice();
      if (check.length === 0) check.push(output.data.reduce((s, v) => s + v, 0) / output.size);
      // as the TensorFlow.js peer disposes its prediction: the next call reuses the output's buffer
      output.dispose();
      hN.dispose();
      cN?.dispose();
    }
  };
  const median = await medianSeconds(once, runs, budget);
  let referenceError: number | undefined;
  if (withReference && firstOutput) {
    const shape = { kind: w.cell, inputSize: w.inputSize, hiddenSize: w.hiddenSize, numLayers: w.numLayers, bidirectional: w.bidirectional, bias: true } as const;
    const fresh = model(w);
    const params = new Map([...fresh.stateDict()].map(([name, t]) => [name, Float64Array.from(t.data)]));
    const expected = reference.recurrentForwardRef(shape, params, { x: Float64Array.from(x.data), steps: w.steps, batch: w.batch }).output;
    referenceError = firstOutput.reduce((worst, v, i) => Math.max(worst, Math.abs(v - expected[i]!)), 0);
  }
  return { tokensPerSecond: (w.batch * w.steps) / median, check: check.slice(0, training ? 2 : 1), ...(referenceError === undefined ? {} : { referenceError }) };
}
