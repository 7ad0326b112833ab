/**
 * Learning-rate schedules as in torch.optim.lr_scheduler: construct with the optimiser (which
 * records each parameter group's base lr), call `step()` once per epoch (or per batch, as you
 * choose), read `lr`. With parameter groups each group follows the schedule from its own base lr.
 */
import type { Optimizer } from './optimizers.js';

export abstract class LRSchedule {
  readonly optimizer: Optimizer;
  /** Each parameter group's lr when the schedule was made. */
  readonly baseLrs: readonly number[];
  /** Times step() was called. */
  epoch = 0;

  protected constructor(optimizer: Optimizer) {
    this.optimizer = optimizer;
    this.baseLrs = optimizer.paramGroups.map((group) => group.lr);
  }

  /** The first group's base lr (the only group's, without parameter groups). */
  get baseLr(): number {
    return this.baseLrs[0]!;
  }

  /** The learning rate for a given epoch count, of a group whose base lr is `baseLr` (default: the first group's). */
  abstract lrAt(epoch: number, baseLr?: number): number;

  /** Sets every group's lr for this epoch count. */
  protected apply(epoch: number): void {
    this.optimizer.paramGroups.forEach((group, g) => (group.lr = this.lrAt(epoch, this.baseLrs[g])));
  }

  /** Advances one epoch; returns the first group's new lr. */
  step(): number {
    this.epoch++;
    this.apply(this.epoch);
    return this.optimizer.lr;
  }
}

/** lr = base * gamma^floor(epoch / stepSize) (StepLR). */
export class StepLR extends LRSchedule {
  constructor(optimizer: Optimizer, readonly stepSize: number, readonly gamma = 0.1) {
    super(optimizer);
  }
  lrAt(epoch: number, baseLr = this.baseLr): number {
    return baseLr * this.gamma ** Math.floor(epoch / this.stepSize);
  }
}

/** lr = base * gamma^epoch (ExponentialLR). */
export class ExponentialLR extends LRSchedule {
  constructor(optimizer: Optimizer, readonly gamma: number) {
    super(optimizer);
  }
  lrAt(epoch: number, baseLr = this.baseLr): number {
    return baseLr * this.gamma ** epoch;
  }
}

/**
 * lr = etaMin + (base - etaMin) (1 + cos(pi epoch / tMax)) / 2 (CosineAnnealingLR, closed form): etaMin
 * at tMax, then rising again as PyTorch's does if stepped on (not a restart: SGDR is another schedule).
 */
export class CosineAnnealingLR extends LRSchedule {
  constructor(optimizer: Optimizer, readonly tMax: number, readonly etaMin = 0) {
    super(optimizer);
  }
  lrAt(epoch: number, baseLr = this.baseLr): number {
    return this.etaMin + ((baseLr - this.etaMin) * (1 + Math.cos((Math.PI * epoch) / this.tMax))) / 2;
  }
}

/** Linear warm-up from 0 over `warmup` steps, then linear decay to 0 at `total` (the transformer schedule). */
export class WarmupLinearLR extends LRSchedule {
  constructor(optimizer: Optimizer, readonly warmup: number, readonly total: number) {
    super(optimizer);
    this.apply(0);
  }
  lrAt(epoch: number, baseLr = this.baseLr): number {
    if (epoch < this.warmup) return (baseLr * epoch) / this.warmup;
    return baseLr * Math.max(0, (this.total - epoch) / Math.max(1, this.total - this.warmup));
  }
}

/** lr = base * gamma^(milestones reached) (MultiStepLR); a milestone given twice counts twice, as PyTorch's. */
export class MultiStepLR extends LRSchedule {
  readonly milestones: readonly number[];

  constructor(optimizer: Optimizer, milestones: readonly number[], readonly gamma = 0.1) {
    super(optimizer);
    if (!milestones.every((m) => Number.isInteger(m) && m >= 0)) throw new Error(`MultiStepLR: milestones must be whole numbers >= 0, got [${milestones.join(', ')}]`);
    this.milestones = [...milestones].sort((a, b) => a - b);
  }

  lrAt(epoch: number, baseLr = this.baseLr): number {
    return baseLr * this.gamma ** this.milestones.filter((m) => m <= epoch).length;
  }
}

/** lr = base * (start + (end - start) min(epoch, totalIters) / totalIters) (LinearLR: a linear warm-up or decay of the factor). */
export class LinearLR extends LRSchedule {
  constructor(optimizer: Optimizer, readonly startFactor = 1 / 3, readonly endFactor = 1, readonly totalIters = 5) {
    super(optimizer);
    if (!(startFactor > 0 && startFactor <= 1)) throw new Error(`LinearLR: startFactor must be in (0, 1], got ${startFactor}`);
    if (!(endFactor >= 0 && endFactor <= 1)) throw new Error(`LinearLR: endFactor must be in [0, 1], got ${endFactor}`);
    if (!(Number.isInteger(totalIters) && totalIters >= 1)) throw new Error(`LinearLR: totalIters must be a whole number >= 1, got ${totalIters}`);
    this.apply(0);
  }

  lrAt(epoch: number, baseLr = this.baseLr): number {
    return baseLr * (this.startFactor + ((this.endFactor - this.startFactor) * Math.min(this.totalIters, epoch)) / this.totalIters);
  }
}

/** lr = base * factor(epoch) (LambdaLR), one function for every group or one for each. */
export class LambdaLR extends LRSchedule {
  private readonly factors: ReadonlyArray<(epoch: number) => number>;

  constructor(optimizer: Optimizer, factor: ((epoch: number) => number) | ReadonlyArray<(epoch: number) => number>) {
    super(optimizer);
    const groups = optimizer.paramGroups.length;
    if (Array.isArray(factor) && factor.length !== groups) throw new Error(`LambdaLR: got ${factor.length} functions for ${groups} parameter groups`);
    this.factors = Array.isArray(factor) ? factor : new Array(groups).fill(factor);
    this.apply(0);
  }

  /** With the first group's function. */
  lrAt(epoch: number, baseLr = this.baseLr): number {
    return baseLr * this.factors[0]!(epoch);
  }

  protected override apply(epoch: number): void {
    this.optimizer.paramGroups.forEach((group, g) => (group.lr = this.baseLrs[g]! * this.factors[g]!(epoch)));
  }
}

/**
 * Cosine annealing with warm restarts (SGDR, Loshchilov & Hutter 2017; CosineAnnealingWarmRestarts):
 * from base to etaMin over t0 epochs, then again over t0 * tMult, t0 * tMult^2, ...
 */
export class CosineAnnealingWarmRestarts extends LRSchedule {
  constructor(optimizer: Optimizer, readonly t0: number, readonly tMult = 1, readonly etaMin = 0) {
    super(optimizer);
    if (!(Number.isInteger(t0) && t0 >= 1)) throw new Error(`CosineAnnealingWarmRestarts: t0 must be a whole number >= 1, got ${t0}`);
    if (!(Number.isInteger(tMult) && tMult >= 1)) throw new Error(`CosineAnnealingWarmRestarts: tMult must be a whole number >= 1, got ${tMult}`);
  }

  lrAt(epoch: number, baseLr = this.baseLr): number {
    let period = this.t0;
    let within = epoch;
    while (within >= period) {
      within -= period;
      period *= this.tMult;
    }
    return this.etaMin + ((baseLr - this.etaMin) * (1 + Math.cos((Math.PI * within) / period))) / 2;
  }
}

export interface OneCycleLROptions {
  /** The peak lr: one value, or one for each parameter group. Required. */
  readonly maxLr: number | readonly number[];
  /** Steps in the cycle (epochs x batches when stepped once a batch). Required. */
  readonly totalSteps: number;
  /** The share of the steps spent rising. Default 0.3. */
  readonly pctStart?: number;
  /** Default 'cos'. */
  readonly annealStrategy?: 'cos' | 'linear';
  /** The lr starts at maxLr / divFactor. Default 25. */
  readonly divFactor?: number;
  /** ...and ends at that / finalDivFactor. Default 1e4. */
  readonly finalDivFactor?: number;
  /** Rise, fall back to the start, then anneal (fast.ai's three phases) instead of rise and anneal. Default false. */
  readonly threePhase?: boolean;
  /** Move the momentum (SGD's and RMSprop's momentum, Adam's beta1) against the lr. Default true. */
  readonly cycleMomentum?: boolean;
  /** Default 0.85. */
  readonly baseMomentum?: number;
  /** Default 0.95. */
  readonly maxMomentum?: number;
}

/**
 * The 1cycle policy (Smith & Topin 2019; torch.optim.lr_scheduler.OneCycleLR), stepped once a
 * batch: the lr rises from maxLr / divFactor to maxLr over pctStart of the steps and anneals to
 * far below the start, the momentum moving the other way. It sets the lr (and momentum) when
 * made, replacing the optimiser's.
 */
export class OneCycleLR extends LRSchedule {
  readonly maxLrs: readonly number[];
  readonly totalSteps: number;
  private readonly phases: ReadonlyArray<{ end: number; lr: [number, number]; momentum: ['max' | 'base', 'max' | 'base'] }>;
  private readonly options: Required<Omit<OneCycleLROptions, 'maxLr' | 'totalSteps' | 'pctStart' | 'threePhase'>>;
  private readonly momentumKey: 'betas' | 'momentum' | undefined;

  constructor(optimizer: Optimizer, options: OneCycleLROptions) {
    super(optimizer);
    const fail = (message: string) => new Error(`OneCycleLR: ${message}`);
    const groups = optimizer.paramGroups.length;
    const maxLr = options.maxLr;
    if (Array.isArray(maxLr) && maxLr.length !== groups) throw fail(`maxLr holds ${maxLr.length} values for ${groups} parameter groups`);
    this.maxLrs = Array.isArray(maxLr) ? [...(maxLr as readonly number[])] : new Array<number>(groups).fill(maxLr as number);
    if (!this.maxLrs.every((lr) => lr > 0)) throw fail(`maxLr must be positive, got ${JSON.stringify(maxLr)}`);
    if (!(Number.isInteger(options.totalSteps) && options.totalSteps >= 2)) throw fail(`totalSteps must be a whole number >= 2, got ${options.totalSteps}`);
    const pctStart = options.pctStart ?? 0.3;
    if (!(pctStart > 0 && pctStart < 1)) throw fail(`pctStart must be in (0, 1), got ${pctStart}`);
    this.totalSteps = options.totalSteps;
    this.options = {
      annealStrategy: options.annealStrategy ?? 'cos', divFactor: options.divFactor ?? 25, finalDivFactor: options.finalDivFactor ?? 1e4,
      cycleMomentum: options.cycleMomentum ?? true, baseMomentum: options.baseMomentum ?? 0.85, maxMomentum: options.maxMomentum ?? 0.95,
    };
    if (this.options.annealStrategy !== 'cos' && this.options.annealStrategy !== 'linear') throw fail(`annealStrategy must be 'cos' or 'linear', got ${JSON.stringify(this.options.annealStrategy)}`);
    const total = options.totalSteps;
    // lr ends as factors of maxLr: 1 / divFactor (the start) and 1 / (divFactor finalDivFactor) (the end)
    const start = 1 / this.options.divFactor;
    const end = start / this.options.finalDivFactor;
    this.phases = options.threePhase
      ? [
        { end: pctStart * total - 1, lr: [start, 1], momentum: ['max', 'base'] },
        { end: 2 * pctStart * total - 2, lr: [1, start], momentum: ['base', 'max'] },
        { end: total - 1, lr: [start, end], momentum: ['max', 'max'] },
      ]
      : [
        { end: pctStart * total - 1, lr: [start, 1], momentum: ['max', 'base'] },
        { end: total - 1, lr: [1, end], momentum: ['base', 'max'] },
      ];
    const defaults = optimizer.defaults as unknown as Record<string, unknown>;
    this.momentumKey = 'betas' in defaults ? 'betas' : 'momentum' in defaults ? 'momentum' : undefined;
    if (this.options.cycleMomentum && !this.momentumKey) throw fail('the optimiser has no momentum to cycle; pass cycleMomentum: false');
    this.apply(0);
  }

  private anneal(from: number, to: number, pct: number): number {
    return this.options.annealStrategy === 'cos' ? to + ((from - to) / 2) * (Math.cos(Math.PI * pct) + 1) : (to - from) * pct + from;
  }

  /** Where step `step` stands: the phase's lr factors and momenta and the fraction of it done. */
  private position(step: number) {
    if (step > this.totalSteps) throw new Error(`OneCycleLR: stepped ${step} times, past the ${this.totalSteps} total steps`);
    let from = 0;
    for (const [i, phase] of this.phases.entries()) {
      if (step <= phase.end || i === this.phases.length - 1) return { phase, pct: (step - from) / (phase.end - from) };
      from = phase.end;
    }
    throw new Error('unreachable');
  }

  lrAt(step: number, maxLr = this.maxLrs[0]!): number {
    const { phase, pct } = this.position(step);
    return this.anneal(maxLr * phase.lr[0], maxLr * phase.lr[1], pct);
  }

  /** The momentum (or beta1) at step `step`. */
  momentumAt(step: number): number {
    const { phase, pct } = this.position(step);
    const value = (which: 'max' | 'base') => (which === 'max' ? this.options.maxMomentum : this.options.baseMomentum);
    return this.anneal(value(phase.momentum[0]), value(phase.momentum[1]), pct);
  }

  protected override apply(step: number): void {
    const momentum = this.options.cycleMomentum ? this.momentumAt(step) : undefined;
    this.optimizer.paramGroups.forEach((group, g) => {
      group.lr = this.lrAt(step, this.maxLrs[g]);
      if (momentum === undefined) return;
      const settings = group as unknown as Record<string, unknown>;
      if (this.momentumKey === 'betas') settings.betas = [momentum, (settings.betas as readonly [number, number])[1]];
      else settings.momentum = momentum;
    });
  }
}

export interface ReduceLROnPlateauOptions {
  /** 'min': lower is better (a loss); 'max': higher is better (an accuracy). Default 'min'. */
  readonly mode?: 'min' | 'max';
  /** The lr is multiplied by this on a plateau. Default 0.1. */
  readonly factor?: number;
  /** Steps without improvement tolerated before the lr is reduced. Default 10. */
  readonly patience?: number;
  /** How much better a value must be to count: relative to the best ('rel') or absolute ('abs'). Default 1e-4. */
  readonly threshold?: number;
  /** Default 'rel'. */
  readonly thresholdMode?: 'rel' | 'abs';
  /** Steps after a reduction during which bad steps are not counted. Default 0. */
  readonly cooldown?: number;
  /** The lr is never reduced below this: one value, or one for each parameter group. Default 0. */
  readonly minLr?: number | readonly number[];
  /** A reduction smaller than this is skipped. Default 1e-8. */
  readonly eps?: number;
}

/**
 * Reduces the learning rate when a metric stops improving, as
 * torch.optim.lr_scheduler.ReduceLROnPlateau (Keras's ReduceLROnPlateau callback): call
 * `step(metric)` after each validation. Its state is a function of the metrics it was given, so
 * a resumed run restores it by giving them again (`@recurrent/train` does, from metrics.jsonl).
 */
export class ReduceLROnPlateau {
  readonly optimizer: Optimizer;
  readonly mode: 'min' | 'max';
  readonly factor: number;
  readonly patience: number;
  readonly threshold: number;
  readonly thresholdMode: 'rel' | 'abs';
  readonly cooldown: number;
  /** Each parameter group's floor. */
  readonly minLrs: readonly number[];
  readonly eps: number;
  /** The best metric so far (Infinity / -Infinity before the first step). */
  best: number;
  /** Steps since the best, not counting those in cooldown. */
  badSteps = 0;
  /** Steps of cooldown left. */
  cooldownLeft = 0;
  /** Times step() was called. */
  epoch = 0;

  constructor(optimizer: Optimizer, options: ReduceLROnPlateauOptions = {}) {
    this.optimizer = optimizer;
    this.mode = options.mode ?? 'min';
    this.factor = options.factor ?? 0.1;
    this.patience = options.patience ?? 10;
    this.threshold = options.threshold ?? 1e-4;
    this.thresholdMode = options.thresholdMode ?? 'rel';
    this.cooldown = options.cooldown ?? 0;
    const minLr = options.minLr ?? 0;
    const groups = optimizer.paramGroups.length;
    this.eps = options.eps ?? 1e-8;
    const fail = (message: string) => new Error(`ReduceLROnPlateau: ${message}`);
    if (this.mode !== 'min' && this.mode !== 'max') throw fail(`mode must be 'min' or 'max', got ${JSON.stringify(this.mode)}`);
    if (!(this.factor > 0 && this.factor < 1)) throw fail(`factor must be in (0, 1), got ${this.factor}`);
    if (!(Number.isInteger(this.patience) && this.patience >= 0)) throw fail(`patience must be a whole number >= 0, got ${this.patience}`);
    if (!(Number.isInteger(this.cooldown) && this.cooldown >= 0)) throw fail(`cooldown must be a whole number >= 0, got ${this.cooldown}`);
    if (!(this.threshold >= 0)) throw fail(`threshold must be a non-negative number, got ${this.threshold}`);
    if (this.thresholdMode !== 'rel' && this.thresholdMode !== 'abs') throw fail(`thresholdMode must be 'rel' or 'abs', got ${JSON.stringify(this.thresholdMode)}`);
    if (Array.isArray(minLr) && minLr.length !== groups) throw fail(`minLr holds ${minLr.length} values for ${groups} parameter groups`);
    this.minLrs = Array.isArray(minLr) ? [...(minLr as readonly number[])] : new Array<number>(groups).fill(minLr as number);
    for (const value of this.minLrs) if (!(value >= 0)) throw fail(`minLr must be a non-negative number, got ${value}`);
    this.best = this.mode === 'min' ? Infinity : -Infinity;
  }

  /** Whether `value` beats the best by the threshold (NaN never does). */
  isBetter(value: number): boolean {
    const { best, threshold } = this;
    if (this.mode === 'min') return this.thresholdMode === 'rel' ? value < best * (1 - threshold) : value < best - threshold;
    return this.thresholdMode === 'rel' ? value > best * (1 + threshold) : value > best + threshold;
  }

  /** Takes the metric of the step just ended; returns the (first group's) learning rate for the next. */
  step(metric: number): number {
    this.epoch++;
    if (this.isBetter(metric)) {
      this.best = metric;
      this.badSteps = 0;
    } else {
      this.badSteps++;
    }
    if (this.cooldownLeft > 0) {
      this.cooldownLeft--;
      this.badSteps = 0;
    }
    if (this.badSteps > this.patience) {
      this.optimizer.paramGroups.forEach((group, g) => {
        const reduced = Math.max(group.lr * this.factor, this.minLrs[g]!);
        if (group.lr - reduced > this.eps) group.lr = reduced;
      });
      this.cooldownLeft = this.cooldown;
      this.badSteps = 0;
    }
    return this.optimizer.lr;
  }
}
