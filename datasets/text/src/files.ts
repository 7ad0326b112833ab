/**
 * The user's own classification data: a CSV or TSV file of text and label (header optional), or
 * a folder with one sub-folder of .txt files per class (as the original aclImdb archive).
 * Problems are reported as DataError: one line naming the file, the line and the fix.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { parse } from 'csv-parse/sync';
import type { LabelledText } from './imdb.js';

export class DataError extends Error {
  override name = 'DataError';
}

export interface LabelledData {
  readonly labels: readonly string[];
  readonly examples: LabelledText[];
}

/** Reads a text file as UTF-8, refusing binary files and invalid UTF-8 by name. */
function readText(file: string): string {
  const bytes = readFileSync(file);
  if (bytes.includes(0)) throw new DataError(`${file}: this is a binary file, not text; give a UTF-8 text file`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new DataError(`${file}: not valid UTF-8 text; convert it, e.g. \`iconv -f latin1 -t utf-8\``);
  }
}

function collectLabels(raw: string[]): { labels: string[]; index: Map<string, number> } {
  const labels = [...new Set(raw)].sort();
  return { labels, index: new Map(labels.map((label, i) => [label, i])) };
}

/**
 * A CSV (`,`) or TSV (`\t`, by the .tsv/.tab extension) file of `text,label` rows. A first row
 * of exactly `text` and `label` (any case) is a header; quotes follow RFC 4180; a BOM and CRLF
 * line ends are accepted. Labels are any strings, numbered in sorted order.
 */
export function loadClassificationFile(file: string): LabelledData {
  if (!existsSync(file)) throw new DataError(`${file}: no such file; give a CSV or TSV of text,label rows`);
  const delimiter = ['.tsv', '.tab'].includes(extname(file).toLowerCase()) ? '\t' : ',';
  const content = readText(file);
  let rows: string[][];
  try {
    rows = parse(content, { delimiter, bom: true, relax_quotes: false, skip_empty_lines: true, relax_column_count: true }) as string[][];
  } catch (error) {
    const e = error as { lines?: number; message: string };
    throw new DataError(`${file}:${e.lines ?? '?'}: ${e.message.replace(/^Invalid Record Length: |^Quote Not Closed: /, '')}; check the quoting of that row`);
  }
  if (rows.length === 0) throw new DataError(`${file}: the file is empty; give rows of text${delimiter === '\t' ? '<TAB>' : ','}label`);
  const hasHeader = rows[0]!.length === 2 && rows[0]![0]!.trim().toLowerCase() === 'text' && rows[0]![1]!.trim().toLowerCase() === 'label';
  const body = hasHeader ? rows.slice(1) : rows;
  const firstLine = hasHeader ? 2 : 1;
  body.forEach((row, i) => {
    if (row.length !== 2) {
      throw new DataError(
        `${file}:${firstLine + i}: ${row.length} column${row.length === 1 ? '' : 's'}, expected 2 (text${delimiter === '\t' ? '<TAB>' : ','}label); quote a text that contains ${delimiter === '\t' ? 'tabs' : 'commas'}`,
      );
    }
    if (row[1]!.trim() === '') throw new DataError(`${file}:${firstLine + i}: the label is empty; every row needs a label`);
  });
  if (body.length === 0) throw new DataError(`${file}: only a header, no examples`);
  const { labels, index } = collectLabels(body.map((row) => row[1]!.trim()));
  return { labels, examples: body.map((row) => ({ text: row[0]!, label: index.get(row[1]!.trim())! })) };
}

/** A folder with one sub-folder per class, each holding .txt files, one example per file. */
export function loadClassificationFolder(folder: string): LabelledData {
  if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new DataError(`${folder}: not a folder; give a folder with one sub-folder of .txt files per class`);
  const classes = readdirSync(folder).filter((name) => statSync(join(folder, name)).isDirectory()).sort();
  if (classes.length < 2) throw new DataError(`${folder}: found ${classes.length} class folder(s), need at least 2 (e.g. pos/ and neg/)`);
  const examples: LabelledText[] = [];
  classes.forEach((name, label) => {
    const files = readdirSync(join(folder, name)).filter((f) => f.endsWith('.txt')).sort();
    if (files.length === 0) throw new DataError(`${join(folder, name)}: no .txt files in this class folder`);
    for (const f of files) examples.push({ text: readText(join(folder, name, f)), label });
  });
  return { labels: classes, examples };
}

/** A file (CSV/TSV) or a folder (class sub-folders), whichever `path` is. */
export function loadClassificationData(path: string): LabelledData {
  if (existsSync(path) && statSync(path).isDirectory()) return loadClassificationFolder(path);
  if (!existsSync(path)) throw new DataError(`${path}: no such file or folder; give a CSV/TSV of text,label rows or a folder of class folders`);
  return loadClassificationFile(path);
}
