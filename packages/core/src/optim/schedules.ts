/**
 * Learning-rate schedules as in torch.optim.lr_scheduler: construct with the optimiser (which
 * records its base lr), call `step()` once per epoch (or per batch, as you choose), read `lr`.
 */
import type { Optimizer } from './optimizers.js';

export abstract class LRSchedule {
  readonly optimizer: Optimizer;
  readonly baseLr: number;
  /** Times step() was called. */
  epoch = 0;

  protected constructor(optimizer: Optimizer) {
    this.optimizer = optimizer;
    this.baseLr = optimizer.lr;
  }

  /** The learning rate for a given epoch count. */
  abstract lrAt(epoch: number): number;

  step(): number {
    this.epoch++;
    this.optimizer.lr = this.lrAt(this.epoch);
    return this.optimizer.lr;
  }
}

/** lr = base * gamma^floor(epoch / stepSize) (StepLR). */
export class StepLR extends LRSchedule {
  constructor(optimizer: Optimizer, readonly stepSize: number, readonly gamma = 0.1) {
    super(optimizer);
  }
  lrAt(epoch: number): number {
    return this.baseLr * this.gamma ** Math.floor(epoch / this.stepSize);
  }
}

/** lr = base * gamma^epoch (ExponentialLR). */
export class ExponentialLR extends LRSchedule {
  constructor(optimizer: Optimizer, readonly gamma: number) {
    super(optimizer);
  }
  lrAt(epoch: number): number {
    return this.baseLr * this.gamma ** epoch;
  }
}

/** lr = etaMin + (base - etaMin) (1 + cos(pi epoch / tMax)) / 2 (CosineAnnealingLR, closed form). */
export class CosineAnnealingLR extends LRSchedule {
  constructor(optimizer: Optimizer, readonly tMax: number, readonly etaMin = 0) {
    super(optimizer);
  }
  lrAt(epoch: number): number {
    return this.etaMin + ((this.baseLr - this.etaMin) * (1 + Math.cos((Math.PI * Math.min(epoch, this.tMax)) / this.tMax))) / 2;
  }
}

/** Linear warm-up from 0 over `warmup` steps, then linear decay to 0 at `total` (the transformer schedule). */
export class WarmupLinearLR extends LRSchedule {
  constructor(optimizer: Optimizer, readonly warmup: number, readonly total: number) {
    super(optimizer);
    optimizer.lr = this.lrAt(0);
  }
  lrAt(epoch: number): number {
    if (epoch < this.warmup) return (this.baseLr * epoch) / this.warmup;
    return this.baseLr * Math.max(0, (this.total - epoch) / Math.max(1, this.total - this.warmup));
  }
}
