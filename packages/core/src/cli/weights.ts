/**
 * `recurrent weights show|convert`: a safetensors file's tensors from its header alone, and the
 * file rewritten in another floating-point precision (what `model.half()` does before
 * `save_file` in PyTorch). Our model folders keep their weights in `model.safetensors`, so an
 * app's model converts in place and loads as it did.
 */
import Table from 'cli-table3';
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { convertSafetensorsFile, type ConvertedFile } from '../io/state.js';
import { readSafetensorsHeader, SafetensorsError } from '../io/safetensors.js';
import { plainWhenPiped } from './doctor.js';

export const WEIGHT_DTYPES = ['F32', 'F16', 'BF16'] as const;
export type WeightDtype = (typeof WEIGHT_DTYPES)[number];

export interface WeightsSummary {
  readonly file: string;
  readonly bytes: number;
  /** Values over all tensors, and by dtype. */
  readonly values: number;
  readonly valuesByDtype: Record<string, number>;
  readonly tensors: Array<{ name: string; dtype: string; shape: readonly number[]; values: number }>;
  readonly metadata: Record<string, string>;
}

/** The tensors of a safetensors file as its header lists them (in the order of their data). */
export function summariseWeights(file: string): WeightsSummary {
  const header = readSafetensorsHeader(file);
  const tensors = [...header.tensors].map(([name, entry]) => ({
    name, dtype: entry.dtype, shape: entry.shape, values: entry.shape.reduce((a, b) => a * b, 1),
  }));
  const valuesByDtype: Record<string, number> = {};
  for (const t of tensors) valuesByDtype[t.dtype] = (valuesByDtype[t.dtype] ?? 0) + t.values;
  return {
    file, bytes: header.fileBytes, values: tensors.reduce((sum, t) => sum + t.values, 0), valuesByDtype, tensors, metadata: header.metadata,
  };
}

/** The summary as a table and two lines of totals. */
export function formatWeights(summary: WeightsSummary): string {
  const table = new Table({ head: ['tensor', 'dtype', 'shape', 'values'], style: plainWhenPiped(), colAligns: ['left', 'left', 'left', 'right'] });
  for (const t of summary.tensors) table.push([t.name, t.dtype, `[${t.shape.join(', ')}]`, t.values.toLocaleString('en-US')]);
  const byDtype = Object.entries(summary.valuesByDtype).map(([dtype, n]) => `${n.toLocaleString('en-US')} ${dtype}`).join(', ');
  const metadata = Object.entries(summary.metadata).map(([key, value]) => `${key}=${value.length > 60 ? `${value.slice(0, 60)}...` : value}`).join(', ');
  return `${table.toString()}\n${summary.tensors.length} tensors, ${summary.values.toLocaleString('en-US')} values${byDtype ? ` (${byDtype})` : ''}, ` +
    `${summary.bytes.toLocaleString('en-US')} bytes\nmetadata: ${metadata || 'none'}\n`;
}

/**
 * Converts `input` into `output` (which may be the same file) after checking that the output can
 * be written where asked: a folder that exists, and not a folder itself.
 */
export function convertWeights(input: string, output: string, dtype: WeightDtype): ConvertedFile {
  const target = resolve(output);
  if (existsSync(target) && statSync(target).isDirectory()) {
    throw new SafetensorsError(`${output} is a folder; give the file to write, e.g. ${output.replace(/\/$/, '')}/model.safetensors`);
  }
  if (!existsSync(dirname(target))) throw new SafetensorsError(`cannot write ${output}: the folder ${dirname(output)} does not exist; create it first`);
  return convertSafetensorsFile(input, output, dtype);
}
