import { describe, expect, it } from 'vitest';
import { barChart, heatmap, htmlReport, lineChart, spectrogram } from '../src/index.js';

const count = (text: string, pattern: RegExp) => (text.match(pattern) ?? []).length;

describe('lineChart', () => {
  const rows = [
    { step: 1, loss: 0.9, split: 'training' }, { step: 2, loss: 0.5, split: 'training' }, { step: 3, loss: 0.3, split: 'training' },
    { step: 2, loss: 0.6, split: 'validation' }, { step: 3, loss: 0.45, split: 'validation' },
  ];

  it('draws one line per series with its title, axis titles and legend', async () => {
    const svg = await lineChart(rows, { title: 'Loss <by step>', x: { field: 'step' }, y: { field: 'loss', title: 'cross-entropy' }, series: 'split' });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('Loss &lt;by step&gt;');
    expect(svg).toContain('cross-entropy');
    expect(svg).toContain('>validation<');
    // One line path per series, one point per row.
    expect(count(svg, /<path[^>]*aria-roledescription="line mark"/g)).toBe(2);
    expect(count(svg, /aria-roledescription="point"/g)).toBe(rows.length);
  });

  it('places higher values higher on the page', async () => {
    const svg = await lineChart([{ x: 0, y: 0 }, { x: 1, y: 10 }], { x: { field: 'x' }, y: { field: 'y' }, points: true });
    const ys = [...svg.matchAll(/aria-roledescription="point"[^>]*transform="translate\(([\d.]+),([\d.]+)\)"/g)].map((m) => Number(m[2]));
    expect(ys).toHaveLength(2);
    expect(ys[1]!).toBeLessThan(ys[0]!);
  });

  it('refuses rows that would vanish from a log axis, or lack a column', async () => {
    await expect(lineChart([{ x: 1, y: 0 }], { x: { field: 'x' }, y: { field: 'y', scale: 'log' } })).rejects.toThrow("chart row 0: 'y' is 0, but a log axis needs positive numbers");
    await expect(lineChart([{ x: 1 }], { x: { field: 'x' }, y: { field: 'y' } })).rejects.toThrow("chart row 0 has no 'y' column");
  });
});

describe('barChart', () => {
  it('draws one bar per row, grouped by category, on a log axis', async () => {
    const rows = [
      { workload: 'S', who: 'ours', rate: 1000 }, { workload: 'S', who: 'torch', rate: 40000 },
      { workload: 'L', who: 'ours', rate: 100 }, { workload: 'L', who: 'torch', rate: 9000 },
    ];
    const svg = await barChart(rows, { x: { field: 'workload' }, y: { field: 'rate', title: 'tokens/s', scale: 'log' }, series: 'who' });
    const heights = [...svg.matchAll(/aria-roledescription="bar" d="M[\d.]+,[\d.]+h[\d.]+v([\d.]+)/g)].map((m) => Number(m[1]));
    expect(heights).toHaveLength(4);
    expect(Math.min(...heights)).toBeGreaterThan(10);
    // Ordered as the values: torch's bars tower over ours.
    expect(heights[1]!).toBeGreaterThan(heights[0]!);
    expect(heights[2]!).toBeLessThan(heights[0]!);
    expect(svg).toContain('tokens/s');
  });
});

describe('heatmap', () => {
  it('draws one cell per value, darker for larger values, keeping repeated labels apart', async () => {
    // Quotes in labels once broke Vega-Lite's sort expression ('Unrecognized signal name: "if"').
    const svg = await heatmap([[0.9, 0.1, 0, 0, 0], [0.2, 0.3, 0.5, 0, 0]], { xLabels: ['the', 'the', '"', 'if', '"'], yLabels: ['le', 'fin'], domain: [0, 1], valueTitle: 'attention' });
    const cells = [...svg.matchAll(/aria-roledescription="rect mark"[^>]*fill="rgb\((\d+)/g)].map((m) => Number(m[1]));
    expect(cells).toHaveLength(10);
    // greys: 0.9 is near black, 0 light.
    expect(cells[0]!).toBeLessThan(cells[1]!);
    expect(cells[1]!).toBeLessThan(cells[2]!);
    expect(count(svg, />the\u200b?</g)).toBe(2);
    expect(count(svg, />(&quot;|")\u200b?</g)).toBe(2);
    expect(svg).toContain('attention');
    await expect(heatmap([[1]], { xLabels: ['a', 'b'], yLabels: ['c'] })).rejects.toThrow('values must be 1 rows of 2');
  });
});

describe('htmlReport', () => {
  it('escapes text and cells, formats numbers, and inlines SVG', async () => {
    const svg = await lineChart([{ x: 1, y: 1 }], { x: { field: 'x' }, y: { field: 'y' } });
    const html = htmlReport('Run <1>', [
      { heading: 'Summary', blocks: [{ kind: 'text', text: 'a & b' }, { kind: 'table', head: ['metric', 'value'], rows: [['accuracy', 0.891234], ['steps', 21090], ['best', null]] }] },
      { heading: 'Curves', blocks: [{ kind: 'svg', svg, caption: 'loss' }] },
    ]);
    expect(html).toContain('<title>Run &lt;1&gt;</title>');
    expect(html).toContain('<p>a &amp; b</p>');
    expect(html).toContain('<td>0.8912</td>');
    expect(html).toContain('<td>21,090</td>');
    expect(html).toContain('<td>–</td>');
    expect(html).toContain('<figure><svg');
    expect(html).not.toContain('<script');
    expect(() => htmlReport('x', [{ heading: 'h', blocks: [{ kind: 'svg', svg: '<script>' }] }])).toThrow('an svg block must hold an <svg> element');
  });
});

describe('spectrogram', () => {
  it('draws the spectrogram on a time axis and the posterior lines of labels that fire', async () => {
    const frames = Array.from({ length: 50 }, (_, t) => Array.from({ length: 8 }, (_, b) => t + b));
    const posteriors = Array.from({ length: 10 }, (_, t) => (t === 4 ? [0.1, 0.85, 0.05] : [0.9, 0.05, 0.05]));
    const svg = await spectrogram({ spectrogram: frames, frameSeconds: 0.01, posteriors, stepSeconds: 0.05, labels: ['blank', 'a', 'never'], spans: [{ text: 'a', start: 0.2, end: 0.25 }] });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('mel bin');
    expect(svg).toContain('blank');
    expect(svg).not.toContain('never'); // peaks below 0.5 are left out
    expect((svg.match(/<path/g) ?? []).length).toBeGreaterThan(50 * 8 - 1);
  });

  it('averages long inputs down to maxColumns', async () => {
    const frames = Array.from({ length: 1000 }, () => [1, 2]);
    const small = await spectrogram({ spectrogram: frames, frameSeconds: 0.01, maxColumns: 100 });
    expect((small.match(/<path/g) ?? []).length).toBeLessThan(100 * 2 + 20);
    await expect(spectrogram({ spectrogram: [], frameSeconds: 0.01 })).rejects.toThrow('no frames');
  });
});
