// Deep imports of natural's tokenizers (see tokenize.ts for why not the package index).
declare module 'natural/lib/natural/tokenizers/regexp_tokenizer.js' {
  export class WordTokenizer {
    tokenize(text: string): string[];
  }
  export class WordPunctTokenizer {
    tokenize(text: string): string[];
  }
}
declare module 'natural/lib/natural/tokenizers/treebank_word_tokenizer.js' {
  class TreebankWordTokenizer {
    tokenize(text: string): string[];
  }
  export = TreebankWordTokenizer;
}
