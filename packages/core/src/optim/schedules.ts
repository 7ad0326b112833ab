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
