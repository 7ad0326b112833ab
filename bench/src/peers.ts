/**
 * The JavaScript peers a user would otherwise pick, on the same workloads:
 * - TensorFlow.js 4.x, `cpu` and `wasm` backends: a tf.layers.lstm / gru (wrapped in
 *   tf.layers.bidirectional when asked) trained with model.trainOnBatch (Adam, mean squared
 *   error against zeros: the same loss as ours and PyTorch's) and run with model.predict;
 * - brain.js (latest on npm): its recurrent.LSTMTimeStep, one sequence at a time (it has no
 *   batches), trained one epoch over the batch's sequences; LSTM, one layer, one direction only;
 * - onnxruntime-web, inference only: our layer exported as ONNX, run by ONNX Runtime's WebAssembly build.
 */
import { medianSeconds, type TimingBudget } from './timing.js';
import { workloadInput, type Workload } from './workloads.js';

export async function measureTfjs(backendName: 'cpu' | 'wasm', w: Workload, training: boolean, runs: number, budget: TimingBudget): Promise<number> {
  const tf = await import('@tensorflow/tfjs');
  await import('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend(backendName);
  await tf.ready();
  const model = tf.sequential();
  for (let layer = 0; layer < w.numLayers; layer++) {
    const config = {
      units: w.hiddenSize, returnSequences: true, ...(w.recurrentDropout ? { recurrentDropout: w.recurrentDropout } : {}),
      ...(layer === 0 && !w.bidirectional ? { inputShape: [w.steps, w.inputSize] } : {}),
    };
    const cell = w.cell === 'lstm' ? tf.layers.lstm(config) : tf.layers.gru(config);
    model.add(w.bidirectional
      ? tf.layers.bidirectional({ layer: cell as never, mergeMode: 'concat', ...(layer === 0 ? { inputShape: [w.steps, w.inputSize] } : {}) })
      : cell);
  }
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'meanSquaredError' });
  // tfjs is batch-major: [B, T, E].
  const x = tf.tensor3d(workloadInput(w), [w.batch, w.steps, w.inputSize]);
  const y = tf.zeros([w.batch, w.steps, (w.bidirectional ? 2 : 1) * w.hiddenSize]);
  const once = async () => {
    if (training) {
      await model.trainOnBatch(x, y);
    } else {
      const prediction = model.predict(x) as import('@tensorflow/tfjs').Tensor;
      await prediction.data();
      prediction.dispose();
    }
  };
  return (w.batch * w.steps) / (await medianSeconds(once, runs, budget));
}

/**
 * onnxruntime-web (its WebAssembly build, SIMD and threads, in Node): inference only, on our own
 * layer of the workload exported with recurrentToOnnx (ONNX's LSTM/GRU operators). `check` is
 * the output's mean, as our inference rows', so the row can be held to ours.
 */
export async function measureOnnxRuntime(w: Workload, runs: number, budget: TimingBudget): Promise<{ tokensPerSecond: number; check: number[] }> {
  const ort = await import('onnxruntime-web');
  const { availableParallelism } = await import('node:os');
  const { GRU, LSTM, recurrentToOnnx } = await import('@recurrent/core');
  ort.env.wasm.numThreads = availableParallelism();
  const options = { inputSize: w.inputSize, hiddenSize: w.hiddenSize, numLayers: w.numLayers, bidirectional: w.bidirectional, seed: 1 };
  const layer = (w.cell === 'lstm' ? new LSTM(options) : new GRU(options)).eval();
  const session = await ort.InferenceSession.create(recurrentToOnnx(layer));
  const input = new ort.Tensor('float32', workloadInput(w), [w.steps, w.batch, w.inputSize]);
  const check: number[] = [];
  const once = async () => {
    const { output } = await session.run({ input });
    if (check.length === 0) {
      const data = output!.data as Float32Array;
      check.push(data.reduce((s, v) => s + v, 0) / data.length);
    }
  };
  const tokensPerSecond = (w.batch * w.steps) / (await medianSeconds(once, runs, budget));
  await session.release();
  return { tokensPerSecond, check };
}

export async function measureBrain(w: Workload, training: boolean, runs: number, budget: TimingBudget): Promise<number> {
  if (w.cell !== 'lstm' || w.numLayers !== 1 || w.bidirectional) throw new Error('brain.js rows cover one-layer, one-direction LSTMs only');
  const brain = (await import('brain.js')).default as unknown as {
    recurrent: { LSTMTimeStep: new (options: object) => { train(data: number[][][], options: object): unknown; run(sequence: number[][]): unknown } };
  };
  const net = new brain.recurrent.LSTMTimeStep({ inputSize: w.inputSize, hiddenLayers: [w.hiddenSize], outputSize: w.inputSize });
  const x = workloadInput(w);
  const data = Array.from({ length: w.batch }, (_, b) =>
    Array.from({ length: w.steps }, (_, t) => Array.from(x.subarray((t * w.batch + b) * w.inputSize, (t * w.batch + b + 1) * w.inputSize))));
  // brain.js builds its network on the first train call; inference needs one first.
  if (!training) net.train(data.slice(0, 1), { iterations: 1, log: false });
  const once = () => {
    if (training) net.train(data, { iterations: 1, log: false });
    else for (const sequence of data) net.run(sequence);
  };
  return (w.batch * w.steps) / (await medianSeconds(once, runs, budget));
}
