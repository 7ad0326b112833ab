/**
 * The output alphabet of a CTC model: index 0 is the blank, then one label per character (or per
 * word, for word-level models). Built from the training transcripts, stored in config.json.
 */
import { InputError } from '@recurrent/train';

export const BLANK = 0;
export type LabelUnit = 'characters' | 'words';
export const LABEL_UNITS: readonly LabelUnit[] = ['characters', 'words'];

/** Lower-cases and collapses whitespace: what transcripts are compared and trained as. */
export function normaliseTranscript(text: string): string {
  return text.normalize('NFC').toLowerCase().replace(/\s+/g, ' ').trim();
}

export class LabelSet {
  /** labels[i - 1] is the text of output i (0 is the blank). */
  readonly labels: readonly string[];
  readonly unit: LabelUnit;
  private readonly index: Map<string, number>;

  constructor(labels: readonly string[], unit: LabelUnit) {
    this.labels = labels;
    this.unit = unit;
    this.index = new Map(labels.map((label, i) => [label, i + 1]));
    if (this.index.size !== labels.length) throw new Error('LabelSet: labels must be distinct');
  }

  /** Every character (or word) of the transcripts, sorted. */
  static build(transcripts: readonly string[], unit: LabelUnit): LabelSet {
    const seen = new Set<string>();
    for (const text of transcripts) for (const label of split(text, unit)) seen.add(label);
    return new LabelSet([...seen].sort(), unit);
  }

  /** Outputs including the blank. */
  get size(): number {
    return this.labels.length + 1;
  }

  /** The transcript as label indices; `where` names it in the error for a label outside the set. */
  encode(text: string, where: string): number[] {
    return split(text, this.unit).map((label) => {
      const i = this.index.get(label);
      if (i === undefined) {
        const shown = this.unit === 'characters' ? this.labels.map((l) => (l === ' ' ? '␣' : l)).join('') : `${this.labels.length} words`;
        throw new InputError(`${where}: ${JSON.stringify(label)} is not in the model's label set (${shown}); remove it from the transcript, or train on transcripts that use it`);
      }
      return i;
    });
  }

  /** Whether the transcript uses only known labels. */
  covers(text: string): boolean {
    return split(text, this.unit).every((label) => this.index.has(label));
  }

  decode(indices: readonly number[]): string {
    return indices.map((i) => this.labels[i - 1] ?? '').join(this.unit === 'words' ? ' ' : '');
  }

  text(index: number): string {
    return index === BLANK ? '' : (this.labels[index - 1] ?? '');
  }
}

export function split(text: string, unit: LabelUnit): string[] {
  const normal = normaliseTranscript(text);
  if (normal.length === 0) return [];
  return unit === 'words' ? normal.split(' ') : [...normal];
}
