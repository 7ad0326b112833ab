// The two corpora ship as ESM without types; these are the functions used here.
declare module 'nlp-corpus' {
  /** All 100,000 English sentences of builds/doc-0.json .. doc-99.json, in file order. */
  export function all(): string[];
}
declare module 'fr-corpus' {
  /** All 100,000 [French translation, md5 key of the English sentence] pairs, in file order. */
  export function all(): Array<[string, string]>;
}
