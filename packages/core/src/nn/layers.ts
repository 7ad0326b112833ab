/** Linear, Embedding, Dropout and LayerNorm: the layers around a recurrent core. */
import { gather, scatterAdd } from '../kernels/gather.js';
import { matmul } from '../kernels/matmul.js';
import { sum } from '../kernels/reduce.js';
import { elementwiseProduct } from '../host-loops.js';
import { dropoutMask, mulberry32, type SeededRandom } from '../random.js';
import { formatShape, ShapeError, Tensor } from '../tensor.js';
import { normal_, uniform_ } from './init.js';
import { checkOption, isPositiveInteger, Module } from './module.js';
import { Parameter, Tape, WeightProduct } from './tape.js';

export interface LinearOptions {
  /** Input features. Required. */
  readonly inFeatures: number;
  /** Output features. Required. */
  readonly outFeatures: number;
  /** Add a learned bias. Default true. */
  readonly bias?: boolean;
  /** Seed of the initial weights. Default 0. */
  readonly seed?: number;
}

/**
 * y = x W^T + b (PyTorch's nn.Linear). x [..., in] -> y [..., out]; weight [out, in], bias [out],
 * both initialised U(-1/sqrt(in), 1/sqrt(in)) as PyTorch does.
 */
export class Linear extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | undefined;
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(options: LinearOptions) {
    super();
    checkOption('Linear', 'inFeatures', options.inFeatures, isPositiveInteger(options.inFeatures), 'a positive integer');
    checkOption('Linear', 'outFeatures', options.outFeatures, isPositiveInteger(options.outFeatures), 'a positive integer');
    this.inFeatures = options.inFeatures;
    this.outFeatures = options.outFeatures;
    const random = mulberry32(options.seed ?? 0);
    const bound = 1 / Math.sqrt(options.inFeatures);
    this.weight = this.registerParameter('weight', uniform_(Tensor.zeros([options.outFeatures, options.inFeatures]), bound, random));
    this.bias = options.bias === false ? undefined : this.registerParameter('bias', uniform_(Tensor.zeros([options.outFeatures]), bound, random));
  }

  async forward(x: Tensor): Promise<Tensor> {
    if (!(x instanceof Tensor) || x.rank < 1 || x.shape[x.rank - 1] !== this.inFeatures) {
      throw new ShapeError(`Linear: input must have shape [..., ${this.inFeatures}], got ${x instanceof Tensor ? formatShape(x.shape) : typeof x}`);
    }
    const backend = await this.backend();
    const rows = x.size / this.inFeatures;
    const flat = x.reshape([rows, this.inFeatures]);
    const y = await matmul(backend, flat, this.weight.value, { transB: true, ...(this.bias ? { bias: this.bias.value } : {}) });
    const out = y.reshape([...x.shape.slice(0, -1), this.outFeatures]);
    Tape.current()?.record('Linear', [x, this.weight, this.bias], [out], async ([dOut], context) => {
      const dY = dOut!.reshape([rows, this.outFeatures]);
      const dX = await matmul(backend, dY, this.weight.value);
      // Applied a step at a time, the layer's gradient is one product over all steps' rows.
      const dW = context.shared(this.weight) ? new WeightProduct(backend, dY, flat) : await matmul(backend, dY, flat, { transA: true });
      const dB = this.bias ? await sum(backend, dY, { axis: 0 }) : undefined;
      return [dX.reshape(x.shape), dW, dB];
    });
    return out;
  }
}

export interface EmbeddingOptions {
  /** V: rows of the table (vocabulary size). Required. */
  readonly numEmbeddings: number;
  /** E: features per row. Required. */
  readonly embeddingDim: number;
  /** A row that stays zero and gets no gradient (padding). Default none. */
  readonly paddingIdx?: number;
  readonly seed?: number;
}

/** A lookup table (PyTorch's nn.Embedding): indices [...] -> [..., E]; weight [V, E] ~ N(0, 1). */
export class Embedding extends Module {
  readonly weight: Parameter;
  readonly paddingIdx: number | undefined;

  constructor(options: EmbeddingOptions) {
    super();
    checkOption('Embedding', 'numEmbeddings', options.numEmbeddings, isPositiveInteger(options.numEmbeddings), 'a positive integer');
    checkOption('Embedding', 'embeddingDim', options.embeddingDim, isPositiveInteger(options.embeddingDim), 'a positive integer');
    const padding = options.paddingIdx;
    checkOption('Embedding', 'paddingIdx', padding, padding === undefined || (Number.isInteger(padding) && padding >= 0 && padding < options.numEmbeddings), `an integer in 0..${options.numEmbeddings - 1}`);
    this.paddingIdx = padding;
    const weight = normal_(Tensor.zeros([options.numEmbeddings, options.embeddingDim]), 1, mulberry32(options.seed ?? 0));
    if (padding !== undefined) weight.data.fill(0, padding * options.embeddingDim, (padding + 1) * options.embeddingDim);
    this.weight = this.registerParameter('weight', weight);
  }

  /**
   * A table holding given vectors, [V, E] (PyTorch's nn.Embedding.from_pretrained): word2vec or
   * GloVe rows in the vocabulary's order. `freeze` (default true) keeps them out of training
   * (requiresGrad false: no gradient, the optimiser skips them).
   */
  static fromPretrained(vectors: Tensor, options: { readonly freeze?: boolean; readonly paddingIdx?: number } = {}): Embedding {
    if (vectors.rank !== 2) throw new Error(`Embedding.fromPretrained: needs a [V, E] matrix, got ${formatShape(vectors.shape)}`);
    const [numEmbeddings, embeddingDim] = vectors.shape as [number, number];
    const embedding = new Embedding({ numEmbeddings, embeddingDim, ...(options.paddingIdx === undefined ? {} : { paddingIdx: options.paddingIdx }) });
    embedding.weight.value.data.set(vectors.data);
    embedding.weight.requiresGrad = !(options.freeze ?? true);
    return embedding;
  }

  async forward(indices: Tensor): Promise<Tensor> {
    const backend = await this.backend();
    const [rows, features] = this.weight.shape as [number, number];
    const out = await gather(backend, this.weight.value, indices);
    Tape.current()?.record('Embedding', [this.weight], [out], async ([dOut]) => {
      const grad = await scatterAdd(backend, dOut!, indices, rows);
      if (this.paddingIdx !== undefined) grad.data.fill(0, this.paddingIdx * features, (this.paddingIdx + 1) * features);
      return [grad];
    });
    return out;
  }
}

/** Inverted dropout: in training, zeroes each value with probability p and scales the rest by 1/(1-p). */
export class Dropout extends Module {
  readonly p: number;
  private readonly random: SeededRandom;

  constructor(p = 0.5, seed = 0) {
    super();
    checkOption('Dropout', 'p', p, typeof p === 'number' && p >= 0 && p < 1, 'a number in [0, 1)');
    this.p = p;
    this.random = this.registerRandom('random', seed);
  }

  async forward(x: Tensor): Promise<Tensor> {
    if (!this.training || this.p === 0) return x;
    const keep = 1 - this.p;
    const mask = dropoutMask(x.size, keep, this.random);
    // The products on the host, as functional.ts's plumbing: one multiply a value, where a kernel
    // would copy both operands to the backend and the result back. A product of two f32 values
    // is exact in double, so storing it rounds once: the f32 product a kernel computes.
    const out = new Tensor(x.shape, elementwiseProduct(x.data, mask));
    Tape.current()?.record('Dropout', [x], [out], async ([dOut]) => [new Tensor(x.shape, elementwiseProduct(dOut!.data, mask))]);
    return out;
  }
}

export interface LayerNormOptions {
  /** F: the size of the last axis, which is normalised. Required. */
  readonly normalizedShape: number;
  /** Added to the variance. Default 1e-5. */
  readonly eps?: number;
  /** A learned scale `weight` (ones) and shift `bias` (zeros) per feature. Default true. */
  readonly elementwiseAffine?: boolean;
}

/**
 * Layer normalisation over the last axis (Ba, Kiros & Hinton 2016), as PyTorch's nn.LayerNorm with
 * one normalised dimension: y = (x - mean) / sqrt(var + eps) * weight + bias, the biased variance,
 * each row's statistics in double. x [..., F].
 */
export class LayerNorm extends Module {
  readonly normalizedShape: number;
  readonly eps: number;
  readonly weight: Parameter | undefined;
  readonly bias: Parameter | undefined;

  constructor(options: LayerNormOptions) {
    super();
    checkOption('LayerNorm', 'normalizedShape', options.normalizedShape, isPositiveInteger(options.normalizedShape), 'a positive integer');
    this.normalizedShape = options.normalizedShape;
    this.eps = options.eps ?? 1e-5;
    checkOption('LayerNorm', 'eps', this.eps, this.eps > 0, 'a positive number');
    if (options.elementwiseAffine ?? true) {
      this.weight = this.registerParameter('weight', Tensor.full([this.normalizedShape], 1));
      this.bias = this.registerParameter('bias', Tensor.zeros([this.normalizedShape]));
    }
  }

  async forward(x: Tensor): Promise<Tensor> {
    const F = this.normalizedShape;
    if (!(x instanceof Tensor) || x.rank < 1 || x.shape[x.rank - 1] !== F) {
      throw new ShapeError(`LayerNorm: input must have shape [..., ${F}], got ${x instanceof Tensor ? formatShape(x.shape) : typeof x}`);
    }
    const rows = x.size / F;
    const weight = this.weight?.value.data;
    const bias = this.bias?.value.data;
    const normalised = new Float64Array(x.size);
    const inverseStd = new Float64Array(rows);
    const out = new Float32Array(x.size);
    for (let r = 0; r < rows; r++) {
      const base = r * F;
      let mean = 0;
      for (let f = 0; f < F; f++) mean += x.data[base + f]!;
      mean /= F;
      let variance = 0;
      for (let f = 0; f < F; f++) variance += (x.data[base + f]! - mean) ** 2;
      const inv = 1 / Math.sqrt(variance / F + this.eps);
      inverseStd[r] = inv;
      for (let f = 0; f < F; f++) {
        const n = (x.data[base + f]! - mean) * inv;
        normalised[base + f] = n;
        out[base + f] = weight && bias ? n * weight[f]! + bias[f]! : n;
      }
    }
    const y = new Tensor(x.shape, out);
    Tape.current()?.record('LayerNorm', [x, this.weight, this.bias], [y], async ([dy]) => {
      const dx = new Float32Array(x.size);
      const dWeight = new Float64Array(F);
      const dBias = new Float64Array(F);
      const dNormalised = new Float64Array(F);
      for (let r = 0; r < rows; r++) {
        const base = r * F;
        let meanD = 0;
        let meanDN = 0;
        for (let f = 0; f < F; f++) {
          const g = dy!.data[base + f]!;
          const d = weight ? g * weight[f]! : g;
          dNormalised[f] = d;
          meanD += d;
          meanDN += d * normalised[base + f]!;
          dWeight[f]! += g * normalised[base + f]!;
          dBias[f]! += g;
        }
        meanD /= F;
        meanDN /= F;
        for (let f = 0; f < F; f++) dx[base + f] = inverseStd[r]! * (dNormalised[f]! - meanD - normalised[base + f]! * meanDN);
      }
      return [new Tensor(x.shape, dx), ...(weight ? [new Tensor([F], Float32Array.from(dWeight)), new Tensor([F], Float32Array.from(dBias))] : [undefined, undefined])];
    });
    return y;
  }
}
