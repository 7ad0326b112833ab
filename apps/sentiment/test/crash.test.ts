import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadStateDictFile, mulberry32, type Tensor } from '@recurrent/core';
import { makeReviews, metricsWithoutTiming, run, start, type Running } from './helpers.js';

/**
 * Crash safety: a real `sentiment train` run is killed with SIGKILL several times (at random
 * moments, inside a checkpoint write, between a metrics line and the checkpoint that covers it,
 * and while the finished run writes its model folder), and resumed after each kill. After every
 * kill the checkpoint on disk loads; in the end the metrics (the loss curve) and the model are
 * those of an uninterrupted run with the same seed.
 *
 * The kill schedule is drawn from a seeded generator: CRASH_SEED=<n> replays one (the moments a
 * kill lands still depend on timing, the kinds of kill do not).
 */
const seed = process.env.CRASH_SEED ? Number(process.env.CRASH_SEED) : Date.now() % 1_000_000;
const random = mulberry32(seed);
const uniform = (low: number, high: number) => low + (high - low) * random();

const folder = mkdtempSync(join(tmpdir(), 'sentiment-crash-'));
const data = join(folder, 'reviews.tsv');
writeFileSync(data, makeReviews(400, 11));
// 360 training reviews in batches of 36: 10 steps an epoch, so the progress lines on stderr give
// the running loss after every step (a line per tenth of an epoch); 6 epochs, 60 steps; a
// checkpoint every 2 steps, so a kill after an odd step makes the resumed run redo one.
const EPOCHS = 6;
const options = (out: string) => [
  'train', '--data', data, '--out', out, '--epochs', String(EPOCHS), '--batch-size', '36', '--checkpoint-every', '2',
  '--hidden', '8', '--embedding', '8', '--min-freq', '1', '--seed', '5', '--json', '--verbose',
];

interface CheckpointFile {
  readonly version: number;
  readonly epoch: number;
  readonly batchIndex: number;
  readonly step: number;
  readonly model: string;
  readonly optimizer: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function readCheckpointFile(runDir: string): CheckpointFile | undefined {
  const path = join(runDir, 'checkpoint.json');
  // checkpoint.json is replaced atomically: whenever it exists, it parses.
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as CheckpointFile) : undefined;
}

/** Temporary files of atomic writes under `dir` (relative paths), e.g. run/model-12.safetensors.tmp-4242. */
function temporaryFiles(dir: string): string[] {
  const found: string[] = [];
  const walk = (relative: string) => {
    if (!existsSync(join(dir, relative))) return;
    for (const name of readdirSync(join(dir, relative)).sort()) {
      const path = relative ? join(relative, name) : name;
      if (statSync(join(dir, path)).isDirectory()) walk(path);
      else if (/\.tmp-\d+$/.test(name)) found.push(path);
    }
  };
  walk('');
  return found;
}

/** Linux: wait until SIGSTOP has taken effect (state T), so the folder is looked at while the process stands still. */
async function stopped(pid: number): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    let state: string | undefined;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    } catch {
      await sleep(20); // no /proc (or the process is gone): give the signal a moment
      return;
    }
    if (state === 'T' || state === 't' || state === 'Z' || state === 'X') return;
    await sleep(1);
  }
}

type Mode = 'random moment' | 'checkpoint write' | 'metrics line not yet checkpointed' | 'finishing';

interface Kill {
  readonly mode: Mode;
  readonly landed: boolean;
  /** Where the kill was aimed (what the process was doing when it was frozen, or the step). */
  readonly during: string;
  /** The atomic writes under way when it died: the temporary files it left. */
  readonly writing: readonly string[];
  readonly checkpointStep: number | undefined;
}

describe('sentiment train, killed with SIGKILL again and again', () => {
  const running: Running[] = [];
  afterAll(() => running.forEach((r) => r.stop()));

  it('always leaves a checkpoint that loads, and resuming each time ends with the loss curve and model of an uninterrupted run', async () => {
    const context = `(CRASH_SEED=${seed}, folder ${folder})`;

    // The uninterrupted run.
    const reference = join(folder, 'reference');
    const began = Date.now();
    const straight = await run(options(reference));
    const duration = Date.now() - began;
    expect(straight.code, straight.stderr).toBe(0);
    const referenceMetrics = metricsWithoutTiming(join(reference, 'run'));
    const totalSteps = JSON.parse(straight.stdout).steps as number;
    expect(totalSteps).toBe(60);
    const stepsPerEpoch = totalSteps / EPOCHS;
    const referenceCheckpoint = readCheckpointFile(join(reference, 'run'))!;
    const tensorNames = (file: string) => [...loadStateDictFile(file).tensors].map(([name, t]) => `${name}:${t.shape.join('x')}`).sort();
    const modelNames = tensorNames(join(reference, 'run', referenceCheckpoint.model));
    const optimizerNames = tensorNames(join(reference, 'run', referenceCheckpoint.optimizer));

    // The interrupted run.
    const out = join(folder, 'crashed');
    const runDir = join(out, 'run');
    // A random moment is a delay after the run reaches `fromStep`, cut short when the checkpoint
    // reaches `byStep`: the uninterrupted run's duration (which sets the first delay) may have been
    // slowed by other test files sharing the cores, and a kill that comes after the end never lands.
    const firstDeadline = Math.round(uniform(0.05, 0.4) * totalSteps);
    const middle = Math.round(uniform(0.45, 0.65) * totalSteps);
    const plan: Array<{ mode: Mode; fromStep: number; delay: number; byStep?: number }> = [
      { mode: 'random moment', fromStep: 0, delay: uniform(0.05, 0.4) * duration, byStep: firstDeadline }, // from the start: maybe before the first checkpoint
      { mode: 'checkpoint write', fromStep: Math.round(uniform(0.05, 0.3) * totalSteps), delay: 0 },
      { mode: 'metrics line not yet checkpointed', fromStep: 0, delay: 0 },
      { mode: 'random moment', fromStep: middle, delay: uniform(0, 150), byStep: middle + 4 },
      { mode: 'checkpoint write', fromStep: Math.round(uniform(0.65, 0.9) * totalSteps), delay: 0 },
      { mode: 'finishing', fromStep: totalSteps, delay: 0 },
    ];
    const kills: Kill[] = [];
    const killed = new Set<number>(); // pids
    const segments: string[] = []; // stderr of each process
    let finished = false;
    let lastStep: number | undefined;

    for (const { mode, fromStep, delay, byStep } of plan) {
      const resume = existsSync(join(runDir, 'checkpoint.json'));
      const child = start([...options(out), ...(resume ? ['--resume'] : [])]);
      running.push(child);
      let ended = false;
      void child.done.then(() => (ended = true));
      const step = () => readCheckpointFile(runDir)?.step ?? -1;
      const deadline = Date.now() + 60_000;
      const alive = () => {
        if (Date.now() > deadline) throw new Error(`kill '${mode}' did not happen within a minute ${context}`);
        return !ended;
      };

      // Wait (without disturbing it) until the run has reached the step this kill is for.
      while (alive() && step() < fromStep && !(mode === 'random moment' && fromStep === 0)) await sleep(5);
      let during = '';
      if (mode === 'random moment') {
        const t = Date.now() + delay;
        while (alive() && Date.now() < t && step() < (byStep ?? Infinity)) await sleep(2);
        during = step() < 0 ? 'before the first checkpoint' : `after the checkpoint of step ${step()}`;
        child.signal('SIGKILL');
      } else {
        // Freeze the process at random moments and look at the folder; kill it frozen when it is
        // where this kill wants it, otherwise let it go on.
        while (alive()) {
          child.signal('SIGSTOP');
          await stopped(child.pid);
          const own = temporaryFiles(out).filter((path) => path.endsWith(`.tmp-${child.pid}`));
          const checkpoint = readCheckpointFile(runDir);
          let hit: string | undefined;
          if (mode === 'checkpoint write') {
            const writing = own.filter((path) => /^run\/(model-\d+\.safetensors|optimizer-\d+\.safetensors|checkpoint\.json)\.tmp-/.test(path));
            if (writing.length > 0) hit = `writing ${writing.map((path) => path.replace(/^run\//, '').replace(/\.tmp-\d+$/, '')).join(', ')}`;
            // None caught before training ended: kill anyway.
            else if (checkpoint?.epoch === EPOCHS) hit = 'no checkpoint write caught; training done';
          } else if (mode === 'metrics line not yet checkpointed') {
            // A line the resume must drop: a step after the checkpoint, or the end of an epoch it has not passed.
            const lines = existsSync(join(runDir, 'metrics.jsonl')) ? metricsWithoutTiming(runDir) : [];
            const ahead = checkpoint && lines.find((line) => (line.kind === 'epoch' ? (line.epoch as number) >= checkpoint.epoch : (line.step as number) > checkpoint.step));
            if (ahead) hit = `${ahead.kind} line of step ${ahead.step as number} written, checkpoint at step ${checkpoint.step}`;
            // Never reached a window before the last epoch: kill anyway, at a random moment.
            else if (checkpoint && checkpoint.step >= totalSteps - stepsPerEpoch) hit = `no window caught; step ${checkpoint.step}`;
          } else if (checkpoint && checkpoint.epoch === EPOCHS) {
            // 'finishing': the last checkpoint is written; the report and the model folder are being written.
            if (own.length > 0) hit = `training done, writing ${own.map((path) => path.replace(/\.tmp-\d+$/, '')).join(', ')}`;
            else if (random() < 0.05) hit = 'training done';
          }
          if (hit !== undefined) {
            during = hit;
            child.signal('SIGKILL');
            break;
          }
          child.signal('SIGCONT');
          await sleep(random() * 8);
        }
      }
      const result = await child.done;
      segments.push(result.stderr);
      if (result.code === 0) {
        // Finished before the kill: the run is complete.
        kills.push({ mode, landed: false, during: 'finished first', writing: [], checkpointStep: readCheckpointFile(runDir)?.step });
        finished = true;
        break;
      }
      expect(result.code, `${mode}: ${result.stderr} ${context}`).toBe(137);
      killed.add(child.pid);

      // (a) The checkpoint on disk loads: checkpoint.json parses and names a complete pair of finite tensors.
      const checkpoint = readCheckpointFile(runDir);
      if (checkpoint === undefined) {
        expect(lastStep, `the checkpoint disappeared ${context}`).toBeUndefined();
      } else {
        expect(checkpoint.version).toBe(1);
        expect(checkpoint.model).toBe(`model-${checkpoint.step}.safetensors`);
        expect(checkpoint.optimizer).toBe(`optimizer-${checkpoint.step}.safetensors`);
        expect(checkpoint.epoch * stepsPerEpoch + checkpoint.batchIndex).toBe(checkpoint.step);
        expect(checkpoint.step, `the checkpoint went back ${context}`).toBeGreaterThanOrEqual(lastStep ?? 0);
        expect(tensorNames(join(runDir, checkpoint.model))).toEqual(modelNames);
        expect(tensorNames(join(runDir, checkpoint.optimizer))).toEqual(optimizerNames);
        for (const file of [checkpoint.model, checkpoint.optimizer]) {
          for (const [name, t] of loadStateDictFile(join(runDir, file)).tensors) {
            expect(t.data.every(Number.isFinite), `${file}: ${name} ${context}`).toBe(true);
          }
        }
        lastStep = checkpoint.step;
      }
      const writing = temporaryFiles(out).filter((path) => path.endsWith(`.tmp-${child.pid}`)).map((path) => path.replace(/\.tmp-\d+$/, ''));
      kills.push({ mode, landed: true, during, writing, checkpointStep: checkpoint?.step });
    }

    // Runs to the end (a leftover temporary file of a killed process must not get in the way).
    if (!finished) {
      const resume = existsSync(join(runDir, 'checkpoint.json'));
      const last = await run([...options(out), ...(resume ? ['--resume'] : [])]);
      expect(last.code, `${last.stderr} ${context}`).toBe(0);
      expect(JSON.parse(last.stdout)).toMatchObject({ steps: totalSteps, epochs: EPOCHS });
      segments.push(last.stderr);
    }
    const landed = kills.filter((k) => k.landed);
    expect(landed.length, `${JSON.stringify(kills)} ${context}`).toBeGreaterThanOrEqual(4);

    // (b) The loss curve continues where it stopped: metrics.jsonl is the uninterrupted run's, line
    // for line (timing aside), and every step's running loss and accuracy printed by any of the
    // processes is the one the uninterrupted run printed for that step.
    const metrics = metricsWithoutTiming(runDir);
    expect(metrics, context).toEqual(referenceMetrics);
    let deviation = 0;
    const losses = (lines: Array<Record<string, unknown>>) =>
      lines.flatMap((line) => (line.kind === 'step' ? [line.loss as number] : [(line.train as { loss: number }).loss, (line.validation as { loss: number }).loss]));
    losses(metrics).forEach((loss, i) => (deviation = Math.max(deviation, Math.abs(loss - losses(referenceMetrics)[i]!))));
    const progress = (stderr: string) =>
      [...stderr.matchAll(/^epoch (\d+)\/\d+ (\d+)\/\d+ {2}loss (\S+) {2}acc (\S+)%/gm)].map((m) => ({ at: (Number(m[1]) - 1) * stepsPerEpoch + Number(m[2]), loss: Number(m[3]), accuracy: m[4]! }));
    const referenceCurve = new Map(progress(straight.stderr).map((p) => [p.at, p]));
    expect(referenceCurve.size).toBe(totalSteps);
    let compared = 0;
    for (const segment of segments) {
      for (const point of progress(segment)) {
        const expected = referenceCurve.get(point.at);
        expect(point, `step ${point.at} ${context}`).toEqual(expected);
        deviation = Math.max(deviation, Math.abs(point.loss - expected!.loss));
        compared++;
      }
    }
    // Each resumed process went on from its checkpoint: together they printed every step.
    expect(new Set(segments.flatMap((segment) => progress(segment).map((p) => p.at))).size).toBe(totalSteps);

    // (c) The model is the uninterrupted run's, within float32 tolerance (bit for bit, in fact, when training is deterministic).
    const ours = loadStateDictFile(join(out, 'model.safetensors')).tensors;
    const theirs = loadStateDictFile(join(reference, 'model.safetensors')).tensors;
    expect([...ours.keys()].sort()).toEqual([...theirs.keys()].sort());
    let maxDifference = 0;
    for (const [name, t] of theirs) {
      const mine: Tensor = ours.get(name)!;
      expect(mine.shape, name).toEqual(t.shape);
      t.data.forEach((x, i) => {
        const d = Math.abs(mine.data[i]! - x);
        maxDifference = Math.max(maxDifference, d);
        expect(d, `${name}[${i}] ${context}`).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(x));
      });
    }
    const identical = readFileSync(join(out, 'model.safetensors')).equals(readFileSync(join(reference, 'model.safetensors')));
    for (const file of ['vocabulary.json', 'config.json']) expect(readFileSync(join(out, file)).equals(readFileSync(join(reference, file))), file).toBe(true);

    // What killed processes were writing may be left as temporary files; they were ignored (the
    // results above are the uninterrupted run's), and only killed processes left them.
    const leftovers = temporaryFiles(out);
    for (const path of leftovers) expect(killed.has(Number(/\.tmp-(\d+)$/.exec(path)![1])), `${path} ${context}`).toBe(true);
    const inCheckpoint = landed.filter((k) => k.writing.some((path) => /^run\/(model-\d+\.safetensors|optimizer-\d+\.safetensors|checkpoint\.json)$/.test(path)));
    const inOtherWrite = landed.filter((k) => k.writing.length > 0 && !inCheckpoint.includes(k));
    console.log(
      `crash test (CRASH_SEED=${seed}): ${landed.length} SIGKILLs survived, ${inCheckpoint.length} during a checkpoint write, ${inOtherWrite.length} during another atomic write` +
        ` [${kills.map((k) => `${k.mode}: ${k.during}${k.landed ? `${k.writing.length ? ` (died writing ${k.writing.join(', ')})` : ''} -> resumed from step ${k.checkpointStep ?? 'none (fresh start)'}` : ''}`).join('; ')}];` +
        ` metrics.jsonl equal (${metrics.length} lines), ${compared} per-step loss points compared, max loss deviation ${deviation};` +
        ` model max |difference| ${maxDifference}, byte-identical: ${identical}; temporary files left by killed processes: ${leftovers.length} (${leftovers.join(', ')})`,
    );
    rmSync(folder, { recursive: true, force: true });
  }, 180_000);
});
