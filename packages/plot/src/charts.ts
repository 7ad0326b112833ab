/**
 * Charts as standalone SVG strings, drawn by Vega-Lite + Vega in Node (renderer 'none': no DOM,
 * no canvas; Vega estimates text widths). Each function takes plain rows, so callers never touch
 * a Vega spec.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export type Row = Readonly<Record<string, string | number | null>>;

export interface Axis {
  /** Column of the rows. */
  readonly field: string;
  readonly title?: string;
  /** 'log' for quantities spanning orders of magnitude (throughput). Default 'linear'. */
  readonly scale?: 'linear' | 'log';
  /** Start the axis at zero. Default: false for line charts, true for bar charts (linear only). */
  readonly zero?: boolean;
}

export interface ChartOptions {
  readonly title?: string;
  readonly width?: number;
  readonly height?: number;
}

export interface LineChartOptions extends ChartOptions {
  readonly x: Axis;
  readonly y: Axis;
  /** Column naming the series: one coloured line each. */
  readonly series?: string;
  /** Column splitting a series into separate lines (e.g. one per epoch) without a new colour. */
  readonly detail?: string;
  /** Draw a point at each row as well (sparse series such as one value per epoch). Default true. */
  readonly points?: boolean;
}

export interface BarChartOptions extends ChartOptions {
  /** The category axis (one group of bars each). */
  readonly x: Axis;
  /** The value axis. */
  readonly y: Axis;
  /** Column naming the bars within a group (one colour each). */
  readonly series?: string;
}

const quantitative = (axis: Axis, zeroDefault: boolean) => ({
  field: axis.field,
  type: 'quantitative' as const,
  title: axis.title ?? axis.field,
  scale: axis.scale === 'log' ? { type: 'log' as const } : { zero: axis.zero ?? zeroDefault },
});

/** Rejects rows Vega would silently drop or misplace, naming the first offending row. */
function checkRows(rows: readonly Row[], fields: readonly string[], logFields: readonly string[]): void {
  rows.forEach((row, i) => {
    for (const field of fields) {
      if (!(field in row)) throw new Error(`chart row ${i} has no '${field}' column`);
    }
    for (const field of logFields) {
      const value = row[field];
      if (value !== null && !(typeof value === 'number' && value > 0)) throw new Error(`chart row ${i}: '${field}' is ${String(value)}, but a log axis needs positive numbers`);
    }
  });
}

async function render(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const base = (options: ChartOptions, rows: readonly Row[]) => ({
  $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
  ...(options.title === undefined ? {} : { title: options.title }),
  width: options.width ?? 480,
  height: options.height ?? 240,
  data: { values: rows.map((row) => ({ ...row })) },
  config: { font: 'sans-serif', legend: { labelLimit: 400, orient: 'bottom', direction: 'vertical' } },
});

/** Lines of y against a quantitative x, one per series. Null y values leave a gap. */
export async function lineChart(rows: readonly Row[], options: LineChartOptions): Promise<string> {
  const fields = [options.x.field, options.y.field, ...(options.series ? [options.series] : []), ...(options.detail ? [options.detail] : [])];
  checkRows(rows, fields, [options.x, options.y].filter((a) => a.scale === 'log').map((a) => a.field));
  return render({
    ...base(options, rows),
    mark: { type: 'line', point: options.points ?? true, tooltip: true },
    encoding: {
      x: quantitative(options.x, false),
      y: quantitative(options.y, false),
      ...(options.series ? { color: { field: options.series, type: 'nominal' as const, title: null } } : {}),
      ...(options.detail ? { detail: { field: options.detail, type: 'nominal' as const } } : {}),
    },
  } as TopLevelSpec);
}

/** Grouped bars: one group per x category, one bar per series within it. */
export async function barChart(rows: readonly Row[], options: BarChartOptions): Promise<string> {
  const fields = [options.x.field, options.y.field, ...(options.series ? [options.series] : [])];
  checkRows(rows, fields, options.y.scale === 'log' ? [options.y.field] : []);
  const categories = [...new Set(rows.map((r) => String(r[options.x.field])))];
  // On a log axis a bar grows from the power of ten below the smallest value, so none is empty.
  const values = rows.map((r) => r[options.y.field]).filter((v): v is number => typeof v === 'number');
  const logFloor = values.length ? 10 ** Math.floor(Math.log10(Math.min(...values) * 0.99)) : 1;
  return render({
    ...base(options, rows),
    mark: { type: 'bar', tooltip: true },
    encoding: {
      x: { field: options.x.field, type: 'nominal' as const, title: options.x.title ?? options.x.field, sort: categories, axis: { labelAngle: 0 } },
      // Side by side, never stacked (a stack on a log axis has no meaning).
      y: options.y.scale === 'log'
        ? { ...quantitative(options.y, true), stack: null, scale: { type: 'log' as const, domainMin: logFloor } }
        : { ...quantitative(options.y, true), stack: null },
      ...(options.series
        ? { xOffset: { field: options.series, type: 'nominal' as const, sort: [...new Set(rows.map((r) => String(r[options.series!])))] }, color: { field: options.series, type: 'nominal' as const, title: null, sort: [...new Set(rows.map((r) => String(r[options.series!])))] } }
        : {}),
    },
  } as TopLevelSpec);
}

export interface HeatmapOptions extends ChartOptions {
  /** One label per column (repeats allowed: a token can occur twice). */
  readonly xLabels: readonly string[];
  /** One label per row. */
  readonly yLabels: readonly string[];
  readonly xTitle?: string;
  readonly yTitle?: string;
  /** Legend title of the colour scale. Default 'value'. */
  readonly valueTitle?: string;
  /** Pixels per cell (width and height follow from it unless given). Default 24. */
  readonly cell?: number;
  /** The colour scale's range of values, e.g. [0, 1] for probabilities. Default: the data's. */
  readonly domain?: readonly [number, number];
}

/**
 * A matrix as coloured cells (values[row][column]): attention weights, confusion matrices.
 * Repeated labels stay separate cells (told apart by invisible zero-width spaces).
 */
export async function heatmap(values: ReadonlyArray<readonly number[]>, options: HeatmapOptions): Promise<string> {
  const rows = options.yLabels.length;
  const columns = options.xLabels.length;
  if (values.length !== rows || values.some((row) => row.length !== columns)) {
    throw new Error(`heatmap: values must be ${rows} rows of ${columns} (one per label), got ${values.length} rows of ${values.map((r) => r.length).join(', ')}`);
  }
  const cell = options.cell ?? 24;
  // Repeated labels are told apart by trailing zero-width spaces, which draw as nothing.
  const unique = (list: readonly string[]) => {
    const seen = new Map<string, number>();
    return list.map((label) => {
      const count = seen.get(label) ?? 0;
      seen.set(label, count + 1);
      return `${label}${'\u200b'.repeat(count)}`;
    });
  };
  const columns_ = unique(options.xLabels);
  const rows_ = unique(options.yLabels);
  const data = values.flatMap((row, y) => row.map((value, x) => ({ value, x, y, column: columns_[x]!, row: rows_[y]! })));
  return render({
    ...base({ ...options, width: options.width ?? Math.max(cell * columns, 40), height: options.height ?? Math.max(cell * rows, 40) }, data),
    mark: { type: 'rect' },
    encoding: {
      tooltip: [{ field: 'row', type: 'nominal' }, { field: 'column', type: 'nominal' }, { field: 'value', type: 'quantitative', format: '.3f' }],
      // Ordered by position through a numeric field: Vega-Lite turns a list of sort values into an
      // expression, which labels holding quotes would break.
      x: { field: 'column', type: 'nominal', sort: { field: 'x', op: 'min' }, title: options.xTitle ?? null, axis: { labelAngle: -45, orient: 'top' } },
      y: { field: 'row', type: 'nominal', sort: { field: 'y', op: 'min' }, title: options.yTitle ?? null },
      color: { field: 'value', type: 'quantitative', title: options.valueTitle ?? 'value', scale: { scheme: 'greys', ...(options.domain ? { domain: [...options.domain] } : {}) } },
    },
    config: { font: 'sans-serif', axis: { labelLimit: 200 }, legend: { orient: 'right' } },
  } as TopLevelSpec);
}

export interface SpectrogramOptions extends ChartOptions {
  /** values[frame][bin]: e.g. log-mel energies, frames `frameSeconds` apart. */
  readonly spectrogram: ReadonlyArray<ArrayLike<number>>;
  readonly frameSeconds: number;
  /** probabilities[step][label] under the spectrogram, steps `stepSeconds` apart (CTC posteriors). */
  readonly posteriors?: ReadonlyArray<ArrayLike<number>>;
  readonly stepSeconds?: number;
  /** The name of each posterior column, e.g. ['blank', 'a', 'b', ...]. */
  readonly labels?: readonly string[];
  /** Posterior columns whose peak stays below this are not drawn. Default 0.5. */
  readonly minPeak?: number;
  /** Words (or other spans) marked above the posteriors. */
  readonly spans?: ReadonlyArray<{ readonly text: string; readonly start: number; readonly end: number }>;
  /** Most time columns drawn: longer inputs are averaged down to it. Default 400. */
  readonly maxColumns?: number;
}

/**
 * A spectrogram over time (seconds) with, under it on the same time axis, a line per output
 * label of its probability: where a CTC model fires each label, and the blank between them.
 */
export async function spectrogram(options: SpectrogramOptions): Promise<string> {
  const frames = options.spectrogram.length;
  if (frames === 0) throw new Error('spectrogram: no frames');
  const bins = options.spectrogram[0]!.length;
  const group = Math.max(1, Math.ceil(frames / (options.maxColumns ?? 400)));
  const cells: Row[] = [];
  for (let start = 0; start < frames; start += group) {
    const end = Math.min(frames, start + group);
    for (let bin = 0; bin < bins; bin++) {
      let sum = 0;
      for (let f = start; f < end; f++) sum += options.spectrogram[f]![bin]!;
      cells.push({ t0: start * options.frameSeconds, t1: end * options.frameSeconds, b0: bin, b1: bin + 1, value: sum / (end - start) });
    }
  }
  const width = options.width ?? 720;
  const seconds = frames * options.frameSeconds;
  const time = { type: 'quantitative', title: 'seconds', scale: { domain: [0, seconds], nice: false } } as const;
  const panels: object[] = [{
    data: { values: cells },
    width,
    height: 160,
    mark: { type: 'rect' },
    encoding: {
      x: { field: 't0', ...time, title: null }, x2: { field: 't1' },
      y: { field: 'b0', type: 'quantitative', title: 'mel bin', scale: { domain: [0, bins], nice: false } }, y2: { field: 'b1' },
      color: { field: 'value', type: 'quantitative', title: 'log energy', scale: { scheme: 'viridis' }, legend: null },
    },
  }];
  if (options.posteriors && options.posteriors.length > 0) {
    const step = options.stepSeconds ?? options.frameSeconds;
    const labels = options.labels ?? [];
    const minPeak = options.minPeak ?? 0.5;
    const columns = options.posteriors[0]!.length;
    const shown = Array.from({ length: columns }, (_, c) => c).filter((c) => options.posteriors!.some((row) => row[c]! >= minPeak));
    const lines: Row[] = [];
    for (const c of shown) {
      options.posteriors.forEach((row, t) => lines.push({ time: (t + 0.5) * step, probability: row[c]!, label: labels[c] === ' ' ? '␣ (space)' : (labels[c] ?? String(c)) }));
    }
    const layers: object[] = [{
      mark: { type: 'line', interpolate: 'step-after', strokeWidth: 1.2 },
      encoding: {
        x: { field: 'time', ...time }, y: { field: 'probability', type: 'quantitative', scale: { domain: [0, 1] } },
        color: { field: 'label', type: 'nominal', title: 'label', scale: { scheme: 'category20' } },
      },
    }];
    if (options.spans && options.spans.length > 0) {
      layers.push({
        data: { values: options.spans.map((s) => ({ time: (s.start + s.end) / 2, text: s.text, probability: 1.04 })) },
        mark: { type: 'text', baseline: 'bottom', fontSize: 11 },
        encoding: { x: { field: 'time', ...time }, y: { field: 'probability', type: 'quantitative' }, text: { field: 'text' } },
      });
    }
    panels.push({ data: { values: lines }, width, height: 140, layer: layers });
  }
  return render({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(options.title === undefined ? {} : { title: options.title }),
    vconcat: panels,
    config: { font: 'sans-serif', legend: { orient: 'right', labelLimit: 120 } },
  } as TopLevelSpec);
}
