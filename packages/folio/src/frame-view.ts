import type { FolioList } from './folio-list.js';
import { memmapOf, type PhysicalMemory } from './memmap.js';

/**
 * The memmap's per-frame arrays, read-only, for whole-memory checks that run after many
 * steps of an exploration (the rmap and LRU invariants): one typed-array read per field
 * instead of one accessor call per frame. The arrays are the machine's own, so writing
 * through a view corrupts the machine; their layout follows the memmap's and may change in
 * a minor release. Frame states are the `FRAME_*` constants.
 */
export interface FrameView {
  readonly maxPfn: number;
  readonly nrNodes: number;
  /** FRAME_HOLE, FRAME_FREE, FRAME_HEAD, FRAME_TAIL, ... per pfn. */
  readonly state: Uint8Array;
  readonly flags: Uint32Array;
  readonly refcount: Int32Array;
  readonly mapcount: Int32Array;
  readonly entireMapcount: Int32Array;
  readonly totalMapcount: Int32Array;
  readonly order: Uint8Array;
  /** A tail's head pfn. */
  readonly headOf: Int32Array;
  readonly nid: Uint8Array;
  /** FOLIO_TYPE_NORMAL or FOLIO_TYPE_HUGETLB per head. */
  readonly folioType: Uint8Array;
  readonly mappingKind: Uint8Array;
  /** The next folio of the FolioList a head is on (-1 ends it). */
  readonly next: Int32Array;
  /** Which FolioList a head is on, as an index into `lists` (0: none). */
  readonly listId: Int32Array;
  readonly lists: ReadonlyArray<FolioList | null>;
  /**
   * Per frame, 1 when a writer changed its folio's counts, what it is, its mapping or index,
   * or a flag the rmap check reads, since the incremental rmap check last cleared it (see `Memmap.rmapWritten`); the one
   * array of the view its reader writes: that check clears what it read.
   */
  readonly rmapWritten: Uint8Array;
  /**
   * Per group of `1 << LRU_MARK_SHIFT` frames, 1 when a writer changed what the LRU check
   * tests of one of them since the incremental LRU check last cleared it (see
   * `Memmap.lruWritten`); that check clears what it read.
   */
  readonly lruWritten: Uint8Array;
}

/** The read-only frame view of a machine's memory (see `FrameView`). */
export function frameView(mem: PhysicalMemory): FrameView {
  return memmapOf(mem);
}
