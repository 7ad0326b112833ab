export { loadCmudict, type CmudictOptions, type PronouncedWord } from './cmudict.js';
export { alignEnglishFrench, ENGLISH_FRENCH_TEST_SHARE, ENGLISH_FRENCH_VALIDATION_SHARE, loadEnglishFrench, type EnglishFrenchOptions } from './english-french.js';
export { loadPairsFile, type PairsData, type PairsFileOptions } from './pairs.js';
export { seededSplit, type Split } from './split.js';
export type { TextPair } from './text.js';
