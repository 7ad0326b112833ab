/**
 * The kernel demo: a two-layer network learns the classic three-arm spiral (CS231n's toy set),
 * every forward and backward step written with our kernels on the chosen backend. No layer
 * library yet: the gradients below are worked by hand, as a textbook would.
 *
 * Shapes: N points, 2 inputs, H hidden units, C = 3 classes.
 */
import type { Backend } from '../backend/backend.js';
import { add, addBias, gather, logSoftmax, matmul, mul, softmax, sub, sum, tanh } from '../kernels/index.js';
import { gaussian, mulberry32 } from '../random.js';
import { Tensor } from '../tensor.js';

export interface SpiralOptions {
  readonly backend: Backend;
  /** Full-batch gradient steps. Default 1000. */
  readonly steps?: number;
  /** Hidden units. Default 64. */
  readonly hidden?: number;
  /** Plain gradient descent step size. Default 1. */
  readonly learningRate?: number;
  /** Points per arm. Default 100. */
  readonly pointsPerClass?: number;
  readonly seed?: number;
  /** Called every `reportEvery` steps with the training loss. */
  readonly onReport?: (step: number, loss: number) => void;
  readonly reportEvery?: number;
}

export interface SpiralResult {
  readonly losses: number[];
  readonly accuracy: number;
  /** Predicted class of each cell of a rows x cols grid over [-1, 1]^2, row 0 at the top. */
  readonly map: number[][];
}

export const SPIRAL_CLASSES = 3;

/** Three interleaved spiral arms with angular noise: x [3n, 2], labels [3n]. */
export function makeSpiral(pointsPerClass: number, seed: number): { x: Tensor; labels: Tensor } {
  const noise = gaussian(mulberry32(seed));
  const n = pointsPerClass * SPIRAL_CLASSES;
  const x = Tensor.zeros([n, 2]);
  const labels = Tensor.zeros([n]);
  for (let c = 0; c < SPIRAL_CLASSES; c++) {
    for (let i = 0; i < pointsPerClass; i++) {
      const row = c * pointsPerClass + i;
      const radius = i / (pointsPerClass - 1);
      const angle = c * 4 + (4 * i) / (pointsPerClass - 1) + noise() * 0.2;
      x.data[row * 2] = radius * Math.sin(angle);
      x.data[row * 2 + 1] = radius * Math.cos(angle);
      labels.data[row] = c;
    }
  }
  return { x, labels };
}

function randomMatrix(rows: number, cols: number, scale: number, random: () => number): Tensor {
  const t = Tensor.zeros([rows, cols]);
  for (let i = 0; i < t.size; i++) t.data[i] = (random() * 2 - 1) * scale;
  return t;
}

const scalar = (value: number) => Tensor.from([], [value]);

export async function trainSpiral(options: SpiralOptions): Promise<SpiralResult> {
  const { backend } = options;
  const steps = options.steps ?? 1000;
  const hidden = options.hidden ?? 64;
  const seed = options.seed ?? 1;
  const reportEvery = options.reportEvery ?? 100;
  const { x, labels } = makeSpiral(options.pointsPerClass ?? 100, seed);
  const n = labels.size;
  const random = mulberry32(seed + 1);
  let w1 = randomMatrix(2, hidden, 1, random);
  let b1 = Tensor.zeros([hidden]);
  let w2 = randomMatrix(hidden, SPIRAL_CLASSES, 1 / Math.sqrt(hidden), random);
  let b2 = Tensor.zeros([SPIRAL_CLASSES]);
  const step = scalar(-(options.learningRate ?? 1));
  // One-hot targets as rows of the identity picked by gather: the embedding lookup kernel.
  const identity = Tensor.zeros([SPIRAL_CLASSES, SPIRAL_CLASSES]);
  for (let c = 0; c < SPIRAL_CLASSES; c++) identity.data[c * SPIRAL_CLASSES + c] = 1;
  const targets = await gather(backend, identity, labels);

  const forward = async (inputs: Tensor) => {
    const h = await tanh(backend, await addBias(backend, await matmul(backend, inputs, w1), b1));
    const logits = await addBias(backend, await matmul(backend, h, w2), b2);
    return { h, logits };
  };

  const losses: number[] = [];
  for (let s = 1; s <= steps; s++) {
    const { h, logits } = await forward(x);
    // Loss: mean negative log-likelihood of the true class.
    const logProbs = await logSoftmax(backend, logits);
    let loss = 0;
    for (let i = 0; i < n; i++) loss -= logProbs.data[i * SPIRAL_CLASSES + labels.data[i]!]!;
    losses.push(loss / n);
    if (s % reportEvery === 0 || s === 1) options.onReport?.(s, loss / n);

    // Backward. dLogits = (softmax - onehot) / n
    const dLogits = await mul(backend, await sub(backend, await softmax(backend, logits), targets), scalar(1 / n));
    const dW2 = await matmul(backend, h, dLogits, { transA: true });
    const dB2 = await sum(backend, dLogits, { axis: 0 });
    const dH = await matmul(backend, dLogits, w2, { transB: true });
    // tanh'(z) = 1 - h^2
    const dZ = await mul(backend, dH, await sub(backend, scalar(1), await mul(backend, h, h)));
    const dW1 = await matmul(backend, x, dZ, { transA: true });
    const dB1 = await sum(backend, dZ, { axis: 0 });

    // Gradient descent: p <- p - lr * dp
    w1 = await add(backend, w1, await mul(backend, dW1, step));
    b1 = await add(backend, b1, await mul(backend, dB1, step));
    w2 = await add(backend, w2, await mul(backend, dW2, step));
    b2 = await add(backend, b2, await mul(backend, dB2, step));
  }

  const predict = async (inputs: Tensor) => {
    const { logits } = await forward(inputs);
    return Array.from({ length: inputs.shape[0]! }, (_, i) => {
      const row = logits.data.subarray(i * SPIRAL_CLASSES, (i + 1) * SPIRAL_CLASSES);
      return row.indexOf(Math.max(...row));
    });
  };
  const predicted = await predict(x);
  const accuracy = predicted.filter((c, i) => c === labels.data[i]).length / n;

  const [rows, cols] = [12, 32];
  const grid = Tensor.zeros([rows * cols, 2]);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      grid.data[(r * cols + c) * 2] = -1 + (2 * c) / (cols - 1);
      grid.data[(r * cols + c) * 2 + 1] = 1 - (2 * r) / (rows - 1);
    }
  const cells = await predict(grid);
  const map = Array.from({ length: rows }, (_, r) => cells.slice(r * cols, (r + 1) * cols));
  return { losses, accuracy, map };
}
