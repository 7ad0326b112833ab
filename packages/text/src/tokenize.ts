/**
 * Tokenisers: natural's word tokenisers for text, characters, or space-separated symbols.
 *
 * natural is imported file by file: its package index also loads database clients and dotenv,
 * which reads the user's .env into process.env and prints a banner to stdout (that would corrupt
 * `--json` output); the tokenizer files need none of it.
 */
import TreebankWordTokenizer from 'natural/lib/natural/tokenizers/treebank_word_tokenizer.js';
import { WordPunctTokenizer, WordTokenizer } from 'natural/lib/natural/tokenizers/regexp_tokenizer.js';

export type TokenizerKind = 'words' | 'treebank' | 'wordpunct' | 'reversible' | 'characters' | 'symbols';
export const TOKENIZER_KINDS: readonly TokenizerKind[] = ['words', 'treebank', 'wordpunct', 'reversible', 'characters', 'symbols'];

/** Marks a token that follows a space in 'reversible' tokens (SentencePiece's convention). */
export const SPACE_MARK = '\u2581';

export interface TokenizerOptions {
  /**
   * 'words': runs of letters and digits (natural's WordTokenizer; drops punctuation);
   * 'treebank': Penn Treebank rules, punctuation and clitics as tokens ("isn't" -> "is", "n't");
   * 'wordpunct': letters/digits and punctuation runs as separate tokens;
   * 'reversible': wordpunct's tokens with a leading SPACE_MARK on each one that followed a space,
   *   so `detokenize` gives the text back exactly (after whitespace is collapsed): for generated
   *   text, such as a translation's output;
   * 'characters': every character (after normalisation), spaces included;
   * 'symbols': split on whitespace (phoneme strings, pre-tokenised text). Default 'treebank'.
   */
  readonly kind?: TokenizerKind;
  /** Lower-case first. Default true. */
  readonly lowercase?: boolean;
  /** Replace HTML line breaks (`<br />`, as in IMDB reviews) and other tags by spaces. Default true. */
  readonly stripHtml?: boolean;
}

export type Tokenizer = (text: string) => string[];

const HTML_TAG = /<[^>]{0,40}>/g;

/** Builds a tokenizer function; the same options always give the same tokens. */
export function createTokenizer(options: TokenizerOptions = {}): Tokenizer {
  const kind = options.kind ?? 'treebank';
  const lowercase = options.lowercase ?? true;
  const stripHtml = options.stripHtml ?? true;
  const normalise = (text: string) => {
    let out = stripHtml ? text.replace(HTML_TAG, ' ') : text;
    if (lowercase) out = out.toLowerCase();
    return out;
  };
  switch (kind) {
    case 'words': {
      const tokenizer = new WordTokenizer();
      return (text) => tokenizer.tokenize(normalise(text));
    }
    case 'treebank': {
      const tokenizer = new TreebankWordTokenizer();
      return (text) => tokenizer.tokenize(normalise(text).replace(/\s+/g, ' ')).filter((t) => t.length > 0);
    }
    case 'wordpunct': {
      const tokenizer = new WordPunctTokenizer();
      return (text) => tokenizer.tokenize(normalise(text));
    }
    case 'reversible': {
      const tokenizer = new WordPunctTokenizer();
      return (text) =>
        normalise(text).replaceAll(SPACE_MARK, ' ').split(/\s+/).filter((chunk) => chunk.length > 0)
          .flatMap((chunk, i) => tokenizer.tokenize(chunk).map((token, j) => (j === 0 && i > 0 ? `${SPACE_MARK}${token}` : token)));
    }
    case 'characters':
      return (text) => [...normalise(text).replace(/\s+/g, ' ').trim()];
    case 'symbols':
      return (text) => normalise(text).split(/\s+/).filter((t) => t.length > 0);
    default:
      throw new Error(`unknown tokenizer kind ${JSON.stringify(kind)}; expected one of ${TOKENIZER_KINDS.join(', ')}`);
  }
}

/**
 * Tokens back to text: 'reversible' tokens exactly, characters joined, everything else joined
 * with spaces (natural's word tokens keep no record of where the spaces were).
 */
export function detokenize(tokens: readonly string[], kind: TokenizerKind = 'treebank'): string {
  if (kind === 'reversible') return tokens.join('').replaceAll(SPACE_MARK, ' ').trim();
  if (kind === 'characters') return tokens.join('');
  return tokens.join(' ');
}
