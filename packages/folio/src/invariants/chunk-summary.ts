import { type Memmap, takeMachineBuffer, WRITE_CHUNK_SHIFT } from '../memmap.js';

/**
 * What the memory-map walk (`nodeLooksSound`) found, kept from one sound pass to the next
 * so that an incremental pass walks only the segments a writer stamped since and takes the
 * rest from here without visiting them.
 *
 * A segment is a run of whole 16-frame chunks (`1 << WRITE_CHUNK_SHIFT`) of one node that
 * begins where the walk met a block boundary on a chunk's first frame and ends at the next
 * such boundary (or at the node's end): a chunk whose first frame lies inside a block that
 * began in an earlier chunk (a free block or folio of 16 frames or more) belongs to that
 * block's segment. Per chunk, `CHUNK_SUMMARY_WORDS` words:
 * - `SEG`: the chunk that begins its segment, times 2, plus 1 when the segment must be
 *   walked on every pass (it has an offline frame, whose test reads its whole pageblock, or
 *   folios on more than `SUMMARY_LISTS` folio lists): such a segment is not stored below;
 * - in the chunk that begins a segment: `ORDERS`, a bit per order of its free blocks (the
 *   free lists their heads were on); and when it is stored, `FREE` its free base pages,
 *   `HUGE` its pooled hugetlb folios plus 65,536 times its hugetlb folios in use, and up to
 *   `SUMMARY_LISTS` pairs (folio-list id, folios of the segment on it), id 0 unused.
 * After the chunks, at `nodeUsedAt(m)`: the write epoch the last sound pass began (0: none)
 * and what it counted per node (see `nodeUsedAt`); then, per node, the sums over its stored
 * segments of `FREE`, `POOLED` and `IN_USE`, and the number of its segments walked on every
 * pass (`nodeTotalsAt`). The folio-list counts of the
 * stored segments are summed per list id in `WalkRecord.lists`.
 *
 * Not a kernel structure: bookkeeping of the model's check (see `physicalMemoryLooksSound`).
 */
export const CHUNK_SUMMARY_WORDS = 10;
export const SUMMARY_SEG = 0;
export const SUMMARY_FREE = 1;
export const SUMMARY_HUGE = 2;
export const SUMMARY_ORDERS = 3;
export const SUMMARY_LIST0 = 4;
export const SUMMARY_LISTS = 3;

/** The record of one machine's memory-map walk (see above). */
export interface WalkRecord {
  /** The chunks' words, the node counts and the node totals, in a machine buffer. */
  readonly words: Int32Array;
  /**
   * The chunks stamped since the last pass, sorted, `nrDirty` of them (-1: too many to
   * sort; the walk reads the stamps), set by each pass from `Memmap.dirtyChunks`.
   */
  readonly dirty: Int32Array;
  nrDirty: number;
  /** Per folio-list id: its folios in the stored segments (grown with the list ids). */
  lists: Int32Array;
  /**
   * Whether the words and sums hold what the last sound pass found, for every node whose
   * start is chunk-aligned: set by a pass that finds the memory map sound, cleared when
   * one starts (a pass that finds a problem leaves the record half-written).
   */
  valid: boolean;
  /**
   * The write epoch a full pass (one that reads every frame, `incremental` off) moved the
   * memory map to when it found it sound, while that pass is the last sound one; 0 when
   * the last sound pass was not a full one (or none ran). `folioPagesByNode`'s
   * `afterFullCheck` takes that pass's counts while it is also the last pass and no writer
   * stamped a chunk since.
   */
  fullSound: number;
  /** The pageblocks' free kinds (`Memmap.pbKind`) the last sound pass saw, or null. */
  kinds: Uint8Array | null;
  /** Per node, its `nodeFree`, `nodeFreeCma` and `nodeFreeIsolated` at the last sound pass. */
  readonly freeCounts: Float64Array;
}

/**
 * After the chunks' words, the same array holds what the last sound pass counted per
 * node: at `nodeUsedAt(m)` the write epoch that pass began (the `soundEpoch` it set; 0:
 * none), then for each node the base pages of its folios (FRAME_HEAD, hugetlb in use
 * included, pooled hugetlb folios not), as `folioPagesByNode` counts them. Recorded only by
 * a pass that finds the map sound; while no writer stamps a chunk after that pass, the
 * counts are the memory map's (see `folioPagesByNode`).
 */
export function nodeUsedAt(m: Memmap): number {
  return m.chunkEpoch.length * CHUNK_SUMMARY_WORDS;
}

/**
 * Where node `nid`'s sums of its stored segments' FREE, POOLED and IN_USE begin; the
 * fourth word counts its segments walked on every pass.
 */
export function nodeTotalsAt(m: Memmap, nid: number): number {
  return nodeUsedAt(m) + 1 + m.nrNodes + 4 * nid;
}

/** The walk record of `m` (empty and not valid at first), taken from its machine buffers. */
export function walkRecord(m: Memmap): WalkRecord {
  let r = m.walkRecord as WalkRecord | null;
  if (r === null) {
    const v = recordViews(m);
    // The writers list the chunks they stamp from now on (`Memmap.dirtyChunks`; the pass
    // sorts them into `dirty`) and stamp each frame they write (`Memmap.frameEpoch`).
    m.dirtyChunks = v.dirtyChunks;
    m.nrDirty = 0;
    m.frameEpoch = v.frameEpoch;
    r = {
      words: v.words,
      dirty: v.dirty,
      nrDirty: 0,
      lists: v.lists,
      valid: false,
      fullSound: 0,
      kinds: null,
      freeCounts: v.freeCounts,
    };
    m.walkRecord = r;
  }
  return r;
}

/** The typed arrays of a walk record and of the writers' lists, all on one machine buffer. */
interface RecordViews {
  readonly buffer: ArrayBuffer;
  readonly chunks: number;
  readonly nrNodes: number;
  readonly frames: number;
  readonly freeCounts: Float64Array;
  readonly lists: Int32Array;
  readonly words: Int32Array;
  readonly dirty: Int32Array;
  readonly dirtyChunks: Int32Array;
  readonly frameEpoch: Uint8Array;
}

/** Folio-list ids a record's `lists` has room for at first (grown by the pass). */
const FIRST_LISTS = 16;

/** The views made last, kept for the next machine that takes the same buffer. */
let lastViews: RecordViews | null = null;

/**
 * Takes `m`'s walk-record buffer from its machine (zeroed, from the recycler when it has
 * one) and the views on it: the node free counts (8-byte words first), the list sums, the
 * chunks' words, the sorted and the writers' dirty-chunk lists, the frame stamps. An
 * explorer's machines take the same recycled buffer one after the other; a machine that
 * takes the buffer the last views were made on, with the same sizes, takes those views
 * rather than making six (it owns the buffer now: the machine that had it was released).
 */
function recordViews(m: Memmap): RecordViews {
  const chunks = m.chunkEpoch.length;
  const nrNodes = m.nrNodes;
  const frames = m.maxPfn;
  const words = chunks * CHUNK_SUMMARY_WORDS + 1 + 5 * nrNodes;
  const at = 8 * 3 * nrNodes + 4 * FIRST_LISTS;
  const buffer = takeMachineBuffer(m, at + 4 * (words + 2 * chunks) + frames);
  // Without a recycler the buffer is new: no views to take, none to keep (they would keep
  // the buffer alive).
  if (m.recycler === null) return makeRecordViews(buffer, chunks, nrNodes, frames, at, words);
  const last = lastViews;
  if (
    last !== null &&
    last.buffer === buffer &&
    last.chunks === chunks &&
    last.nrNodes === nrNodes &&
    last.frames === frames
  ) {
    return last;
  }
  lastViews = makeRecordViews(buffer, chunks, nrNodes, frames, at, words);
  return lastViews;
}

function makeRecordViews(
  buffer: ArrayBuffer,
  chunks: number,
  nrNodes: number,
  frames: number,
  at: number,
  words: number,
): RecordViews {
  return {
    buffer,
    chunks,
    nrNodes,
    frames,
    freeCounts: new Float64Array(buffer, 0, 3 * nrNodes),
    lists: new Int32Array(buffer, 8 * 3 * nrNodes, FIRST_LISTS),
    words: new Int32Array(buffer, at, words),
    dirty: new Int32Array(buffer, at + 4 * words, chunks),
    dirtyChunks: new Int32Array(buffer, at + 4 * (words + chunks), chunks),
    frameEpoch: new Uint8Array(buffer, at + 4 * (words + 2 * chunks), frames),
  };
}

/** The chunks' words and node counts of `m` (`walkRecord(m).words`). */
export function chunkSummaries(m: Memmap): Int32Array {
  return walkRecord(m).words;
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
