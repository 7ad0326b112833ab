/** Attention heatmaps: which source tokens each output token read. */
import { SPACE_MARK } from '@recurrent/text';
import type { Decoded } from './decode.js';

/** A token as shown on an axis: the space mark of reversible tokens dropped, blanks made visible. */
const shown = (token: string) => (token.startsWith(SPACE_MARK) ? token.slice(1) : token).replace(/^ $/, '␣') || '␣';

/** An SVG heatmap: source tokens across, output tokens down, attention weight as darkness. */
export async function attentionHeatmap(source: readonly string[], output: readonly string[], decoded: Decoded, title: string): Promise<string> {
  if (decoded.attention.length === 0) throw new Error('the model has no attention to plot (trained with --attention none)');
  // Loaded when a heatmap is asked for: Vega-Lite takes about half a second to load.
  const { heatmap } = await import('@recurrent/plot');
  return heatmap(decoded.attention, {
    xLabels: source.map(shown), yLabels: output.map(shown), xTitle: 'source', yTitle: 'output', valueTitle: 'attention', domain: [0, 1], title,
  });
}
