/** The benchmark's fixed workloads and their arithmetic cost. */

export interface Workload {
  readonly name: string;
  readonly cell: 'lstm' | 'gru';
  readonly batch: number;
  readonly steps: number;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bidirectional: boolean;
  /** Keras's recurrent_dropout, in training (S-RD). */
  readonly recurrentDropout?: number;
}

const S = { cell: 'lstm', batch: 32, steps: 64, inputSize: 128, hiddenSize: 256, numLayers: 1, bidirectional: false } as const;

export const WORKLOADS: Readonly<Record<string, Workload>> = {
  /** Workload S: batch 32, 64 steps, input 128, hidden 256, one LSTM layer. */
  S: { name: 'S', ...S },
  /** Workload L: batch 64, 128 steps, input 256, hidden 512, two LSTM layers. */
  L: { name: 'L', cell: 'lstm', batch: 64, steps: 128, inputSize: 256, hiddenSize: 512, numLayers: 2, bidirectional: false },
  'S-GRU': { name: 'S-GRU', ...S, cell: 'gru' },
  'S-BiLSTM': { name: 'S-BiLSTM', ...S, bidirectional: true },
  /** S trained with recurrent dropout 0.2 (Keras's recurrent_dropout): Keras leaves cuDNN for it; ours stays fused. */
  'S-RD': { name: 'S-RD', ...S, recurrentDropout: 0.2 },
  /** The `--quick` smoke run: small enough that every peer finishes in seconds. */
  XS: { name: 'XS', cell: 'lstm', batch: 8, steps: 16, inputSize: 32, hiddenSize: 64, numLayers: 1, bidirectional: false },
};

/** The scaling sweep: workload S with one dimension varied (sequence length, then hidden size). */
export const SWEEP = { steps: [16, 32, 64, 128, 256, 512], hidden: [64, 128, 256, 512, 1024] } as const;

export const sweepWorkloads = (): Workload[] => [
  ...SWEEP.steps.map((steps) => ({ ...S, name: `sweep-T${steps}`, steps })),
  ...SWEEP.hidden.map((hiddenSize) => ({ ...S, name: `sweep-H${hiddenSize}`, hiddenSize })),
];

/** A workload by name: a fixed one, or a sweep point (`sweep-T128`, `sweep-H512`). */
export function workloadNamed(name: string): Workload {
  const workload = WORKLOADS[name] ?? sweepWorkloads().find((w) => w.name === name);
  if (!workload) throw new Error(`unknown workload ${name}`);
  return workload;
}

/**
 * Floating-point operations per token (batch x steps). Each layer direction's forward pass is two
 * products into G gates of H: 2 (E_l + H) G H, with G = 4 (LSTM) or 3 (GRU); the backward pass
 * costs twice the forward (gradients of inputs and of weights), so a training step is three
 * forwards. Elementwise work is left out: it is a few percent of this at these sizes.
 */
export function flopsPerToken(w: Workload, training: boolean): number {
  const D = w.bidirectional ? 2 : 1;
  const G = w.cell === 'lstm' ? 4 : 3;
  let forward = 0;
  for (let layer = 0; layer < w.numLayers; layer++) {
    const E = layer === 0 ? w.inputSize : D * w.hiddenSize;
    forward += D * 2 * (E + w.hiddenSize) * G * w.hiddenSize;
  }
  return training ? 3 * forward : forward;
}

/** The same input for every JavaScript row: [T, B, E] values sin(0.37 i). */
export function workloadInput(w: Workload): Float32Array {
  return Float32Array.from({ length: w.steps * w.batch * w.inputSize }, (_, i) => Math.sin(i * 0.37));
}
