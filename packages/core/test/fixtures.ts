import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readSafetensors } from '../src/io/safetensors.js';
import { parameterNames, type CellKind, type RecurrentShape } from '../src/reference/recurrent.js';

/** The PyTorch parity fixtures written by fixtures/make_fixtures.py, converted to time-major. */

const directory = fileURLToPath(new URL('../fixtures/pytorch/', import.meta.url));

export interface FixtureConfig extends RecurrentShape {
  readonly batchFirst: boolean;
  readonly steps: number;
  readonly batch: number;
}

export interface Fixture {
  readonly name: string;
  readonly config: FixtureConfig;
  readonly params: Map<string, Float64Array>;
  /** Everything below is time-major ([T, B, ...]) whatever the fixture's layout. */
  readonly x: Float64Array;
  readonly lengths: number[] | undefined;
  readonly h0: Float64Array | undefined;
  readonly c0: Float64Array | undefined;
  readonly output: Float64Array;
  readonly hN: Float64Array;
  readonly cN: Float64Array | undefined;
  readonly gradOutput: Float64Array;
  readonly gradHN: Float64Array;
  readonly gradCN: Float64Array | undefined;
  readonly gradInput: Float64Array;
  readonly gradH0: Float64Array | undefined;
  readonly gradC0: Float64Array | undefined;
  readonly gradParams: Map<string, Float64Array>;
}

export const fixtureNames = readdirSync(directory)
  .filter((file) => file.endsWith('.safetensors'))
  .map((file) => file.replace(/\.safetensors$/, ''))
  .sort();

/** [B, T, F] -> [T, B, F]. */
export function batchToTimeMajor(data: Float64Array, batch: number, steps: number): Float64Array {
  const features = data.length / (batch * steps);
  const out = new Float64Array(data.length);
  for (let b = 0; b < batch; b++)
    for (let t = 0; t < steps; t++)
      out.set(data.subarray((b * steps + t) * features, (b * steps + t + 1) * features), (t * batch + b) * features);
  return out;
}

export function loadFixture(name: string): Fixture {
  const file = readSafetensors(`${directory}${name}.safetensors`);
  const raw = JSON.parse(file.metadata.config!) as Omit<FixtureConfig, 'kind'> & { kind: CellKind };
  const config: FixtureConfig = raw;
  const f64 = (key: string) => {
    const tensor = file.tensors.get(key);
    if (!tensor) return undefined;
    if (!(tensor.data instanceof Float64Array)) throw new Error(`${name}: ${key} is not F64`);
    return tensor.data;
  };
  const need = (key: string) => {
    const value = f64(key);
    if (!value) throw new Error(`${name}: fixture lacks ${key}`);
    return value;
  };
  const sequence = (key: string) =>
    config.batchFirst ? batchToTimeMajor(need(key), config.batch, config.steps) : need(key);
  const names = parameterNames(config);
  const lengths = file.tensors.get('lengths');
  return {
    name,
    config,
    params: new Map(names.map((n) => [n, need(n)])),
    x: sequence('input'),
    lengths: lengths ? [...(lengths.data as BigInt64Array)].map(Number) : undefined,
    h0: f64('h0'),
    c0: f64('c0'),
    output: sequence('output'),
    hN: need('h_n'),
    cN: f64('c_n'),
    gradOutput: sequence('grad_output'),
    gradHN: need('grad_h_n'),
    gradCN: f64('grad_c_n'),
    gradInput: sequence('grad.input'),
    gradH0: f64('grad.h0'),
    gradC0: f64('grad.c0'),
    gradParams: new Map(names.map((n) => [n, need(`grad.${n}`)])),
  };
}
