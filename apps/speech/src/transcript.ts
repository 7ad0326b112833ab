/** Reads the user's transcript files: `file<TAB>text` lines, or Common Voice style CSV/TSV with a header. */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { InputError } from '@recurrent/train';

export interface TranscriptEntry {
  /** The audio file, absolute (resolved against `audioDir`, by default the transcript's folder). Not checked for existence. */
  file: string;
  /** The text, trimmed, with each run of whitespace (line breaks in quoted CSV fields too) made one space. Case is kept. */
  text: string;
  /** The 1-based line the entry starts on. */
  line: number;
}

export interface ReadTranscriptOptions {
  /** Folder that relative audio paths are resolved against (default: the transcript's own folder; Common Voice keeps its clips in `clips/`). */
  audioDir?: string;
}

interface Row {
  fields: string[];
  line: number;
}

const HINT = 'write one "file<TAB>text" line per recording, or a CSV/TSV whose header has "path" and "sentence" columns (Common Voice)';

function decode(file: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'no such file; check the path'
      : code === 'EISDIR' ? 'is a folder, not a transcript file; give the path of the .tsv or .csv file'
      : code === 'EACCES' || code === 'EPERM' ? 'cannot be read (permission denied); check its permissions'
      : `cannot be read (${code ?? String(error)}); check the path`;
    throw new InputError(`${file}: ${reason}`);
  }
  if (bytes.length === 0) throw new InputError(`${file}: the file is empty; ${HINT}`);
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    throw new InputError(`${file}: the file is UTF-16 text; save it as UTF-8`);
  }
  const nul = bytes.indexOf(0);
  if (nul >= 0) {
    throw new InputError(`${file}:${lineAt(bytes, nul)}: the file holds NUL bytes, so it is binary (audio?) or UTF-16, not a transcript; ${HINT}`);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes); // drops a UTF-8 BOM
  } catch {
    const text = new TextDecoder('utf-8').decode(bytes);
    const bad = text.indexOf('\ufffd');
    const line = text.slice(0, Math.max(0, bad)).split('\n').length;
    throw new InputError(`${file}:${line}: not valid UTF-8 text; save the file as UTF-8`);
  }
}

function lineAt(bytes: Uint8Array, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (bytes[i] === 0x0a) line++;
  return line;
}

/** Tab-separated rows: quotes are literal (as in Common Voice's TSVs). */
function tabRows(text: string): Row[] {
  return text.split('\n').map((content, index) => ({ fields: content.split('\t'), line: index + 1 }));
}

/** RFC 4180 comma-separated rows: quoted fields may hold commas, doubled quotes and line breaks. */
function csvRows(text: string, file: string): Row[] {
  const rows: Row[] = [];
  let line = 1;
  let fields: string[] = [];
  let field = '';
  let rowLine = 1;
  let i = 0;
  const endRow = () => {
    fields.push(field);
    rows.push({ fields, line: rowLine });
    fields = [];
    field = '';
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"' && field.trim() === '') {
      // A quoted field (spaces before the opening quote are dropped).
      const openLine = line;
      field = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new InputError(`${file}:${openLine}: a quoted field is never closed; add the closing " (write a quote inside a field as "")`);
        const d = text[i]!;
        if (d === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (d === '\n') line++;
        field += d;
        i++;
      }
      while (text[i] === ' ' || text[i] === '\t') i++;
      if (i < text.length && text[i] !== ',' && text[i] !== '\n') {
        throw new InputError(`${file}:${line}: text after a closing quote; quote the whole field and write a quote inside it as ""`);
      }
      continue;
    }
    if (c === ',') {
      fields.push(field);
      field = '';
    } else if (c === '\n') {
      endRow();
      line++;
      rowLine = line;
    } else {
      field += c; // a quote inside an unquoted field is kept as it is
    }
    i++;
  }
  if (field !== '' || fields.length > 0) endRow();
  return rows;
}

const normalise = (value: string) => value.replace(/\s+/g, ' ').trim();

/**
 * Reads a transcript file into `{ file, text, line }` entries, in file order.
 *
 * Two layouts, told apart by the first non-blank line:
 * - a header naming `path` and `sentence` columns (any order, any other columns, case-insensitive),
 *   comma-separated with RFC 4180 quoting, or tab-separated with literal quotes as in Common Voice's
 *   `train.tsv`;
 * - otherwise `file<TAB>text` lines (our generator's `transcript.tsv`); further tab-separated
 *   columns are ignored.
 *
 * A UTF-8 BOM and CRLF line ends are accepted; blank lines are skipped. Throws InputError, one
 * line naming file:line and the fix, for a missing, empty, binary, UTF-16 or non-UTF-8 file, a line
 * without a tab, an empty file name or text, a row with too few columns, an unclosed quote, an
 * audio file listed twice, and a file with no entries. Whether the audio files exist is not checked.
 */
export function readTranscript(file: string, options: ReadTranscriptOptions = {}): TranscriptEntry[] {
  const text = decode(file).replace(/\r\n?/g, '\n');
  const base = resolve(options.audioDir ?? dirname(resolve(file)));
  const firstLine = text.split('\n').find((content) => content.trim() !== '') ?? '';
  if (firstLine === '') throw new InputError(`${file}: the file has only blank lines; ${HINT}`);
  const delimiter = firstLine.includes('\t') ? '\t' : ',';
  let rows = delimiter === '\t' ? tabRows(text) : csvRows(text, file);
  rows = rows.filter((row) => row.fields.some((field) => field.trim() !== ''));
  const header = rows[0]!;
  const names = header.fields.map((name) => name.trim().toLowerCase());
  let fileColumn = 0;
  let textColumn = 1;
  let hasHeader = false;
  // A tab-separated first line with only one of the two names is data (the text may be the word "path").
  if ((names.includes('path') && names.includes('sentence')) || (delimiter === ',' && (names.includes('path') || names.includes('sentence')))) {
    for (const needed of ['path', 'sentence']) {
      if (!names.includes(needed)) {
        throw new InputError(`${file}:${header.line}: the header has no "${needed}" column; name the audio column "path" and the text column "sentence"`);
      }
    }
    fileColumn = names.indexOf('path');
    textColumn = names.indexOf('sentence');
    hasHeader = true;
    rows = rows.slice(1);
  } else if (delimiter !== '\t') {
    throw new InputError(`${file}:${header.line}: no tab in the line; ${HINT}`);
  }

  const entries: TranscriptEntry[] = [];
  const seen = new Map<string, number>();
  for (const { fields, line } of rows) {
    const where = `${file}:${line}`;
    if (fields.length <= Math.max(fileColumn, textColumn)) {
      throw new InputError(
        hasHeader
          ? `${where}: only ${fields.length} column(s) but the header has ${names.length}; give every row the header's columns`
          : `${where}: no tab between the audio file and its text; separate them with one tab`,
      );
    }
    const audio = fields[fileColumn]!.trim();
    const sentence = normalise(fields[textColumn]!);
    if (audio === '') throw new InputError(`${where}: the audio file name is empty; write the file name before the text`);
    if (sentence === '') throw new InputError(`${where}: the text of ${audio} is empty; transcribe it or remove the line`);
    const absolute = resolve(base, audio);
    const first = seen.get(absolute);
    if (first !== undefined) throw new InputError(`${where}: ${audio} is listed again (first on line ${first}); keep one line per audio file`);
    seen.set(absolute, line);
    entries.push({ file: absolute, text: sentence, line });
  }
  if (entries.length === 0) throw new InputError(`${file}: the file has a header but no rows; add one row per recording`);
  return entries;
}
