/**
 * The user's own sentence pairs: a tab-separated file of `source<TAB>target` lines, as the
 * Tatoeba / ManyThings.org files (`fra.txt`: English, French, then an attribution column).
 * Problems are reported as DataError: one line naming the file, the line and the fix.
 */
import { DataError, readTextFile } from '@recurrent/datasets-text';
import { parse } from 'csv-parse/sync';
import { countWords, normaliseSpaces, type TextPair } from './text.js';

export interface PairsFileOptions {
  /** Swap the columns: the second is the source. Default false. */
  readonly reverse?: boolean;
  /** Keep pairs whose source has at most this many words (space-separated). Default Infinity. */
  readonly maxWords?: number;
}

export interface PairsData {
  readonly pairs: TextPair[];
  /** Where each pair comes from, `file:line`, for messages. */
  readonly origins: string[];
}

/**
 * Reads `source<TAB>target` lines: UTF-8 with or without a BOM, LF or CRLF, columns after the
 * second ignored, blank lines skipped, quotes taken literally (Tatoeba's text has unpaired ones),
 * each side with runs of whitespace collapsed and trimmed. Refused with a DataError naming the
 * file and line: a missing, unreadable, binary, UTF-16 or non-UTF-8 file, an empty file, a line
 * without a tab, an empty side.
 */
export function loadPairsFile(file: string, options: PairsFileOptions = {}): PairsData {
  const maxWords = options.maxWords ?? Infinity;
  if (!(maxWords === Infinity || (Number.isInteger(maxWords) && maxWords >= 1))) throw new RangeError(`maxWords must be a whole number >= 1 or Infinity, got ${maxWords}`);
  const text = readTextFile(file);
  const records = parse(text, {
    delimiter: '\t',
    record_delimiter: ['\r\n', '\n'],
    quote: false,
    bom: true,
    relax_column_count: true,
    skip_empty_lines: true,
    info: true,
  }) as unknown as Array<{ record: string[]; info: { lines: number } }>;
  const pairs: TextPair[] = [];
  const origins: string[] = [];
  let lines = 0;
  for (const { record, info } of records) {
    const fields = record.map(normaliseSpaces);
    if (fields.every((field) => field === '')) continue;
    lines++;
    const where = `${file}:${info.lines}`;
    if (fields.length < 2) throw new DataError(`${where}: 1 column, expected source<TAB>target; separate the source and the target with a tab`);
    const [first, second] = fields as [string, string];
    if (first === '') throw new DataError(`${where}: the source (before the tab) is empty; give text on both sides of the tab or delete the line`);
    if (second === '') throw new DataError(`${where}: the target (after the tab) is empty; give text on both sides of the tab or delete the line`);
    const pair = options.reverse ? { source: second, target: first } : { source: first, target: second };
    if (countWords(pair.source) > maxWords) continue;
    pairs.push(pair);
    origins.push(where);
  }
  if (lines === 0) {
    throw new DataError(`${file}: the file is empty; give one pair per line, source<TAB>target`);
  }
  return { pairs, origins };
}
