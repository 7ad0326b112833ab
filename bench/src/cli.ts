/**
 * What the bench scripts share at their command line: flags parsed with one-line errors (exit
 * code 2, the script's usage beside) instead of Node's stack traces, `--help`, values checked by
 * the apps' own flag parsers, and where PyTorch is.
 */
import { execFileSync } from 'node:child_process';
import { basename } from 'node:path';
import { choiceFlag, integerFlag, positiveFlag } from '@recurrent/train';

/** Debian's interpreter, where `apt-get install python3-torch` puts PyTorch (the `python3` on PATH may be another). */
export const PYTHON = '/usr/bin/python3';

const script = basename(process.argv[1] ?? 'bench');

/** Prints `<script>: <message>` on stderr and exits with code 2 (bad input). */
export function fail(message: string): never {
  process.stderr.write(`${script}: ${message}\n`);
  process.exit(2);
}

/**
 * Runs `parse` (a `parseArgs` call) on the script's flags, without the literal `--` that pnpm and
 * turbo may each pass before them. `--help` prints `usage` and exits; a flag parseArgs refuses
 * ends the script with one line.
 */
export function parseFlags<T>(usage: string, parse: (args: string[]) => T): T {
  const args = process.argv.slice(2).filter((arg) => arg !== '--');
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`usage: ${usage}\n`);
    process.exit(0);
  }
  try {
    return parse(args);
  } catch (error) {
    return fail(`${(error as Error).message.split('\n')[0]} (usage: ${usage})`);
  }
}

/** `value` through one of `@recurrent/train`'s flag parsers; the message of one that refuses ends the script. */
function checked<T>(parse: (value: string) => T, value: string): T {
  try {
    return parse(value);
  } catch (error) {
    return fail((error as Error).message);
  }
}

/** A flag's value as a number above zero (`integer`: a whole one), or the script ends naming the flag. */
export const positive = (flag: string, value: string, integer = false): number =>
  checked(integer ? integerFlag(`--${flag}`, 1) : positiveFlag(`--${flag}`), value);

/** A seed: a whole number from 0, as the apps' --seed takes. */
export const seed = (value: string): number => checked(integerFlag('--seed', 0), value);

/** A flag's value as one of `choices`, or the script ends naming the flag and the choices. */
export const oneOf = <T extends string>(flag: string, value: string, choices: readonly T[]): T => checked(choiceFlag(`--${flag}`, choices), value);

/** Whether `import torch` works in {@link PYTHON}. */
export function hasTorch(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** How to get the PyTorch peer on these (Debian) machines; without OpenBLAS it runs about 20x slower. */
export const TORCH_INSTALL = 'apt-get install -y python3-torch libopenblas0-pthread';
