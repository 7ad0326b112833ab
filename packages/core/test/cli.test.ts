import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

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
