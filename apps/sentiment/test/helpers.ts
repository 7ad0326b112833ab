/** Running the `sentiment` binary in tests, and the small, clearly separable data sets they train on. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '@recurrent/core';
import { cliRunner } from '@recurrent/train/testing';

export const bin = fileURLToPath(new URL('../bin/sentiment.mjs', import.meta.url));
export const { run, start } = cliRunner(bin, 'sentiment');
export { type Result, type Running } from '@recurrent/train/testing';

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

/** The lines of metrics.jsonl without the timing, which differs from run to run. */
export function metricsWithoutTiming(runDir: string): Array<Record<string, unknown>> {
  return readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((line) => {
    const { tokensPerSecond: _, ...rest } = JSON.parse(line) as Record<string, unknown>;
    return rest;
  });
}
