/**
 * Reusable host buffers for the large per-call arrays of a training step (column panels of the
 * weights, the recurrent layers' traces, their backward's gate gradients). Each was allocated
 * afresh at every call, and every 64 MB of new ArrayBuffers makes V8 start a major collection of
 * the whole heap: in a G2P training these came to several a second (bench/docs/history.md, round seven).
 *
 * A buffer is borrowed, written in full by the borrower (its contents are whatever its last user
 * left), and given back once nothing reads it any more: after the calls that read it settle.
 * The pool keeps at most POOL_BYTES, dropping the least recently returned lengths first.
 */
const POOL_BYTES = 128 * 2 ** 20;
const pool = new Map<number, Float32Array[]>();
let pooledBytes = 0;

/** A Float32Array of `length` values, from the pool when it has one: NOT zeroed. */
export function borrowBuffer(length: number): Float32Array {
  const buffer = pool.get(length)?.pop();
  if (!buffer) return new Float32Array(length);
  pooledBytes -= buffer.byteLength;
  return buffer;
}

/** Gives buffers back to the pool; the caller must not touch them afterwards. */
export function returnBuffers(...buffers: ReadonlyArray<Float32Array | undefined>): void {
  for (const buffer of buffers) {
    if (!buffer || buffer.byteLength > POOL_BYTES / 8 || buffer.byteOffset !== 0 || buffer.length !== buffer.buffer.byteLength / 4) continue;
    const free = pool.get(buffer.length) ?? [];
    if (free.includes(buffer)) continue;
    pool.delete(buffer.length); // re-inserted last: the Map's order is the order of use
    pool.set(buffer.length, free);
    free.push(buffer);
    pooledBytes += buffer.byteLength;
  }
  for (const [length, free] of pool) {
    if (pooledBytes <= POOL_BYTES) break;
    while (free.length > 0 && pooledBytes > POOL_BYTES) pooledBytes -= free.pop()!.byteLength;
    if (free.length === 0) pool.delete(length);
  }
}

/** What the pool holds now (for tests). */
export function pooledBufferBytes(): number {
  return pooledBytes;
}
