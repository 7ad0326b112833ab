/** Running the `translate` binary in tests, and a small task it learns in seconds. */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { mulberry32 } from '@recurrent/core';

export const bin = fileURLToPath(new URL('../bin/translate.mjs', import.meta.url));

export interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `translate ...args` to the end (stdin: `input`, or empty). */
export async function run(args: string[], input?: string): Promise<Result> {
  if (!existsSync(fileURLToPath(new URL('../dist/cli.js', import.meta.url)))) throw new Error('run `pnpm build` before these tests');
  const child = promisify(execFile)(process.execPath, [bin, ...args], { maxBuffer: 1 << 24 });
  child.child.stdin!.end(input ?? '');
  try {
    const { stdout, stderr } = await child;
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A `translate` process under way: signal it once `ready()` holds, then wait for its end. */
export function start(args: string[]): { signalWhen: (ready: () => boolean, signal: NodeJS.Signals) => Promise<void>; done: Promise<Result>; stop: () => void } {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let ended = false;
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<Result>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      ended = true;
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
  return {
    async signalWhen(ready, signal) {
      while (!ready()) {
        if (ended) throw new Error(`translate ended before it was signalled:\n${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      child.kill(signal);
    },
    done,
    stop: () => {
      if (!ended) child.kill('SIGKILL');
    },
  };
}

/** stderr without the Vulkan driver's warnings (printed by Dawn when WebGPU is probed). */
export const messages = (stderr: string) => stderr.split('\n').filter((line) => line && !line.startsWith('Warning: max') && !line.startsWith('backend '));

/** `n` lines `word<TAB>its letters reversed, spaced` over the letters a-f, 2-5 letters each. */
export function reversals(n: number, seed: number): string {
  const random = mulberry32(seed);
  return Array.from({ length: n }, () => {
    const word = Array.from({ length: 2 + Math.floor(random() * 4) }, () => 'abcdef'[Math.floor(random() * 6)]).join('');
    return `${word}\t${[...word].reverse().join(' ')}\n`;
  }).join('');
}
