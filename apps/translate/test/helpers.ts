/** Running the `translate` binary in tests, and a small task it learns in seconds. */
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '@recurrent/core';
import { cliRunner } from '@recurrent/train/testing';

export const bin = fileURLToPath(new URL('../bin/translate.mjs', import.meta.url));
export const { run, start } = cliRunner(bin, 'translate');
export { messages, type Result } from '@recurrent/train/testing';

/** `n` lines `word<TAB>its letters reversed, spaced` over the letters a-f, 2-5 letters each. */
export function reversals(n: number, seed: number): string {
  const random = mulberry32(seed);
  return Array.from({ length: n }, () => {
    const word = Array.from({ length: 2 + Math.floor(random() * 4) }, () => 'abcdef'[Math.floor(random() * 6)]).join('');
    return `${word}\t${[...word].reverse().join(' ')}\n`;
  }).join('');
}
