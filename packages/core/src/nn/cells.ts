/**
 * One step of a recurrent network as a module: PyTorch's nn.RNNCell, nn.GRUCell and nn.LSTMCell
 * (Keras's SimpleRNNCell, GRUCell and LSTMCell), for loops a layer cannot express, such as a
 * decoder that feeds each output back as the next input.
 *
 *   RNNCell:  h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)
 *   GRUCell:  r, z, n as in GRU; h' = (1 - z) n + z h
 *   LSTMCell: i, f, g, o as in LSTM; c' = f c + i g; h' = o tanh(c')
 *
 * Shapes: x [B, E] (or [E], one unbatched sample), h and c [B, H] (or [H]); parameters
 * weight_ih [G*H, E], weight_hh [G*H, H], bias_ih and bias_hh [G*H], PyTorch's names without the
 * layer suffix, so a cell's state dict loads into torch.nn.LSTMCell as it is. A missing state is
 * zeros. The step runs the recurrent layers' kernels over one time step, and its backward pass
 * is recorded on the active tape, so backpropagation through time runs through a loop of calls.
 */
import { type CellKind, parameterShape, type RecurrentShape } from '../reference/recurrent.js';
import { recurrentBackward, recurrentForward } from '../recurrent/sequence.js';
import { formatShape, sameShape, ShapeError, Tensor } from '../tensor.js';
import { uniform_ } from './init.js';
import { checkOption, isPositiveInteger, Module } from './module.js';
import { Parameter, Tape, WeightProduct } from './tape.js';

export interface CellOptions {
  /** E: features of the input. Required. */
  readonly inputSize: number;
  /** H: features of the hidden state. Required. */
  readonly hiddenSize: number;
  /** Use b_ih and b_hh. Default true. */
  readonly bias?: boolean;
  /** Seed of the initial weights (PyTorch's U(-1/sqrt(H), 1/sqrt(H))). Default 0. */
  readonly seed?: number;
}

export interface RNNCellOptions extends CellOptions {
  /** 'tanh' or 'relu'. Default 'tanh'. */
  readonly nonlinearity?: 'tanh' | 'relu';
}

const NAMES = ['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'] as const;

/** The step shared by the three cells; `kind` is the only difference. */
export abstract class RecurrentCell extends Module {
  readonly config: RecurrentShape;
  private readonly weights = new Map<string, Parameter>();

  protected constructor(kind: CellKind, options: CellOptions, cellName: string) {
    super();
    const check = (name: string, value: unknown, valid: boolean, expected: string) => checkOption(cellName, name, value, valid, expected);
    check('inputSize', options.inputSize, isPositiveInteger(options.inputSize), 'a positive integer');
    check('hiddenSize', options.hiddenSize, isPositiveInteger(options.hiddenSize), 'a positive integer');
    this.config = { kind, inputSize: options.inputSize, hiddenSize: options.hiddenSize, numLayers: 1, bidirectional: false, bias: options.bias ?? true };
    const random = this.registerRandom('random', options.seed ?? 0);
    const bound = 1 / Math.sqrt(options.hiddenSize);
    for (const name of this.config.bias ? NAMES : NAMES.slice(0, 2)) {
      const value = uniform_(Tensor.zeros(parameterShape(this.config, `${name}_l0`)), bound, random);
      this.weights.set(name, this.registerParameter(name, value));
    }
  }

  get inputSize(): number {
    return this.config.inputSize;
  }

  get hiddenSize(): number {
    return this.config.hiddenSize;
  }

  /**
   * One step from `x` and the state (`h`, and `c` for the LSTM cell; zeros when absent):
   * returns the new h (and c), shaped as x's batch.
   */
  protected async step(x: Tensor, h: Tensor | undefined, c: Tensor | undefined): Promise<{ h: Tensor; c: Tensor | undefined }> {
    const { config } = this;
    const cell = this.typeName;
    const E = config.inputSize;
    const H = config.hiddenSize;
    const isLstm = config.kind === 'lstm';
    if (!(x instanceof Tensor) || (x.rank !== 1 && x.rank !== 2) || x.shape[x.rank - 1] !== E) {
      throw new ShapeError(`${cell}: input must have shape [B, ${E}] or [${E}], got ${x instanceof Tensor ? formatShape(x.shape) : typeof x}`);
    }
    const unbatched = x.rank === 1;
    const B = unbatched ? 1 : x.shape[0]!;
    if (B === 0) throw new ShapeError(`${cell}: input has no samples, shape ${formatShape(x.shape)}`);
    const stateShape = unbatched ? [H] : [B, H];
    for (const [name, state] of [[isLstm ? 'h' : 'hx', h], ['c', c]] as const) {
      if (state !== undefined && !(state instanceof Tensor && sameShape(state.shape, stateShape))) {
        throw new ShapeError(`${cell}: ${name} must have shape ${formatShape(stateShape)} for an input of shape ${formatShape(x.shape)}, got ${state instanceof Tensor ? formatShape(state.shape) : typeof state}`);
      }
    }
    const batch = { x: x.data, steps: 1, batch: B, ...(h ? { h0: h.data } : {}), ...(c ? { c0: c.data } : {}) };
    const params = new Map([...this.weights].map(([name, p]) => [`${name}_l0`, p.value.data]));
    const backend = await this.backend();
    const tape = Tape.current();
    const result = await recurrentForward(backend, config, params, batch, { keepTrace: tape !== undefined });
    // one step: the output is the final state, so h' is hN (its own array, unlike the output's)
    const hNext = new Tensor(stateShape, result.hN);
    const cNext = result.cN ? new Tensor(stateShape, result.cN) : undefined;
    if (tape) {
      const weightList = [...this.weights.values()];
      tape.record(cell, [x, h, c, ...weightList], cNext ? [hNext, cNext] : [hNext], async ([dh, dc], context) => {
        // A cell runs a step at a time: its steps' weight gradients make one product (WeightProduct).
        const weightProducts = weightList.some((p) => context.shared(p));
        const grads = await recurrentBackward(backend, config, params, batch, result, new Float32Array(B * H), dh?.data, dc?.data, { releaseTrace: true, weightProducts });
        return [
          new Tensor(x.shape, grads.dx),
          h ? new Tensor(stateShape, grads.dh0) : undefined,
          c && grads.dc0 ? new Tensor(stateShape, grads.dc0) : undefined,
          ...[...this.weights].map(([name, p]) => {
            const product = grads.products?.get(`${name}_l0`);
            return product ? new WeightProduct(backend, product.a, product.b) : new Tensor(p.shape, grads.grads.get(`${name}_l0`)!);
          }),
        ];
      });
    }
    return { h: hNext, c: cNext };
  }
}

/** Elman cell with tanh or ReLU (PyTorch's nn.RNNCell). */
export class RNNCell extends RecurrentCell {
  constructor(options: RNNCellOptions) {
    const nonlinearity = options.nonlinearity ?? 'tanh';
    checkOption('RNNCell', 'nonlinearity', nonlinearity, nonlinearity === 'tanh' || nonlinearity === 'relu', "'tanh' or 'relu'");
    super(nonlinearity === 'tanh' ? 'rnn_tanh' : 'rnn_relu', options, 'RNNCell');
  }

  /** h' from x [B, E] (or [E]) and hx [B, H] (or [H]; zeros when absent). */
  async forward(x: Tensor, hx?: Tensor): Promise<Tensor> {
    return (await this.step(x, hx, undefined)).h;
  }
}

/** Gated recurrent unit cell (PyTorch's nn.GRUCell: gates r, z, n; b_hn inside the reset product). */
export class GRUCell extends RecurrentCell {
  constructor(options: CellOptions) {
    super('gru', options, 'GRUCell');
  }

  /** h' from x [B, E] (or [E]) and hx [B, H] (or [H]; zeros when absent). */
  async forward(x: Tensor, hx?: Tensor): Promise<Tensor> {
    return (await this.step(x, hx, undefined)).h;
  }
}

/** Long short-term memory cell (PyTorch's nn.LSTMCell: gates i, f, g, o). */
export class LSTMCell extends RecurrentCell {
  constructor(options: CellOptions) {
    super('lstm', options, 'LSTMCell');
  }

  /** [h', c'] from x [B, E] (or [E]) and the state [h, c], each [B, H] (or [H]; zeros when absent). */
  async forward(x: Tensor, state?: readonly [Tensor, Tensor]): Promise<[Tensor, Tensor]> {
    if (state !== undefined && !(Array.isArray(state) && state.length === 2)) {
      throw new ShapeError(`LSTMCell: the state must be a pair [h, c], got ${Array.isArray(state) ? `${state.length} tensors` : typeof state}`);
    }
    const { h, c } = await this.step(x, state?.[0], state?.[1]);
    return [h, c!];
  }
}
