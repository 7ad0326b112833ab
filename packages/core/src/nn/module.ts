import type { Backend } from '../backend/backend.js';
import { getDefaultBackend } from '../backend/default.js';
import { mulberry32, type SeededRandom } from '../random.js';
import { formatShape, sameShape, Tensor } from '../tensor.js';
import { Parameter } from './tape.js';

export interface LoadStateDictResult {
  readonly missingKeys: string[];
  readonly unexpectedKeys: string[];
}

/**
 * The base of every layer: named parameters and child modules in registration order (which is
 * the order of `stateDict()`, the optimiser state and the model file), train/eval mode, and the
 * backend forward runs on (`to(backend)`, else the default backend).
 */
export abstract class Module {
  training = true;
  private readonly ownParameters = new Map<string, Parameter>();
  private readonly children = new Map<string, Module>();
  private readonly generators = new Map<string, SeededRandom>();
  private assignedBackend: Backend | undefined;

  /** The class name used in messages, e.g. 'LSTM'. */
  get typeName(): string {
    return this.constructor.name;
  }

  protected registerParameter(name: string, value: Tensor): Parameter {
    const parameter = new Parameter(value);
    this.ownParameters.set(name, parameter);
    return parameter;
  }

  /** A random generator whose state travels with checkpoints (dropout masks, random states). */
  protected registerRandom(name: string, seed: number): SeededRandom {
    const generator = mulberry32(seed);
    this.generators.set(name, generator);
    return generator;
  }

  /** The states of every registered generator, by dotted name, for an exact resume. */
  randomStates(prefix = ''): Record<string, number> {
    const states: Record<string, number> = {};
    for (const [name, g] of this.generators) states[`${prefix}${name}`] = g.state;
    for (const [name, child] of this.children) Object.assign(states, child.randomStates(`${prefix}${name}.`));
    return states;
  }

  setRandomStates(states: Readonly<Record<string, number>>, prefix = ''): void {
    for (const [name, g] of this.generators) {
      const state = states[`${prefix}${name}`];
      if (state !== undefined) g.state = state;
    }
    for (const [name, child] of this.children) child.setRandomStates(states, `${prefix}${name}.`);
  }

  protected registerModule<M extends Module>(name: string, module: M): M {
    this.children.set(name, module);
    return module;
  }

  /** [name, parameter] pairs, own first, then each child's prefixed with its name and a dot. */
  namedParameters(prefix = ''): Array<[string, Parameter]> {
    const named: Array<[string, Parameter]> = [...this.ownParameters].map(([name, p]) => [`${prefix}${name}`, p]);
    for (const [name, child] of this.children) named.push(...child.namedParameters(`${prefix}${name}.`));
    return named;
  }

  /** Every parameter once, in namedParameters' order: a shared (tied) one is listed at its first name, as PyTorch's parameters(). */
  parameters(): Parameter[] {
    return [...new Set(this.namedParameters().map(([, p]) => p))];
  }

  /** [path, module] for this module ('') and every module below it, parents first (PyTorch's named_modules). */
  namedModules(prefix = ''): Array<[string, Module]> {
    const named: Array<[string, Module]> = [[prefix, this]];
    for (const [name, child] of this.children) named.push(...child.namedModules(prefix ? `${prefix}.${name}` : name));
    return named;
  }

  /**
   * The parameters by module, as Keras's model.summary(): one line per module that holds
   * parameters (its path, type, the shapes and count of its own), then the totals.
   */
  summary(): string {
    const rows = this.namedModules()
      .filter(([, module]) => module.ownParameters.size > 0)
      .map(([path, module]) => {
        const own = [...module.ownParameters.values()];
        return [path || '(this)', module.typeName, own.map((p) => formatShape(p.shape)).join(' '), own.reduce((sum, p) => sum + p.value.size, 0).toLocaleString('en-US')];
      });
    const header = ['module', 'type', 'parameter shapes', 'parameters'];
    const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
    const line = (cells: readonly string[]) => cells.map((cell, c) => (c === 3 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd();
    const all = this.parameters();
    const total = all.reduce((sum, p) => sum + p.value.size, 0);
    const trainable = all.filter((p) => p.requiresGrad).reduce((sum, p) => sum + p.value.size, 0);
    return [
      line(header), ...rows.map(line),
      `${total.toLocaleString('en-US')} parameters (${trainable.toLocaleString('en-US')} trainable), ${((4 * total) / 1e6).toFixed(1)} MB as float32`,
    ].join('\n');
  }

  /** Every parameter's tensor by name (the tensors themselves, as PyTorch returns them). */
  stateDict(): Map<string, Tensor> {
    return new Map(this.namedParameters().map(([name, p]) => [name, p.value]));
  }

  /**
   * Copies values in by name. A wrong shape always throws, naming the tensor and both shapes;
   * with `strict` (default) missing or unexpected keys throw too, listed as PyTorch lists them.
   */
  loadStateDict(dict: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>, options: { strict?: boolean } = {}): LoadStateDictResult {
    const entries = dict instanceof Map ? new Map(dict) : new Map(Object.entries(dict));
    const own = new Map(this.namedParameters());
    const missingKeys = [...own.keys()].filter((key) => !entries.has(key));
    const unexpectedKeys = [...entries.keys()].filter((key) => !own.has(key));
    const problems: string[] = [];
    if (options.strict ?? true) {
      if (missingKeys.length) problems.push(`Missing key(s) in state_dict: ${missingKeys.map((k) => `"${k}"`).join(', ')}.`);
      if (unexpectedKeys.length) problems.push(`Unexpected key(s) in state_dict: ${unexpectedKeys.map((k) => `"${k}"`).join(', ')}.`);
    }
    for (const [key, parameter] of own) {
      const value = entries.get(key);
      if (value && !sameShape(value.shape, parameter.shape)) {
        problems.push(
          `size mismatch for ${key}: copying a param with shape ${formatShape(value.shape)} from checkpoint, the shape in current model is ${formatShape(parameter.shape)}.`,
        );
      }
    }
    if (problems.length) throw new Error(`Error(s) in loading state_dict for ${this.typeName}:\n\t${problems.join('\n\t')}`);
    for (const [key, parameter] of own) {
      const value = entries.get(key);
      if (value) parameter.value.data.set(value.data);
    }
    return { missingKeys, unexpectedKeys };
  }

  /** Training mode (dropout active, random initial states drawn) for this module and its children. */
  train(mode = true): this {
    this.training = mode;
    for (const child of this.children.values()) child.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  /**
   * Freezes (false) or unfreezes (true) every parameter of this module and its children, as
   * PyTorch's requires_grad_(): a frozen one gets no gradient and the optimisers skip it.
   */
  requiresGrad(requires = true): this {
    for (const p of this.parameters()) p.requiresGrad = requires;
    return this;
  }

  /** [name, module] of the direct children, in registration order (PyTorch's named_children). */
  namedChildren(): Array<[string, Module]> {
    return [...this.children];
  }

  /** Runs this module and its children on `backend`. */
  to(backend: Backend): this {
    this.assignedBackend = backend;
    for (const child of this.children.values()) child.to(backend);
    return this;
  }

  protected backend(): Promise<Backend> {
    return this.assignedBackend ? Promise.resolve(this.assignedBackend) : getDefaultBackend();
  }
}

/** Checks a constructor option; the message names the layer, the option and what was given. */
export function checkOption(layer: string, name: string, value: unknown, valid: boolean, expected: string): void {
  if (!valid) throw new Error(`${layer}: ${name} must be ${expected}, got ${JSON.stringify(value)}`);
}

export const isPositiveInteger = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;
