export { DataError, loadClassificationData, loadClassificationFile, loadClassificationFolder, readTextFile, type LabelledData } from './files.js';
export { IMDB_LABELS, loadImdb, type ClassificationSplit, type ImdbOptions, type LabelledText } from './imdb.js';
