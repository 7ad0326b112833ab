// The bench scripts' command lines (built: turbo builds before tests): a bad flag is one line
// naming it and the script's usage, exit code 2, before any work starts; --help prints the usage.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const run = (script: string, ...args: string[]) => {
  const result = spawnSync(process.execPath, [fileURLToPath(new URL(`../dist/${script}.js`, import.meta.url)), ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
};

describe('bench scripts refuse bad flags in one line', () => {
  it.each([
    ['seq2seq', ['--minutes', 'soon'], "seq2seq.js: --minutes must be a positive number, got 'soon'"],
    ['seq2seq', ['--limit', '2.5'], "seq2seq.js: --limit must be an integer >= 1, got '2.5'"],
    ['seq2seq', ['--only', 'keras'], "seq2seq.js: --only must be one of pytorch, translate, got 'keras'"],
    ['seq2seq', ['--seed', '1.5'], "seq2seq.js: --seed must be an integer >= 0, got '1.5'"],
    ['seq2seq', ['--side-by-side', '--only', 'pytorch'], 'seq2seq.js: --side-by-side runs both sides at once: leave out --only'],
    ['seq2seq', ['--resume'], 'seq2seq.js: --resume continues the comparison in --work DIR: name it'],
    ['translate-step', ['--steps', '0'], "translate-step.js: --steps must be an integer >= 1, got '0'"],
    ['translate-step', ['--backend', 'gl'], "translate-step.js: --backend must be one of webgpu, webasm, cpu, got 'gl'"],
    ['speech', ['--runs', '1.5'], "speech.js: --runs must be an integer >= 1, got '1.5'"],
    ['index', ['--mode', 'both'], "index.js: --mode must be one of train, inference, got 'both'"],
  ])('%s %j', (script, args, line) => {
    const { status, stdout, stderr } = run(script, ...args);
    expect(status).toBe(2);
    expect(stderr).toBe(`${line}\n`);
    expect(stdout).toBe('');
  });

  it('seq2seq --side-by-side wants two CPUs, one a side', () => {
    // pinned to one CPU, as the side-by-side run would pin each side
    const script = fileURLToPath(new URL('../dist/seq2seq.js', import.meta.url));
    const result = spawnSync('taskset', ['-c', '0', process.execPath, script, '--side-by-side'], { encoding: 'utf8', timeout: 60_000 });
    expect(result.status).toBe(2);
    expect(result.stderr).toBe('seq2seq.js: --side-by-side needs two CPUs, one a side; this process may use 1\n');
  });

  it('seq2seq resumes only a comparison of the same flags, and starts none over a run', () => {
    const work = mkdtempSync(join(tmpdir(), 'seq2seq-work-'));
    const refused = (...args: string[]) => {
      const { status, stdout, stderr } = run('seq2seq', '--only', 'translate', '--work', work, ...args);
      expect(status).toBe(2);
      expect(stdout).toBe('');
      return stderr;
    };
    expect(refused('--resume')).toBe(`seq2seq.js: ${work} holds no comparison to resume (no comparison.json): start one without --resume\n`);
    // what a first sitting with the default flags writes
    const settings = { minutes: '30', limit: null, sizes: ['--embedding', '128', '--hidden', '256', '--decoder-hidden', '256', '--lr', '0.002', '--seed', '1'], sideBySide: false };
    writeFileSync(join(work, 'comparison.json'), `${JSON.stringify(settings)}\n`);
    expect(refused('--resume', '--minutes', '240')).toBe(`seq2seq.js: ${join(work, 'comparison.json')}: the comparison there was started with other flags (${JSON.stringify(settings)}): use the same ones, or name another --work\n`);
    mkdirSync(join(work, 'translate'));
    expect(refused()).toBe(`seq2seq.js: ${join(work, 'translate')} holds a run already: add --resume to continue it, or name another --work\n`);
    expect(readdirSync(work).sort()).toEqual(['comparison.json', 'translate']);
  });

  it('names an unknown flag and gives the usage', () => {
    const { status, stderr } = run('index', '--fast');
    expect(status).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/^index\.js: Unknown option '--fast'.*\(usage: pnpm bench \[-- --quick\] \[-- --only TEXT\] \[-- --mode train\|inference\]\)$/m);
  });

  it('prints the usage for --help and exits 0, pnpm\'s literal -- ignored', () => {
    const { status, stdout, stderr } = run('translate-step', '--', '--help');
    expect(status).toBe(0);
    expect(stdout).toBe('usage: node bench/dist/translate-step.js [--batch 64] [--source 9] [--target 8] [--layers 1] [--steps 30] [--backend webasm] [--attention general|dot|additive|none] [--input-feeding] [--target-vocabulary 43]\n');
    expect(stderr).toBe('');
  });
});
