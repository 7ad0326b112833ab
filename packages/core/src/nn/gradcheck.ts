/**
 * A layer's backward pass against finite differences, as torch.autograd.gradcheck: for anyone
 * writing a module whose backward function is recorded by hand (`Tape.record`), which is how
 * every layer here differentiates.
 */
import { mulberry32 } from '../random.js';
import { Tensor } from '../tensor.js';
import { Parameter, Tape } from './tape.js';

export interface GradCheckOptions {
  /** The step of the central differences. Default 1e-2 (values are float32). */
  readonly eps?: number;
  /** A gradient passes where |analytic - numeric| <= atol + rtol |numeric|. Default 1e-3. */
  readonly atol?: number;
  /** Default 1e-2. */
  readonly rtol?: number;
  /** Values checked per input, chosen at random (each costs two forward passes). Default 32; Infinity: all. */
  readonly maxChecks?: number;
  /** Seed of the output's random weights and of the values chosen. Default 0. */
  readonly seed?: number;
}

export interface GradCheckFailure {
  /** The input's name (its key in a Map) or its position in the list. */
  readonly input: string;
  readonly index: number;
  readonly analytic: number;
  readonly numeric: number;
}

export interface GradCheckResult {
  /** Every checked value within tolerance. */
  readonly ok: boolean;
  /** Values checked over all inputs. */
  readonly checked: number;
  /** The checked value furthest outside (or nearest to) its tolerance. */
  readonly worst: GradCheckFailure | undefined;
  /** The largest |analytic - numeric| / (atol + rtol |numeric|): at most 1 when ok. */
  readonly worstRatio: number;
}

type Checked = Tensor | Parameter;

/**
 * Compares the gradients the tape gives for `inputs` (tensors `fn` reads, or parameters of its
 * modules) with central differences of a scalar made from `fn`'s output (a fixed random weighting
 * of it). `fn` must compute the same function every call: put dropout in eval mode, draw nothing
 * at random. Parameters' `.grad` are zeroed and hold the analytic gradient afterwards.
 */
export async function gradCheck(fn: () => Promise<Tensor>, inputs: ReadonlyArray<Checked> | ReadonlyMap<string, Checked>, options: GradCheckOptions = {}): Promise<GradCheckResult> {
  const eps = options.eps ?? 1e-2;
  const atol = options.atol ?? 1e-3;
  const rtol = options.rtol ?? 1e-2;
  const maxChecks = options.maxChecks ?? 32;
  const random = mulberry32(options.seed ?? 0);
  const named: Array<[string, Checked]> = inputs instanceof Map ? [...inputs] : (inputs as ReadonlyArray<Checked>).map((t, i) => [String(i), t]);

  for (const [, input] of named) if (input instanceof Parameter) input.zeroGrad();
  const tape = new Tape();
  const out = await tape.run(fn);
  const weights = new Tensor(out.shape, Float32Array.from({ length: out.size }, () => random() * 2 - 1));
  const grads = await tape.backward(out, weights);
  const scalar = (result: Tensor) => {
    let sum = 0;
    for (let i = 0; i < result.size; i++) sum += result.data[i]! * weights.data[i]!;
    return sum;
  };

  let checked = 0;
  let worst: GradCheckFailure | undefined;
  let worstRatio = 0;
  for (const [name, input] of named) {
    const values = input instanceof Parameter ? input.value.data : input.data;
    const analytic = input instanceof Parameter ? input.grad.data : grads.get(input)?.data;
    const indices = values.length <= maxChecks
      ? Array.from({ length: values.length }, (_, i) => i)
      : Array.from({ length: maxChecks }, () => Math.floor(random() * values.length));
    for (const index of indices) {
      const saved = values[index]!;
      values[index] = saved + eps;
      const up = scalar(await fn());
      values[index] = saved - eps;
      const down = scalar(await fn());
      values[index] = saved;
      const numeric = (up - down) / (2 * eps);
      const value = analytic?.[index] ?? 0;
      const ratio = Math.abs(value - numeric) / (atol + rtol * Math.abs(numeric));
      checked++;
      if (!(ratio <= worstRatio)) {
        worstRatio = ratio;
        worst = { input: name, index, analytic: value, numeric };
      }
    }
  }
  return { ok: worstRatio <= 1, checked, worst, worstRatio };
}
