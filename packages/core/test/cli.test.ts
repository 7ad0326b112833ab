import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { float32ToFloat16, readSafetensors, writeSafetensors } from '../src/io/index.js';

/** End-to-end runs of the built `recurrent` binary (turbo builds the package before its tests). */
const bin = fileURLToPath(new URL('../bin/recurrent.mjs', import.meta.url));
const built = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

async function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  if (!existsSync(built)) throw new Error(`${built} is missing: run \`pnpm build\` before these tests`);
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [bin, ...args], { env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('recurrent doctor', () => {
  it('reports every backend with an adapter and a GFLOP/s figure (--json)', async () => {
    const { code, stdout } = await run(['doctor', '--json', '--seconds', '0.2', '--size', '64']);
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as { backends: Array<{ backend: string; works: boolean; adapter: string; gflops: number | null }>; auto: { backend: string; why: string } };
    expect(report.backends.map((row) => row.backend)).toEqual(['webgpu', 'webasm', 'cpu']);
    for (const row of report.backends) {
      if (row.works) {
        expect(row.adapter).not.toBe('');
        expect(row.gflops).toBeGreaterThan(0);
      } else {
        expect(row.gflops).toBeNull();
      }
    }
    if (process.env.CI) expect(report.backends.every((row) => row.works)).toBe(true);
    expect(report.auto.why).not.toBe('');
  });

  it('prints a table naming the choice auto makes', async () => {
    const { code, stdout } = await run(['doctor', '--seconds', '0.1', '--size', '32']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/webgpu.*\n[^]*webasm[^]*cpu/);
    expect(stdout).toMatch(/auto picks (webgpu|webasm|cpu): /);
  });
});

describe('recurrent demo', () => {
  it('trains the spiral network and reports its loss falling', async () => {
    const { code, stdout } = await run(['demo', '--steps', '300', '--json', '--backend', 'webasm']);
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as { firstLoss: number; finalLoss: number; accuracy: number };
    expect(result.finalLoss).toBeLessThan(0.5);
    expect(result.accuracy).toBeGreaterThan(0.75);
  });
});

describe('recurrent charlm', () => {
  it('trains the character model and continues a prefix', async () => {
    const { code, stdout } = await run(['charlm', '--steps', '3', '--hidden', '16', '--length', '12', '--prefix', 'Time', '--json']);
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as { greedy: string; sampled: string; firstLoss: number };
    expect(result.greedy).toMatch(/^time[a-z ]{12}$/);
    expect(result.sampled).toMatch(/^time[a-z ]{12}$/);
    expect(result.firstLoss).toBeGreaterThan(3);
  });
});

describe('recurrent forecast', () => {
  it('trains the forecaster and beats the naive forecast', async () => {
    const { code, stdout } = await run(['forecast', '--steps', '60', '--hidden', '16', '--json', '--backend', 'webasm']);
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as { firstLoss: number; finalLoss: number; forecastMse: number; naiveMse: number };
    expect(result.finalLoss).toBeLessThan(result.firstLoss / 3);
    expect(result.forecastMse).toBeLessThan(result.naiveMse);
  });
});

describe('bad input', () => {
  it('answers a bad flag with one line and exit code 2', async () => {
    const steps = await run(['demo', '--steps', '0']);
    expect(steps.code).toBe(2);
    expect(steps.stderr.trim()).toBe("error: option '--steps <n>' argument '0' is invalid. --steps must be a positive integer, got '0'");
    const backend = await run(['demo', '--backend', 'metal']);
    expect(backend.code).toBe(2);
    expect(backend.stderr).toContain('expected one of auto, webgpu, webasm, cpu');
  });

  it('explains how to install a Vulkan driver when webgpu is asked for and cannot start', async () => {
    // Point the Vulkan loader at no driver at all: Dawn then finds no adapter.
    const { code, stderr } = await run(['demo', '--backend', 'webgpu', '--steps', '1'], { VK_ICD_FILENAMES: '/nonexistent/icd.json' });
    expect(code).toBe(2);
    const ours = stderr.split('\n').filter((line) => line.startsWith('recurrent:'));
    expect(ours).toHaveLength(1);
    expect(ours[0]).toContain("backend 'webgpu' cannot start: Dawn found no WebGPU adapter");
    expect(ours[0]).toContain('apt-get install -y -t bookworm-backports mesa-vulkan-drivers');
    // No JavaScript stack trace (Dawn itself may log its native Vulkan errors above our line).
    expect(stderr).not.toMatch(/\n\s+at .*\.m?js:\d+/);
  });
});

describe('recurrent weights', () => {
  const folder = mkdtempSync(join(tmpdir(), 'cli-weights-'));
  const weights = Float32Array.from([0.1, -2.5, 3.14159, 1e-6, 0, 7]);
  const write = (name: string, data = weights) => {
    const file = join(folder, name);
    writeSafetensors(file, { 'rnn.weight_ih_l0': { shape: [2, 3], data }, steps: { shape: [1], data: BigInt64Array.from([12n]) } }, { format: 'pt' });
    return file;
  };

  it('shows a file\'s tensors from its header', async () => {
    const file = write('show.safetensors');
    const json = await run(['weights', 'show', file, '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      values: 7, valuesByDtype: { F32: 6, I64: 1 }, metadata: { format: 'pt' }, bytes: readFileSync(file).length,
      tensors: [{ name: 'rnn.weight_ih_l0', dtype: 'F32', shape: [2, 3], values: 6 }, { name: 'steps', dtype: 'I64', shape: [1], values: 1 }],
    });
    const table = await run(['weights', 'show', file]);
    expect(table.stdout).toMatch(/rnn\.weight_ih_l0\s*│ F32\s*│ \[2, 3\]\s*│\s*6 │/);
    expect(table.stdout).toContain('2 tensors, 7 values (6 F32, 1 I64)');
  });

  it('converts the float tensors in place to F16, keeping the others', async () => {
    const file = write('convert.safetensors');
    const { code, stdout } = await run(['weights', 'convert', file, file, '--dtype', 'f16']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/convert\.safetensors: 1 tensors in F16, 1 others kept as they were; \d+ -> \d+ bytes/);
    const read = readSafetensors(file);
    expect(read.tensors.get('rnn.weight_ih_l0')!.dtype).toBe('F16');
    const data = read.tensors.get('rnn.weight_ih_l0')!.data;
    expect(new Uint16Array(data.buffer, data.byteOffset, 6)).toEqual(float32ToFloat16(weights));
    expect(read.tensors.get('steps')!.data).toEqual(BigInt64Array.from([12n]));
  });

  it('answers bad input with one line and exit code 2, writing nothing', async () => {
    const big = write('big.safetensors', Float32Array.from([1, 2, 3, 4, 5, 1e5]));
    const out = join(folder, 'big-f16.safetensors');
    const cases: Array<[string[], string]> = [
      [['weights', 'convert', big, out, '--dtype', 'F16'], "recurrent: big.safetensors: tensor 'rnn.weight_ih_l0' has 1 values beyond F16's range of ±65,504; save it as F32 or BF16"],
      [['weights', 'convert', big, out], "error: required option '--dtype <dtype>' not specified"],
      [['weights', 'convert', big, out, '--dtype', 'F8'], "error: option '--dtype <dtype>' argument 'F8' is invalid. expected one of F32, F16, BF16"],
      [['weights', 'convert', big, join(folder, 'no-such-folder', 'x.safetensors'), '--dtype', 'BF16'], `recurrent: cannot write ${join(folder, 'no-such-folder', 'x.safetensors')}: the folder ${join(folder, 'no-such-folder')} does not exist; create it first`],
      [['weights', 'convert', big, folder, '--dtype', 'BF16'], `recurrent: ${folder} is a folder; give the file to write, e.g. ${folder}/model.safetensors`],
      [['weights', 'show', join(folder, 'missing.safetensors')], `recurrent: cannot open ${join(folder, 'missing.safetensors')}: ENOENT`],
    ];
    const notSafetensors = join(folder, 'notes.safetensors');
    writeFileSync(notSafetensors, 'these are notes, not weights');
    cases.push([['weights', 'show', notSafetensors], 'recurrent: notes.safetensors: the header claims'] as [string[], string]);
    for (const [args, message] of cases) {
      const { code, stderr } = await run(args);
      expect(code, args.join(' ')).toBe(2);
      expect(stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(stderr.trim(), args.join(' ')).toContain(message);
    }
    expect(existsSync(out)).toBe(false);
    expect(readSafetensors(big).tensors.get('rnn.weight_ih_l0')!.dtype).toBe('F32');
  });
});
