/**
 * Bad input that the user can fix (a broken, unsupported or missing audio file). The message is
 * one line: the file, what is wrong with it, and what to do about it. Bad arguments from code
 * (a negative frame length, say) are `RangeError`s instead.
 */
export class AudioError extends Error {
  override name = 'AudioError';
}
