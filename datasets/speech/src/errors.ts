/**
 * Bad input the user can fix: a transcript file that cannot be read, or a dataset folder that
 * cannot be used. The message is one line that names the file (and line) and says what to do.
 * Bad arguments from code throw RangeErrors instead.
 */
export class SpeechDataError extends Error {
  override name = 'SpeechDataError';
}
