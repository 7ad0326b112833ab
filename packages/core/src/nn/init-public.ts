/**
 * torch.nn.init for the parameters of custom modules: each fills a tensor in place and returns it.
 * Where PyTorch draws from its global generator, these take a seeded one (`mulberry32(seed)`, or
 * a module's `registerRandom`), so an initialisation is reproducible.
 */
import { gaussian, type SeededRandom } from '../random.js';
import { orthonormalVectors } from './init.js';
import { formatShape, ShapeError, type Tensor } from '../tensor.js';

type Random = SeededRandom | (() => number);
export type Nonlinearity = 'linear' | 'conv1d' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';

/** The recommended gain of a nonlinearity (torch.nn.init.calculate_gain); `param` is leaky_relu's slope (default 0.01). */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear':
    case 'conv1d':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu': {
      const slope = param ?? 0.01;
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu':
      return 3 / 4;
    default:
      throw new Error(`calculateGain: unknown nonlinearity ${JSON.stringify(nonlinearity)}`);
  }
}

/** fan_in and fan_out as PyTorch counts them: [out, in, ...receptive field]. */
export function fans(t: Tensor, op = 'fans'): { fanIn: number; fanOut: number } {
  if (t.rank < 2) throw new ShapeError(`${op}: fan in and fan out need a tensor of rank 2 or more, got ${formatShape(t.shape)}`);
  const receptive = t.shape.slice(2).reduce((s, d) => s * d, 1);
  return { fanIn: t.shape[1]! * receptive, fanOut: t.shape[0]! * receptive };
}

/** U(a, b) (torch.nn.init.uniform_). */
export function uniform_(t: Tensor, random: Random, a = 0, b = 1): Tensor {
  for (let i = 0; i < t.size; i++) t.data[i] = a + (b - a) * random();
  return t;
}

/** N(mean, std^2) (torch.nn.init.normal_). */
export function normal_(t: Tensor, random: Random, mean = 0, std = 1): Tensor {
  const draw = gaussian(random);
  for (let i = 0; i < t.size; i++) t.data[i] = mean + std * draw();
  return t;
}

export function constant_(t: Tensor, value: number): Tensor {
  t.data.fill(value);
  return t;
}

export function zeros_(t: Tensor): Tensor {
  return constant_(t, 0);
}

export function ones_(t: Tensor): Tensor {
  return constant_(t, 1);
}

/** The identity in a matrix, ones on the diagonal of a non-square one (torch.nn.init.eye_). */
export function eye_(t: Tensor): Tensor {
  if (t.rank !== 2) throw new ShapeError(`eye_: needs a matrix, got ${formatShape(t.shape)}`);
  const [rows, cols] = t.shape as [number, number];
  t.data.fill(0);
  for (let i = 0; i < Math.min(rows, cols); i++) t.data[i * cols + i] = 1;
  return t;
}

/** Glorot & Bengio 2010: U(-a, a), a = gain sqrt(6 / (fan_in + fan_out)) (torch.nn.init.xavier_uniform_). */
export function xavierUniform_(t: Tensor, random: Random, gain = 1): Tensor {
  const { fanIn, fanOut } = fans(t, 'xavierUniform_');
  const bound = gain * Math.sqrt(6 / (fanIn + fanOut));
  return uniform_(t, random, -bound, bound);
}

/** N(0, std^2), std = gain sqrt(2 / (fan_in + fan_out)) (torch.nn.init.xavier_normal_). */
export function xavierNormal_(t: Tensor, random: Random, gain = 1): Tensor {
  const { fanIn, fanOut } = fans(t, 'xavierNormal_');
  return normal_(t, random, 0, gain * Math.sqrt(2 / (fanIn + fanOut)));
}

export interface KaimingOptions {
  /** The negative slope of leaky_relu. Default 0. */
  readonly a?: number;
  /** Preserve the variance of the forward pass ('fanIn') or of the backward pass ('fanOut'). Default 'fanIn'. */
  readonly mode?: 'fanIn' | 'fanOut';
  /** Default 'leaky_relu' (with `a` 0: relu's gain), as PyTorch's. */
  readonly nonlinearity?: Nonlinearity;
}

function kaimingStd(t: Tensor, options: KaimingOptions, op: string): number {
  const { fanIn, fanOut } = fans(t, op);
  const mode = options.mode ?? 'fanIn';
  if (mode !== 'fanIn' && mode !== 'fanOut') throw new Error(`${op}: mode must be 'fanIn' or 'fanOut', got ${JSON.stringify(mode)}`);
  return calculateGain(options.nonlinearity ?? 'leaky_relu', options.a ?? 0) / Math.sqrt(mode === 'fanIn' ? fanIn : fanOut);
}

/** He et al. 2015: U(-b, b), b = gain sqrt(3 / fan) (torch.nn.init.kaiming_uniform_). */
export function kaimingUniform_(t: Tensor, random: Random, options: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd(t, options, 'kaimingUniform_');
  return uniform_(t, random, -bound, bound);
}

/** N(0, std^2), std = gain / sqrt(fan) (torch.nn.init.kaiming_normal_). */
export function kaimingNormal_(t: Tensor, random: Random, options: KaimingOptions = {}): Tensor {
  return normal_(t, random, 0, kaimingStd(t, options, 'kaimingNormal_'));
}

/**
 * A (semi-)orthogonal matrix times `gain` (Saxe et al. 2014; torch.nn.init.orthogonal_): the
 * tensor seen as [shape[0], the rest], its rows orthonormal when there are no more rows than
 * columns, else its columns; a Gaussian matrix orthonormalised by modified Gram-Schmidt in float64.
 */
export function orthogonal_(t: Tensor, random: Random, gain = 1): Tensor {
  if (t.rank < 2) throw new ShapeError(`orthogonal_: needs a tensor of rank 2 or more, got ${formatShape(t.shape)}`);
  const rows = t.shape[0]!;
  const cols = t.size / rows;
  // orthonormalise `count` vectors of length `length`: rows, or the columns of a tall matrix
  const [count, length] = rows <= cols ? [rows, cols] : [cols, rows];
  const vectors = orthonormalVectors(count, length, random, 2);
  for (let v = 0; v < count; v++) {
    for (let i = 0; i < length; i++) {
      const at = rows <= cols ? v * cols + i : i * cols + v;
      t.data[at] = gain * vectors[v]![i]!;
    }
  }
  return t;
}
