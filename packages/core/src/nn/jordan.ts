/**
 * A Jordan network (Jordan 1986): the recurrent loop feeds back the previous *output* y, where
 * an Elman network (`RNN`) feeds back the previous hidden state h.
 *
 *   h_t = act(x_t W_ih^T + y_{t-1} W_yh^T + b_h)       act = tanh or relu
 *   y_t = out(h_t W_hy^T + b_y)                         out = identity, tanh or sigmoid
 *
 * Shapes: x [T, B, E]; h [T, B, H]; y [T, B, O]; y0 [B, O] (zeros by default). Parameters:
 * weight_ih [H, E], weight_yh [H, O], bias_h [H], weight_hy [O, H], bias_y [O].
 *
 * It is small on purpose, for learning the difference: each step is a few of the generic kernels
 * (matmul, add, activation), not a fused pipeline, and it takes neither layers nor directions.
 */
import { add, addBias, mul, relu, sigmoid, sub, tanh } from '../kernels/elementwise.js';
import { matmul } from '../kernels/matmul.js';
import { sum } from '../kernels/reduce.js';
import { mulberry32 } from '../random.js';
import { formatShape, ShapeError, Tensor } from '../tensor.js';
import { uniform_ } from './init.js';
import { checkOption, isPositiveInteger, Module } from './module.js';
import { Parameter, Tape } from './tape.js';

export interface JordanOptions {
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly outputSize: number;
  /** Hidden activation. Default 'tanh'. */
  readonly nonlinearity?: 'tanh' | 'relu';
  /** Output activation. Default 'identity' (a linear readout). */
  readonly outputActivation?: 'identity' | 'tanh' | 'sigmoid';
  readonly seed?: number;
}

export interface JordanOutput {
  /** y [T, B, O]: the outputs, each fed back into the next step. */
  readonly output: Tensor;
  /** h [T, B, H]. */
  readonly hidden: Tensor;
}

export class JordanRNN extends Module {
  readonly options: Required<Omit<JordanOptions, 'seed'>>;
  readonly weightIh: Parameter;
  readonly weightYh: Parameter;
  readonly biasH: Parameter;
  readonly weightHy: Parameter;
  readonly biasY: Parameter;

  constructor(options: JordanOptions) {
    super();
    for (const key of ['inputSize', 'hiddenSize', 'outputSize'] as const) {
      checkOption('JordanRNN', key, options[key], isPositiveInteger(options[key]), 'a positive integer');
    }
    const nonlinearity = options.nonlinearity ?? 'tanh';
    const outputActivation = options.outputActivation ?? 'identity';
    checkOption('JordanRNN', 'nonlinearity', nonlinearity, ['tanh', 'relu'].includes(nonlinearity), "'tanh' or 'relu'");
    checkOption('JordanRNN', 'outputActivation', outputActivation, ['identity', 'tanh', 'sigmoid'].includes(outputActivation), "'identity', 'tanh' or 'sigmoid'");
    this.options = { ...options, nonlinearity, outputActivation };
    const { inputSize: E, hiddenSize: H, outputSize: O } = options;
    const random = mulberry32(options.seed ?? 0);
    const hiddenBound = 1 / Math.sqrt(H);
    this.weightIh = this.registerParameter('weight_ih', uniform_(Tensor.zeros([H, E]), hiddenBound, random));
    this.weightYh = this.registerParameter('weight_yh', uniform_(Tensor.zeros([H, O]), hiddenBound, random));
    this.biasH = this.registerParameter('bias_h', uniform_(Tensor.zeros([H]), hiddenBound, random));
    this.weightHy = this.registerParameter('weight_hy', uniform_(Tensor.zeros([O, H]), hiddenBound, random));
    this.biasY = this.registerParameter('bias_y', uniform_(Tensor.zeros([O]), hiddenBound, random));
  }

  async forward(x: Tensor, options: { y0?: Tensor } = {}): Promise<JordanOutput> {
    const { inputSize: E, hiddenSize: H, outputSize: O } = this.options;
    if (x.rank !== 3 || x.shape[2] !== E) throw new ShapeError(`JordanRNN: input must have shape [T, B, ${E}], got ${formatShape(x.shape)}`);
    const [T, B] = x.shape as [number, number];
    if (options.y0 && (options.y0.rank !== 2 || options.y0.shape[0] !== B || options.y0.shape[1] !== O)) {
      throw new ShapeError(`JordanRNN: y0 must have shape [${B}, ${O}], got ${formatShape(options.y0.shape)}`);
    }
    const backend = await this.backend();
    const act = this.options.nonlinearity === 'tanh' ? tanh : relu;
    const xs = Array.from({ length: T }, (_, t) => new Tensor([B, E], x.data.slice(t * B * E, (t + 1) * B * E)));
    const hs: Tensor[] = [];
    const ys: Tensor[] = [];
    let y = options.y0 ?? Tensor.zeros([B, O]);
    const yPrev: Tensor[] = [];
    for (let t = 0; t < T; t++) {
      yPrev.push(y);
      const pre = await addBias(backend, await add(backend,
        await matmul(backend, xs[t]!, this.weightIh.value, { transB: true }),
        await matmul(backend, y, this.weightYh.value, { transB: true })), this.biasH.value);
      const h = await act(backend, pre);
      const z = await addBias(backend, await matmul(backend, h, this.weightHy.value, { transB: true }), this.biasY.value);
      y = this.options.outputActivation === 'tanh' ? await tanh(backend, z) : this.options.outputActivation === 'sigmoid' ? await sigmoid(backend, z) : z;
      hs.push(h);
      ys.push(y);
    }
    const stack = (parts: Tensor[], features: number) => {
      const out = Tensor.zeros([T, B, features]);
      parts.forEach((p, t) => out.data.set(p.data, t * B * features));
      return out;
    };
    const output = stack(ys, O);
    const hidden = stack(hs, H);

    Tape.current()?.record('JordanRNN', [x, options.y0, this.weightIh, this.weightYh, this.biasH, this.weightHy, this.biasY], [output, hidden], async ([dOutput, dHidden]) => {
      const one = Tensor.from([], [1]);
      const grads = {
        dWih: Tensor.zeros([H, E]), dWyh: Tensor.zeros([H, O]), dBh: Tensor.zeros([H]), dWhy: Tensor.zeros([O, H]), dBy: Tensor.zeros([O]),
      };
      const accumulate = async (into: Tensor, g: Tensor) => into.data.set((await add(backend, into, g)).data);
      const dx = Tensor.zeros(x.shape);
      let dyCarry = Tensor.zeros([B, O]);
      for (let t = T - 1; t >= 0; t--) {
        const slice = (g: Tensor | undefined, features: number) => new Tensor([B, features], g ? g.data.slice(t * B * features, (t + 1) * B * features) : new Float32Array(B * features));
        const dy = await add(backend, slice(dOutput, O), dyCarry);
        const yT = ys[t]!;
        // out'(z): 1, 1 - y^2 or y (1 - y).
        const dz = this.options.outputActivation === 'tanh'
          ? await mul(backend, dy, await sub(backend, one, await mul(backend, yT, yT)))
          : this.options.outputActivation === 'sigmoid'
            ? await mul(backend, dy, await mul(backend, yT, await sub(backend, one, yT)))
            : dy;
        const h = hs[t]!;
        await accumulate(grads.dWhy, await matmul(backend, dz, h, { transA: true }));
        await accumulate(grads.dBy, await sum(backend, dz, { axis: 0 }));
        const dh = await add(backend, await matmul(backend, dz, this.weightHy.value), slice(dHidden, H));
        // act'(pre): 1 - h^2 for tanh; 1 where h > 0 for relu.
        const derivative = this.options.nonlinearity === 'tanh'
          ? await sub(backend, one, await mul(backend, h, h))
          : new Tensor(h.shape, h.data.map((v) => (v > 0 ? 1 : 0)));
        const dPre = await mul(backend, dh, derivative);
        await accumulate(grads.dWih, await matmul(backend, dPre, xs[t]!, { transA: true }));
        await accumulate(grads.dWyh, await matmul(backend, dPre, yPrev[t]!, { transA: true }));
        await accumulate(grads.dBh, await sum(backend, dPre, { axis: 0 }));
        dx.data.set((await matmul(backend, dPre, this.weightIh.value)).data, t * B * E);
        dyCarry = await matmul(backend, dPre, this.weightYh.value);
      }
      return [dx, options.y0 ? dyCarry : undefined, grads.dWih, grads.dWyh, grads.dBh, grads.dWhy, grads.dBy];
    });
    return { output, hidden };
  }
}
