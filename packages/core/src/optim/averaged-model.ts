/**
 * A running average of a module's weights (torch.optim.swa_utils.AveragedModel): equal weights
 * over the updates (stochastic weight averaging, Izmailov et al. 2018; checkpoint averaging), or
 * an exponential moving average with `decay` (Polyak averaging, Keras's `use_ema`). Call
 * `update(model)` after the steps or epochs to average, then `copyTo(model)` to evaluate with
 * the average. The average lives on the host as float32 tensors by parameter name, each
 * operation rounded to float32 as PyTorch's tensor arithmetic is.
 */
import type { Module } from '../nn/module.js';
import { detach } from '../nn/tape.js';
import type { Tensor } from '../tensor.js';

export interface AveragedModelOptions {
  /** An exponential moving average: avg = decay avg + (1 - decay) w (in [0, 1)). Default: equal weights. */
  readonly decay?: number;
}

export class AveragedModel {
  readonly decay: number | undefined;
  /** The averaged weights by parameter name (empty before the first update). */
  private averaged = new Map<string, Tensor>();
  /** Updates so far (PyTorch's n_averaged). */
  count = 0;

  constructor(options: AveragedModelOptions = {}) {
    if (options.decay !== undefined && !(options.decay >= 0 && options.decay < 1)) throw new Error(`AveragedModel: decay must be in [0, 1), got ${options.decay}`);
    this.decay = options.decay;
  }

  /** Adds the module's weights: the first update copies them; later ones move the average toward them. */
  update(model: Module): void {
    const next = new Map<string, Tensor>();
    for (const [name, weights] of model.stateDict()) {
      const previous = this.averaged.get(name);
      if (this.count === 0 || !previous) {
        next.set(name, detach(weights));
        continue;
      }
      const avg = previous.data;
      const w = weights.data;
      if (this.decay === undefined) {
        const n = this.count + 1;
        for (let i = 0; i < avg.length; i++) avg[i] = avg[i]! + Math.fround(Math.fround(w[i]! - avg[i]!) / n);
      } else {
        const keep = this.decay;
        const take = 1 - keep;
        for (let i = 0; i < avg.length; i++) avg[i] = Math.fround(keep * avg[i]!) + Math.fround(take * w[i]!);
      }
      next.set(name, previous);
    }
    this.averaged = next;
    this.count++;
  }

  /** The averaged tensors by name, for saveStateDict (the tensors themselves). */
  stateDict(): Map<string, Tensor> {
    if (this.count === 0) throw new Error('AveragedModel: nothing averaged yet; call update(model) first');
    return this.averaged;
  }

  /** Restores an average saved with stateDict() and its update count. */
  loadStateDict(dict: ReadonlyMap<string, Tensor>, count: number): void {
    if (!(Number.isInteger(count) && count >= 1)) throw new Error(`AveragedModel: count must be a whole number >= 1, got ${count}`);
    this.averaged = new Map([...dict].map(([name, t]) => [name, detach(t)]));
    this.count = count;
  }

  /** Puts the average into `model` (its own weights are overwritten: keep a copy to go back). */
  copyTo(model: Module): void {
    model.loadStateDict(this.stateDict());
  }
}
