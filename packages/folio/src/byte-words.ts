/**
 * A byte array read as 32-bit and 64-bit words, for checks that test many frames' one-byte
 * fields at once (eight free frames' states in one compare).
 *
 * Making a view on an ArrayBuffer is a call into V8's runtime, and an explorer's machines
 * take their per-frame arrays from a recycler, so the next machine's array lies at the same
 * place of the same buffer as the last one's: the views of the last few arrays asked for are
 * kept and given back while they cover the same bytes. A kept view keeps its buffer
 * reachable until a later array displaces it.
 */
export interface ByteWords {
  /** Four bytes an element; null where the array does not start on a 4-byte boundary. */
  readonly words: Uint32Array | null;
  /** Eight bytes an element; null where the array does not start on an 8-byte boundary. */
  readonly wide: Float64Array | null;
}

interface Kept extends ByteWords {
  readonly buffer: ArrayBufferLike;
  readonly byteOffset: number;
  readonly length: number;
}

/** Arrays whose views are kept: a walk reads a few per machine (states, LRU marks). */
const KEPT = 4;
const kept: Kept[] = [];
let nextSlot = 0;

/**
 * The word views of `bytes` (its whole words; the bytes after the last whole word are the
 * caller's to read one by one). Nothing may write through them.
 */
export function byteWords(bytes: Uint8Array): ByteWords {
  const { buffer, byteOffset, length } = bytes;
  for (let i = 0; i < kept.length; i++) {
    const k = kept[i]!;
    if (k.buffer === buffer && k.byteOffset === byteOffset && k.length === length) return k;
  }
  const views: Kept = {
    buffer,
    byteOffset,
    length,
    words: (byteOffset & 3) === 0 ? new Uint32Array(buffer, byteOffset, length >>> 2) : null,
    wide: (byteOffset & 7) === 0 ? new Float64Array(buffer, byteOffset, length >>> 3) : null,
  };
  kept[nextSlot] = views;
  nextSlot = (nextSlot + 1) % KEPT;
  return views;
}
