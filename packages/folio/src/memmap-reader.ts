import { type Folio, FRAME_HEAD, memmapOf, type PhysicalMemory } from './memmap.js';

/**
 * A per-frame array of a `MemmapReader`: indexed reads and the length, nothing else. The
 * object behind it is the machine's own typed array; the type only keeps a caller from
 * writing through it (or keeping a method such as `subarray`, `set` or `fill`).
 */
export interface ReadonlyFrameArray {
  readonly length: number;
  readonly [pfn: number]: number;
}

/**
 * Fast reads of the memory map (`struct page` fields), for the hot paths of other packages:
 * a rmap walk, a migration step, a driver or a variant that reads a few fields of the same
 * folio many times. Every accessor of the package (`folioOrder`, `folioMappingKind`,
 * `folioIndex`, `folioRefCount`...) checks that its argument is a live folio and is a call of
 * its own, which V8 does not always inline: some 3 to 4 ns each, and `folioIndex` of an
 * anonymous folio (its vpn, above 2^30) returns a number that is boxed on the heap. A reader
 * is the memmap's arrays themselves, so a read is one typed-array load, inlined, and the
 * index (a `Float64Array`) stays an unboxed double in the optimized caller.
 *
 * What it promises:
 * - **Read-only.** Every array is typed `ReadonlyFrameArray` and the memmap is never written
 *   through a reader; write with the package's functions, which keep the memmap's invariants
 *   (and its counters) as the kernel's own helpers do.
 * - **Live.** The arrays are the machine's: a read sees every change made since, by any
 *   function. Get the reader once per call (or keep it with the machine): it is the same
 *   object for the life of the machine, until `releasePhysicalMemory`, after which nothing
 *   it holds may be read.
 * - **No checks.** A read of a frame that is not the head of a live folio returns whatever
 *   the frame holds (0, a stale value, a tail's own field). Check `state[folio] === FRAME_HEAD`
 *   (`readerIsFolio`) first, or read only what an accessor already checked in the same
 *   call; the accessors remain the checked API and the one to use elsewhere.
 * - **The kernel's values.** Each field holds what the accessor named beside it returns for a
 *   live head; field names and their meaning follow the model's memmap and may gain fields in
 *   a minor release, never change meaning without a changeset.
 *
 * `frameView` (for whole-memory checks) gives the same arrays with their mutable types.
 */
export interface MemmapReader {
  /** One past the last pfn (`PhysicalMemory.maxPfn`). */
  readonly maxPfn: number;
  /** Number of NUMA nodes. */
  readonly nrNodes: number;
  /** The shared zero page's pfn (`my_zero_pfn`). */
  readonly zeroPfn: number;
  /** `FRAME_*` per pfn: FRAME_HEAD for the head of a live folio, FRAME_TAIL for its other pages. */
  readonly state: ReadonlyFrameArray;
  /** `page->flags` as a 32-bit word of `1 << PG_*` bits (`folioTestFlag`, `pageTestFlag`). */
  readonly flags: ReadonlyFrameArray;
  /** `folio_ref_count` on heads (`folioRefCount`). */
  readonly refcount: ReadonlyFrameArray;
  /** The page's own mapcount, 0-based (`pageMapcount` less the entire mapcount of its head). */
  readonly mapcount: ReadonlyFrameArray;
  /** The entire (PMD) mapcount on heads, 0-based (`folioEntireMapcount`). */
  readonly entireMapcount: ReadonlyFrameArray;
  /**
   * On heads, the sum of the per-page mapcounts: `folio_mapcount` is
   * `entireMapcount[f] + totalMapcount[f]` and `folio_mapped` is either being positive.
   */
  readonly totalMapcount: ReadonlyFrameArray;
  /** `folio_order` on heads (`folioOrder`; `folio_nr_pages` is `1 << order[f]`). */
  readonly order: ReadonlyFrameArray;
  /** The head pfn of the folio a head or tail page belongs to (`pfnFolio`). */
  readonly headOf: ReadonlyFrameArray;
  /** The node of every frame (`pfnToNid`, `folioNid`). */
  readonly nid: ReadonlyFrameArray;
  /** `FOLIO_TYPE_NORMAL` or `FOLIO_TYPE_HUGETLB` on heads (`folioTestHugetlb`). */
  readonly folioType: ReadonlyFrameArray;
  /** The tag bits of `folio->mapping` on heads (`folioMappingKind`: 0 or `PAGE_MAPPING_*`). */
  readonly mappingKind: ReadonlyFrameArray;
  /**
   * `folio->index` on heads (`folioIndex`), a `Float64Array`: an anonymous folio's index is
   * its vpn, above 2^30, and read from here it stays an unboxed double.
   */
  readonly index: ReadonlyFrameArray;
  /**
   * The object `folio->mapping` points at, as an id into `mappingObjs` (0: none). Read it
   * with `readerMapping`.
   */
  readonly mappingId: ReadonlyFrameArray;
  /** The objects `mappingId` names, by id; slot 0 is null. */
  readonly mappingObjs: ReadonlyArray<object | null>;
}

/**
 * The memmap reader of a machine (see `MemmapReader`): the same object on every call, kept
 * valid until `releasePhysicalMemory`. Costs nothing: it is the machine seen through a
 * read-only type.
 */
export function memmapReader(mem: PhysicalMemory): MemmapReader {
  return memmapOf(mem);
}

/**
 * Whether `pfn` is the head of a live folio: what every folio accessor checks before it
 * reads (`FRAME_HEAD`). False for tails, free frames and holes; `pfn` must be in
 * `[0, maxPfn)` or the answer is false too.
 */
export function readerIsFolio(r: MemmapReader, pfn: number): boolean {
  return r.state[pfn] === FRAME_HEAD;
}

/**
 * The object `folio->mapping` of head `folio` points at, whatever its kind (what
 * `folioRawMapping` returns for a live folio), or null. Unchecked (see `MemmapReader`).
 */
export function readerMapping(r: MemmapReader, folio: Folio): object | null {
  return r.mappingObjs[r.mappingId[folio]!]!;
}

/**
 * `folio_mapcount` of head `folio` (the value `folioMapcount` returns: the entire mapcount
 * plus the sum of the per-page mapcounts). Unchecked (see `MemmapReader`).
 */
export function readerFolioMapcount(r: MemmapReader, folio: Folio): number {
  return r.entireMapcount[folio]! + r.totalMapcount[folio]!;
}

/** `folio_mapped` of head `folio` (as `folioMapped`). Unchecked (see `MemmapReader`). */
export function readerFolioMapped(r: MemmapReader, folio: Folio): boolean {
  return r.entireMapcount[folio]! > 0 || r.totalMapcount[folio]! > 0;
}
