import { type Memmap, takeMachineBuffer, WRITE_CHUNK_SHIFT } from '../memmap.js';

/**
 * What the memory-map walk (`nodeLooksSound`) found in a chunk of `1 << WRITE_CHUNK_SHIFT`
 * frames that holds whole blocks only, for the incremental pass to take instead of walking
 * the chunk again while no writer stamps it. Per chunk, `CHUNK_SUMMARY_WORDS` words:
 * - `AT`: the write epoch that began with the pass that found the chunk so (0: no
 *   summary); a chunk stamped at that epoch or later changed since and is walked;
 * - `FREE`: the base pages of its free buddy blocks;
 * - `KIND`: their free kind plus 1 (0: no free block), which must still be the kind of the
 *   pageblock the chunk lies in (a chunk is inside one pageblock);
 * - up to `SUMMARY_LISTS` pairs (folio-list id, folios of the chunk on it), id 0 unused.
 * A chunk with an offline frame, a hugetlb folio (pooled or in use), a block reaching out
 * of it or more lists than that has no summary: it is walked every time.
 *
 * Not a kernel structure: bookkeeping of the model's check (see `physicalMemoryLooksSound`).
 */
export const CHUNK_SUMMARY_WORDS = 10;
export const SUMMARY_AT = 0;
export const SUMMARY_FREE = 1;
export const SUMMARY_KIND = 2;
export const SUMMARY_LIST0 = 3;
export const SUMMARY_LISTS = 3;

const summaries = new WeakMap<Memmap, Int32Array>();

/** The chunk summaries of `m` (none recorded at first), taken from its machine buffers. */
export function chunkSummaries(m: Memmap): Int32Array {
  let s = summaries.get(m);
  if (s === undefined) {
    const words = m.chunkEpoch.length * CHUNK_SUMMARY_WORDS;
    s = new Int32Array(takeMachineBuffer(m, 4 * words), 0, words);
    summaries.set(m, s);
  }
  return s;
}

/**
 * Whether chunk `c`'s summary says what its frames are now: recorded, and the chunk not
 * stamped since the pass that recorded it, nor since the last sound pass (`since`, which
 * must not be 0: a full pass reads everything).
 */
export function summaryHolds(m: Memmap, s: Int32Array, c: number, since: number): boolean {
  const stamp = m.chunkEpoch[c]!;
  return stamp < since && stamp < s[c * CHUNK_SUMMARY_WORDS + SUMMARY_AT]!;
}

/** Frames per chunk. */
export const CHUNK_FRAMES = 1 << WRITE_CHUNK_SHIFT;
