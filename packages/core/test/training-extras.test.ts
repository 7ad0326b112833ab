import { describe, expect, it } from 'vitest';
import {
  Adagrad, Adam, AdamW, AveragedModel, clipGradNorm, crossEntropy, linearCrossEntropy, CosineAnnealingLR, CosineAnnealingWarmRestarts, ExponentialLR, gradCheck, LambdaLR, Linear, LinearLR, Module, MultiStepLR, OneCycleLR, StepLR, WarmupLinearLR, huberLoss, LayerNorm, l1Loss, mseLoss, Parameter, readSafetensors, ReduceLROnPlateau, RMSprop, SGD, smoothL1Loss, Tape, Tensor, type Optimizer, type Reduction,
  type ReduceLROnPlateauOptions,
} from '../src/index.js';
import { useSimdAdam } from '../src/optim/adam-simd.js';

/*
 * Regression losses, the RMSprop / Adagrad optimisers, ReduceLROnPlateau, LayerNorm and parameter groups against
 * PyTorch 1.13 in float64 (fixtures/make_training_extras.py), run in f32 here.
 */
const pieces = readSafetensors(new URL('../fixtures/training_extras.safetensors', import.meta.url).pathname).tensors;
const piece = (name: string) => {
  const t = pieces.get(name);
  if (!t) throw new Error(`training_extras lacks ${name}`);
  return { shape: t.shape, data: t.data as Float64Array };
};
const f32 = (name: string) => new Tensor(piece(name).shape, Float32Array.from(piece(name).data));
/** The largest |a - b| / max(1, |b|): absolute for small values, relative for sums of many. */
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  return worst;
};

const losses = {
  mse: (x: Tensor, y: Tensor, reduction: Reduction) => mseLoss(x, y, { reduction }),
  l1: (x: Tensor, y: Tensor, reduction: Reduction) => l1Loss(x, y, { reduction }),
  huber: (x: Tensor, y: Tensor, reduction: Reduction) => huberLoss(x, y, { reduction }),
  'huber_delta_0.5': (x: Tensor, y: Tensor, reduction: Reduction) => huberLoss(x, y, { reduction, delta: 0.5 }),
  smooth_l1: (x: Tensor, y: Tensor, reduction: Reduction) => smoothL1Loss(x, y, { reduction }),
  'smooth_l1_beta_0.5': (x: Tensor, y: Tensor, reduction: Reduction) => smoothL1Loss(x, y, { reduction, beta: 0.5 }),
  smooth_l1_beta_0: (x: Tensor, y: Tensor, reduction: Reduction) => smoothL1Loss(x, y, { reduction, beta: 0 }),
};

describe('regression losses against PyTorch', () => {
  const cases = Object.keys(losses).flatMap((name) => (['mean', 'sum', 'none'] as const).map((reduction) => [name, reduction] as const));
  it.each(cases)('%s, reduction %s: the loss and the gradients of input and target', async (name, reduction) => {
    const input = f32('loss.input');
    const target = f32('loss.target');
    const tape = new Tape();
    const loss = await tape.run(() => losses[name as keyof typeof losses](input, target, reduction));
    expect(loss.shape).toEqual(reduction === 'none' ? [3, 5] : []);
    expect(maxDiff(loss.data, piece(`${name}.${reduction}.loss`).data)).toBeLessThan(1e-6);
    const grads = await tape.backward(loss, reduction === 'none' ? f32('loss.weights') : undefined);
    // With beta 0, PyTorch 1.13's kernel gives -1 to both input and target where the difference is
    // exactly 0 (no gradient of anything); its docs make beta 0 the L1 loss, whose gradients we give.
    const reference = name === 'smooth_l1_beta_0' ? 'l1' : name;
    expect(maxDiff(grads.get(input)!.data, piece(`${reference}.${reduction}.grad_input`).data)).toBeLessThan(1e-6);
    expect(maxDiff(grads.get(target)!.data, piece(`${reference}.${reduction}.grad_target`).data)).toBeLessThan(1e-6);
  });

  it('refuses mismatched shapes and bad settings', async () => {
    await expect(mseLoss(Tensor.zeros([2, 3]), Tensor.zeros([3, 2]))).rejects.toThrow('mseLoss: input [2, 3] and target [3, 2] must have one shape');
    await expect(l1Loss(Tensor.zeros([2]), Tensor.zeros([2]), { reduction: 'avg' as Reduction })).rejects.toThrow("l1Loss: reduction must be 'mean', 'sum' or 'none', got \"avg\"");
    await expect(huberLoss(Tensor.zeros([2]), Tensor.zeros([2]), { delta: 0 })).rejects.toThrow('huberLoss: delta must be a positive number, got 0');
    await expect(smoothL1Loss(Tensor.zeros([2]), Tensor.zeros([2]), { beta: -1 })).rejects.toThrow('smoothL1Loss: beta must be a non-negative number, got -1');
  });
});

describe('RMSprop and Adagrad against PyTorch', () => {
  const optimisers: Record<string, (p: Parameter) => Optimizer> = {
    rmsprop: (p) => new RMSprop([p], { lr: 0.01 }),
    rmsprop_alpha_momentum: (p) => new RMSprop([p], { lr: 0.005, alpha: 0.9, momentum: 0.8, weightDecay: 0.1 }),
    rmsprop_centered: (p) => new RMSprop([p], { lr: 0.01, centered: true, eps: 1e-6 }),
    rmsprop_centered_momentum: (p) => new RMSprop([p], { lr: 0.01, alpha: 0.95, centered: true, momentum: 0.5 }),
    adagrad: (p) => new Adagrad([p], { lr: 0.1 }),
    adagrad_decay: (p) => new Adagrad([p], { lr: 0.1, lrDecay: 0.3, weightDecay: 0.05, initialAccumulatorValue: 0.2, eps: 1e-8 }),
  };
  const run = (key: string, resumeAt?: number) => {
    const p = new Parameter(f32('optim.start'));
    let optimiser = optimisers[key]!(p);
    const grads = piece('optim.grads').data;
    for (let step = 0; step < 5; step++) {
      if (step === resumeAt) {
        const saved = optimiser.stateDict();
        optimiser = optimisers[key]!(p);
        optimiser.loadStateDict(saved);
      }
      p.grad.data.set(grads.subarray(step * 7, step * 7 + 7));
      optimiser.step();
    }
    return p.value.data;
  };

  it.each(Object.keys(optimisers))('%s: five steps land where PyTorch lands, and a resumed run lands there too', (key) => {
    const straight = run(key);
    expect(maxDiff(straight, piece(`optim.${key}`).data)).toBeLessThan(1e-6);
    expect(run(key, 2)).toEqual(straight);
  });

  it('refuses bad settings', () => {
    const p = new Parameter(Tensor.zeros([2]));
    expect(() => new RMSprop([p], { alpha: 1.5 })).toThrow('RMSprop: alpha must be in [0, 1], got 1.5');
    expect(() => new RMSprop([p], { momentum: -0.1 })).toThrow('RMSprop: momentum must be a non-negative number, got -0.1');
    expect(() => new Adagrad([p], { lrDecay: -1 })).toThrow('Adagrad: lrDecay must be a non-negative number, got -1');
    expect(() => new Adagrad([], {})).toThrow('Adagrad: got an empty parameter list');
  });
});

describe('ReduceLROnPlateau against PyTorch', () => {
  const settings: Record<string, ReduceLROnPlateauOptions> = {
    min: { mode: 'min' },
    min_patience_3: { mode: 'min', patience: 3 },
    min_factor_patience_cooldown: { mode: 'min', factor: 0.5, patience: 1, cooldown: 1 },
    min_abs_threshold: { mode: 'min', factor: 0.5, patience: 1, threshold: 0.05, thresholdMode: 'abs' },
    min_lr_floor: { mode: 'min', factor: 0.1, patience: 0, minLr: 0.0015 },
    max: { mode: 'max', factor: 0.5, patience: 2 },
    max_rel_threshold: { mode: 'max', factor: 0.5, patience: 0, threshold: 0.1 },
  };
  it.each(Object.keys(settings))('%s: the learning rate after each metric is PyTorch\'s', (name) => {
    const optimizer = new SGD([new Parameter(Tensor.zeros([1]))], { lr: 0.1 });
    const plateau = new ReduceLROnPlateau(optimizer, settings[name]);
    const lrs = [...piece('plateau.metrics').data].map((metric) => plateau.step(metric));
    expect(maxDiff(lrs, piece(`plateau.${name}`).data)).toBeLessThan(1e-15);
  });

  it('a NaN metric is never better; bad settings are refused', () => {
    const optimizer = new SGD([new Parameter(Tensor.zeros([1]))], { lr: 1 });
    const plateau = new ReduceLROnPlateau(optimizer, { patience: 0, factor: 0.5 });
    expect([1, Number.NaN, 0.5].map((m) => plateau.step(m))).toEqual([1, 0.5, 0.5]);
    expect(() => new ReduceLROnPlateau(optimizer, { factor: 1 })).toThrow('ReduceLROnPlateau: factor must be in (0, 1), got 1');
    expect(() => new ReduceLROnPlateau(optimizer, { patience: 1.5 })).toThrow('ReduceLROnPlateau: patience must be a whole number >= 0, got 1.5');
    expect(() => new ReduceLROnPlateau(optimizer, { mode: 'up' as 'min' })).toThrow("ReduceLROnPlateau: mode must be 'min' or 'max', got \"up\"");
  });
});

describe('LayerNorm against PyTorch', () => {
  it.each(['affine', 'plain'])('%s: output and the gradients of input, weight and bias', async (name) => {
    const norm = new LayerNorm({ normalizedShape: 6, elementwiseAffine: name === 'affine' });
    if (name === 'affine') norm.loadStateDict(new Map([['weight', f32('layernorm.affine.weight')], ['bias', f32('layernorm.affine.bias')]]));
    const x = f32('layernorm.x');
    const tape = new Tape();
    const y = await tape.run(() => norm.forward(x));
    expect(y.shape).toEqual([3, 4, 6]);
    expect(maxDiff(y.data, piece(`layernorm.${name}.y`).data)).toBeLessThan(1e-6);
    const grads = await tape.backward(y, f32('layernorm.weights'));
    expect(maxDiff(grads.get(x)!.data, piece(`layernorm.${name}.grad_x`).data)).toBeLessThan(1e-5);
    if (name === 'affine') {
      expect(maxDiff(norm.weight!.grad.data, piece('layernorm.affine.grad_weight').data)).toBeLessThan(1e-5);
      expect(maxDiff(norm.bias!.grad.data, piece('layernorm.affine.grad_bias').data)).toBeLessThan(1e-5);
    } else {
      expect(norm.parameters()).toEqual([]);
    }
  });

  it('passes gradCheck, and refuses a last axis of another size', async () => {
    const norm = new LayerNorm({ normalizedShape: 5 });
    norm.loadStateDict(new Map([['weight', Tensor.from([5], [1, -2, 0.5, 3, 1])], ['bias', Tensor.from([5], [0, 1, -1, 0.5, 2])]]));
    const x = new Tensor([2, 5], Float32Array.from([0.3, -1.2, 2.2, 0.1, 0.9, 1.5, 1.1, -0.4, 0.2, -2]));
    const result = await gradCheck(() => norm.forward(x), [x, ...norm.parameters()]);
    expect(result.ok, JSON.stringify(result.worst)).toBe(true);
    await expect(norm.forward(Tensor.zeros([2, 4]))).rejects.toThrow('LayerNorm: input must have shape [..., 5], got [2, 4]');
    expect(() => new LayerNorm({ normalizedShape: 0 })).toThrow('LayerNorm: normalizedShape must be a positive integer, got 0');
  });
});

describe('parameter groups against PyTorch', () => {
  type Make = (a: Parameter, b: Parameter) => Optimizer;
  const optimisers: Record<string, Make> = {
    sgd: (a, b) => new SGD([{ params: [a] }, { params: [b], lr: 0.02, momentum: 0.5, weightDecay: 0.1 }], { lr: 0.1, momentum: 0.9 }),
    sgd_nesterov: (a, b) => new SGD([{ params: [a], nesterov: true }, { params: [b], momentum: 0 }], { lr: 0.1, momentum: 0.9 }),
    adam: (a, b) => new Adam([{ params: [a], betas: [0.8, 0.99] }, { params: [b], lr: 0.05, weightDecay: 0.1 }], { lr: 0.01 }),
    adamw: (a, b) => new AdamW([{ params: [a] }, { params: [b], weightDecay: 0, eps: 1e-6 }], { lr: 0.01, weightDecay: 0.1 }),
    rmsprop: (a, b) => new RMSprop([{ params: [a], centered: true }, { params: [b], momentum: 0.5, alpha: 0.9 }], { lr: 0.01 }),
    adagrad: (a, b) => new Adagrad([{ params: [a], lrDecay: 0.1 }, { params: [b], weightDecay: 0.2, lr: 0.3 }], { lr: 0.1 }),
  };
  const run = (make: Make, resumeAt?: number) => {
    const a = new Parameter(f32('groups.start_a'));
    const b = new Parameter(f32('groups.start_b'));
    let optimiser = make(a, b);
    const gradsA = piece('groups.grads_a').data;
    const gradsB = piece('groups.grads_b').data;
    for (let step = 0; step < 5; step++) {
      if (step === resumeAt) {
        const saved = optimiser.stateDict();
        optimiser = make(a, b);
        optimiser.loadStateDict(saved);
      }
      a.grad.data.set(gradsA.subarray(step * 5, step * 5 + 5));
      b.grad.data.set(gradsB.subarray(step * 3, step * 3 + 3));
      optimiser.step();
    }
    return [a.value.data, b.value.data];
  };

  it.each(Object.keys(optimisers))('%s: each group steps with its own settings, straight and resumed', (key) => {
    for (const simd of key.startsWith('adam') ? [true, false] : [true]) {
      useSimdAdam(simd);
      try {
        const [a, b] = run(optimisers[key]!);
        expect(maxDiff(a!, piece(`groups.${key}.a`).data)).toBeLessThan(1e-6);
        expect(maxDiff(b!, piece(`groups.${key}.b`).data)).toBeLessThan(1e-6);
        expect(run(optimisers[key]!, 3)).toEqual([a, b]);
      } finally {
        useSimdAdam(true);
      }
    }
  });

  it('one group with the options is the plain parameter list', () => {
    const make = (groups: boolean): Make => (a, b) => new AdamW(groups ? [{ params: [a, b] }] : [a, b], { lr: 0.01, weightDecay: 0.1 });
    expect(run(make(true))).toEqual(run(make(false)));
  });

  const twoGroups = () =>
    new SGD([{ params: [new Parameter(Tensor.zeros([1]))] }, { params: [new Parameter(Tensor.zeros([1]))], lr: 0.02 }], { lr: 0.1 });
  const lrs = (optimizer: Optimizer) => optimizer.paramGroups.map((group) => group.lr);

  it.each([
    ['step', (o: Optimizer) => new StepLR(o, 2, 0.5)],
    ['exponential', (o: Optimizer) => new ExponentialLR(o, 0.8)],
    ['cosine', (o: Optimizer) => new CosineAnnealingLR(o, 6, 0.001)],
  ] as const)('%s schedule: each group follows it from its own base lr', (name, make) => {
    const optimizer = twoGroups();
    const schedule = make(optimizer);
    expect(schedule.baseLrs).toEqual([0.1, 0.02]);
    const got = Array.from({ length: 8 }, () => (schedule.step(), lrs(optimizer))).flat();
    expect(maxDiff(got, piece(`groups.schedule.${name}`).data)).toBeLessThan(1e-15);
  });

  it('warm-up schedule: each group from its own base lr', () => {
    const optimizer = twoGroups();
    const schedule = new WarmupLinearLR(optimizer, 2, 4);
    expect(lrs(optimizer)).toEqual([0, 0]);
    schedule.step();
    expect(lrs(optimizer)).toEqual([0.05, 0.01]);
  });

  it('ReduceLROnPlateau: reduces every group, each to its own floor', () => {
    const optimizer = twoGroups();
    const plateau = new ReduceLROnPlateau(optimizer, { factor: 0.5, patience: 1, minLr: [0.01, 0.004] });
    const got = [...piece('plateau.metrics').data].flatMap((metric) => (plateau.step(metric), lrs(optimizer)));
    expect(maxDiff(got, piece('groups.schedule.plateau').data)).toBeLessThan(1e-15);
    expect(() => new ReduceLROnPlateau(optimizer, { minLr: [0.1] })).toThrow('ReduceLROnPlateau: minLr holds 1 values for 2 parameter groups');
  });

  it('the lr property reads the first group and sets them all; state dicts keep every group', () => {
    const optimizer = twoGroups();
    expect(optimizer.lr).toBe(0.1);
    const saved = optimizer.stateDict();
    expect(saved.lrs).toEqual([0.1, 0.02]);
    optimizer.lr = 0.5;
    expect(lrs(optimizer)).toEqual([0.5, 0.5]);
    optimizer.loadStateDict(saved);
    expect(lrs(optimizer)).toEqual([0.1, 0.02]);
    optimizer.loadStateDict({ step: 0, lr: 0.3, buffers: new Map() });
    expect(lrs(optimizer)).toEqual([0.3, 0.3]);
    expect(() => optimizer.loadStateDict({ ...saved, lrs: [0.1] })).toThrow("optimizer state: holds 1 parameter groups' learning rates for an optimiser of 2");
  });

  it('a module that shares a layer (tied weights) gives its parameters once, so an optimiser takes them', () => {
    class Tied extends Module {
      constructor() {
        super();
        const shared = new Linear({ inFeatures: 2, outFeatures: 2 });
        this.registerModule('encoder', shared);
        this.registerModule('decoder', shared);
      }
    }
    const model = new Tied();
    expect(model.namedParameters().map(([n]) => n)).toEqual(['encoder.weight', 'encoder.bias', 'decoder.weight', 'decoder.bias']);
    expect(model.parameters()).toHaveLength(2);
    expect(new Adam(model.parameters()).params).toHaveLength(2);
  });

  it('refuses a parameter in two groups, unknown settings, a mix, and bad settings naming the group', () => {
    const [a, b] = [new Parameter(Tensor.zeros([2])), new Parameter(Tensor.zeros([2]))];
    expect(() => new Adam([{ params: [a] }, { params: [a, b] }])).toThrow('Adam: parameter group 1: a parameter appears more than once (in this group or an earlier one)');
    expect(() => new AdamW([{ params: [a], weight_decay: 0 } as never])).toThrow(
      'AdamW: parameter group 0: unknown setting "weight_decay" (known: params, lr, betas, eps, weightDecay)',
    );
    expect(() => new SGD([a, { params: [b] }] as never, { lr: 0.1 })).toThrow('SGD: takes a list of parameters or a list of groups { params, ...settings }, not a mix');
    expect(() => new RMSprop([{ params: [a] }, { params: [b], alpha: 2 }])).toThrow('RMSprop: parameter group 1: alpha must be in [0, 1], got 2');
    expect(() => new SGD([{ params: [a], lr: -1 }], { lr: 0.1 })).toThrow('SGD: parameter group 0: lr must be a non-negative number, got -1');
    expect(() => new SGD([{ params: [a], nesterov: true }], { lr: 0.1 })).toThrow('SGD: parameter group 0: nesterov momentum requires a momentum and zero dampening');
    expect(() => new Adam([{ params: [] }])).toThrow('Adam: got an empty parameter list');
    expect(() => new Adagrad([{ params: [a] }, { params: [b], initialAccumulatorValue: 0.5 }])).toThrow(
      'Adagrad: parameter group 1: initialAccumulatorValue is one for all groups; set it in the options',
    );
  });
});

describe('more schedules against PyTorch', () => {
  const twoGroups = () =>
    new SGD([{ params: [new Parameter(Tensor.zeros([1]))] }, { params: [new Parameter(Tensor.zeros([1]))], lr: 0.02 }], { lr: 0.1 });
  const lrs = (optimizer: Optimizer) => optimizer.paramGroups.map((group) => group.lr);

  it.each([
    ['multistep', (o: Optimizer) => new MultiStepLR(o, [5, 2, 5], 0.5)],
    ['linear', (o: Optimizer) => new LinearLR(o, 0.25, 1, 4)],
    ['lambda', (o: Optimizer) => new LambdaLR(o, (epoch) => 1 / (1 + epoch))],
    ['warm_restarts', (o: Optimizer) => new CosineAnnealingWarmRestarts(o, 3, 2, 0.001)],
  ] as const)('%s: each group\'s lr when made and after each step', (name, make) => {
    const optimizer = twoGroups();
    const schedule = make(optimizer);
    const got = [lrs(optimizer), ...Array.from({ length: 8 }, () => (schedule.step(), lrs(optimizer)))].flat();
    expect(maxDiff(got, piece(`schedule.${name}`).data)).toBeLessThan(1e-12);
  });

  it('OneCycleLR: lr and SGD momentum per group, and Adam\'s beta1 over three linear phases', () => {
    const run = (optimizer: Optimizer, schedule: OneCycleLR, momentum: (group: Record<string, unknown>) => number) => {
      const got = { lr: [] as number[], momentum: [] as number[] };
      for (let step = 0; step < schedule.totalSteps; step++) {
        if (step) schedule.step();
        got.lr.push(...lrs(optimizer));
        got.momentum.push(...optimizer.paramGroups.map((g) => momentum(g as unknown as Record<string, unknown>)));
      }
      return got;
    };
    const sgd = new SGD([{ params: [new Parameter(Tensor.zeros([1]))] }, { params: [new Parameter(Tensor.zeros([1]))] }], { lr: 0.1, momentum: 0.9 });
    const sgdRun = run(sgd, new OneCycleLR(sgd, { maxLr: [0.1, 0.05], totalSteps: 10 }), (g) => g.momentum as number);
    expect(maxDiff(sgdRun.lr, piece('onecycle.sgd.lr').data)).toBeLessThan(1e-12);
    expect(maxDiff(sgdRun.momentum, piece('onecycle.sgd.momentum').data)).toBeLessThan(1e-12);
    const adam = new Adam([new Parameter(Tensor.zeros([1]))], { lr: 0.001 });
    const schedule = new OneCycleLR(adam, { maxLr: 0.01, totalSteps: 12, pctStart: 0.25, annealStrategy: 'linear', threePhase: true, divFactor: 10, finalDivFactor: 100 });
    const adamRun = run(adam, schedule, (g) => (g.betas as number[])[0]!);
    expect(maxDiff(adamRun.lr, piece('onecycle.adam_three_phase_linear.lr').data)).toBeLessThan(1e-12);
    expect(maxDiff(adamRun.momentum, piece('onecycle.adam_three_phase_linear.momentum').data)).toBeLessThan(1e-12);
    schedule.step();
    expect(() => schedule.step()).toThrow('OneCycleLR: stepped 13 times, past the 12 total steps');
    expect(() => new OneCycleLR(new Adagrad([new Parameter(Tensor.zeros([1]))]), { maxLr: 0.1, totalSteps: 10 })).toThrow(
      'OneCycleLR: the optimiser has no momentum to cycle; pass cycleMomentum: false',
    );
    expect(() => new OneCycleLR(sgd, { maxLr: [0.1], totalSteps: 10 })).toThrow('OneCycleLR: maxLr holds 1 values for 2 parameter groups');
  });

  it('refuses settings it cannot follow', () => {
    const optimizer = twoGroups();
    expect(() => new MultiStepLR(optimizer, [1.5])).toThrow('MultiStepLR: milestones must be whole numbers >= 0, got [1.5]');
    expect(() => new LinearLR(optimizer, 0)).toThrow('LinearLR: startFactor must be in (0, 1], got 0');
    expect(() => new LambdaLR(optimizer, [() => 1])).toThrow('LambdaLR: got 1 functions for 2 parameter groups');
    expect(() => new CosineAnnealingWarmRestarts(optimizer, 0)).toThrow('CosineAnnealingWarmRestarts: t0 must be a whole number >= 1, got 0');
  });
});

describe('clipGradNorm with other norms against PyTorch', () => {
  it.each([['1', 1], ['3', 3], ['inf', Infinity]] as const)('norm type %s: the norm, and the gradients scaled to 1.5', (key, normType) => {
    const a = new Parameter(Tensor.zeros([2, 3]));
    const b = new Parameter(Tensor.zeros([4]));
    a.grad.data.set(f32('clip.a').data);
    b.grad.data.set(f32('clip.b').data);
    const norm = clipGradNorm([a, b], 1.5, normType);
    expect(Math.abs(norm - piece(`clip.${key}.norm`).data[0]!) / norm).toBeLessThan(1e-6);
    expect(maxDiff(a.grad.data, piece(`clip.${key}.a`).data)).toBeLessThan(1e-6);
    expect(maxDiff(b.grad.data, piece(`clip.${key}.b`).data)).toBeLessThan(1e-6);
  });

  it('returns a NaN norm untouched, and refuses a norm type that is not positive', () => {
    const a = new Parameter(Tensor.zeros([2]));
    a.grad.data.set([Number.NaN, 5]);
    expect(clipGradNorm([a], 1, Infinity)).toBeNaN();
    expect(a.grad.data[1]).toBe(5);
    expect(() => clipGradNorm([a], 1, 0)).toThrow('clipGradNorm: normType must be a positive number or Infinity, got 0');
  });
});

describe('per-parameter step counts against PyTorch: a parameter frozen a while, a group added later', () => {
  const run = (name: 'adam' | 'adagrad', resumeAt?: number) => {
    const [a, b, c] = ['groups.start_a', 'groups.start_b', 'added.start_c'].map((key) => new Parameter(f32(key)));
    const make = () => (name === 'adam' ? new Adam([a!, b!], { lr: 0.01 }) : new Adagrad([a!, b!], { lr: 0.1, lrDecay: 0.1 }));
    let optimiser: Optimizer = make();
    const grads = { a: piece('groups.grads_a').data, b: piece('groups.grads_b').data, c: piece('added.grads_c').data };
    for (let step = 0; step < 5; step++) {
      if (step === 2 && name === 'adam') optimiser.addParamGroup({ params: [c!], lr: 0.05 });
      if (step === resumeAt) {
        const saved = optimiser.stateDict();
        optimiser = make();
        if (name === 'adam' && step >= 2) optimiser.addParamGroup({ params: [c!], lr: 0.05 });
        optimiser.loadStateDict(saved);
      }
      a!.grad.data.set(grads.a.subarray(step * 5, step * 5 + 5));
      b!.requiresGrad = step >= 2; // no gradient for two steps: no update, and its step count waits
      b!.grad.data.set(grads.b.subarray(step * 3, step * 3 + 3));
      if (step >= 2) c!.grad.data.set(grads.c.subarray((step - 2) * 4, (step - 1) * 4));
      optimiser.step();
    }
    return [a!, b!, c!].map((p) => p.value.data);
  };

  it.each(['adam', 'adagrad'] as const)('%s lands where PyTorch lands, straight and resumed after the group is added', (name) => {
    for (const simd of name === 'adam' ? [true, false] : [true]) {
      useSimdAdam(simd);
      try {
        const [a, b, c] = run(name);
        expect(maxDiff(a!, piece(`added.${name}.a`).data)).toBeLessThan(1e-6);
        expect(maxDiff(b!, piece(`added.${name}.b`).data)).toBeLessThan(1e-6);
        expect(maxDiff(c!, piece(`added.${name}.c`).data)).toBeLessThan(1e-6);
        expect(run(name, 3)).toEqual([a, b, c]);
      } finally {
        useSimdAdam(true);
      }
    }
  });

  it('an added group is checked as the first ones are, and a state dict of another size is refused', () => {
    const [a, b] = [new Parameter(Tensor.zeros([2])), new Parameter(Tensor.zeros([2]))];
    const optimizer = new Adam([a]);
    expect(() => optimizer.addParamGroup({ params: [a] })).toThrow('Adam: parameter group 1: a parameter appears more than once (in this group or an earlier one)');
    expect(() => optimizer.addParamGroup({ params: [b], betas: [1, 0.9] })).toThrow('Adam: parameter group 1: betas must be in [0, 1), got [1, 0.9]');
    const saved = optimizer.stateDict();
    optimizer.addParamGroup({ params: [b] });
    expect(optimizer.params).toEqual([a, b]);
    expect(() => optimizer.loadStateDict(saved)).toThrow("optimizer state: holds 1 parameter groups' learning rates for an optimiser of 2");
    expect(() => optimizer.loadStateDict({ ...saved, lrs: [0.1, 0.1] })).toThrow("optimizer state: holds 1 parameters' step counts for an optimiser of 2");
  });
});

describe('AveragedModel against PyTorch', () => {
  it.each([['equal', undefined], ['ema', 0.9]] as const)('%s: the average of four states of a Linear', (name, decay) => {
    const model = new Linear({ inFeatures: 3, outFeatures: 2 });
    const averaged = new AveragedModel(decay === undefined ? {} : { decay });
    for (let i = 0; i < 4; i++) {
      model.loadStateDict(new Map([['weight', f32(`average.state${i}.weight`)], ['bias', f32(`average.state${i}.bias`)]]));
      averaged.update(model);
    }
    expect(averaged.count).toBe(4);
    const result = averaged.stateDict();
    expect(maxDiff(result.get('weight')!.data, piece(`average.${name}.weight`).data)).toBeLessThan(1e-6);
    expect(maxDiff(result.get('bias')!.data, piece(`average.${name}.bias`).data)).toBeLessThan(1e-6);
    // saved and restored mid-way, it goes on to the same average
    const resumed = new AveragedModel(decay === undefined ? {} : { decay });
    const partial = new AveragedModel(decay === undefined ? {} : { decay });
    for (let i = 0; i < 2; i++) {
      model.loadStateDict(new Map([['weight', f32(`average.state${i}.weight`)], ['bias', f32(`average.state${i}.bias`)]]));
      partial.update(model);
    }
    resumed.loadStateDict(partial.stateDict(), partial.count);
    for (let i = 2; i < 4; i++) {
      model.loadStateDict(new Map([['weight', f32(`average.state${i}.weight`)], ['bias', f32(`average.state${i}.bias`)]]));
      resumed.update(model);
    }
    expect([...resumed.stateDict().get('weight')!.data]).toEqual([...result.get('weight')!.data]);
    averaged.copyTo(model);
    expect([...model.stateDict().get('bias')!.data]).toEqual([...result.get('bias')!.data]);
  });

  it('refuses a decay outside [0, 1) and reading an average before any update', () => {
    expect(() => new AveragedModel({ decay: 1 })).toThrow('AveragedModel: decay must be in [0, 1), got 1');
    expect(() => new AveragedModel().stateDict()).toThrow('AveragedModel: nothing averaged yet; call update(model) first');
  });
});

describe('crossEntropy with class weights against PyTorch', () => {
  it.each([['plain', 0], ['smoothed', 0.1]] as const)('%s: each reduction, an ignored row, the loss and its gradient', async (name, labelSmoothing) => {
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      const logits = f32('wce.logits');
      const tape = new Tape();
      const loss = await tape.run(() => crossEntropy(logits, f32('wce.targets'), { weight: f32('wce.weight'), labelSmoothing, reduction }));
      expect(maxDiff(loss.data, piece(`wce.${name}.${reduction}.loss`).data), reduction).toBeLessThan(1e-6);
      const grads = await tape.backward(loss, reduction === 'none' ? f32('wce.rows') : undefined);
      expect(maxDiff(grads.get(logits)!.data, piece(`wce.${name}.${reduction}.grad`).data), reduction).toBeLessThan(1e-6);
    }
  });

  it('weights of 1 are the unweighted loss; linearCrossEntropy takes weights too; bad weights are refused', async () => {
    const logits = f32('wce.logits');
    const targets = f32('wce.targets');
    const ones = await crossEntropy(logits, targets, { weight: [1, 1, 1, 1, 1], labelSmoothing: 0.1 });
    const plain = await crossEntropy(logits, targets, { labelSmoothing: 0.1 });
    expect(Math.abs(ones.data[0]! - plain.data[0]!)).toBeLessThan(1e-6);
    const linear = new Linear({ inFeatures: 5, outFeatures: 5, seed: 3 });
    const x = f32('wce.logits');
    const weight = f32('wce.weight');
    const fused = await linearCrossEntropy(x, linear, targets, { weight });
    const twoStep = await crossEntropy(await linear.forward(x), targets, { weight });
    expect(Math.abs(fused.loss.data[0]! - twoStep.data[0]!)).toBeLessThan(1e-6);
    await expect(crossEntropy(logits, targets, { weight: [1, 2] })).rejects.toThrow('crossEntropy: weight must hold one value for each of the 5 classes, got 2 values');
    await expect(crossEntropy(logits, targets, { weight: [1, 1, -1, 1, 1] })).rejects.toThrow('crossEntropy: weight[2] = -1 must be a finite number >= 0');
  });
});
