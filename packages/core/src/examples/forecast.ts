/**
 * Sequence regression: forecast a noisy periodic signal. Each training sequence is a sine of a
 * random period (8 to 40 steps), amplitude and phase plus Gaussian noise; the model reads it and
 * predicts every next value (many to many, mean squared error):
 *
 *   x [T, B, 1] -> LSTM -> [T, B, H] -> Linear -> next values [T, B, 1]
 *
 * To forecast, the LSTM layer reads the observed context in one pipeline, then an LSTMCell with
 * the same weights runs on alone, each prediction fed back as the next input (the closed loop a
 * layer cannot express, since each input depends on the step before).
 */
import type { Backend } from '../backend/backend.js';
import { LSTMCell } from '../nn/cells.js';
import { Linear } from '../nn/layers.js';
import { mseLoss } from '../nn/losses.js';
import { Module } from '../nn/module.js';
import { LSTM } from '../nn/recurrent.js';
import { Tape } from '../nn/tape.js';
import { Adam } from '../optim/optimizers.js';
import { gaussian, mulberry32, type SeededRandom } from '../random.js';
import { Tensor } from '../tensor.js';
import { optimiserStep } from './step.js';

/** One sequence's clean signal: amplitude sin(2 pi t / period + phase). */
export interface Wave {
  readonly period: number;
  readonly amplitude: number;
  readonly phase: number;
}

export function randomWave(random: SeededRandom): Wave {
  return { period: 8 + 32 * random(), amplitude: 0.5 + random(), phase: 2 * Math.PI * random() };
}

export function waveAt(wave: Wave, t: number): number {
  return wave.amplitude * Math.sin((2 * Math.PI * t) / wave.period + wave.phase);
}

export class Forecaster extends Module {
  readonly lstm: LSTM;
  readonly head: Linear;

  constructor(options: { hidden?: number; seed?: number } = {}) {
    super();
    const hidden = options.hidden ?? 32;
    const seed = options.seed ?? 0;
    this.lstm = this.registerModule('lstm', new LSTM({ inputSize: 1, hiddenSize: hidden, seed }));
    this.head = this.registerModule('head', new Linear({ inFeatures: hidden, outFeatures: 1, seed: seed + 1 }));
  }

  /** x [T, B, 1] -> the prediction of each next value [T, B, 1]. */
  async forward(x: Tensor): Promise<Tensor> {
    const { output } = await this.lstm.forward(x);
    return this.head.forward(output);
  }

  /**
   * Reads `context` [T, B, 1], then forecasts `horizon` more values per sequence, each from the
   * last: returns [horizon, B] values.
   */
  async forecast(context: Tensor, horizon: number): Promise<Float32Array[]> {
    const { output, hN, cN } = await this.lstm.forward(context);
    const [T, B] = [context.shape[0]!, context.shape[1]!];
    const H = this.lstm.config.hiddenSize;
    const cell = new LSTMCell({ inputSize: 1, hiddenSize: H });
    cell.loadStateDict(new Map([...this.lstm.stateDict()].map(([name, t]) => [name.replace(/_l0$/, ''), t])), { strict: true });
    cell.to(await this.backend());
    let h = new Tensor([B, H], hN.data);
    let c = new Tensor([B, H], cN!.data);
    // the first forecast comes from the context's last output
    let next = await this.head.forward(new Tensor([B, H], output.data.slice((T - 1) * B * H)));
    const forecasts = [Float32Array.from(next.data)];
    for (let step = 1; step < horizon; step++) {
      [h, c] = await cell.forward(next, [h, c]);
      next = await this.head.forward(h);
      forecasts.push(Float32Array.from(next.data));
    }
    return forecasts;
  }
}

/** B noisy sequences of T + 1 values, time-major, and their waves. */
export function waveBatch(random: SeededRandom, B: number, T: number, noise: number): { values: Float32Array; waves: Wave[] } {
  const waves = Array.from({ length: B }, () => randomWave(random));
  const normal = gaussian(random);
  const values = new Float32Array((T + 1) * B);
  for (let t = 0; t <= T; t++) for (let b = 0; b < B; b++) values[t * B + b] = waveAt(waves[b]!, t) + noise * normal();
  return { values, waves };
}

export interface ForecastTrainingOptions {
  readonly backend: Backend;
  readonly steps?: number;
  readonly batchSize?: number;
  readonly seqLength?: number;
  readonly hidden?: number;
  readonly noise?: number;
  readonly lr?: number;
  readonly seed?: number;
  readonly onStep?: (step: number, loss: number) => void;
}

/** Trains a Forecaster on fresh random waves each step (Adam, clipping at 1); returns it and each step's loss. */
export async function trainForecaster(options: ForecastTrainingOptions): Promise<{ model: Forecaster; losses: number[] }> {
  const steps = options.steps ?? 300;
  const B = options.batchSize ?? 32;
  const T = options.seqLength ?? 40;
  const noise = options.noise ?? 0.05;
  const seed = options.seed ?? 0;
  const model = new Forecaster({ hidden: options.hidden ?? 32, seed }).to(options.backend);
  const optimizer = new Adam(model.parameters(), { lr: options.lr ?? 0.01 });
  const random = mulberry32(seed + 100);
  const losses: number[] = [];
  for (let step = 1; step <= steps; step++) {
    const { values } = waveBatch(random, B, T, noise);
    const inputs = new Tensor([T, B, 1], values.slice(0, T * B));
    const targets = new Tensor([T, B, 1], values.slice(B));
    const tape = new Tape();
    const loss = await tape.run(async () => mseLoss(await model.forward(inputs), targets));
    losses.push(await optimiserStep(tape, loss, model, optimizer));
    options.onStep?.(step, losses.at(-1)!);
  }
  return { model, losses };
}

/**
 * Forecasts `horizon` steps after a `context`-step window of new noisy waves and scores them
 * against the clean continuation: the model's mean squared error, and that of repeating the last
 * observed value (the naive forecast a model must beat).
 */
export async function evaluateForecaster(
  model: Forecaster, options: { sequences?: number; context?: number; horizon?: number; noise?: number; seed?: number } = {},
): Promise<{ mse: number; naiveMse: number }> {
  const B = options.sequences ?? 64;
  const T = options.context ?? 40;
  const horizon = options.horizon ?? 20;
  const random = mulberry32((options.seed ?? 0) + 999);
  const { values, waves } = waveBatch(random, B, T - 1, options.noise ?? 0.05);
  const forecasts = await model.eval().forecast(new Tensor([T, B, 1], values), horizon);
  let squared = 0;
  let naive = 0;
  for (let step = 0; step < horizon; step++) {
    for (let b = 0; b < B; b++) {
      const truth = waveAt(waves[b]!, T + step);
      squared += (forecasts[step]![b]! - truth) ** 2;
      naive += (values[(T - 1) * B + b]! - truth) ** 2;
    }
  }
  return { mse: squared / (horizon * B), naiveMse: naive / (horizon * B) };
}
