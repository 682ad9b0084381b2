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

/**
 * After the chunks' summaries, the same array holds what the last sound pass counted per
 * node: at `nodeUsedAt(m)` the write epoch that pass began (the `soundEpoch` it set; 0:
 * none), then for each node the base pages of its folios (FRAME_HEAD, hugetlb in use
 * included, pooled hugetlb folios not), as `folioPagesByNode` counts them. Recorded only by
 * a pass that finds the map sound; while no writer stamps a chunk after that pass, the
 * counts are the memory map's (see `folioPagesByNode`).
 */
export function nodeUsedAt(m: Memmap): number {
  return m.chunkEpoch.length * CHUNK_SUMMARY_WORDS;
}

/** The chunk summaries of `m` (none recorded at first), taken from its machine buffers. */
export function chunkSummaries(m: Memmap): Int32Array {
  let s = summaries.get(m);
  if (s === undefined) {
    const words = m.chunkEpoch.length * CHUNK_SUMMARY_WORDS + 1 + m.nrNodes;
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

/**
 * Whether no writer stamped a chunk of a node of `m` since epoch `since` (0: never true):
 * the nodes' frames are, but for raw writes, what the pass that began that epoch found.
 * The holes between nodes are not looked at (what `folioPagesByNode` counts is in nodes).
 */
export function nothingStampedSince(m: Memmap, since: number): boolean {
  if (since === 0) return false;
  const stamp = m.chunkEpoch;
  for (let nid = 0; nid < m.nrNodes; nid++) {
    const start = m.nodeStart[nid]!;
    const end = m.nodeEnd[nid]!;
    if (end <= start) continue;
    const last = (end - 1) >>> WRITE_CHUNK_SHIFT;
    for (let c = start >>> WRITE_CHUNK_SHIFT; c <= last; c++) {
      if (stamp[c]! >= since) return false;
    }
  }
  return true;
}

/** Frames per chunk. */
export const CHUNK_FRAMES = 1 << WRITE_CHUNK_SHIFT;
