/**
 * Progress of an epoch on stderr: a cli-progress bar with loss, accuracy, tokens/s and ETA on a
 * terminal; in a pipe or a log, one plain line every tenth of the epoch instead of redraws.
 */
import cliProgress from 'cli-progress';

export interface ProgressMetrics {
  readonly loss: number;
  readonly accuracy?: number;
  readonly tokensPerSecond: number;
}

const format = (m: ProgressMetrics) =>
  `loss ${m.loss.toFixed(4)}${m.accuracy === undefined ? '' : `  acc ${(100 * m.accuracy).toFixed(1)}%`}  ${Math.round(m.tokensPerSecond)} tok/s`;

export class Progress {
  private readonly bar: cliProgress.SingleBar | undefined;
  private readonly plain: boolean;
  private lastPrinted = -1;

  constructor(private readonly label: string, private readonly total: number, enabled: boolean) {
    this.plain = enabled && !process.stderr.isTTY;
    this.bar = enabled && process.stderr.isTTY
      ? new cliProgress.SingleBar({ format: `${label} [{bar}] {value}/{total}  {metrics}  eta {eta_formatted}`, stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic)
      : undefined;
  }

  start(done: number): void {
    this.bar?.start(this.total, done, { metrics: '' });
  }

  update(done: number, metrics: ProgressMetrics): void {
    this.bar?.update(done, { metrics: format(metrics) });
    const tenth = Math.floor((10 * done) / this.total);
    if (this.plain && tenth > this.lastPrinted) {
      this.lastPrinted = tenth;
      process.stderr.write(`${this.label} ${done}/${this.total}  ${format(metrics)}\n`);
    }
  }

  stop(): void {
    this.bar?.stop();
  }
}
