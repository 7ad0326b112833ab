/** Running the `sentiment` binary in tests, and the small, clearly separable data sets they train on. */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { mulberry32 } from '@recurrent/core';

export const bin = fileURLToPath(new URL('../bin/sentiment.mjs', import.meta.url));

function requireBuild(): void {
  if (!existsSync(fileURLToPath(new URL('../dist/cli.js', import.meta.url)))) throw new Error('run `pnpm build` before these tests');
}

export interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `sentiment ...args` to the end (stdin: `input`, or empty). */
export async function run(args: string[], input?: string): Promise<Result> {
  requireBuild();
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

/** A `sentiment` process under way: send it signals, wait for its output, then for its end. */
export interface Running {
  readonly pid: number;
  stderr(): string;
  signal(name: NodeJS.Signals): void;
  /** Resolves once `test` holds (polled), rejects if the process ends first. */
  until(test: () => boolean, what: string): Promise<void>;
  readonly done: Promise<Result>;
  /** Kills it (only this process) if it is still running. */
  stop(): void;
}

export function start(args: string[]): Running {
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
  return {
    pid: child.pid!,
    stderr: () => stderr,
    signal: (name) => child.kill(name),
    done,
    async until(test, what) {
      while (!test()) {
        if (ended) throw new Error(`sentiment ended before ${what}:\n${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    stop() {
      if (!ended) child.kill('SIGKILL');
    },
  };
}

/** Reviews made of filler words and one or two words that decide the class: a TSV with a header. */
export function makeReviews(count: number, seed: number): string {
  const random = mulberry32(seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
  const filler = ['the', 'film', 'was', 'a', 'story', 'about', 'actors', 'and', 'plot', 'it'];
  const cue = { pos: ['great', 'wonderful', 'superb', 'loved'], neg: ['awful', 'boring', 'terrible', 'hated'] };
  const lines = ['text\tlabel'];
  for (let i = 0; i < count; i++) {
    const label = random() < 0.5 ? 'pos' : 'neg';
    const words = Array.from({ length: 4 + Math.floor(random() * 8) }, () => pick(filler));
    words.splice(Math.floor(random() * words.length), 0, pick(cue[label]));
    lines.push(`${words.join(' ')}\t${label}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Every file and folder under `dir` (relative path -> bytes; a folder's path ends in /), to show it was left exactly as it was. */
export function snapshot(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (relative: string) => {
    for (const name of readdirSync(join(dir, relative)).sort()) {
      const path = join(relative, name);
      if (statSync(join(dir, path)).isDirectory()) {
        files.set(`${path}/`, Buffer.alloc(0));
        walk(path);
      } else {
        files.set(path, readFileSync(join(dir, path)));
      }
    }
  };
  if (existsSync(dir)) walk('');
  return files;
}

/** The lines of metrics.jsonl without the timing, which differs from run to run. */
export function metricsWithoutTiming(runDir: string): Array<Record<string, unknown>> {
  return readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((line) => {
    const { tokensPerSecond: _, ...rest } = JSON.parse(line) as Record<string, unknown>;
    return rest;
  });
}
