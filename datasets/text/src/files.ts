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
  /** Where each example comes from, for messages: `file:line`, or the .txt file of a class folder. */
  readonly origins: readonly string[];
}

/** The 1-based line of each byte offset of a file. */
function lineIndex(bytes: Uint8Array): (offset: number) => number {
  const newlines: number[] = [];
  bytes.forEach((byte, i) => {
    if (byte === 0x0a) newlines.push(i);
  });
  return (offset) => {
    let lo = 0;
    let hi = newlines.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (newlines[mid]! < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
}

/** The offset of the first byte that is not part of valid UTF-8, or -1. */
function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    const [length, min] = b < 0x80 ? [1, 0] : b >= 0xc2 && b < 0xe0 ? [2, 0x80] : b >= 0xe0 && b < 0xf0 ? [3, 0x800] : b >= 0xf0 && b < 0xf5 ? [4, 0x10000] : [0, 0];
    if (length === 0 || i + length > bytes.length) return i;
    let code = length === 1 ? b : b & (0xff >> (length + 1));
    for (let k = 1; k < length; k++) {
      const c = bytes[i + k]!;
      if ((c & 0xc0) !== 0x80) return i;
      code = (code << 6) | (c & 0x3f);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return i;
    i += length;
  }
  return -1;
}

/** Reads a file's bytes, refusing a missing or unreadable file, binary data and text that is not UTF-8, by name (and line). */
function readTextBytes(file: string): { bytes: Buffer; text: string } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DataError(`${file}: no such file; check the path`);
    if (code === 'EISDIR') throw new DataError(`${file}: a folder, not a file; give a text file`);
    throw new DataError(`${file}: cannot read the file (${code ?? (error as Error).message}); check its permissions`);
  }
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    throw new DataError(`${file}: UTF-16 text; save it as UTF-8, e.g. \`iconv -f utf-16 -t utf-8\``);
  }
  // Text has no zero bytes and hardly any other control characters; compressed files, spreadsheets and images have plenty.
  const head = bytes.subarray(0, 8192);
  const controls = head.filter((b) => (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) || b === 0x7f).length;
  if (bytes.includes(0) || controls > head.length / 20) {
    throw new DataError(`${file}: binary data, not text (compressed, a spreadsheet, an image?); give a UTF-8 text file, e.g. a spreadsheet saved as CSV UTF-8`);
  }
  const invalid = firstInvalidUtf8(bytes);
  if (invalid >= 0) {
    throw new DataError(
      `${file}:${lineIndex(bytes)(invalid)}: not valid UTF-8 text (byte 0x${bytes[invalid]!.toString(16).padStart(2, '0')}); convert the file to UTF-8, e.g. \`iconv -f latin1 -t utf-8\``,
    );
  }
  return { bytes, text: bytes.toString('utf8') };
}

/** Reads a text file as UTF-8, refusing a missing file, binary data and invalid UTF-8 with one line naming the file. */
export function readTextFile(file: string): string {
  return readTextBytes(file).text;
}

/** The line of the opening quote that is never closed, if any. */
function unclosedQuote(bytes: Uint8Array, delimiter: number, lineOf: (offset: number) => number): number | undefined {
  let quoted = false;
  let openedAt = 0;
  let fieldStart = true;
  for (let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (quoted) {
      if (c === 0x22) {
        if (bytes[i + 1] === 0x22) i++;
        else quoted = false;
      }
    } else if (c === 0x22 && fieldStart) {
      quoted = true;
      openedAt = i;
    } else {
      fieldStart = c === delimiter || c === 0x0a || c === 0x0d;
    }
  }
  return quoted ? lineOf(openedAt) : undefined;
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
  const tab = ['.tsv', '.tab'].includes(extname(file).toLowerCase());
  const delimiter = tab ? '\t' : ',';
  const rowFormat = `text${tab ? '<TAB>' : ','}label`;
  const { bytes } = readTextBytes(file);
  const lineOf = lineIndex(bytes);
  let records: Array<{ record: string[]; info: { bytes: number } }>;
  try {
    records = parse(bytes, { delimiter, record_delimiter: ['\r\n', '\n'], bom: true, relax_quotes: false, skip_empty_lines: true, relax_column_count: true, info: true }) as unknown as typeof records;
  } catch (error) {
    const e = error as { code?: string; lines?: number; message: string };
    const line = e.code === 'CSV_QUOTE_NOT_CLOSED' ? unclosedQuote(bytes, delimiter.charCodeAt(0), lineOf) ?? e.lines : e.lines;
    const where = `${file}:${line ?? '?'}`;
    if (e.code === 'CSV_QUOTE_NOT_CLOSED') throw new DataError(`${where}: a quote opened on this line is never closed; close the quoted text with " (a quote inside it is written "")`);
    if (e.code === 'INVALID_OPENING_QUOTE') throw new DataError(`${where}: a quote inside an unquoted text; put the whole text in quotes and double the quotes inside it ("")`);
    if (e.code === 'CSV_INVALID_CLOSING_QUOTE') throw new DataError(`${where}: more text after a closing quote; double the quotes inside a quoted text ("")`);
    throw new DataError(`${where}: ${e.message.replace(/^Invalid Record Length: /, '')}; check the quoting of that row`);
  }
  // The line each record starts on: after the previous record's end and any empty lines.
  let end = 0;
  const rows = records.map(({ record, info }) => {
    let start = end;
    while (bytes[start] === 0x0a || bytes[start] === 0x0d) start++;
    end = info.bytes;
    return { row: record, line: lineOf(start) };
  });
  if (rows.length === 0) throw new DataError(`${file}: the file is empty; give rows of ${rowFormat}`);
  const first = rows[0]!.row;
  const hasHeader = first.length === 2 && first[0]!.trim().toLowerCase() === 'text' && first[1]!.trim().toLowerCase() === 'label';
  const body = hasHeader ? rows.slice(1) : rows;
  for (const { row, line } of body) {
    if (row.length !== 2) {
      throw new DataError(
        `${file}:${line}: ${row.length} column${row.length === 1 ? '' : 's'}, expected 2 (${rowFormat}); ${row.length === 1 ? 'add the label column' : `quote a text that contains ${tab ? 'tabs' : 'commas'}`}`,
      );
    }
    if (row[1]!.trim() === '') throw new DataError(`${file}:${line}: the label is empty; every row needs a label`);
  }
  if (body.length === 0) throw new DataError(`${file}: only a header, no examples; add rows of ${rowFormat} below it`);
  const { labels, index } = collectLabels(body.map(({ row }) => row[1]!.trim()));
  return {
    labels,
    examples: body.map(({ row }) => ({ text: row[0]!, label: index.get(row[1]!.trim())! })),
    origins: body.map(({ line }) => `${file}:${line}`),
  };
}

/** A folder with one sub-folder per class, each holding .txt files, one example per file. */
export function loadClassificationFolder(folder: string): LabelledData {
  if (!isFolder(folder)) throw new DataError(`${folder}: not a folder; give a folder with one sub-folder of .txt files per class`);
  const classes = readdirSync(folder).filter((name) => isFolder(join(folder, name))).sort();
  if (classes.length < 2) {
    throw new DataError(`${folder}: ${classes.length === 0 ? 'no class folders' : `only one class folder (${classes[0]}/)`}; give one sub-folder of .txt files per class, at least 2 (e.g. pos/ and neg/)`);
  }
  const examples: LabelledText[] = [];
  const origins: string[] = [];
  classes.forEach((name, label) => {
    const files = readdirSync(join(folder, name)).filter((f) => f.endsWith('.txt')).sort();
    if (files.length === 0) throw new DataError(`${join(folder, name)}: no .txt files in this class folder; add one .txt file per example`);
    for (const f of files) {
      examples.push({ text: readTextFile(join(folder, name, f)), label });
      origins.push(join(folder, name, f));
    }
  });
  return { labels: classes, examples, origins };
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** A file (CSV/TSV) or a folder (class sub-folders), whichever `path` is. */
export function loadClassificationData(path: string): LabelledData {
  if (isFolder(path)) return loadClassificationFolder(path);
  if (!existsSync(path)) throw new DataError(`${path}: no such file or folder; give a CSV/TSV of text,label rows or a folder of class folders`);
  return loadClassificationFile(path);
}
