import { GPU, WebAssemblyFunctionNode, type IKernelRunShortcut, type IPipelineRunShortcut, type PipelineFunction } from 'gpu.js';
import { ShapeError } from '../tensor.js';
import type { BackendName, ProbeResult } from './types.js';
import { probeWasmMultiplyAdd, type WasmMultiplyAdd } from './wasm-fma.js';

/**
 * Indices travel through kernels as f32 on every backend (gpu.js has no integer arrays), so
 * positions are exact only below 2^24. Larger tensors are refused rather than silently wrong.
 */
export const MAX_KERNEL_CELLS = 2 ** 24;

/**
 * Compiled pipelines kept per backend, counted in time steps. Each step of a plan compiles its own
 * WebAssembly (or WGSL), so code grows with a plan's steps: a training run over many sequence
 * lengths once filled V8's wasm code space ("Commit wasm code space Allocation failed") with one
 * plan per length. Up to MAX_CACHED_PIPELINES plans are kept whose steps add up to at most
 * MAX_CACHED_PIPELINE_STEPS (20 chunks of 64 steps; a plan that states no `steps` counts as 64),
 * so short sequences keep many plans: a translate run's 30-odd plans of 4 to 24 steps stay
 * compiled. The least recently used plan is destroyed first. Kernels stay: pipelines hold them,
 * and a kernel compiles code only when called directly.
 */
export const MAX_CACHED_PIPELINE_STEPS = 20 * 64;
export const MAX_CACHED_PIPELINES = 64;
/** What a pipeline counts against MAX_CACHED_PIPELINE_STEPS when it states no `steps`. */
const DEFAULT_PIPELINE_STEPS = 64;

/** Cached one-product pipelines of `runPacked` (two small kernels each), kept apart from the step plans. */
export const MAX_CACHED_PACKED = 64;

/**
 * Keeps a Map in least-recently-used order and destroys what falls out: the oldest entries go
 * while there are more than `limit`, or their weights add up to more than `weightLimit`.
 */
function touch<V extends { destroy(): unknown }>(cache: Map<string, { value: V; weight: number }>, key: string, value: V, limit: number, weight = 1, weightLimit = Infinity): void {
  cache.delete(key);
  cache.set(key, { value, weight });
  let total = 0;
  for (const entry of cache.values()) total += entry.weight;
  while (cache.size > 1 && (cache.size > limit || total > weightLimit)) {
    const [oldest, evicted] = cache.entries().next().value as [string, { value: V; weight: number }];
    cache.delete(oldest);
    total -= evicted.weight;
    // destroy() may return a promise (pipelines); nothing waits on an evicted entry.
    Promise.resolve(evicted.value.destroy()).catch(() => undefined);
  }
}

/**
 * A pipeline step's result as one Float32Array: the fused webasm executor returns it so
 * (`flatResults`); another executor shapes an Array(n) step as one Float32Array(n) a cell.
 */
export function flatResult(value: unknown): Float32Array {
  if (value instanceof Float32Array) return value;
  const cells = value as ArrayLike<Float32Array>;
  const width = cells.length > 0 ? cells[0]!.length : 0;
  const out = new Float32Array(cells.length * width);
  for (let i = 0; i < cells.length; i++) out.set(cells[i]!, i * width);
  return out;
}

/** Refuses inputs past f32 indexing (see MAX_KERNEL_CELLS) with the kernel's name. */
function checkInputSizes(spec: KernelSpec, inputs: readonly Float32Array[]): void {
  for (const input of inputs) {
    if (input.length > MAX_KERNEL_CELLS) {
      throw new ShapeError(
        `${spec.key}: an input of ${input.length} values exceeds the ${MAX_KERNEL_CELLS}-value limit of f32 indexing; split the work into smaller batches`,
      );
    }
  }
}

/** Everything needed to compile one kernel: the cache key names every fact baked into the code. */
export interface KernelSpec {
  /** Op name plus every shape and setting that changes the compiled code. */
  readonly key: string;
  // gpu.js kernels are plain functions traced from their source; their `this` is gpu.js's.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly source: (...args: any[]) => number | number[];
  /** Number of output cells; outputs are always flat, one thread per cell. */
  readonly outputSize: number;
  /**
   * 'Array(4)' or 'Array(8)': each thread returns four or eight values (a register tile: one
   * loaded operand serves several products). Only the fused webasm pipeline reads such a result
   * back flat (cell i's value c at n i + c, see patches/gpu.js), so these kernels run only inside
   * `Backend.pipeline` on webasm.
   */
  readonly returnType?: 'Array(4)' | 'Array(8)';
  /**
   * With a returnType: value c of cell i at c cells + i (planes) rather than n i + c, so that one
   * value of consecutive cells is contiguous (patches/gpu.js, `planarComponents`).
   */
  readonly planarComponents?: boolean;
  /**
   * N > 0: the output's cells fall into N equal blocks, and a cell of block b reads, of the
   * results of other kernels that set the same N, only block b (batch rows, for a recurrent
   * step). Inside a threaded webasm pipeline, consecutive calls of such kernels then run without
   * a barrier between them, each worker on the same blocks throughout (patches/gpu.js).
   */
  readonly localBlocks?: number;
  readonly constants?: Readonly<Record<string, number>>;
  /** Upper bound for loops whose trip count is read from an array. */
  readonly loopMaxIterations?: number;
}

/**
 * `floorDiv(a, d)` for non-negative integers held in f32. The quotient of two f32s can round up
 * to the next integer when `d` is large; the correction keeps flat-index arithmetic exact.
 */
export function floorDiv(a: number, d: number): number {
  let q = Math.floor(a / d);
  const r = a - q * d;
  if (r < 0) {
    q = q - 1;
  }
  if (r >= d) {
    q = q + 1;
  }
  return q;
}

// floorDiv's body is the patch's 'floorDivide' form (patches/gpu.js): on webasm a call with
// lane-varying arguments becomes f32x4 code with each lane's bits instead of a scalar call per
// lane. Products ran 25-35% faster so (bench/docs/history.md, round eight).
WebAssemblyFunctionNode.vectorHelpers.floorDiv = 'floorDivide';

/**
 * How this process's webasm kernels compute `acc += a * b` (wasm-fma.ts): one fused multiply-add
 * where the engine and the CPU have it. Settled here, before any kernel compiles. S inference
 * ran about 15% faster so, S training about 11% (bench/docs/history.md, item 33).
 */
export const wasmMultiplyAdd: WasmMultiplyAdd = probeWasmMultiplyAdd();
WebAssemblyFunctionNode.fusedMultiplyAdd = wasmMultiplyAdd !== 'off';

/**
 * A started gpu.js backend: one GPU instance, its compiled kernels cached by key, and its
 * pipelines. Layers and ops talk to this, never to gpu.js directly.
 */
export class Backend {
  readonly name: BackendName;
  readonly probe: ProbeResult;
  readonly gpu: GPU;
  private readonly kernels = new Map<string, IKernelRunShortcut>();
  private readonly pipelines = new Map<string, { value: IPipelineRunShortcut; weight: number }>();
  private readonly packedPipelines = new Map<string, { value: IPipelineRunShortcut; weight: number }>();
  private disposed = false;

  constructor(probe: ProbeResult) {
    this.name = probe.name;
    this.probe = probe;
    this.gpu = new GPU({ mode: probe.name });
    this.gpu.addFunction(floorDiv);
  }

  /** The compiled kernel for `spec`, compiled on first use and cached by `spec.key`. */
  kernel(spec: KernelSpec): IKernelRunShortcut {
    this.checkLive();
    // the same code scheduled differently is another kernel (see localBlocks)
    const cacheKey = `${spec.key}${spec.localBlocks ? `|blocks=${spec.localBlocks}` : ''}${spec.planarComponents ? '|planar' : ''}`;
    let kernel = this.kernels.get(cacheKey);
    if (!kernel) {
      if (spec.outputSize < 1 || spec.outputSize > MAX_KERNEL_CELLS) {
        throw new ShapeError(
          `${spec.key}: a kernel output must have 1 to ${MAX_KERNEL_CELLS} cells, got ${spec.outputSize}; split the work into smaller batches`,
        );
      }
      kernel = this.gpu.createKernel(spec.source, {
        output: [spec.outputSize],
        constants: { ...spec.constants },
        asyncMode: true,
        precision: 'single',
        tactic: 'precision',
        ...(spec.returnType ? { returnType: spec.returnType } : {}),
        ...(spec.localBlocks ? { localBlocks: spec.localBlocks } : {}),
        ...(spec.planarComponents ? { planarComponents: true } : {}),
        ...(spec.loopMaxIterations ? { loopMaxIterations: Math.max(1, spec.loopMaxIterations) } : {}),
      });
      this.kernels.set(cacheKey, kernel);
    }
    return kernel;
  }

  /** Runs a kernel on flat float32 inputs and resolves with its flat output. */
  async run(spec: KernelSpec, inputs: readonly Float32Array[]): Promise<Float32Array> {
    if (spec.returnType) throw new Error(`${spec.key}: a kernel returning ${spec.returnType} runs only inside a webasm pipeline`);
    checkInputSizes(spec, inputs);
    const result = (await this.kernel(spec)(...inputs)) as unknown;
    if (!(result instanceof Float32Array) || result.length !== spec.outputSize) {
      throw new Error(`${spec.key}: the ${this.name} kernel returned an unexpected result`);
    }
    return result;
  }

  /**
   * Runs a kernel returning Array(4) (four rows per thread, see `KernelSpec.returnType`) and
   * `unpack`, which restores its result's row-major layout (taking `unpackInputs` after it, e.g. a
   * bias to add), as one fused webasm pipeline; resolves with the unpacked output. The pipelines
   * are small and cached apart from the step plans.
   */
  async runPacked(spec: KernelSpec, unpack: KernelSpec, inputs: readonly Float32Array[], unpackInputs: readonly Float32Array[] = []): Promise<Float32Array> {
    this.checkLive();
    if (this.name !== 'webasm') throw new Error(`${spec.key}: packed kernels run only on webasm, not ${this.name}`);
    checkInputSizes(spec, inputs);
    checkInputSizes(unpack, unpackInputs);
    const key = `${spec.key}>${unpack.key}`;
    let pipeline = this.packedPipelines.get(key)?.value;
    if (!pipeline) {
      const kernel = this.kernel(spec) as unknown as (...args: unknown[]) => unknown;
      const unpackKernel = this.kernel(unpack) as unknown as (...args: unknown[]) => unknown;
      const count = inputs.length;
      const orchestrate = function (...handles: unknown[]) {
        return [unpackKernel(kernel(...handles.slice(0, count)), ...handles.slice(count))];
      };
      Object.defineProperty(orchestrate, 'length', { value: count + unpackInputs.length });
      pipeline = this.gpu.createPipeline(orchestrate as unknown as PipelineFunction, { copyArguments: false, flatResults: true });
    }
    touch(this.packedPipelines, key, pipeline, MAX_CACHED_PACKED);
    const [result] = (await pipeline(...inputs, ...unpackInputs)) as unknown[];
    if (!(result instanceof Float32Array) || result.length !== unpack.outputSize) {
      throw new Error(`${spec.key}: the packed pipeline returned an unexpected result`);
    }
    return result;
  }

  /**
   * A `gpu.createPipeline` plan, cached by key: kernels called inside `orchestrate` are recorded
   * once and replayed as one fused plan (one submit on webgpu, one dispatch on webasm). Argument
   * arrays are read in place (`copyArguments: false`, see patches/gpu.js): callers must not
   * change them until the call settles. A step returning Array(4) comes back as one flat array
   * of 4 values a cell (`flatResults`; see `flatResult` for executors other than the fused one).
   * gpu.js makes one argument handle per declared parameter (`fn.length`), which does not count
   * rest parameters: an orchestration taking `...args` states its `argumentCount`. `steps` (the
   * time steps the plan unrolls) is what it counts against MAX_CACHED_PIPELINE_STEPS.
   * `borrowResults`: on the fused webasm executor the results are views of its memory, valid only
   * until this pipeline's next call (no copy out per result): the caller copies what it keeps.
   */
  pipeline(key: string, orchestrate: PipelineFunction, settings: { threads?: boolean; argumentCount?: number; steps?: number; borrowResults?: boolean } = {}): IPipelineRunShortcut {
    this.checkLive();
    let pipeline = this.pipelines.get(key)?.value;
    if (!pipeline) {
      let traced = orchestrate;
      if (settings.argumentCount !== undefined) {
        traced = function (this: ThisParameterType<PipelineFunction>, ...handles: unknown[]) {
          return orchestrate.apply(this, handles);
        };
        Object.defineProperty(traced, 'length', { value: settings.argumentCount });
      }
      pipeline = this.gpu.createPipeline(traced, {
        copyArguments: false, flatResults: true, borrowResults: settings.borrowResults === true,
        ...(settings.threads === undefined ? {} : { threads: settings.threads }),
      });
    }
    touch(this.pipelines, key, pipeline, MAX_CACHED_PIPELINES, settings.steps ?? DEFAULT_PIPELINE_STEPS, MAX_CACHED_PIPELINE_STEPS);
    return pipeline;
  }

  get kernelCount(): number {
    return this.kernels.size;
  }

  /** Releases every kernel, pipeline and worker; the backend cannot be used afterwards. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.kernels.clear();
    this.pipelines.clear();
    this.packedPipelines.clear();
    await this.gpu.destroy();
  }

  private checkLive(): void {
    if (this.disposed) throw new Error(`the ${this.name} backend was disposed`);
  }
}
