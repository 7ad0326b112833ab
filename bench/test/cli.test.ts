// The bench scripts' command lines (built: turbo builds before tests): a bad flag is one line
// naming it and the script's usage, exit code 2, before any work starts; --help prints the usage.
import { spawnSync } from 'node:child_process';
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
