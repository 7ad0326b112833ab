/**
 * ONNX export: a model trained here runs wherever ONNX runs (onnxruntime-web in a browser,
 * onnxruntime on a server, TensorRT, ...). Each layer maps onto ONNX's own operators, so the file
 * needs no custom ops:
 *
 *   RNN, GRU, LSTM  -> RNN, GRU, LSTM (one node per layer, both directions in it), gate rows
 *                      reordered from PyTorch's (LSTM i,f,g,o; GRU r,z,n) to ONNX's (i,o,f,c;
 *                      z,r,h); the GRU with linear_before_reset = 1, which is PyTorch's formula.
 *                      Lengths become sequence_lens (packed-sequence semantics, as here).
 *   LSTM, projSize  -> a Loop over the steps per layer and direction (ONNX's LSTM has no
 *                      projection): the cell in MatMul, Split, Sigmoid, Tanh; lengths mask the
 *                      state updates (Where), and ReverseSequence runs the backward direction.
 *   Linear          -> MatMul (+ Add)      Embedding -> Gather
 *   Attention       -> MatMul (Tanh for the additive score), Where (padded steps), Softmax
 *
 * The graph computes the modules in eval mode (no dropout, a 'random' initial state zeros). `OnnxGraph` composes layers into a
 * model; `recurrentToOnnx` exports one recurrent layer as torch.onnx.export would.
 *
 * The encoding is onnx-proto's (protobufjs over ONNX's own onnx.proto); opset 17, IR version 8.
 */
import onnxProto from 'onnx-proto';
import type { Attention } from '../nn/attention.js';
import { Dropout, LayerNorm, Linear, type Embedding } from '../nn/layers.js';
import type { RecurrentLayer } from '../nn/recurrent.js';
import { LogSoftmax, ReLU, Sequential, Sigmoid, Softmax, Tanh, type TensorModule } from '../nn/sequential.js';
import { transposeMatrix } from '../kernels/matmul.js';
import { GATES } from '../reference/recurrent.js';

const { onnx } = onnxProto;

export const ONNX_OPSET = 17;

export type OnnxElementType = 'float32' | 'int32' | 'int64' | 'bool';
/** A dimension: a size, or a name for a size fixed only at run time (e.g. 'batch'). */
export type OnnxDim = number | string;

const ELEMENT_TYPES: Record<OnnxElementType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
};

/** Rows of each ONNX gate block, as blocks of PyTorch's layout. */
const ONNX_GATE_ORDER: Record<string, readonly number[]> = {
  lstm: [0, 3, 1, 2], // i, o, f, c from i, f, g, o
  gru: [1, 0, 2], // z, r, h from r, z, n
  rnn_tanh: [0],
  rnn_relu: [0],
};

/** A node attribute: an integer, a float (`{ float }`), a string, lists of integers or strings, or a subgraph (`{ graph }`). */
type Attribute = number | { readonly float: number } | string | readonly number[] | readonly string[] | { readonly graph: onnxProto.onnx.IGraphProto };

/** Builds one ONNX graph: inputs, constant weights (initializers), nodes, outputs. */
export class OnnxGraph {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];

  /** `names`: the values named so far; a subgraph shares its parent's, as ONNX's scoping asks (no shadowing). */
  constructor(readonly name = 'recurrent', private readonly names = new Set<string>()) {}

  /** A name not used yet in this graph (or the graphs around it), from `base`: for `input` and `output`. */
  unusedName(base: string): string {
    let name = base;
    for (let i = 1; this.names.has(name); i++) name = `${base}_${i}`;
    return name;
  }

  private fresh(base: string): string {
    const name = this.unusedName(base);
    this.names.add(name);
    return name;
  }

  /** Declares a graph input; returns its name. */
  input(name: string, dims: readonly OnnxDim[], type: OnnxElementType = 'float32'): string {
    if (this.names.has(name)) throw new Error(`OnnxGraph: the name ${JSON.stringify(name)} is taken`);
    this.names.add(name);
    this.inputs.push(valueInfo(name, dims, type));
    return name;
  }

  /** Makes `value` a graph output named `name` (an Identity node when the names differ). */
  output(value: string, name: string, dims: readonly OnnxDim[], type: OnnxElementType = 'float32'): void {
    if (value !== name) {
      if (this.names.has(name)) throw new Error(`OnnxGraph: the name ${JSON.stringify(name)} is taken`);
      this.names.add(name);
      this.nodes.push(onnx.NodeProto.create({ opType: 'Identity', input: [value], output: [name], name: `${name}_identity` }));
    }
    this.outputs.push(valueInfo(name, dims, type));
  }

  /** A constant tensor; returns its name. */
  constant(base: string, dims: readonly number[], data: Float32Array | Int32Array | BigInt64Array): string {
    const name = this.fresh(base);
    const type = data instanceof Float32Array ? 'float32' : data instanceof Int32Array ? 'int32' : 'int64';
    const size = dims.reduce((a, b) => a * b, 1);
    if (size !== data.length) throw new Error(`OnnxGraph: constant ${name} has ${data.length} values for dims [${dims.join(', ')}]`);
    // rawData is little-endian, as typed arrays are on every platform Node runs on
    const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
    this.initializers.push(onnx.TensorProto.create({ name, dims: [...dims], dataType: ELEMENT_TYPES[type], rawData: raw }));
    return name;
  }

  /** One node; returns the names of its `outputCount` outputs. An empty input name skips an optional input. */
  node(opType: string, inputs: readonly string[], outputCount = 1, attributes: Record<string, Attribute> = {}): string[] {
    const base = opType.toLowerCase();
    const output = Array.from({ length: outputCount }, (_, i) => this.fresh(`${base}${outputCount > 1 ? `_out${i}` : ''}`));
    const attribute = Object.entries(attributes).map(([name, value]) => attributeProto(name, value));
    this.nodes.push(onnx.NodeProto.create({ opType, input: [...inputs], output, attribute, name: this.fresh(`${base}_node`) }));
    return output;
  }

  /** y [..., out] = x [..., in] W^T + b. */
  linear(layer: Linear, x: string): string {
    const weightT = transposeMatrix(layer.weight.value.data, layer.outFeatures, layer.inFeatures);
    const [product] = this.node('MatMul', [x, this.constant('linear_weight_t', [layer.inFeatures, layer.outFeatures], weightT)]);
    if (!layer.bias) return product!;
    return this.node('Add', [product!, this.constant('linear_bias', [layer.outFeatures], layer.bias.value.data.slice())])[0]!;
  }

  /**
   * A `Sequential` (or one of the modules it chains) in eval mode: Linear -> MatMul (+ Add),
   * ReLU, Tanh, Sigmoid, Softmax (its dim), LogSoftmax, LayerNorm -> LayerNormalization, Dropout
   * -> nothing, a nested Sequential in place. Any other module is refused by name.
   */
  sequential(module: TensorModule, x: string): string {
    if (module instanceof Sequential) return module.layers.reduce((y, layer) => this.sequential(layer, y), x);
    if (module instanceof Linear) return this.linear(module, x);
    if (module instanceof Dropout) return x;
    if (module instanceof LayerNorm) {
      const F = module.normalizedShape;
      const scale = module.weight?.value.data.slice() ?? new Float32Array(F).fill(1);
      const shift = module.bias?.value.data.slice() ?? new Float32Array(F);
      const inputs = [x, this.constant('layer_norm_scale', [F], scale), this.constant('layer_norm_bias', [F], shift)];
      return this.node('LayerNormalization', inputs, 1, { axis: -1, epsilon: { float: module.eps } })[0]!;
    }
    const unary: Array<[new (...args: never[]) => unknown, string]> = [[ReLU, 'Relu'], [Tanh, 'Tanh'], [Sigmoid, 'Sigmoid'], [LogSoftmax, 'LogSoftmax']];
    for (const [type, opType] of unary) if (module instanceof type) return this.node(opType, [x], 1, opType === 'LogSoftmax' ? { axis: -1 } : {})[0]!;
    if (module instanceof Softmax) return this.node('Softmax', [x], 1, { axis: module.dim })[0]!;
    throw new Error(`OnnxGraph: no ONNX export for the module ${module.typeName} (Linear, ReLU, Tanh, Sigmoid, Softmax, LogSoftmax, LayerNorm, Dropout and Sequential have one)`);
  }

  /** Rows of the embedding table for integer ids of any shape: [..., dim]. */
  embedding(layer: Embedding, ids: string): string {
    const weight = layer.weight.value;
    return this.node('Gather', [this.constant('embedding_weight', weight.shape, weight.data.slice()), ids], 1, { axis: 0 })[0]!;
  }

  /**
   * A recurrent layer over x ([T, B, E], or [B, T, E] with batchFirst), as its forward in eval
   * mode computes it. `lengths`: an int32 [B] input, each sequence's valid steps; `h0`, `c0`:
   * initial states [L*D, B, P or H] and [L*D, B, H], P an LSTM's projSize (when absent: the
   * layer's learned state if it has one, else zeros; a 'random' state is zeros in eval mode).
   * Returns the names of output, h_n and (LSTM) c_n.
   */
  recurrent(layer: RecurrentLayer, x: string, options: { lengths?: string; h0?: string; c0?: string } = {}): { output: string; hN: string; cN: string | undefined } {
    const { config } = layer;
    const { kind, hiddenSize: H, numLayers: L } = config;
    const P = config.projSize ?? 0;
    const stateSize = P || H; // the features of h
    if (options.c0 && kind !== 'lstm') throw new Error('OnnxGraph: c0 is for the LSTM only');
    const D = layer.directions;
    const G = GATES[kind];
    const order = ONNX_GATE_ORDER[kind]!;
    const params = layer.stateDict();
    const reorder = (data: Float32Array, columns: number) => {
      const out = new Float32Array(data.length);
      order.forEach((from, to) => out.set(data.subarray(from * H * columns, (from + 1) * H * columns), to * H * columns));
      return out;
    };
    const opType = kind === 'lstm' ? 'LSTM' : kind === 'gru' ? 'GRU' : 'RNN';
    const attributes: Record<string, Attribute> = { hidden_size: H, direction: D === 2 ? 'bidirectional' : 'forward' };
    if (kind === 'gru') attributes.linear_before_reset = 1;
    if (opType === 'RNN') attributes.activations = Array.from({ length: D }, () => (kind === 'rnn_relu' ? 'Relu' : 'Tanh'));

    let input = config.batchFirst ? this.node('Transpose', [x], 1, { perm: [1, 0, 2] })[0]! : x;
    // A learned initial state (parameters h0, c0 [L*D, H]) is broadcast over the batch, as forward does.
    const learned = (name: 'h0' | 'c0') => {
      const state = params.get(name)!;
      const size = name === 'h0' ? stateSize : H;
      return this.node('Expand', [this.constant(`learned_${name}`, [L * D, 1, size], state.data.slice()), this.batchShape(input, [L * D], [size])])[0]!;
    };
    const h0 = options.h0 ?? (config.initialState === 'learned' ? learned('h0') : undefined);
    const c0 = options.c0 ?? (config.initialState === 'learned' && kind === 'lstm' ? learned('c0') : undefined);
    const states = (given: string | undefined, layerIndex: number) =>
      given ? this.node('Slice', [given, this.int64s([layerIndex * D]), this.int64s([(layerIndex + 1) * D]), this.int64s([0])])[0]! : '';
    const finalH: string[] = [];
    const finalC: string[] = [];
    for (let l = 0; l < L; l++) {
      const E = l === 0 ? config.inputSize : D * stateSize;
      if (P) {
        const layerOutputs = this.projectedLstmLayer(params, { l, D, E, H, P, bias: config.bias }, input, options.lengths, states(h0, l), states(c0, l));
        input = layerOutputs.output;
        finalH.push(layerOutputs.hN);
        finalC.push(layerOutputs.cN);
        continue;
      }
      const W = new Float32Array(D * G * H * E);
      const R = new Float32Array(D * G * H * H);
      const B = new Float32Array(D * 2 * G * H);
      for (let d = 0; d < D; d++) {
        const suffix = `l${l}${d === 1 ? '_reverse' : ''}`;
        W.set(reorder(params.get(`weight_ih_${suffix}`)!.data, E), d * G * H * E);
        R.set(reorder(params.get(`weight_hh_${suffix}`)!.data, H), d * G * H * H);
        if (config.bias) {
          B.set(reorder(params.get(`bias_ih_${suffix}`)!.data, 1), d * 2 * G * H);
          B.set(reorder(params.get(`bias_hh_${suffix}`)!.data, 1), d * 2 * G * H + G * H);
        }
      }
      const nodeInputs = [
        input,
        this.constant(`${opType.toLowerCase()}_l${l}_W`, [D, G * H, E], W),
        this.constant(`${opType.toLowerCase()}_l${l}_R`, [D, G * H, H], R),
        config.bias ? this.constant(`${opType.toLowerCase()}_l${l}_B`, [D, 2 * G * H], B) : '',
        options.lengths ?? '',
        states(h0, l),
        ...(kind === 'lstm' ? [states(c0, l)] : []),
      ];
      // trailing optional inputs left out rather than named ''
      while (nodeInputs[nodeInputs.length - 1] === '') nodeInputs.pop();
      const outputs = this.node(opType, nodeInputs, kind === 'lstm' ? 3 : 2, attributes);
      // Y [T, D, B, H] -> [T, B, D, H] -> [T, B, D*H]
      const [swapped] = this.node('Transpose', [outputs[0]!], 1, { perm: [0, 2, 1, 3] });
      input = this.node('Reshape', [swapped!, this.int64s([0, 0, -1])])[0]!;
      finalH.push(outputs[1]!);
      if (kind === 'lstm') finalC.push(outputs[2]!);
    }
    const output = config.batchFirst ? this.node('Transpose', [input], 1, { perm: [1, 0, 2] })[0]! : input;
    const concat = (parts: string[]) => (parts.length === 1 ? parts[0]! : this.node('Concat', parts, 1, { axis: 0 })[0]!);
    return { output, hN: concat(finalH), cN: kind === 'lstm' ? concat(finalC) : undefined };
  }

  /** The shape [...before, B, ...after] as an int64 vector, B the batch of x [T, B, ...]. */
  private batchShape(x: string, before: readonly number[], after: readonly number[]): string {
    const [shape] = this.node('Shape', [x]);
    const [batch] = this.node('Gather', [shape!, this.int64s([1])], 1, { axis: 0 });
    return this.node('Concat', [...(before.length ? [this.int64s(before)] : []), batch!, this.int64s(after)], 1, { axis: 0 })[0]!;
  }

  /**
   * Layer l of an LSTM with projSize P (ONNX's LSTM has none), each direction a Loop over the
   * steps of x [T, B, E]: gates = x_t W_ih^T + b_ih + b_hh + h W_hh^T (x W_ih^T + b for every step
   * before the loop), c' = f c + i g, h' = (o tanh(c')) W_hr^T. With lengths, a step past a
   * sequence's end keeps its state and outputs zeros (packed semantics), and the backward
   * direction reads each sequence reversed within its length (ReverseSequence). h0l, c0l: this
   * layer's initial states [D, B, P] and [D, B, H], or '' for zeros. Returns the output
   * [T, B, D*P] and the final states [D, B, P] and [D, B, H].
   */
  private projectedLstmLayer(
    params: ReadonlyMap<string, { readonly data: Float32Array }>, sizes: { l: number; D: number; E: number; H: number; P: number; bias: boolean },
    x: string, lengths: string | undefined, h0l: string, c0l: string,
  ): { output: string; hN: string; cN: string } {
    const { l, D, E, H, P } = sizes;
    const [shape] = this.node('Shape', [x]);
    const [steps] = this.node('Gather', [shape!, this.constant('axis', [], BigInt64Array.of(0n))], 1, { axis: 0 });
    const lengths64 = lengths ? this.node('Cast', [lengths], 1, { to: ELEMENT_TYPES.int64 })[0]! : undefined;
    // time reversed: within each length with lengths, else the whole sequence
    const reversed = (value: string) => (lengths64
      ? this.node('ReverseSequence', [value, lengths64], 1, { batch_axis: 1, time_axis: 0 })[0]!
      : this.node('Slice', [value, this.int64s([-1]), this.int64s([-(2 ** 53)]), this.int64s([0]), this.int64s([-1])])[0]!);
    const zero = this.constant('zero', [], Float32Array.of(0));
    const outputs: string[] = [];
    const finalH: string[] = [];
    const finalC: string[] = [];
    for (let d = 0; d < D; d++) {
      const suffix = `l${l}${d === 1 ? '_reverse' : ''}`;
      const weight = (name: string) => params.get(`${name}_${suffix}`)!.data;
      const input = d === 1 ? reversed(x) : x;
      // every step's input term at once: x W_ih^T + b_ih + b_hh, [T, B, 4H]
      const [inputProduct] = this.node('MatMul', [input, this.constant(`lstm_${suffix}_W_ih_t`, [E, 4 * H], transposeMatrix(weight('weight_ih'), 4 * H, E))]);
      const biasHh = sizes.bias ? weight('bias_hh') : undefined;
      const biases = biasHh ? weight('bias_ih').map((b, i) => b + biasHh[i]!) : undefined;
      const inputTerms = biases ? this.node('Add', [inputProduct!, this.constant(`lstm_${suffix}_b`, [4 * H], biases)])[0]! : inputProduct!;
      const weightHhT = this.constant(`lstm_${suffix}_W_hh_t`, [P, 4 * H], transposeMatrix(weight('weight_hh'), 4 * H, P));
      const weightHrT = this.constant(`lstm_${suffix}_W_hr_t`, [H, P], transposeMatrix(weight('weight_hr'), P, H));
      // this direction's initial states [B, P] and [B, H]: given, or zeros of the batch's size
      const initial = (given: string, size: number) => (given
        ? this.node('Gather', [given, this.constant('direction', [], BigInt64Array.of(BigInt(d)))], 1, { axis: 0 })[0]!
        : this.node('Expand', [this.constant('zeros', [1, size], new Float32Array(size)), this.batchShape(x, [], [size])])[0]!);
      const body = this.subgraph(`lstm_${suffix}_step`, (step) => {
        const t = step.input(step.unusedName('t'), [], 'int64');
        const condition = step.input(step.unusedName('condition'), [], 'bool');
        const hPrevious = step.input(step.unusedName('h_previous'), ['batch', P]);
        const cPrevious = step.input(step.unusedName('c_previous'), ['batch', H]);
        const [inputTerm] = step.node('Gather', [inputTerms, t], 1, { axis: 0 });
        const [gates] = step.node('Add', [inputTerm!, step.node('MatMul', [hPrevious, weightHhT])[0]!]);
        const [i, f, g, o] = step.node('Split', [gates!], 4, { axis: 1 });
        const [c] = step.node('Add', [
          step.node('Mul', [step.node('Sigmoid', [f!])[0]!, cPrevious])[0]!,
          step.node('Mul', [step.node('Sigmoid', [i!])[0]!, step.node('Tanh', [g!])[0]!])[0]!,
        ]);
        const [hFull] = step.node('Mul', [step.node('Sigmoid', [o!])[0]!, step.node('Tanh', [c!])[0]!]);
        const [h] = step.node('MatMul', [hFull!, weightHrT]);
        let [hNext, cNext, y] = [h!, c!, step.node('Identity', [h!])[0]!];
        if (lengths64) {
          // [B, 1]: inside its sequence at step t
          const [inside] = step.node('Unsqueeze', [step.node('Less', [t, lengths64])[0]!, step.int64s([1])]);
          hNext = step.node('Where', [inside!, h!, hPrevious])[0]!;
          cNext = step.node('Where', [inside!, c!, cPrevious])[0]!;
          y = step.node('Where', [inside!, h!, zero])[0]!;
        }
        step.output(step.node('Identity', [condition])[0]!, step.unusedName('condition_out'), [], 'bool');
        step.output(hNext, step.unusedName('h_next'), ['batch', P]);
        step.output(cNext, step.unusedName('c_next'), ['batch', H]);
        step.output(y, step.unusedName('y'), ['batch', P]);
      });
      const [hN, cN, ys] = this.node('Loop', [steps!, '', initial(h0l, P), initial(c0l, H)], 3, { body: { graph: body } });
      outputs.push(d === 1 ? reversed(ys!) : ys!);
      finalH.push(this.node('Unsqueeze', [hN!, this.int64s([0])])[0]!);
      finalC.push(this.node('Unsqueeze', [cN!, this.int64s([0])])[0]!);
    }
    const joined = (parts: string[], axis: number) => (parts.length === 1 ? parts[0]! : this.node('Concat', parts, 1, { axis })[0]!);
    return { output: joined(outputs, 2), hN: joined(finalH, 0), cN: joined(finalC, 0) };
  }

  /**
   * `poolSequence` over each sequence's own steps: x [T, B, F], lengths an int32 [B] input ->
   * [B, F]. 'mean' and 'last' weigh the steps with a mask built from the lengths (one weight of 1
   * for 'last', so the value is the step's own); 'max' sets the padded steps to -Infinity first.
   */
  poolSequence(x: string, lengths: string, mode: 'mean' | 'max' | 'last'): string {
    const [inside] = mode === 'last' ? [this.lastSteps(x, lengths)] : [this.validSteps(x, 0, lengths)]; // [T, B]
    const [mask] = this.node('Unsqueeze', [inside!, this.int64s([2])]); // [T, B, 1]
    if (mode === 'max') {
      const [masked] = this.node('Where', [mask!, x, this.constant('minus_infinity', [], Float32Array.of(-Infinity))]);
      return this.node('ReduceMax', [masked!], 1, { axes: [0], keepdims: 0 })[0]!;
    }
    const [weights] = this.node('Cast', [mask!], 1, { to: ELEMENT_TYPES.float32 });
    const [sum] = this.node('ReduceSum', [this.node('Mul', [x, weights!])[0]!, this.int64s([0])], 1, { keepdims: 0 });
    if (mode === 'last') return sum!;
    const [count] = this.node('Cast', [this.node('Unsqueeze', [lengths, this.int64s([1])])[0]!], 1, { to: ELEMENT_TYPES.float32 }); // [B, 1]
    return this.node('Div', [sum!, count!])[0]!;
  }

  /** The keys of a memory [B, S, Hm] for `attention`: its key projection, or the memory itself ('dot'). */
  attentionKeys(layer: Attention, memory: string): string {
    return layer.key ? this.linear(layer.key, memory) : memory;
  }

  /**
   * `Attention.forward`: query [B, Q, Hq] against memory [B, S, Hm] and its keys, over each
   * memory's valid steps (lengths, an int32 [B]) -> context [B, Q, Hm], weights [B, Q, S].
   */
  attention(layer: Attention, query: string, keys: string, memory: string, lengths: string): { context: string; weights: string } {
    let scores: string;
    if (layer.score === 'additive') {
      // v . tanh(W_q q + W_k m): [B, Q, 1, A] + [B, 1, S, A] -> tanh -> . v -> [B, Q, S]
      const [q] = this.node('Unsqueeze', [this.linear(layer.query!, query), this.int64s([2])]);
      const [k] = this.node('Unsqueeze', [keys, this.int64s([1])]);
      const [hidden] = this.node('Tanh', [this.node('Add', [q!, k!])[0]!]);
      const v = layer.v!.value;
      scores = this.node('MatMul', [hidden!, this.constant('attention_v', [v.size], v.data.slice())])[0]!;
    } else {
      // q . k: [B, Q, H] x [B, H, S]
      scores = this.node('MatMul', [query, this.node('Transpose', [keys], 1, { perm: [0, 2, 1] })[0]!])[0]!;
    }
    const [mask] = this.node('Unsqueeze', [this.validSteps(memory, 1, lengths), this.int64s([1])]); // [B, 1, S]
    const [masked] = this.node('Where', [mask!, scores, this.constant('minus_infinity', [], Float32Array.of(-Infinity))]);
    const [weights] = this.node('Softmax', [masked!], 1, { axis: -1 });
    const [context] = this.node('MatMul', [weights!, memory]);
    return { context: context!, weights: weights! };
  }

  /** The steps of axis `axis` (0: [T, B, ...], 1: [B, S, ...]) of x inside each length: a bool [T, B] or [B, S]. */
  private validSteps(x: string, axis: 0 | 1, lengths: string): string {
    const { times, ends } = this.stepsAndEnds(x, axis, lengths);
    return this.node('Less', [times, ends])[0]!;
  }

  /** The last step inside each length, as `validSteps` lays it out (time-major). */
  private lastSteps(x: string, lengths: string): string {
    const { times, ends } = this.stepsAndEnds(x, 0, lengths);
    return this.node('Equal', [times, this.node('Sub', [ends, this.constant('one', [], BigInt64Array.of(1n))])[0]!])[0]!;
  }

  /** The step indices along `axis` and the lengths, int64, shaped to broadcast against each other. */
  private stepsAndEnds(x: string, axis: 0 | 1, lengths: string): { times: string; ends: string } {
    const [shape] = this.node('Shape', [x]);
    const [steps] = this.node('Gather', [shape!, this.constant('axis', [], BigInt64Array.of(BigInt(axis)))], 1, { axis: 0 });
    const [range] = this.node('Range', [this.constant('zero', [], BigInt64Array.of(0n)), steps!, this.constant('one', [], BigInt64Array.of(1n))]);
    const [lengths64] = this.node('Cast', [lengths], 1, { to: ELEMENT_TYPES.int64 });
    // time-major: steps [T, 1] against lengths [1, B]; batch-major: steps [1, S] against lengths [B, 1]
    const [times] = this.node('Unsqueeze', [range!, this.int64s([axis === 0 ? 1 : 0])]);
    const [ends] = this.node('Unsqueeze', [lengths64!, this.int64s([axis === 0 ? 0 : 1])]);
    return { times: times!, ends: ends! };
  }

  /** A constant int64 vector (shapes, axes, indices). */
  int64s(values: readonly number[]): string {
    return this.constant('const', [values.length], BigInt64Array.from(values.map(BigInt)));
  }

  /**
   * Rows [from, from + count) of final states [S, B, H] side by side: [B, count * H] (e.g. the last
   * layer's forward and backward h_n, as a classifier or a bridge reads them).
   */
  statesSideBySide(states: string, from: number, count: number): string {
    const [rows] = this.node('Slice', [states, this.int64s([from]), this.int64s([from + count]), this.int64s([0])]);
    const [batchFirst] = this.node('Transpose', [rows!], 1, { perm: [1, 0, 2] });
    return this.node('Reshape', [batchFirst!, this.int64s([0, -1])])[0]!;
  }

  /**
   * A subgraph (a Loop's body): built by `build` on a graph that shares this one's names and may
   * read this one's values (ONNX's outer scope).
   */
  subgraph(name: string, build: (body: OnnxGraph) => void): onnxProto.onnx.IGraphProto {
    const body = new OnnxGraph(name, this.names);
    build(body);
    return body.graphProto();
  }

  private graphProto(): onnxProto.onnx.IGraphProto {
    return onnx.GraphProto.create({ name: this.name, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs });
  }

  /** The serialised model (ONNX's protobuf), to write to a .onnx file or hand to an ONNX runtime. */
  toBytes(options: { producerVersion?: string; docString?: string } = {}): Uint8Array {
    const graph = this.graphProto();
    const model = onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: ONNX_OPSET }],
      producerName: '@recurrent/core',
      producerVersion: options.producerVersion ?? '',
      ...(options.docString ? { docString: options.docString } : {}),
      graph,
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, dims: readonly OnnxDim[], type: OnnxElementType): onnxProto.onnx.IValueInfoProto {
  const dim = dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: ELEMENT_TYPES[type], shape: { dim } } } });
}

function attributeProto(name: string, value: Attribute): onnxProto.onnx.IAttributeProto {
  const { AttributeType } = onnx.AttributeProto;
  if (typeof value === 'number') return { name, type: AttributeType.INT, i: value };
  if (typeof value === 'object' && 'float' in value) return { name, type: AttributeType.FLOAT, f: value.float };
  if (typeof value === 'object' && 'graph' in value) return { name, type: AttributeType.GRAPH, g: value.graph };
  if (typeof value === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  if (value.every((v) => typeof v === 'number')) return { name, type: AttributeType.INTS, ints: [...value] as number[] };
  return { name, type: AttributeType.STRINGS, strings: (value as readonly string[]).map((v) => new TextEncoder().encode(v)) };
}

/**
 * One recurrent layer as an ONNX model, as torch.onnx.export would write it: inputs `input`
 * ([T, B, E], or [B, T, E] with batchFirst; T and B named, so any length and batch run) and, with
 * `lengths: true`, `lengths` (int32 [B]); outputs `output`, `h_n` and, for the LSTM, `c_n`.
 */
export function recurrentToOnnx(layer: RecurrentLayer, options: { lengths?: boolean } = {}): Uint8Array {
  const { config } = layer;
  const graph = new OnnxGraph(layer.typeName);
  const x = graph.input('input', config.batchFirst ? ['batch', 'steps', config.inputSize] : ['steps', 'batch', config.inputSize]);
  const lengths = options.lengths ? graph.input('lengths', ['batch'], 'int32') : undefined;
  const { output, hN, cN } = graph.recurrent(layer, x, lengths ? { lengths } : {});
  const D = layer.directions;
  const H = config.hiddenSize;
  const R = layer.stateSize; // projSize where set
  graph.output(output, 'output', config.batchFirst ? ['batch', 'steps', D * R] : ['steps', 'batch', D * R]);
  graph.output(hN, 'h_n', [config.numLayers * D, 'batch', R]);
  if (cN) graph.output(cN, 'c_n', [config.numLayers * D, 'batch', H]);
  return graph.toBytes();
}
