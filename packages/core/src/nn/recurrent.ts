/**
 * RNN, GRU and LSTM layers with PyTorch's options, names and semantics.
 *
 *   RNN:  h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act = tanh or relu
 *   GRU:  r = σ(x W_ir^T + b_ir + h W_hr^T + b_hr); z = σ(x W_iz^T + b_iz + h W_hz^T + b_hz)
 *         n = tanh(x W_in^T + b_in + r (h W_hn^T + b_hn)); h' = (1 - z) n + z h
 *   LSTM: i, f, g, o = σ, σ, tanh, σ of (x W_ih^T + b_ih + h W_hh^T + b_hh) split in four
 *         c' = f c + i g; h' = o tanh(c')
 *
 * Shapes (legend in the README): x [T, B, E], or [B, T, E] with batchFirst; output [T, B, D*H]
 * (or [B, T, D*H]); h0, c0, h_n, c_n [L*D, B, H]. An LSTM with `projSize` P (PyTorch's
 * proj_size) has h' = W_hr (o tanh(c')), so output [T, B, D*P], h0 and h_n [L*D, B, P], c0 and
 * c_n [L*D, B, H], and weight_hr_l{l} [P, H] (recurrent/projected.ts runs it). Parameters per
 * layer l and direction (suffix `_reverse`): weight_ih_l{l} [G*H, E_l], weight_hh_l{l} [G*H, H], bias_ih_l{l},
 * bias_hh_l{l} [G*H]; G = 1, 3, 4 with rows r,z,n (GRU) and i,f,g,o (LSTM).
 *
 * Initialisation: PyTorch's U(-1/sqrt(H), 1/sqrt(H)) for everything by default; options for
 * orthogonal recurrent weights, the IRNN (identity recurrent weights, zero biases, inputs
 * N(0, 0.001), ReLU; Le, Jaitly & Hinton 2015) and an LSTM forget-gate bias. Deliberate
 * deviations from PyTorch: none in the maths; the initial-state options `learned` and `random`
 * are additions (a learned state adds parameters `h0` [L*D, H] and, for the LSTM, `c0`).
 */
import { type CellKind, GATES, parameterNames, parameterShape, type RecurrentShape, stateSize } from '../reference/recurrent.js';
import { borrowBuffer, returnBuffers } from '../backend/scratch.js';
import { elementwiseProduct } from '../host-loops.js';
import { recurrentBackward, recurrentForward, type SequenceBatch } from '../recurrent/sequence.js';
import { formatShape, pooledTensor, sameShape, ShapeError, Tensor } from '../tensor.js';
import { dropoutMask, type SeededRandom } from '../random.js';
import { identityBlock_, normal_, orthogonalBlock_, uniform_ } from './init.js';
import { checkOption, isPositiveInteger, Module } from './module.js';
import { Parameter, Tape, WeightProduct } from './tape.js';

/** The options every recurrent layer takes (GRU and LSTM add `recurrentInit`, RNN more). */
export interface RecurrentBaseOptions {
  /** E: features of each input step. Required. */
  readonly inputSize: number;
  /** H: features of the hidden state. Required. */
  readonly hiddenSize: number;
  /** L: stacked layers. Default 1. */
  readonly numLayers?: number;
  /** Use b_ih and b_hh. Default true. */
  readonly bias?: boolean;
  /** Inputs and outputs are [B, T, F] instead of [T, B, F]. Default false. */
  readonly batchFirst?: boolean;
  /** Dropout probability on each layer's output except the last's, in training only. Default 0. */
  readonly dropout?: number;
  /**
   * DropConnect on the recurrent weights (Wan et al. 2013; AWD-LSTM's weight drop, Merity et al.
   * 2018): in training, each forward call zeroes this fraction of every W_hh's values, the same
   * for all steps and sequences, and scales the rest by 1 / (1 - p). Default 0.
   */
  readonly weightDropout?: number;
  /**
   * Keras's recurrent_dropout (variational dropout on the recurrent connections, Gal & Ghahramani
   * 2016): in training, the state h entering every step is multiplied by a mask of this fraction
   * of zeros (scaled by 1 / (1 - p)), one per sequence and unit, drawn per forward call and the
   * same at every step (where the sequence has ended, the state is kept unmasked). It runs in the
   * fused pipeline, the mask applied to the state each step reads (Keras leaves cuDNN for it).
   * Default 0.
   */
  readonly recurrentDropout?: number;
  /** Run a second direction from the end (D = 2). Default false. */
  readonly bidirectional?: boolean;
  /**
   * The state a sequence starts from when forward gets no h0: 'zeros' (PyTorch), 'learned'
   * (trainable h0/c0 per layer and direction, shared over the batch) or 'random' (Gaussian noise
   * of std `initialStateStd`, drawn per call in training; zeros in eval). Default 'zeros'.
   */
  readonly initialState?: 'zeros' | 'learned' | 'random';
  /** Std of the 'random' initial state. Default 0.1. */
  readonly initialStateStd?: number;
  /** Seed of the initial weights, dropout masks and random states. Default 0. */
  readonly seed?: number;
}

export interface RecurrentOptions extends RecurrentBaseOptions {
  /** Recurrent weights: 'default' (uniform, PyTorch), 'orthogonal' (per gate block). Default 'default'. */
  readonly recurrentInit?: 'default' | 'orthogonal';
}

export interface RNNOptions extends RecurrentBaseOptions {
  /** 'tanh' or 'relu'. Default 'tanh' ('relu' with the IRNN init). */
  readonly nonlinearity?: 'tanh' | 'relu';
  /** 'default', 'orthogonal', or 'identity': the IRNN init (W_hh = I, biases 0, W_ih ~ N(0, 0.001)); needs relu. */
  readonly recurrentInit?: 'default' | 'orthogonal' | 'identity';
}

export interface LSTMOptions extends RecurrentOptions {
  /** Value of the forget-gate rows of bias_ih (bias_hh's stay 0), e.g. 1 (Jozefowicz et al. 2015). Default: PyTorch's uniform init. */
  readonly forgetBias?: number;
  /**
   * P: project each hidden state to P < H features with weight_hr [P, H] (PyTorch's proj_size;
   * the LSTMP of Sak et al. 2014). The output and h carry P features, c keeps H. Default 0: none.
   */
  readonly projSize?: number;
}

export interface ForwardOptions {
  /** Valid steps of each sequence (each 1..T): packed-sequence semantics. Default: all T. */
  readonly lengths?: readonly number[];
  /** Initial hidden state [L*D, B, H]; overrides the initialState option. */
  readonly h0?: Tensor;
  /** Initial cell state [L*D, B, H] (LSTM only). */
  readonly c0?: Tensor;
}

export interface RecurrentOutput {
  /** [T, B, D*H] (or [B, T, D*H] with batchFirst); zero at padded steps. */
  readonly output: Tensor;
  /** [L*D, B, H]: the last state of each layer and direction, taken at each sequence's end. */
  readonly hN: Tensor;
  /** [L*D, B, H], LSTM only. */
  readonly cN: Tensor | undefined;
}

/** A recurrent layer's architecture as stored in config.json. */
export interface RecurrentConfig {
  readonly type: 'RNN' | 'GRU' | 'LSTM';
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bias: boolean;
  readonly batchFirst: boolean;
  readonly dropout: number;
  readonly bidirectional: boolean;
  readonly initialState: 'zeros' | 'learned' | 'random';
  readonly initialStateStd: number;
  readonly nonlinearity?: 'tanh' | 'relu';
  /** Absent when 0 (configs written before it read the same). */
  readonly weightDropout?: number;
  /** LSTM only; absent when 0. */
  readonly projSize?: number;
  /** Absent when 0. */
  readonly recurrentDropout?: number;
}

interface ResolvedConfig extends RecurrentShape {
  readonly batchFirst: boolean;
  readonly dropout: number;
  readonly weightDropout: number;
  readonly recurrentDropout: number;
  readonly initialState: 'zeros' | 'learned' | 'random';
  readonly initialStateStd: number;
}

/** [A, B, F] -> [B, A, F] (swaps the two leading axes). */
function swapLeading(data: Float32Array, a: number, b: number, out: Float32Array = new Float32Array(data.length)): Float32Array {
  const features = data.length / (a * b);
  for (let i = 0; i < a; i++)
    for (let j = 0; j < b; j++) out.set(data.subarray((i * b + j) * features, (i * b + j + 1) * features), (j * a + i) * features);
  return out;
}

/** One recurrent loop for the three layer types: the cell kind is the only difference. */
export abstract class RecurrentLayer extends Module {
  readonly config: ResolvedConfig;
  private readonly random: SeededRandom;
  private readonly weights = new Map<string, Parameter>();
  private readonly learnedH0: Parameter | undefined;
  private readonly learnedC0: Parameter | undefined;

  protected constructor(kind: CellKind, options: RecurrentBaseOptions & { readonly projSize?: number }, layerName: string) {
    super();
    const check = (name: string, value: unknown, valid: boolean, expected: string) => checkOption(layerName, name, value, valid, expected);
    check('inputSize', options.inputSize, isPositiveInteger(options.inputSize), 'a positive integer');
    check('hiddenSize', options.hiddenSize, isPositiveInteger(options.hiddenSize), 'a positive integer');
    const numLayers = options.numLayers ?? 1;
    check('numLayers', numLayers, isPositiveInteger(numLayers), 'a positive integer');
    const dropout = options.dropout ?? 0;
    check('dropout', dropout, typeof dropout === 'number' && dropout >= 0 && dropout < 1, 'a number in [0, 1)');
    const weightDropout = options.weightDropout ?? 0;
    check('weightDropout', weightDropout, typeof weightDropout === 'number' && weightDropout >= 0 && weightDropout < 1, 'a number in [0, 1)');
    const initialState = options.initialState ?? 'zeros';
    check('initialState', initialState, ['zeros', 'learned', 'random'].includes(initialState), "'zeros', 'learned' or 'random'");
    const initialStateStd = options.initialStateStd ?? 0.1;
    check('initialStateStd', initialStateStd, typeof initialStateStd === 'number' && initialStateStd >= 0, 'a non-negative number');
    const recurrentDropout = options.recurrentDropout ?? 0;
    check('recurrentDropout', recurrentDropout, typeof recurrentDropout === 'number' && recurrentDropout >= 0 && recurrentDropout < 1, 'a number in [0, 1)');
    const projSize = options.projSize ?? 0;
    if (projSize > 0 && recurrentDropout > 0) throw new Error(`${layerName}: recurrentDropout and projSize cannot be combined; leave one of them at 0`);
    if (kind === 'lstm') check('projSize', projSize, Number.isInteger(projSize) && projSize >= 0 && projSize < options.hiddenSize, `an integer in 0..${options.hiddenSize - 1} (below hiddenSize)`);
    else check('projSize', projSize, projSize === 0, 'absent: projections are for the LSTM only');
    this.config = {
      kind,
      inputSize: options.inputSize,
      hiddenSize: options.hiddenSize,
      numLayers,
      bias: options.bias ?? true,
      bidirectional: options.bidirectional ?? false,
      batchFirst: options.batchFirst ?? false,
      dropout,
      weightDropout,
      recurrentDropout,
      initialState,
      initialStateStd,
      ...(projSize > 0 ? { projSize } : {}),
    };
    this.random = this.registerRandom('random', options.seed ?? 0);
    const bound = 1 / Math.sqrt(options.hiddenSize);
    for (const name of parameterNames(this.config)) {
      const value = uniform_(Tensor.zeros(parameterShape(this.config, name)), bound, this.random);
      this.weights.set(name, this.registerParameter(name, value));
    }
    const states = numLayers * this.directions;
    if (initialState === 'learned') {
      this.learnedH0 = this.registerParameter('h0', Tensor.zeros([states, this.stateSize]));
      if (kind === 'lstm') this.learnedC0 = this.registerParameter('c0', Tensor.zeros([states, options.hiddenSize]));
    }
  }

  get directions(): number {
    return this.config.bidirectional ? 2 : 1;
  }

  /** R: the features of h, the output and h_n (projSize where set, else hiddenSize). */
  get stateSize(): number {
    return stateSize(this.config);
  }

  /**
   * The architecture as plain JSON (for config.json); `recurrentFromConfig` rebuilds the layer
   * and the two round-trip exactly. Weights travel separately, in the state dict.
   */
  toConfig(): RecurrentConfig {
    const { kind, inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, weightDropout, recurrentDropout, bidirectional, initialState, initialStateStd, projSize } = this.config;
    const type = kind === 'lstm' ? 'LSTM' : kind === 'gru' ? 'GRU' : 'RNN';
    return {
      type, inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, bidirectional, initialState, initialStateStd,
      ...(type === 'RNN' ? { nonlinearity: kind === 'rnn_relu' ? 'relu' : 'tanh' } : {}),
      ...(weightDropout > 0 ? { weightDropout } : {}),
      ...(projSize ? { projSize } : {}),
      ...(recurrentDropout > 0 ? { recurrentDropout } : {}),
    };
  }

  protected weight(name: string): Tensor {
    return this.weights.get(name)!.value;
  }

  /** Orthogonal recurrent weights, one orthogonal H x H block per gate. */
  protected initOrthogonal(): void {
    const H = this.config.hiddenSize;
    for (const [name, p] of this.weights) {
      if (!name.startsWith('weight_hh')) continue;
      for (let gate = 0; gate < GATES[this.config.kind]; gate++) orthogonalBlock_(p.value, gate * H, H, this.random);
    }
  }

  protected initIdentity(): void {
    const H = this.config.hiddenSize;
    for (const [name, p] of this.weights) {
      if (name.startsWith('weight_hh')) identityBlock_(p.value, 0, H, 1);
      else if (name.startsWith('weight_ih')) normal_(p.value, 0.001, this.random);
      else p.value.data.fill(0);
    }
  }

  protected setForgetBias(value: number): void {
    const H = this.config.hiddenSize;
    for (const [name, p] of this.weights) {
      if (name.startsWith('bias_ih')) p.value.data.fill(value, H, 2 * H);
      if (name.startsWith('bias_hh')) p.value.data.fill(0, H, 2 * H);
    }
  }

  /** Runs every layer and direction over the batch; records its backward pass on the active tape. */
  async forward(x: Tensor, options: ForwardOptions = {}): Promise<RecurrentOutput> {
    const { config } = this;
    const layer = this.typeName;
    const D = this.directions;
    const H = this.stateSize; // h's features (c has hiddenSize)
    if (!(x instanceof Tensor) || x.rank !== 3 || x.shape[2] !== config.inputSize) {
      const expected = config.batchFirst ? `[B, T, ${config.inputSize}]` : `[T, B, ${config.inputSize}]`;
      throw new ShapeError(`${layer}: input must have shape ${expected}, got ${x instanceof Tensor ? formatShape(x.shape) : typeof x}`);
    }
    const [T, B] = config.batchFirst ? [x.shape[1]!, x.shape[0]!] : [x.shape[0]!, x.shape[1]!];
    if (T === 0 || B === 0) throw new ShapeError(`${layer}: input has no steps or no sequences, shape ${formatShape(x.shape)}`);
    const stateShape = [config.numLayers * D, B, H];
    const cellStateShape = [config.numLayers * D, B, config.hiddenSize];
    if (options.lengths) {
      const lengths = options.lengths;
      if (lengths.length !== B) throw new ShapeError(`${layer}: lengths must have one entry per sequence (${B}), got ${lengths.length}`);
      lengths.forEach((length, b) => {
        if (!Number.isInteger(length) || length < 1 || length > T) {
          throw new ShapeError(`${layer}: lengths[${b}] = ${length} must be an integer in 1..${T}`);
        }
      });
    }
    for (const [name, state] of [['h0', options.h0], ['c0', options.c0]] as const) {
      if (!state) continue;
      if (name === 'c0' && config.kind !== 'lstm') throw new ShapeError(`${layer}: c0 is for the LSTM only`);
      const expected = name === 'c0' ? cellStateShape : stateShape;
      if (!sameShape(state.shape, expected)) {
        throw new ShapeError(`${layer}: ${name} must have shape ${formatShape(expected)}, got ${formatShape(state.shape)}`);
      }
    }

    const h0 = options.h0?.data ?? this.defaultState(this.learnedH0, B, H);
    const c0 = config.kind === 'lstm' ? (options.c0?.data ?? this.defaultState(this.learnedC0, B, config.hiddenSize)) : undefined;
    const dropoutMasks = this.training && config.dropout > 0 && config.numLayers > 1
      ? Array.from({ length: config.numLayers - 1 }, () => dropoutMask(T * B * D * H, 1 - config.dropout, this.random))
      : undefined;
    const params = new Map([...this.weights].map(([name, p]) => [name, p.value.data]));
    // weight drop: the kernels read W_hh times a mask (scaled), and its gradient is masked alike
    const weightMasks = new Map<string, Float32Array>();
    if (this.training && config.weightDropout > 0) {
      for (const [name, data] of params) {
        if (!name.startsWith('weight_hh')) continue;
        const mask = dropoutMask(data.length, 1 - config.weightDropout, this.random);
        weightMasks.set(name, mask);
        params.set(name, elementwiseProduct(data, mask));
      }
    }
    // recurrent dropout: one mask per layer and direction, [B, H], the same at every step
    const recurrentMasks = this.training && config.recurrentDropout > 0
      ? Array.from({ length: config.numLayers * D }, () => dropoutMask(B * H, 1 - config.recurrentDropout, this.random))
      : undefined;
    const batch: SequenceBatch = {
      x: config.batchFirst ? swapLeading(x.data, B, T) : x.data,
      steps: T,
      batch: B,
      ...(options.lengths ? { lengths: options.lengths } : {}),
      ...(h0 ? { h0 } : {}),
      ...(c0 ? { c0 } : {}),
      ...(dropoutMasks ? { dropoutMasks } : {}),
      ...(recurrentMasks ? { recurrentMasks } : {}),
    };
    const backend = await this.backend();
    const tape = Tape.current();
    // Off a tape nothing will differentiate this pass: no trace for a backward pass.
    // Off a tape the output is a pooled tensor (see Tensor.dispose): nothing else holds its buffer.
    const result = await recurrentForward(backend, config, params, batch, { keepTrace: tape !== undefined, pooledOutput: tape === undefined });
    const outputShape = config.batchFirst ? [B, T, D * H] : [T, B, D * H];
    let output: Tensor;
    if (tape) output = new Tensor(outputShape, config.batchFirst ? swapLeading(result.output, T, B) : result.output);
    else if (!config.batchFirst) output = pooledTensor(outputShape, result.output);
    else {
      output = pooledTensor(outputShape, swapLeading(result.output, T, B, borrowBuffer(result.output.length)));
      returnBuffers(result.output);
    }
    const hN = new Tensor(stateShape, result.hN);
    const cN = result.cN ? new Tensor(cellStateShape, result.cN) : undefined;

    if (tape) {
      const weightList = [...this.weights.values()];
      tape.record(
        layer,
        [x, options.h0 ?? this.learnedH0, options.c0 ?? this.learnedC0, ...weightList],
        cN ? [output, hN, cN] : [output, hN],
        async ([dOutput, dhN, dcN], context) => {
          const dOut = dOutput
            ? (config.batchFirst ? swapLeading(dOutput.data, B, T) : dOutput.data)
            : new Float32Array(T * B * D * H);
          // Run a step (or a few) at a time, each call's weight gradients join the others' rows
          // in one product (WeightProduct); not with DropConnect, whose mask differs by call.
          const weightProducts = weightMasks.size === 0 && weightList.some((p) => context.shared(p));
          // the tape runs each node's backward once, so the trace can go back to the pool
          const grads = await recurrentBackward(backend, config, params, batch, result, dOut, dhN?.data, dcN?.data, { releaseTrace: true, weightProducts });
          const dx = new Tensor(x.shape, config.batchFirst ? swapLeading(grads.dx, T, B) : grads.dx);
          const stateGrad = (data: Float32Array | undefined, given: Tensor | undefined, shape: number[]) => {
            if (!data) return undefined;
            // A learned state is shared over the batch: its gradient is the sum over sequences.
            return given ? new Tensor(shape, data) : sumOverBatch(data, shape[0]!, B, shape[2]!);
          };
          return [
            dx,
            stateGrad(grads.dh0, options.h0, stateShape),
            stateGrad(grads.dc0, options.c0, cellStateShape),
            ...[...this.weights.keys()].map((name) => {
              const product = grads.products?.get(name);
              if (product) return new WeightProduct(backend, product.a, product.b);
              const grad = grads.grads.get(name)!;
              const mask = weightMasks.get(name);
              return new Tensor(this.weights.get(name)!.shape, mask ? elementwiseProduct(grad, mask) : grad);
            }),
          ];
        },
      );
    }
    return { output, hN, cN };
  }

  /** The initial state when forward gets none: learned (broadcast over B), random noise, or zeros. */
  private defaultState(learned: Parameter | undefined, B: number, H: number): Float32Array | undefined {
    const { config } = this;
    const states = config.numLayers * this.directions;
    if (learned) return overBatch(learned.value.data, states, B, H);
    if (config.initialState === 'random' && this.training) return normal_(Tensor.zeros([states, B, H]), config.initialStateStd, this.random).data;
    return undefined;
  }
}

/** Rows [S, H] repeated for each of B sequences: [S, B, H]. */
function overBatch(rows: Float32Array, S: number, B: number, H: number): Float32Array {
  const out = new Float32Array(S * B * H);
  for (let s = 0; s < S; s++) for (let b = 0; b < B; b++) out.set(rows.subarray(s * H, (s + 1) * H), (s * B + b) * H);
  return out;
}

/** [S, B, H] summed over the B sequences: [S, H] (the gradient of `overBatch`). */
function sumOverBatch(data: Float32Array, S: number, B: number, H: number): Tensor {
  const summed = Tensor.zeros([S, H]);
  for (let s = 0; s < S; s++)
    for (let b = 0; b < B; b++)
      for (let j = 0; j < H; j++) summed.data[s * H + j]! += data[(s * B + b) * H + j]!;
  return summed;
}

/** Elman RNN with tanh or ReLU (PyTorch's nn.RNN); `recurrentInit: 'identity'` gives the IRNN. */
export class RNN extends RecurrentLayer {
  constructor(options: RNNOptions) {
    const identity = options.recurrentInit === 'identity';
    const nonlinearity = options.nonlinearity ?? (identity ? 'relu' : 'tanh');
    checkOption('RNN', 'nonlinearity', nonlinearity, nonlinearity === 'tanh' || nonlinearity === 'relu', "'tanh' or 'relu'");
    if (identity && nonlinearity !== 'relu') throw new Error("RNN: recurrentInit 'identity' (the IRNN) needs nonlinearity 'relu', got 'tanh'");
    checkOption('RNN', 'recurrentInit', options.recurrentInit, [undefined, 'default', 'orthogonal', 'identity'].includes(options.recurrentInit), "'default', 'orthogonal' or 'identity'");
    super(nonlinearity === 'tanh' ? 'rnn_tanh' : 'rnn_relu', options, 'RNN');
    if (identity) this.initIdentity();
    if (options.recurrentInit === 'orthogonal') this.initOrthogonal();
  }
}

/** Gated recurrent unit (PyTorch's nn.GRU: gates r, z, n; b_hn inside the reset product). */
export class GRU extends RecurrentLayer {
  constructor(options: RecurrentOptions) {
    checkOption('GRU', 'recurrentInit', options.recurrentInit, [undefined, 'default', 'orthogonal'].includes(options.recurrentInit), "'default' or 'orthogonal'");
    super('gru', options, 'GRU');
    if (options.recurrentInit === 'orthogonal') this.initOrthogonal();
  }
}

/** Long short-term memory (PyTorch's nn.LSTM: gates i, f, g, o). */
export class LSTM extends RecurrentLayer {
  constructor(options: LSTMOptions) {
    checkOption('LSTM', 'recurrentInit', options.recurrentInit, [undefined, 'default', 'orthogonal'].includes(options.recurrentInit), "'default' or 'orthogonal'");
    if (options.forgetBias !== undefined) {
      checkOption('LSTM', 'forgetBias', options.forgetBias, Number.isFinite(options.forgetBias), 'a finite number');
      checkOption('LSTM', 'forgetBias', options.forgetBias, options.bias !== false, 'unset when bias is false');
    }
    if (options.projSize && options.recurrentInit === 'orthogonal') {
      throw new Error("LSTM: recurrentInit 'orthogonal' makes square H x H gate blocks; with projSize W_hh's blocks are H x P. Leave recurrentInit at 'default'");
    }
    super('lstm', options, 'LSTM');
    if (options.recurrentInit === 'orthogonal') this.initOrthogonal();
    if (options.forgetBias !== undefined) this.setForgetBias(options.forgetBias);
  }
}

/** Rebuilds a layer from `toConfig()` output; unknown types are refused by name. */
export function recurrentFromConfig(config: RecurrentConfig): RecurrentLayer {
  const { type, ...options } = config;
  switch (type) {
    case 'LSTM':
      return new LSTM(options);
    case 'GRU':
      return new GRU(options);
    case 'RNN':
      return new RNN(options);
    default:
      throw new Error(`recurrentFromConfig: unknown layer type ${JSON.stringify(type)}; expected 'RNN', 'GRU' or 'LSTM'`);
  }
}
