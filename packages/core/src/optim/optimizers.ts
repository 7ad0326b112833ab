/**
 * Optimisers with PyTorch's update rules (torch.optim SGD, Adam, AdamW, RMSprop, Adagrad, single-tensor forms),
 * run on the host: an update reads and writes each value once, so a kernel round trip would
 * cost more than the work. Adam runs as a WebAssembly SIMD loop where it can (adam-simd.ts), a
 * plain loop otherwise.
 */
import { sumOfSquares } from '../host-loops.js';
import { Parameter } from '../nn/tape.js';
import { SimdAdam } from './adam-simd.js';

/** Everything needed to resume an optimiser exactly: hyper-parameters and per-parameter buffers. */
export interface OptimizerState {
  readonly step: number;
  /** The first group's learning rate (the only group's, without parameter groups). */
  readonly lr: number;
  /** Every group's learning rate, in order; a state without it gives each group `lr`. */
  readonly lrs?: readonly number[];
  /** Buffers by name, e.g. 'exp_avg.3' for the first moment of parameter 3 (counted over all groups in order). */
  readonly buffers: Map<string, Float32Array>;
  /**
   * Updates applied to each parameter (PyTorch's per-parameter state['step'], which Adam's bias
   * correction and Adagrad's lr decay read): below `step` for one frozen a while or added later.
   * A state without it gives each parameter `step`.
   */
  readonly paramSteps?: readonly number[];
}

/** The settings every optimiser's parameter groups carry; schedules change `lr` between steps. */
export interface GroupSettings {
  lr: number;
}

/** One entry of `paramGroups` (PyTorch's `optimizer.param_groups`): parameters and their settings. */
export type ParamGroup<S extends GroupSettings = GroupSettings> = S & { readonly params: readonly Parameter[] };

/**
 * What an optimiser updates: a list of parameters (one group, the options' settings), or
 * parameter groups, each `{ params, ...settings }` with any of the optimiser's options, the
 * others taken from the options, as PyTorch's `torch.optim.AdamW([{'params': decay}, {'params':
 * no_decay, 'weight_decay': 0}], lr=1e-3)`.
 */
export type ParamsOrGroups<O> = readonly Parameter[] | ReadonlyArray<{ readonly params: readonly Parameter[] } & Partial<O>>;

type GroupSpec<S> = { readonly params: readonly Parameter[] } & Partial<S>;

export abstract class Optimizer<S extends GroupSettings = GroupSettings> {
  /** Every parameter, group after group: buffer names and state dicts count them in this order. */
  get params(): readonly Parameter[] {
    return this.allParams;
  }

  get paramGroups(): ReadonlyArray<ParamGroup<S>> {
    return this.groups;
  }

  /** The options' settings, which groups without their own take. */
  readonly defaults: Readonly<S>;
  /** Steps taken so far. */
  stepCount = 0;
  protected readonly buffers = new Map<string, Float32Array>();
  private readonly allParams: Parameter[] = [];
  private updates: number[] = [];
  private readonly groups: Array<ParamGroup<S>> = [];
  // typed for any settings, so that an Adam is still an Optimizer (a field's function type would be checked contravariantly)
  private readonly check: (settings: Readonly<GroupSettings>) => void;

  /**
   * `check` throws for settings the update cannot use (its message without the name, e.g. "eps
   * must be a non-negative number, got -1"); it runs on the defaults and on every group's.
   */
  protected constructor(
    private readonly name: string, params: ParamsOrGroups<S>, defaults: S, check: (settings: Readonly<S>) => void = () => {},
  ) {
    this.defaults = defaults;
    this.check = check as (settings: Readonly<GroupSettings>) => void;
    this.validate(defaults, '');
    if (!Array.isArray(params) || params.length === 0) throw new Error(`${name}: got an empty parameter list`);
    const isGroups = params.every((entry) => !(entry instanceof Parameter) && Array.isArray((entry as { params?: unknown }).params));
    if (!isGroups && !params.every((entry) => entry instanceof Parameter)) {
      throw new Error(`${name}: takes a list of parameters or a list of groups { params, ...settings }, not a mix`);
    }
    const specs = isGroups ? (params as ReadonlyArray<GroupSpec<S>>) : [{ params: params as readonly Parameter[] } as GroupSpec<S>];
    for (const spec of specs) this.addGroup(spec, isGroups ? `parameter group ${this.groups.length}: ` : '');
    if (this.allParams.length === 0) throw new Error(`${name}: got an empty parameter list`);
  }

  /**
   * Adds a group after the others (torch's add_param_group), e.g. layers unfrozen while fine-tuning:
   * its parameters come after every other in the state dict. A schedule made before does not
   * move its lr: make schedules after the groups.
   */
  addParamGroup(spec: GroupSpec<S>): void {
    this.addGroup(spec, `parameter group ${this.groups.length}: `);
  }

  private validate(settings: S, where: string): void {
    try {
      if (!(settings.lr >= 0)) throw new Error(`lr must be a non-negative number, got ${settings.lr}`);
      this.check(settings);
    } catch (error) {
      throw new Error(`${this.name}: ${where}${(error as Error).message}`);
    }
  }

  private addGroup(spec: GroupSpec<S>, where: string): void {
    const { name } = this;
    const known = new Set(Object.keys(this.defaults));
    if (!spec || !Array.isArray(spec.params)) throw new Error(`${name}: ${where}needs { params: [...] }`);
    for (const key of Object.keys(spec)) {
      if (key !== 'params' && !known.has(key)) throw new Error(`${name}: ${where}unknown setting ${JSON.stringify(key)} (known: params, ${[...known].join(', ')})`);
    }
    const seen = new Set(this.allParams);
    for (const p of spec.params) {
      if (!(p instanceof Parameter)) throw new Error(`${name}: ${where}params must hold Parameters`);
      if (seen.has(p)) throw new Error(`${name}: ${where}a parameter appears more than once (in this group or an earlier one)`);
      seen.add(p);
    }
    const settings = { ...this.defaults } as S;
    for (const key of known) if ((spec as Record<string, unknown>)[key] !== undefined) (settings as Record<string, unknown>)[key] = (spec as Record<string, unknown>)[key];
    this.validate(settings, where);
    this.groups.push(Object.assign(settings, { params: [...spec.params] }));
    this.allParams.push(...spec.params);
    this.groupsChanged();
  }

  /** Called when a group is added: subclasses drop what they sized for the old parameter list. */
  protected groupsChanged(): void {}

  /** The first group's learning rate (the only group's, without parameter groups); setting it sets every group's. */
  get lr(): number {
    return this.paramGroups[0]!.lr;
  }

  set lr(value: number) {
    for (const group of this.paramGroups) group.lr = value;
  }

  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }

  /**
   * Applies one update from the gradients now in each parameter's `.grad`, each with its group's
   * settings; a parameter with requiresGrad false is skipped, as PyTorch skips one without a gradient.
   */
  step(): void {
    this.stepCount++;
    let index = 0;
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        if (p.requiresGrad) {
          this.updates[index] = (this.updates[index] ?? 0) + 1;
          this.update(p.value.data, p.grad.data, index, group);
        }
        index++;
      }
    }
  }

  /** The updates parameter `index` has had, this one included: the t of Adam's bias correction. */
  protected stepOf(index: number): number {
    return this.updates[index] ?? 0;
  }

  protected abstract update(value: Float32Array, grad: Float32Array, index: number, group: Readonly<S>): void;

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
    return {
      step: this.stepCount,
      lr: this.lr,
      lrs: this.paramGroups.map((g) => g.lr),
      buffers: new Map([...this.buffers].map(([k, v]) => [k, Float32Array.from(v)])),
      paramSteps: this.allParams.map((_, i) => this.stepOf(i)),
    };
  }

  loadStateDict(state: OptimizerState): void {
    if (state.lrs && state.lrs.length !== this.paramGroups.length) {
      throw new Error(`optimizer state: holds ${state.lrs.length} parameter groups' learning rates for an optimiser of ${this.paramGroups.length}`);
    }
    if (state.paramSteps && state.paramSteps.length !== this.allParams.length) {
      throw new Error(`optimizer state: holds ${state.paramSteps.length} parameters' step counts for an optimiser of ${this.allParams.length}`);
    }
    this.stepCount = state.step;
    this.updates = this.allParams.map((_, i) => state.paramSteps?.[i] ?? state.step);
    this.paramGroups.forEach((group, g) => (group.lr = state.lrs?.[g] ?? state.lr));
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

type Settings<O> = { -readonly [K in keyof O]-?: O[K] } & GroupSettings;

/** Stochastic gradient descent with optional (Nesterov) momentum, as torch.optim.SGD. */
export class SGD extends Optimizer<Settings<SGDOptions>> {
  constructor(params: ParamsOrGroups<SGDOptions>, options: SGDOptions) {
    const defaults: Settings<SGDOptions> = { lr: options.lr, momentum: options.momentum ?? 0, dampening: options.dampening ?? 0, weightDecay: options.weightDecay ?? 0, nesterov: options.nesterov ?? false };
    super('SGD', params, defaults, (s) => {
      if (s.nesterov && (s.momentum <= 0 || s.dampening !== 0)) throw new Error('nesterov momentum requires a momentum and zero dampening');
    });
  }

  protected update(value: Float32Array, grad: Float32Array, index: number, group: Readonly<Settings<SGDOptions>>): void {
    const { lr, momentum, dampening, weightDecay, nesterov } = group;
    const first = !this.buffers.has(`momentum_buffer.${index}`);
    const buf = momentum !== 0 ? this.buffer('momentum_buffer', index, value.length) : undefined;
    for (let i = 0; i < value.length; i++) {
      let g = grad[i]! + weightDecay * value[i]!;
      if (buf) {
        buf[i] = first ? g : momentum * buf[i]! + (1 - dampening) * g;
        g = nesterov ? g + momentum * buf[i]! : buf[i]!;
      }
      value[i]! -= lr * g;
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

type AdamSettings = Settings<AdamOptions>;

/** Adam (Kingma & Ba 2015), as torch.optim.Adam; `decoupled` gives AdamW. */
export class Adam extends Optimizer<AdamSettings> {
  protected decoupled = false;
  /** The WebAssembly SIMD update, made at the first step; null where it is not available. */
  private simd: SimdAdam | null | undefined;

  constructor(params: ParamsOrGroups<AdamOptions>, options: AdamOptions = {}, name = 'Adam', defaultDecay = 0) {
    const defaults: AdamSettings = { lr: options.lr ?? 1e-3, betas: options.betas ?? [0.9, 0.999], eps: options.eps ?? 1e-8, weightDecay: options.weightDecay ?? defaultDecay };
    super(name, params, defaults, (s) => {
      const [b1, b2] = s.betas;
      if (!(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1)) throw new Error(`betas must be in [0, 1), got [${b1}, ${b2}]`);
    });
  }

  protected update(value: Float32Array, grad: Float32Array, index: number, group: Readonly<AdamSettings>): void {
    const { lr, eps, weightDecay } = group;
    const [b1, b2] = group.betas;
    const step = this.stepOf(index);
    const correction1 = 1 - b1 ** step;
    const correction2 = 1 - b2 ** step;
    const stepSize = lr / correction1;
    const root2 = Math.sqrt(correction2);
    if (this.simd === undefined) this.simd = SimdAdam.create(this.params.map((p) => p.value.size)) ?? null;
    if (this.simd) {
      // The moments in the module's memory: adopt what a loaded state dict put in the Map.
      this.adopt('exp_avg', index, this.simd.firstMoments[index]!);
      this.adopt('exp_avg_sq', index, this.simd.secondMoments[index]!);
      this.simd.update(index, value, grad, {
        b1, b2, negStep: -stepSize, root2, eps,
        decay: this.decoupled ? 1 - lr * weightDecay : 1,
        l2: this.decoupled ? 0 : weightDecay,
      });
      return;
    }
    const m = this.buffer('exp_avg', index, value.length);
    const v = this.buffer('exp_avg_sq', index, value.length);
    // Settings in locals (the loop runs over millions of values a step, an output layer over a
    // vocabulary), and each value rounded as a store to the Float32Arrays would round it
    // (Math.fround): the same bits as storing after every statement.
    const decoupled = this.decoupled;
    const decay = 1 - lr * weightDecay;
    const l2 = weightDecay;
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

  /** A group added: the SIMD memory is laid out again at the next step, the moments copied over (`adopt`). */
  protected override groupsChanged(): void {
    this.simd = undefined;
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
  constructor(params: ParamsOrGroups<AdamOptions>, options: AdamOptions = {}) {
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

type RMSpropSettings = Settings<RMSpropOptions>;

/** RMSprop (Hinton's lecture 6e; centered as Graves 2013), as torch.optim.RMSprop. */
export class RMSprop extends Optimizer<RMSpropSettings> {
  constructor(params: ParamsOrGroups<RMSpropOptions>, options: RMSpropOptions = {}) {
    const defaults: RMSpropSettings = {
      lr: options.lr ?? 0.01, alpha: options.alpha ?? 0.99, eps: options.eps ?? 1e-8, weightDecay: options.weightDecay ?? 0,
      momentum: options.momentum ?? 0, centered: options.centered ?? false,
    };
    super('RMSprop', params, defaults, (s) => {
      if (!(s.alpha >= 0 && s.alpha <= 1)) throw new Error(`alpha must be in [0, 1], got ${s.alpha}`);
      if (!(s.momentum >= 0)) throw new Error(`momentum must be a non-negative number, got ${s.momentum}`);
      if (!(s.eps >= 0)) throw new Error(`eps must be a non-negative number, got ${s.eps}`);
    });
  }

  protected update(value: Float32Array, grad: Float32Array, index: number, group: Readonly<RMSpropSettings>): void {
    const { alpha, eps, weightDecay, momentum, lr } = group;
    const squareAvg = this.buffer('square_avg', index, value.length);
    const gradAvg = group.centered ? this.buffer('grad_avg', index, value.length) : undefined;
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
  /**
   * Starting value of each sum of squared gradients, for every group: a group of its own is
   * refused, since PyTorch silently starts every group from the options' value. Default 0.
   */
  readonly initialAccumulatorValue?: number;
  /** Default 1e-10. */
  readonly eps?: number;
}

type AdagradSettings = Settings<AdagradOptions>;

/** Adagrad (Duchi et al. 2011), as torch.optim.Adagrad. */
export class Adagrad extends Optimizer<AdagradSettings> {
  constructor(params: ParamsOrGroups<AdagradOptions>, options: AdagradOptions = {}) {
    const defaults: AdagradSettings = {
      lr: options.lr ?? 0.01, lrDecay: options.lrDecay ?? 0, weightDecay: options.weightDecay ?? 0,
      initialAccumulatorValue: options.initialAccumulatorValue ?? 0, eps: options.eps ?? 1e-10,
    };
    const ownStart = params.findIndex((entry) => !(entry instanceof Parameter) && entry.initialAccumulatorValue !== undefined);
    if (ownStart >= 0) throw new Error(`Adagrad: parameter group ${ownStart}: initialAccumulatorValue is one for all groups; set it in the options`);
    super('Adagrad', params, defaults, (s) => {
      if (!(s.lrDecay >= 0)) throw new Error(`lrDecay must be a non-negative number, got ${s.lrDecay}`);
      if (!(s.initialAccumulatorValue >= 0)) throw new Error(`initialAccumulatorValue must be a non-negative number, got ${s.initialAccumulatorValue}`);
    });
  }

  protected update(value: Float32Array, grad: Float32Array, index: number, group: Readonly<AdagradSettings>): void {
    const fresh = !this.buffers.has(`sum.${index}`);
    const sum = this.buffer('sum', index, value.length);
    if (fresh) sum.fill(group.initialAccumulatorValue);
    const rate = group.lr / (1 + (this.stepOf(index) - 1) * group.lrDecay);
    for (let i = 0; i < value.length; i++) {
      const g = grad[i]! + group.weightDecay * value[i]!;
      sum[i]! += g * g;
      value[i]! -= (rate * g) / (Math.sqrt(sum[i]!) + group.eps);
    }
  }
}

/**
 * Scales all gradients together so their global norm is at most maxNorm (as
 * torch.nn.utils.clip_grad_norm_): the `normType`-norm of every value (default 2; Infinity: the
 * largest magnitude); returns the norm before clipping. A NaN or infinite norm is returned as is,
 * gradients untouched, for the caller to skip the step.
 */
export function clipGradNorm(params: readonly Parameter[], maxNorm: number, normType = 2): number {
  if (!(normType > 0)) throw new Error(`clipGradNorm: normType must be a positive number or Infinity, got ${normType}`);
  let norm: number;
  if (normType === 2) {
    let squares = 0;
    for (const p of params) squares += sumOfSquares(p.grad.data);
    norm = Math.sqrt(squares);
  } else if (normType === Infinity) {
    norm = 0;
    for (const p of params) for (const g of p.grad.data) norm = Math.max(norm, Math.abs(g));
    if (params.some((p) => p.grad.data.some(Number.isNaN))) norm = Number.NaN;
  } else {
    let total = 0;
    for (const p of params) for (const g of p.grad.data) total += Math.abs(g) ** normType;
    norm = total ** (1 / normType);
  }
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
