export interface TextPair {
  readonly source: string;
  readonly target: string;
}

/** Runs of whitespace (line breaks, tabs, non-breaking spaces) to one space, trimmed. */
export const normaliseSpaces = (text: string): string => text.replace(/\s+/g, ' ').trim();

/** Words of a normalised text: its space-separated tokens. */
export const countWords = (text: string): number => (text === '' ? 0 : text.split(' ').length);
