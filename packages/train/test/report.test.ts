import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readMetrics, writeRunReport } from '../src/index.js';

const lines = [
  { kind: 'step', step: 50, epoch: 0, loss: 0.69, accuracy: 0.5, tokensPerSecond: 3000, lr: 0.002 },
  { kind: 'step', step: 60, epoch: 0, skipped: 'non-finite loss or gradient', loss: 'NaN' },
  { kind: 'step', step: 100, epoch: 0, loss: 0.5, accuracy: 0.75, tokensPerSecond: 3100, lr: 0.002 },
  { kind: 'epoch', step: 100, epoch: 0, train: { loss: 0.5, accuracy: 0.75 }, validation: { loss: 0.4, accuracy: 0.82, bleu: 12.5 }, lr: 0.002, improved: true },
  { kind: 'step', step: 150, epoch: 1, loss: 0.35, accuracy: 0.86, tokensPerSecond: 3200, lr: 0.001 },
  { kind: 'epoch', step: 200, epoch: 1, train: { loss: 0.33, accuracy: 0.87 }, validation: { loss: 0.38, accuracy: 0.85, bleu: 15 }, lr: 0.001, improved: true },
];

function runFolder(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'report-'));
  writeFileSync(join(dir, 'metrics.jsonl'), text);
  return dir;
}

describe('writeRunReport', () => {
  it('charts every metric, the learning rate and throughput, and tables the epochs', async () => {
    const dir = runFolder(lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const report = await writeRunReport(dir, { title: 'IMDB run', settings: { hidden: 64, model: { cell: 'lstm' } } });
    expect(Object.keys(report.charts).sort()).toEqual(['accuracy', 'bleu', 'loss', 'lr', 'throughput']);
    const loss = readFileSync(report.charts.loss!, 'utf8');
    expect(loss).toContain('>validation, at the end of each epoch<');
    // Loss: 3 logged steps (the skipped one left out) + 2 epoch means + 2 validation points.
    expect((loss.match(/aria-roledescription="point"/g) ?? []).length).toBe(7);
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    expect(html).toBe(report.html);
    expect(html).toContain('<h1>IMDB run</h1>');
    expect(html).toContain('<th>validation bleu</th>');
    expect(html).toContain('<td>15</td>');
    expect(html).toContain('{&quot;cell&quot;:&quot;lstm&quot;}');
    expect((html.match(/<figure><svg/g) ?? []).length).toBe(5);
  });

  it('reads past a last line cut short by a crash, but not a broken line inside the file', () => {
    const good = lines.slice(0, 4).map((l) => JSON.stringify(l)).join('\n');
    const metrics = readMetrics(join(runFolder(`${good}\n{"kind":"step","st`), 'metrics.jsonl'));
    expect(metrics.steps).toHaveLength(2);
    expect(metrics.epochs).toHaveLength(1);
    const broken = join(runFolder(`${good}\n{oops\n${good}\n`), 'metrics.jsonl');
    expect(() => readMetrics(broken)).toThrow(/metrics\.jsonl:5: not a JSON line/);
  });

  it('says so when a run has logged nothing yet', async () => {
    const report = await writeRunReport(runFolder(''), { title: 'empty' });
    expect(report.charts).toEqual({});
    expect(report.html).toContain('No metrics logged yet.');
  });
});
