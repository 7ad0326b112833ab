/**
 * LSTM throughput on one backend: tokens (batch x steps) per second of a training step (forward,
 * backward through time, Adam update) and of inference (forward only), median of several runs
 * after a warm-up run that compiles every kernel and pipeline.
 */
import { Adam, Backend, LSTM, reference, Tape, Tensor } from '@recurrent/core';
import { performance } from 'node:perf_hooks';

export interface Workload {
  readonly name: string;
  readonly batch: number;
  readonly steps: number;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bidirectional: boolean;
}

/** Workload S of the design notes: batch 32, 64 steps, input 128, hidden 256, one LSTM layer. */
export const WORKLOAD_S: Workload = { name: 'S', batch: 32, steps: 64, inputSize: 128, hiddenSize: 256, numLayers: 1, bidirectional: false };

/**
 * Floating-point operations per token of one LSTM layer direction: the forward pass is two
 * products into 4H gates, 2 (E + H) 4H; backward costs twice the forward (gradients of the
 * input and of the weights), so a training step is three times the forward.
 */
export function lstmFlopsPerToken(w: Workload, training: boolean): number {
  const D = w.bidirectional ? 2 : 1;
  let forward = 0;
  for (let layer = 0; layer < w.numLayers; layer++) {
    const E = layer === 0 ? w.inputSize : D * w.hiddenSize;
    forward += D * 2 * (E + w.hiddenSize) * 4 * w.hiddenSize;
  }
  return training ? 3 * forward : forward;
}

function input(w: Workload): Tensor {
  return Tensor.from([w.steps, w.batch, w.inputSize], Array.from({ length: w.steps * w.batch * w.inputSize }, (_, i) => Math.sin(i * 0.37)));
}

function model(w: Workload, backend: Backend): LSTM {
  return new LSTM({ inputSize: w.inputSize, hiddenSize: w.hiddenSize, numLayers: w.numLayers, bidirectional: w.bidirectional, seed: 1 }).to(backend);
}

export async function measureLstm(backend: Backend, w: Workload, training: boolean, runs: number): Promise<{ tokensPerSecond: number; times: number[] }> {
  const lstm = model(w, backend);
  const optimizer = new Adam(lstm.parameters(), { lr: 1e-3 });
  const x = input(w);
  const once = async () => {
    const start = performance.now();
    if (training) {
      const tape = new Tape();
      const { output } = await tape.run(() => lstm.forward(x));
      optimizer.zeroGrad();
      await tape.backward(output, Tensor.full(output.shape, 1 / output.size));
      optimizer.step();
    } else {
      await lstm.forward(x);
    }
    return (performance.now() - start) / 1000;
  };
  await once();
  const times: number[] = [];
  for (let r = 0; r < runs; r++) times.push(await once());
  const median = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
  return { tokensPerSecond: (w.batch * w.steps) / median, times };
}

/**
 * The largest difference between this backend's forward output and the float64 reference on
 * the workload's input and initial weights: the row's correctness check.
 */
export async function lstmError(backend: Backend, w: Workload, expected: Float64Array): Promise<number> {
  const { output } = await model(w, backend).forward(input(w));
  return output.data.reduce((worst, v, i) => Math.max(worst, Math.abs(v - expected[i]!)), 0);
}

export function lstmReference(w: Workload): Float64Array {
  const lstm = model(w, undefined as unknown as Backend);
  const shape = { kind: 'lstm' as const, inputSize: w.inputSize, hiddenSize: w.hiddenSize, numLayers: w.numLayers, bidirectional: w.bidirectional, bias: true };
  const params = new Map([...lstm.stateDict()].map(([name, t]) => [name, Float64Array.from(t.data)]));
  return reference.recurrentForwardRef(shape, params, { x: Float64Array.from(input(w).data), steps: w.steps, batch: w.batch }).output;
}
