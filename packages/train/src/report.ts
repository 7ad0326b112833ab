/**
 * A training run's report from its metrics.jsonl: one SVG chart per metric (the training running
 * mean logged every few steps, the training mean of each epoch, and validation at each epoch's
 * end) in `<run>/plots/`, and `<run>/report.html` with the charts, an epoch table and the run's
 * settings. Works for any metric the task reports (loss, accuracy, BLEU, error rates...).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '@recurrent/core';
// Vega-Lite takes about half a second to load: only a run that draws its report loads it.
import type { Block, Cell, Row, Section } from '@recurrent/plot';

type Metrics = Readonly<Record<string, number>>;

interface StepLine {
  readonly kind: 'step';
  readonly step: number;
  readonly epoch: number;
  readonly lr?: number;
  readonly skipped?: string;
  readonly [metric: string]: unknown;
}

interface EpochLine {
  readonly kind: 'epoch';
  readonly step: number;
  readonly epoch: number;
  readonly train: Metrics;
  readonly validation?: Metrics;
  readonly lr?: number;
  readonly improved?: boolean;
}

export interface RunReportOptions {
  readonly title: string;
  /** Settings shown in a table (model, data, optimiser...). */
  readonly settings?: Readonly<Record<string, unknown>>;
  /** More sections after the curves, made at each report (e.g. attention maps of the model so far). */
  readonly sections?: () => Promise<readonly Section[]>;
}

export interface RunReport {
  readonly html: string;
  /** Metric name -> path of its SVG chart. */
  readonly charts: Readonly<Record<string, string>>;
}

const NOT_METRICS = new Set(['kind', 'step', 'epoch', 'lr', 'skipped', 'tokensPerSecond']);

/** Reads metrics.jsonl, ignoring a last line cut short by a crash mid-write. */
export function readMetrics(file: string): { entries: Array<{ line: StepLine | EpochLine; text: string }>; steps: StepLine[]; epochs: EpochLine[] } {
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  const entries: Array<{ line: StepLine | EpochLine; text: string }> = [];
  lines.forEach((text, i) => {
    try {
      entries.push({ line: JSON.parse(text) as StepLine | EpochLine, text });
    } catch (error) {
      if (i < lines.length - 1) throw new Error(`${file}:${i + 1}: not a JSON line (${(error as Error).message})`);
    }
  });
  const parsed = entries.map((e) => e.line);
  return {
    entries,
    steps: parsed.filter((l): l is StepLine => l.kind === 'step' && l.skipped === undefined),
    epochs: parsed.filter((l): l is EpochLine => l.kind === 'epoch'),
  };
}

const finite = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

function metricNames(steps: readonly StepLine[], epochs: readonly EpochLine[]): string[] {
  const names = new Set<string>();
  for (const line of steps) for (const [key, value] of Object.entries(line)) if (!NOT_METRICS.has(key) && finite(value)) names.add(key);
  for (const line of epochs) for (const key of [...Object.keys(line.train), ...Object.keys(line.validation ?? {})]) names.add(key);
  return [...names];
}

function curveRows(metric: string, steps: readonly StepLine[], epochs: readonly EpochLine[]): Row[] {
  const rows: Row[] = [];
  for (const line of steps) if (finite(line[metric])) rows.push({ step: line.step, value: line[metric] as number, series: 'training, mean of the epoch so far', epoch: line.epoch });
  for (const line of epochs) if (finite(line.train[metric])) rows.push({ step: line.step, value: line.train[metric]!, series: 'training, whole epoch', epoch: -1 });
  for (const line of epochs) if (finite(line.validation?.[metric])) rows.push({ step: line.step, value: line.validation![metric]!, series: 'validation, at the end of each epoch', epoch: -1 });
  return rows;
}

const settingText = (value: unknown) => (typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value));

/** Writes `<runDir>/plots/<metric>.svg` and `<runDir>/report.html` (atomically) and returns them. */
export async function writeRunReport(runDir: string, options: RunReportOptions): Promise<RunReport> {
  const { htmlReport, lineChart } = await import('@recurrent/plot');
  const metricsFile = join(runDir, 'metrics.jsonl');
  if (!existsSync(metricsFile)) throw new Error(`${runDir}: no metrics.jsonl to report on`);
  const { steps, epochs } = readMetrics(metricsFile);
  const plots = join(runDir, 'plots');
  mkdirSync(plots, { recursive: true });

  const charts: Record<string, string> = {};
  const figures: Block[] = [];
  const chart = async (name: string, svg: Promise<string>, caption: string) => {
    const file = join(plots, `${name}.svg`);
    const text = await svg;
    writeFileAtomic(file, [text]);
    charts[name] = file;
    figures.push({ kind: 'svg', svg: text, caption });
  };
  const names = metricNames(steps, epochs);
  for (const metric of names) {
    const rows = curveRows(metric, steps, epochs);
    if (rows.length > 0) await chart(metric, lineChart(rows, { title: metric, x: { field: 'step', title: 'training step' }, y: { field: 'value', title: metric }, series: 'series', detail: 'epoch' }), `${metric} by training step`);
  }
  const lrs = steps.filter((l) => finite(l.lr)).map((l) => ({ step: l.step, lr: l.lr! }));
  if (new Set(lrs.map((r) => r.lr)).size > 1) await chart('lr', lineChart(lrs, { title: 'learning rate', x: { field: 'step', title: 'training step' }, y: { field: 'lr', title: 'learning rate' }, points: false }), 'learning rate by training step');
  const speed = steps.filter((l) => finite(l.tokensPerSecond)).map((l) => ({ step: l.step, tokensPerSecond: l.tokensPerSecond as number }));
  if (speed.length > 0) await chart('throughput', lineChart(speed, { title: 'throughput', x: { field: 'step', title: 'training step' }, y: { field: 'tokensPerSecond', title: 'tokens/s (mean of the epoch so far)' }, points: false }), 'training throughput');

  const trainNames = names.filter((n) => epochs.some((e) => n in e.train));
  const validationNames = names.filter((n) => epochs.some((e) => e.validation && n in e.validation));
  const epochRows: Cell[][] = epochs.map((e) => [
    e.epoch + 1, e.step, ...trainNames.map((n) => e.train[n]), ...validationNames.map((n) => e.validation?.[n]), e.lr, e.improved ? 'yes' : '',
  ]);
  const last = steps.at(-1);
  const summary: Cell[][] = [
    ['steps', Math.max(last?.step ?? 0, epochs.at(-1)?.step ?? 0)],
    ['epochs completed', epochs.length],
    ...validationNames.map((n): Cell[] => [`last validation ${n}`, epochs.at(-1)?.validation?.[n]]),
  ];
  const sections: Section[] = [
    { heading: 'Summary', blocks: [{ kind: 'table', head: ['', 'value'], rows: summary }] },
    { heading: 'Curves', blocks: figures.length ? figures : [{ kind: 'text', text: 'No metrics logged yet.' }] },
    {
      heading: 'Epochs',
      blocks: [{
        kind: 'table',
        head: ['epoch', 'step', ...trainNames.map((n) => `training ${n}`), ...validationNames.map((n) => `validation ${n}`), 'lr', 'best so far'],
        rows: epochRows,
      }],
    },
    ...(options.sections ? await options.sections() : []),
    ...(options.settings
      ? [{ heading: 'Settings', blocks: [{ kind: 'table' as const, head: ['setting', 'value'], rows: Object.entries(options.settings).map(([k, v]): Cell[] => [k, settingText(v)]) }] }]
      : []),
  ];
  const html = htmlReport(options.title, sections);
  writeFileAtomic(join(runDir, 'report.html'), [html]);
  return { html, charts };
}
