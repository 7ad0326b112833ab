/**
 * A self-contained HTML page (inline SVG and CSS, no scripts, no network) from headed sections of
 * text, tables and charts: what a run report or a benchmark report needs.
 */

export type Cell = string | number | boolean | null | undefined;

export type Block =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'table'; readonly head: readonly string[]; readonly rows: readonly (readonly Cell[])[] }
  | { readonly kind: 'svg'; readonly svg: string; readonly caption?: string };

export interface Section {
  readonly heading: string;
  readonly blocks: readonly Block[];
}

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** Numbers to at most 4 significant digits (integers whole), null/undefined as a dash. */
export function formatCell(cell: Cell): string {
  if (cell === null || cell === undefined) return '–';
  if (typeof cell === 'number') {
    if (Number.isInteger(cell)) return cell.toLocaleString('en-US');
    return Number.isFinite(cell) ? Number(cell.toPrecision(4)).toString() : String(cell);
  }
  return String(cell);
}

function renderBlock(block: Block): string {
  switch (block.kind) {
    case 'text':
      return `<p>${escapeHtml(block.text)}</p>`;
    case 'table': {
      const head = block.head.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
      const rows = block.rows.map((row) => `<tr>${row.map((c) => `<td>${escapeHtml(formatCell(c))}</td>`).join('')}</tr>`).join('\n');
      return `<table><thead><tr>${head}</tr></thead><tbody>\n${rows}\n</tbody></table>`;
    }
    case 'svg':
      if (!block.svg.trimStart().startsWith('<svg')) throw new Error('an svg block must hold an <svg> element');
      return `<figure>${block.svg}${block.caption ? `<figcaption>${escapeHtml(block.caption)}</figcaption>` : ''}</figure>`;
  }
}

export function htmlReport(title: string, sections: readonly Section[]): string {
  const body = sections.map((s) => `<section><h2>${escapeHtml(s.heading)}</h2>\n${s.blocks.map(renderBlock).join('\n')}</section>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>
body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #ccc;padding:.25rem .6rem;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}figure{margin:1rem 0}figcaption{color:#666;font-size:.9rem}
</style></head>
<body><h1>${escapeHtml(title)}</h1>
${body}
</body></html>
`;
}
