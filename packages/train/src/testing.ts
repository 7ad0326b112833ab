/**
 * Running an app's command-line binary in its tests: to the end (`run`), or in the background to
 * signal and kill it (`start`). Shared by the apps' test suites; not part of the training API.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

export interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A process under way: send it signals, wait for its output, then for its end. */
export interface Running {
  readonly pid: number;
  stdout(): string;
  stderr(): string;
  signal(name: NodeJS.Signals): void;
  /** Resolves once `test` holds (polled), rejects if the process ends first. */
  until(test: () => boolean, what: string): Promise<void>;
  /** Sends `signal` once `ready` holds. */
  signalWhen(ready: () => boolean, signal: NodeJS.Signals): Promise<void>;
  readonly done: Promise<Result>;
  /** Kills it (only this process) if it is still running. */
  stop(): void;
}

export interface RunOptions {
  /** The working folder of the process (default: this one's), where any relative path it writes lands. */
  readonly cwd?: string;
  /** Variables added to this process's environment for it, e.g. { RECURRENT_THREADS: '1' }. */
  readonly env?: Readonly<Record<string, string>>;
}

export interface CliRunner {
  /** Runs `app ...args` to the end (stdin: `input`, or empty). */
  run(args: string[], input?: string, options?: RunOptions): Promise<Result>;
  start(args: string[]): Running;
}

/** A runner for the binary `bin` (e.g. apps/speech/bin/speech.mjs), which needs `../dist/cli.js` built. */
export function cliRunner(bin: string, app: string): CliRunner {
  const requireBuild = () => {
    if (!existsSync(join(dirname(bin), '..', 'dist', 'cli.js'))) throw new Error(`run \`pnpm build\` before the ${app} tests`);
  };
  return {
    async run(args, input, options = {}) {
      requireBuild();
      const child = promisify(execFile)(process.execPath, [bin, ...args], {
        maxBuffer: 1 << 26,
        ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
        ...(options.env === undefined ? {} : { env: { ...process.env, ...options.env } }),
      });
      child.child.stdin!.end(input ?? '');
      try {
        const { stdout, stderr } = await child;
        return { code: 0, stdout, stderr };
      } catch (error) {
        const e = error as { code: number; stdout: string; stderr: string };
        return { code: e.code, stdout: e.stdout, stderr: e.stderr };
      }
    },
    start(args) {
      requireBuild();
      const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      let ended = false;
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const done = new Promise<Result>((resolve, reject) => {
        child.on('error', reject);
        child.on('close', (code, signal) => {
          ended = true;
          resolve({ code: code ?? 128 + (signal === 'SIGKILL' ? 9 : 0), stdout, stderr });
        });
      });
      const until = async (test: () => boolean, what: string) => {
        while (!test()) {
          if (ended) throw new Error(`${app} ended before ${what}:\n${stderr}`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      };
      return {
        pid: child.pid!,
        stdout: () => stdout,
        stderr: () => stderr,
        signal: (name) => child.kill(name),
        until,
        async signalWhen(ready, signal) {
          await until(ready, `it was signalled (${signal})`);
          child.kill(signal);
        },
        done,
        stop() {
          if (!ended) child.kill('SIGKILL');
        },
      };
    },
  };
}

/** stderr without the Vulkan driver's warnings (printed by Dawn when WebGPU is probed). */
export const messages = (stderr: string) => stderr.split('\n').filter((line) => line && !line.startsWith('Warning: max') && !line.startsWith('backend '));
