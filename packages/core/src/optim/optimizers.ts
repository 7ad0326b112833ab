/**
 * Optimisers with PyTorch's update rules (torch.optim SGD, Adam, AdamW, RMSprop, Adagrad, single-tensor forms),
 * run on the host: an update reads and writes each value once, so a kernel round trip would
 * cost more than the work. Adam runs as a WebAssembly SIMD loop where it can (adam-simd.ts), a
 * plain loop otherwise.
 */
import { sumOfSquares } from '../host-loops.js';
import type { Parameter } from '../nn/tape.js';
import { SimdAdam } from './adam-simd.js';

/** Everything needed to resume an optimiser exactly: hyper-parameters and per-parameter buffers. */
export interface OptimizerState {
  readonly step: number;
  readonly lr: number;
  /** Buffers by name, e.g. 'exp_avg.3' for the first moment of parameter 3. */
  readonly buffers: Map<string, Float32Array>;
}

export abstract class Optimizer {
  readonly params: readonly Parameter[];
  /** Current learning rate; schedules change it between steps. */
  lr: number;
  /** Steps taken so far. */
  stepCount = 0;
  protected readonly buffers = new Map<string, Float32Array>();

  protected constructor(params: readonly Parameter[], lr: number, name: string) {
    if (!(lr >= 0)) throw new Error(`${name}: lr must be a non-negative number, got ${lr}`);
    if (params.length === 0) throw new Error(`${name}: got an empty parameter list`);
    this.params = params;
    this.lr = lr;
  }

  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }

  /** Applies one update from the gradients now in each parameter's `.grad`. */
  step(): void {
    this.stepCount++;
    this.params.forEach((p, index) => {
      if (p.requiresGrad) this.update(p.value.data, p.grad.data, index);
    });
  }

  protected abstract update(value: Float32Array, grad: Float32Array, index: number): void;

  protected buffer(name: string, index: number, size: number): Float32Array {
    const key = `${name}.${index}`;
    let buffer = this.buffers.get(key);
    if (!buffer) {
      buffer = new Float32Array(size);
      this.buffers.set(key, buffer);
    }
    return buffer;
  }

  stateDict(): OptimizerState {
    return { step: this.stepCount, lr: this.lr, buffers: new Map([...this.buffers].map(([k, v]) => [k, Float32Array.from(v)])) };
  }

  loadStateDict(state: OptimizerState): void {
    this.stepCount = state.step;
    this.lr = state.lr;
    this.buffers.clear();
    for (const [key, value] of state.buffers) this.buffers.set(key, Float32Array.from(value));
  }
}

export interface SGDOptions {
  readonly lr: number;
  /** Default 0. */
  readonly momentum?: number;
  /** Default 0. */
  readonly dampening?: number;
  /** L2 penalty added to the gradient. Default 0. */
  readonly weightDecay?: number;
  /** Nesterov momentum (needs momentum > 0, dampening 0). Default false. */
  readonly nesterov?: boolean;
}

/** Stochastic gradient descent with optional (Nesterov) momentum, as torch.optim.SGD. */
export class SGD extends Optimizer {
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;

  constructor(params: readonly Parameter[], options: SGDOptions) {
    super(params, options.lr, 'SGD');
    this.momentum = options.momentum ?? 0;
    this.dampening = options.dampening ?? 0;
    this.weightDecay = options.weightDecay ?? 0;
    this.nesterov = options.nesterov ?? false;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new Error('SGD: nesterov momentum requires a momentum and zero dampening');
    }
  }

  protected update(value: Float32Array, grad: Float32Array, index: number): void {
    const first = !this.buffers.has(`momentum_buffer.${index}`);
    const buf = this.momentum !== 0 ? this.buffer('momentum_buffer', index, value.length) : undefined;
    for (let i = 0; i < value.length; i++) {
      let g = grad[i]! + this.weightDecay * value[i]!;
      if (buf) {
        buf[i] = first ? g : this.momentum * buf[i]! + (1 - this.dampening) * g;
        g = this.nesterov ? g + this.momentum * buf[i]! : buf[i]!;
      }
      value[i]! -= this.lr * g;
    }
  }
}

export interface AdamOptions {
  readonly lr?: number;
  /** (β1, β2). Default [0.9, 0.999]. */
  readonly betas?: readonly [number, number];
  /** Default 1e-8. */
  readonly eps?: number;
  /** Adam: an L2 penalty in the gradient; AdamW: decoupled decay of the weights. Default 0 (Adam), 0.01 (AdamW). */
  readonly weightDecay?: number;
}

/** Adam (Kingma & Ba 2015), as torch.optim.Adam; `decoupled` gives AdamW. */
export class Adam extends Optimizer {
  readonly betas: readonly [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  protected decoupled = false;
  /** The WebAssembly SIMD update, made at the first step; null where it is not available. */
  private simd: SimdAdam | null | undefined;

  constructor(params: readonly Parameter[], options: AdamOptions = {}, name = 'Adam', defaultDecay = 0) {
    super(params, options.lr ?? 1e-3, name);
    this.betas = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? defaultDecay;
    const [b1, b2] = this.betas;
    if (!(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1)) throw new Error(`${name}: betas must be in [0, 1), got [${b1}, ${b2}]`);
  }

  protected update(value: Float32Array, grad: Float32Array, index: number): void {
    const [b1, b2] = this.betas;
    const correction1 = 1 - b1 ** this.stepCount;
    const correction2 = 1 - b2 ** this.stepCount;
    const stepSize = this.lr / correction1;
    const root2 = Math.sqrt(correction2);
    if (this.simd === undefined) this.simd = SimdAdam.create(this.params.map((p) => p.value.size)) ?? null;
    if (this.simd) {
      // The moments in the module's memory: adopt what a loaded state dict put in the Map.
      this.adopt('exp_avg', index, this.simd.firstMoments[index]!);
      this.adopt('exp_avg_sq', index, this.simd.secondMoments[index]!);
      this.simd.update(index, value, grad, {
        b1, b2, negStep: -stepSize, root2, eps: this.eps,
        decay: this.decoupled ? 1 - this.lr * this.weightDecay : 1,
        l2: this.decoupled ? 0 : this.weightDecay,
      });
      return;
    }
    const m = this.buffer('exp_avg', index, value.length);
    const v = this.buffer('exp_avg_sq', index, value.length);
    // Fields hoisted into locals (the loop runs over millions of values a step, an output layer
    // over a vocabulary), and each value rounded as a store to the Float32Arrays would round it
    // (Math.fround): the same bits as storing after every statement.
    const eps = this.eps;
    const decoupled = this.decoupled;
    const decay = 1 - this.lr * this.weightDecay;
    const l2 = this.weightDecay;
    for (let i = 0; i < value.length; i++) {
      const x = decoupled ? Math.fround(value[i]! * decay) : value[i]!;
      const g = decoupled ? grad[i]! : grad[i]! + l2 * x;
      const mi = Math.fround(b1 * m[i]! + (1 - b1) * g);
      const vi = Math.fround(b2 * v[i]! + (1 - b2) * g * g);
      m[i] = mi;
      v[i] = vi;
      value[i] = x - (stepSize * mi) / (Math.sqrt(vi) / root2 + eps);
    }
  }

  /** Makes `view` the named buffer, holding the Map's values if it had others (a loaded state), else zeros. */
  private adopt(name: string, index: number, view: Float32Array): void {
    const key = `${name}.${index}`;
    const current = this.buffers.get(key);
    if (current === view) return;
    if (current) view.set(current);
    else view.fill(0); // none yet, or a loaded state without it
    this.buffers.set(key, view);
  }
}

/** Adam with decoupled weight decay (Loshchilov & Hutter 2019), as torch.optim.AdamW. */
export class AdamW extends Adam {
  constructor(params: readonly Parameter[], options: AdamOptions = {}) {
    super(params, options, 'AdamW', 0.01);
    this.decoupled = true;
  }
}

export interface RMSpropOptions {
  /** Default 0.01. */
  readonly lr?: number;
  /** Smoothing of the squared-gradient average. Default 0.99. */
  readonly alpha?: number;
  /** Default 1e-8. */
  readonly eps?: number;
  /** L2 penalty added to the gradient. Default 0. */
  readonly weightDecay?: number;
  /** Default 0. */
  readonly momentum?: number;
  /** Divide by the gradient's estimated variance rather than its second moment (Graves 2013). Default false. */
  readonly centered?: boolean;
}

/** RMSprop (Hinton's lecture 6e; centered as Graves 2013), as torch.optim.RMSprop. */
export class RMSprop extends Optimizer {
  readonly alpha: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly momentum: number;
  readonly centered: boolean;

  constructor(params: readonly Parameter[], options: RMSpropOptions = {}) {
    super(params, options.lr ?? 0.01, 'RMSprop');
    this.alpha = options.alpha ?? 0.99;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
    this.momentum = options.momentum ?? 0;
    this.centered = options.centered ?? false;
    if (!(this.alpha >= 0 && this.alpha <= 1)) throw new Error(`RMSprop: alpha must be in [0, 1], got ${this.alpha}`);
    if (!(this.momentum >= 0)) throw new Error(`RMSprop: momentum must be a non-negative number, got ${this.momentum}`);
    if (!(this.eps >= 0)) throw new Error(`RMSprop: eps must be a non-negative number, got ${this.eps}`);
  }

  protected update(value: Float32Array, grad: Float32Array, index: number): void {
    const { alpha, eps, weightDecay, momentum, lr } = this;
    const squareAvg = this.buffer('square_avg', index, value.length);
    const gradAvg = this.centered ? this.buffer('grad_avg', index, value.length) : undefined;
    const buf = momentum > 0 ? this.buffer('momentum_buffer', index, value.length) : undefined;
    for (let i = 0; i < value.length; i++) {
      const g = grad[i]! + weightDecay * value[i]!;
      squareAvg[i] = alpha * squareAvg[i]! + (1 - alpha) * g * g;
      let variance = squareAvg[i]!;
      if (gradAvg) {
        gradAvg[i] = alpha * gradAvg[i]! + (1 - alpha) * g;
        variance -= gradAvg[i]! * gradAvg[i]!;
      }
      const step = g / (Math.sqrt(variance) + eps);
      if (buf) {
        buf[i] = momentum * buf[i]! + step;
        value[i]! -= lr * buf[i]!;
      } else {
        value[i]! -= lr * step;
      }
    }
  }
}

export interface AdagradOptions {
  /** Default 0.01. */
  readonly lr?: number;
  /** The rate at step t is lr / (1 + (t - 1) lrDecay). Default 0. */
  readonly lrDecay?: number;
  /** L2 penalty added to the gradient. Default 0. */
  readonly weightDecay?: number;
  /** Starting value of each sum of squared gradients. Default 0. */
  readonly initialAccumulatorValue?: number;
  /** Default 1e-10. */
  readonly eps?: number;
}

/** Adagrad (Duchi et al. 2011), as torch.optim.Adagrad. */
export class Adagrad extends Optimizer {
  readonly lrDecay: number;
  readonly weightDecay: number;
  readonly initialAccumulatorValue: number;
  readonly eps: number;

  constructor(params: readonly Parameter[], options: AdagradOptions = {}) {
    super(params, options.lr ?? 0.01, 'Adagrad');
    this.lrDecay = options.lrDecay ?? 0;
    this.weightDecay = options.weightDecay ?? 0;
    this.initialAccumulatorValue = options.initialAccumulatorValue ?? 0;
    this.eps = options.eps ?? 1e-10;
    if (!(this.lrDecay >= 0)) throw new Error(`Adagrad: lrDecay must be a non-negative number, got ${this.lrDecay}`);
    if (!(this.initialAccumulatorValue >= 0)) throw new Error(`Adagrad: initialAccumulatorValue must be a non-negative number, got ${this.initialAccumulatorValue}`);
  }

  protected update(value: Float32Array, grad: Float32Array, index: number): void {
    const fresh = !this.buffers.has(`sum.${index}`);
    const sum = this.buffer('sum', index, value.length);
    if (fresh) sum.fill(this.initialAccumulatorValue);
    const rate = this.lr / (1 + (this.stepCount - 1) * this.lrDecay);
    for (let i = 0; i < value.length; i++) {
      const g = grad[i]! + this.weightDecay * value[i]!;
      sum[i]! += g * g;
      value[i]! -= (rate * g) / (Math.sqrt(sum[i]!) + this.eps);
    }
  }
}

/**
 * Scales all gradients together so their global L2 norm is at most maxNorm (as
 * torch.nn.utils.clip_grad_norm_); returns the norm before clipping. A NaN or infinite norm is
 * returned as is, gradients untouched, for the caller to skip the step.
 */
export function clipGradNorm(params: readonly Parameter[], maxNorm: number): number {
  let squares = 0;
  for (const p of params) squares += sumOfSquares(p.grad.data);
  const norm = Math.sqrt(squares);
  if (!Number.isFinite(norm)) return norm;
  const scale = maxNorm / (norm + 1e-6);
  if (scale < 1) {
    for (const p of params) {
      const grad = p.grad.data;
      for (let i = 0; i < grad.length; i++) grad[i]! *= scale;
    }
  }
  return norm;
}

/** Clamps every gradient value into [-clipValue, clipValue] (torch.nn.utils.clip_grad_value_). */
export function clipGradValue(params: readonly Parameter[], clipValue: number): void {
  for (const p of params) for (let i = 0; i < p.grad.size; i++) p.grad.data[i] = Math.min(clipValue, Math.max(-clipValue, p.grad.data[i]!));
}
