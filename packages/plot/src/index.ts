export { barChart, heatmap, lineChart, spectrogram, type SpectrogramOptions, type Axis, type BarChartOptions, type ChartOptions, type HeatmapOptions, type LineChartOptions, type Row } from './charts.js';
export { escapeHtml, formatCell, htmlReport, type Block, type Cell, type Section } from './html.js';
