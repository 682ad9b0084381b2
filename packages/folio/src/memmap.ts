import { MmsimError } from '@mmsim/runtime';
import type { BufferRecycler } from './buffer-recycler.js';
import { LOCAL_DISTANCE, MAX_ORDER, REMOTE_DISTANCE } from './constants.js';
import type { FolioList } from './folio-list.js';

/**
 * Called when an allocation of order > 0 on node `nid` fails; `highestZoneidx` is the
 * allocation's `ac->highest_zoneidx` (ZONE_MOVABLE or ZONE_NORMAL). See `setAllocFailureHook`.
 */
export type AllocFailureHook = (nid: number, order: number, highestZoneidx: number) => void;

/**
 * A folio, named by its head pfn: the value `page_folio(pfn_to_page(pfn))` would point at.
 * A folio is not an object: every field lives in the memmap arrays, indexed by pfn.
 * Allocation functions return a Folio (>= 0) or a negative errno.
 */
export type Folio = number;

/** What a frame currently is. Stored per pfn in a Uint8Array. */
export const FRAME_HOLE = 0;
/** Free, inside a buddy block whose first frame is FRAME_BUDDY. */
export const FRAME_FREE = 1;
/** First frame of a free buddy block (the kernel's PageBuddy + buddy_order). */
export const FRAME_BUDDY = 2;
/** First frame of an allocated folio (order 0 folios too). */
export const FRAME_HEAD = 3;
/** Other frames of an allocated large folio. */
export const FRAME_TAIL = 4;
/** First frame of a hugetlb folio sitting free in its node's pool. */
export const FRAME_POOL_HEAD = 5;
/** Other frames of a free pooled hugetlb folio. */
export const FRAME_POOL_TAIL = 6;

/**
 * A frame of a memory block taken offline (`offline_pages`, mm/memory_hotplug.c, 6.3): off
 * the buddy, in no zone's present pages, never allocated until the block is onlined again.
 * The kernel keeps the struct page (pfn_valid) but `pfn_to_online_page` returns NULL.
 */
export const FRAME_OFFLINE = 7;

/**
 * Which buddy free lists a free block sits on (the model's stand-in for the kernel's
 * per-migratetype `free_area[order].free_list[mt]`): FREE_KIND_NORMAL for the unmovable /
 * movable / reclaimable types (the model does not split them), FREE_KIND_CMA for
 * MIGRATE_CMA pageblocks, FREE_KIND_ISOLATE for MIGRATE_ISOLATE ones.
 */
export const FREE_KIND_NORMAL = 0;
export const FREE_KIND_CMA = 1;
export const FREE_KIND_ISOLATE = 2;
/** Number of free-list kinds. */
export const FREE_KINDS = 3;

/** Per-folio type attribute (the kernel keeps it in the compound_dtor of 6.3). */
export const FOLIO_TYPE_NORMAL = 0;
export const FOLIO_TYPE_HUGETLB = 1;

declare const physicalMemoryBrand: unique symbol;

/** The pageblock bits of one memory: a migratetype and a skip bit per block. */
export interface PageblockState {
  readonly migratetype: Uint8Array;
  readonly skip: Uint8Array;
}

/**
 * The simulated physical memory of one machine: its NUMA nodes, the memmap (struct page
 * array) as structure-of-arrays, the per-node buddy allocators, the hugetlb pools and the
 * zero page. Create it with `createPhysicalMemory`; every other function of the package
 * takes it as first argument.
 */
export interface PhysicalMemory {
  readonly [physicalMemoryBrand]: true;
  /** Number of NUMA nodes (node ids are 0..nrNodes-1). */
  readonly nrNodes: number;
  /** One past the last pfn of the last node. */
  readonly maxPfn: number;
  /** The pfn of the shared zero page (`my_zero_pfn`), a reserved frame on node 0. */
  readonly zeroPfn: number;
}

/** Resolves the swap-cache address space of a folio with PG_swapcache (`swap_address_space`). */
export type SwapAddressSpaceResolver = (mem: PhysicalMemory, folio: Folio) => object | null;

/** Slots of the first `Memmap.mappingRefs` table (it doubles when the ids outgrow it). */
const FIRST_MAPPING_REFS = 64;

/**
 * The write epoch a machine is handed out at by `createPhysicalMemory`: its build stamped
 * its chunks with epoch 1, every writer after it stamps `BUILT_EPOCH` or later (until a
 * check moves the epoch on).
 */
export const BUILT_EPOCH = 2;

/** Frames per chunk of `Memmap.chunkEpoch`, as a shift: 16. */
export const WRITE_CHUNK_SHIFT = 4;

/**
 * `Memmap.lruWritten` holds one mark per group of `1 << LRU_MARK_SHIFT` frames: a writer
 * marks `lruWritten[pfn >>> LRU_MARK_SHIFT]` (one store), and the LRU check reads eight
 * groups' marks at a time, then looks again at every frame of a marked group. Two frames
 * a group: half a byte a frame (the memmap's 64-byte budget), and in a memory dense with
 * small LRU folios (pmbench-migrate's) a group of 8 made the check look at 8 listed folios
 * for each one changed, more than the whole walk.
 */
export const LRU_MARK_SHIFT = 1;

/** The bytes of `Memmap.lruWritten` for `maxPfn` frames: whole 8-byte words. */
export function lruMarkBytes(maxPfn: number): number {
  return ((maxPfn >>> LRU_MARK_SHIFT) + 8) & ~7;
}

/** Frames up to which the per-frame arrays share one buffer (62 bytes a frame: 3.9 MiB). */
const SHARED_BUFFER_FRAMES = 65_536;

/**
 * Bytes of the per-frame arrays' shared buffer of a machine of `frames` frames (2 x 8 +
 * 10 x 4 + 6 x 1 a frame), or 0 when the machine is too large to share one.
 */
export function frameBufferBytes(frames: number): number {
  return frames <= SHARED_BUFFER_FRAMES ? 62 * frames : 0;
}

/**
 * Hands out the per-frame typed arrays of a memory map, zeroed: views of one buffer for a
 * small machine (8-byte arrays first, so that every view is aligned), separate arrays
 * otherwise.
 */
class FrameArrays {
  readonly #n: number;
  readonly #buffer: ArrayBuffer | null;
  #offset = 0;

  /** `buffer`: the shared buffer (`frameBufferBytes(frames)`), or null for a large machine. */
  constructor(frames: number, buffer: ArrayBuffer | null) {
    this.#n = frames;
    this.#buffer = buffer;
  }

  #take(bytes: number): number {
    const at = this.#offset;
    this.#offset += bytes * this.#n;
    return at;
  }

  f64(): Float64Array {
    const b = this.#buffer;
    return b === null ? new Float64Array(this.#n) : new Float64Array(b, this.#take(8), this.#n);
  }

  i32(): Int32Array {
    const b = this.#buffer;
    return b === null ? new Int32Array(this.#n) : new Int32Array(b, this.#take(4), this.#n);
  }

  u32(): Uint32Array {
    const b = this.#buffer;
    return b === null ? new Uint32Array(this.#n) : new Uint32Array(b, this.#take(4), this.#n);
  }

  u8(): Uint8Array {
    const b = this.#buffer;
    return b === null ? new Uint8Array(this.#n) : new Uint8Array(b, this.#take(1), this.#n);
  }
}

/** The per-frame arrays of one memory map (see the fields of `Memmap`). */
interface FrameViews {
  readonly index: Float64Array;
  readonly content: Float64Array;
  readonly flags: Uint32Array;
  readonly refcount: Int32Array;
  readonly mapcount: Int32Array;
  readonly entireMapcount: Int32Array;
  readonly totalMapcount: Int32Array;
  readonly headOf: Int32Array;
  readonly next: Int32Array;
  readonly prev: Int32Array;
  readonly mappingId: Int32Array;
  readonly listId: Int32Array;
  readonly state: Uint8Array;
  readonly order: Uint8Array;
  readonly nid: Uint8Array;
  readonly folioType: Uint8Array;
  readonly mappingKind: Uint8Array;
  readonly rmapWritten: Uint8Array;
}

/** The views made on each shared frames buffer so far, by the buffer. */
const sharedFrameViews = new WeakMap<ArrayBuffer, FrameViews>();

/**
 * The per-frame arrays of a memory map of `frames` frames: views of `shared`, the shared
 * frames buffer (`frameBufferBytes(frames)` bytes), or arrays of their own when it is null.
 * The views of a shared buffer are made once and handed to every memory map built on it:
 * an explorer's machines take the same recycled buffer schedule after schedule, and its
 * 18 views cost more to make than the rest of the constructor's arrays. A view is only a
 * window on the buffer, the same for every machine that has it (one at a time: a machine
 * gives the buffer back with `releasePhysicalMemory` and must not be used after).
 */
function frameViews(frames: number, shared: ArrayBuffer | null): FrameViews {
  if (shared !== null) {
    const known = sharedFrameViews.get(shared);
    if (known !== undefined && known.state.length === frames) return known;
  }
  const arrays = new FrameArrays(frames, shared);
  const views: FrameViews = {
    index: arrays.f64(),
    content: arrays.f64(),
    flags: arrays.u32(),
    refcount: arrays.i32(),
    mapcount: arrays.i32(),
    entireMapcount: arrays.i32(),
    totalMapcount: arrays.i32(),
    headOf: arrays.i32(),
    next: arrays.i32(),
    prev: arrays.i32(),
    mappingId: arrays.i32(),
    listId: arrays.i32(),
    state: arrays.u8(),
    order: arrays.u8(),
    nid: arrays.u8(),
    folioType: arrays.u8(),
    mappingKind: arrays.u8(),
    rmapWritten: arrays.u8(),
  };
  if (shared !== null) sharedFrameViews.set(shared, views);
  return views;
}

/**
 * The internal form of PhysicalMemory. Field layout, per pfn, all typed arrays:
 * state 1 + flags 4 + refcount 4 + mapcount 4 + entire 4 + total 4 + order 1 + headOf 4 +
 * nid 1 + type 1 + mapping kind 1 + mapping id 4 + index 8 + content 8 + next 4 + prev 4 +
 * list id 4 = 60 bytes (and the rmap check's change marks, `rmapWritten`, 1). Object-valued fields are not kept per pfn in plain arrays (8 bytes a
 * slot): `page->mapping` is an id into a table of the objects in use (`mappingObjs`, each
 * with the number of pages pointing at it, so an object leaves the table with its last
 * page), the FolioList a head is on is an id that a list holds while it is not empty, and
 * `page->private`, rarely set, lives in slot chunks allocated on first use. HPageTemporary gets its array on first
 * use.
 */
export class Memmap {
  declare readonly [physicalMemoryBrand]: true;
  readonly nrNodes: number;
  readonly maxPfn: number;
  zeroPfn = -1;

  /** FRAME_* per pfn. */
  readonly state: Uint8Array;
  /** page->flags (PG_* bits). Folio flags live on the head; tails keep per-page bits only. */
  readonly flags: Uint32Array;
  /** _refcount of heads (0 on free frames and tails). */
  readonly refcount: Int32Array;
  /** Per-page mapcount, 0-based (the kernel's _mapcount + 1). */
  readonly mapcount: Int32Array;
  /** _entire_mapcount + 1 of large-folio heads: PMD mappings of the whole folio. */
  readonly entireMapcount: Int32Array;
  /** Heads: the sum of the per-page mapcounts of the folio (kept so folio_mapcount is O(1)). */
  readonly totalMapcount: Int32Array;
  /** Folio order on heads, block order on FRAME_BUDDY frames. */
  readonly order: Uint8Array;
  /** Head pfn of the folio (or pooled hugetlb folio) a frame belongs to. */
  readonly headOf: Int32Array;
  /** Node id of every frame. */
  readonly nid: Uint8Array;
  /** FOLIO_TYPE_* on heads. */
  readonly folioType: Uint8Array;
  /** Low two bits of page->mapping (PAGE_MAPPING_*), on heads. */
  readonly mappingKind: Uint8Array;
  /**
   * The object page->mapping points at (address_space, anon_vma, movable_operations...), as
   * an index into `mappingObjs` (0: null). Read and write it with `getMappingObj` and
   * `setMappingObj`.
   */
  readonly mappingId: Int32Array;
  /** The objects `mappingId` names, by id; slot 0 is null, freed slots are null too. */
  readonly mappingObjs: Array<object | null> = [null];
  /** Pages whose `mappingId` is the id, by id (grown by doubling). */
  mappingRefs: Int32Array;
  /** The id of each object in `mappingObjs`. */
  readonly mappingIds = new Map<object, number>();
  /** Ids free for reuse (slots whose last page let go of the object). */
  readonly freeMappingIds: number[] = [];
  /** The object and id `setMappingObj` handled last (a run of pages shares one object). */
  lastMappingObj: object | null = null;
  lastMappingId = 0;
  /** page->index. */
  readonly index: Float64Array;
  /**
   * page->private, per page (the swap cache stores one entry per subpage): a slot per pfn
   * in chunks of PRIV_CHUNK pfns (the last one only as long as the machine), each chunk
   * taken as a machine buffer on the first value set in it (null until then, and the chunk
   * table null until the first value at all). A slot is 0 for
   * null, -(v + 1) for a small non-negative integer v (the migration state word), else an
   * id into `privObjs`. Read and write it with `getPriv` and `setPriv`.
   */
  privChunks: Array<Int32Array | null> | null = null;
  /** The values the `privChunks` slots name by id; slot 0 and freed slots are null. */
  readonly privObjs: unknown[] = [null];
  /** Ids of `privObjs` free for reuse. */
  readonly freePrivIds: number[] = [];
  /** Pages whose page->private is not null. */
  privCount = 0;
  /** One content word per base page, for data-integrity checks. */
  readonly content: Float64Array;
  /** page->lru: links of free lists, pool lists and FolioLists (-1 terminates). */
  readonly next: Int32Array;
  readonly prev: Int32Array;
  /**
   * Which FolioList a head is on, as an index into `lists` (0: none). Free frames are never
   * on a FolioList. `listOwnerOf` gives the list.
   */
  readonly listId: Int32Array;
  /** The FolioLists that hold an id (the non-empty ones), by id; slot 0 is null. */
  readonly lists: Array<FolioList | null> = [null];
  /** List ids free for reuse. */
  readonly freeListIds: number[] = [];

  /** Per node: first pfn, one past the last pfn, free pages in the buddy. */
  readonly nodeStart: number[];
  readonly nodeEnd: number[];
  readonly nodeFree: Float64Array;
  /**
   * Buddy free lists, indexed by `kind * nrNodes * MAX_ORDER + nid * MAX_ORDER + order`
   * (FREE_KIND_*); `nodeFree` counts the NORMAL and CMA lists (NR_FREE_PAGES), not the
   * isolated ones, as `__mod_zone_freepage_state` does.
   */
  readonly freeHead: Int32Array;
  readonly freeTail: Int32Array;
  readonly nrFree: Int32Array;
  /**
   * Per group of free lists (one kind on one node: the slot divided by MAX_ORDER), a bit
   * per order whose list `addToFreeList` or `delFromFreeList` changed (its head, tail or
   * count) since the memory-map check last walked it (invariants/sound.ts,
   * `noteFreeListWritten`): the check finds the lists to walk from three words a node
   * rather than reading a mark per list, and skips a node whose lists no writer touched.
   */
  readonly freeOrdersWritten: Uint16Array;
  /** Per node: free pages on the CMA lists (NR_FREE_CMA_PAGES), part of nodeFree. */
  readonly nodeFreeCma: Float64Array;
  /** Per node: free pages on the isolate lists (not in nodeFree). */
  readonly nodeFreeIsolated: Float64Array;
  /** Per node: frames taken offline (`offline_pages`), out of the node's present pages. */
  readonly nodeOffline: Float64Array;
  /** FREE_KIND_* of every FRAME_BUDDY head: the list it is linked on. */
  readonly freeKind: Uint8Array;
  /**
   * FREE_KIND_* per pageblock (the list a page freed there goes to, from the block's
   * migratetype as `get_pfnblock_migratetype` gives it in `__free_pages_ok`); null while
   * every block is NORMAL, so the common free path reads nothing.
   */
  pbKind: Uint8Array | null = null;
  /**
   * The pageblock bits (pageblock.ts), null until first used. A field rather than a side
   * table keyed by the memmap: a WeakMap entry keeps its key and value through
   * young-generation collections, so every explored machine would outlive its schedule.
   */
  pageblocks: PageblockState | null = null;
  /** Other packages' per-machine tables (`memoryAttachment`), by key; null until the first. */
  attachments: Map<object, unknown> | null = null;
  /** Allocation fallback order for each node: itself, then by distance. */
  readonly fallback: readonly Int32Array[];
  /** `node_distance(a, b)` at `a * nrNodes + b` (the SLIT; 10 local, 20 remote by default). */
  readonly distance: Uint8Array;
  /**
   * Per node: the factor applied to `userAccess` for a user access to a page of the node
   * (1 for DRAM; a CPU-less CXL-like node is slower). Set once at creation.
   */
  readonly accessFactor: Float64Array;
  /** Per node: the factor applied to `copyPage4k` for a page copied to or from the node. */
  readonly copyFactor: Float64Array;
  /** Hugetlb pools per node: free list head, nr_huge_pages, free_huge_pages. */
  readonly hugeFreeHead: Int32Array;
  readonly nrHugePages: Int32Array;
  readonly freeHugePages: Int32Array;
  /** `surplus_huge_pages_node`: surplus hugetlb folios per node (counted in nrHugePages). */
  readonly surplusHugePages: Int32Array;
  /**
   * HPageTemporary per pfn (hugetlb heads from the buddy for a migration, not in the pool);
   * null until the first one (`hugeTemporaryArray`).
   */
  hugeTemporary: Uint8Array | null = null;
  /** `h->nr_overcommit_huge_pages` (vm.nr_overcommit_hugepages): the cap on surplus pages. */
  nrOvercommitHugePages = 0;
  /** `h->resv_huge_pages`: pool pages promised to mappings and not yet allocated (HugePages_Rsvd). */
  resvHugePages = 0;
  /** The `htlb_buddy_alloc_success` / `htlb_buddy_alloc_fail` vm events. */
  htlbBuddyAllocSuccess = 0;
  htlbBuddyAllocFail = 0;
  /** Registered by the swap layer; see `registerSwapAddressSpace`. */
  swapAddressSpace: SwapAddressSpaceResolver | null = null;
  /**
   * Called when an allocation of order > 0 finds no free block (the allocator's slow path,
   * where 6.3 wakes kswapd and, through it, kcompactd); see `setAllocFailureHook`.
   */
  allocFailureHook: AllocFailureHook | null = null;
  /**
   * `zone_movable_pfn[nid]`: the first pfn of each node's ZONE_MOVABLE (the node's end when
   * it has none), or null when no node has one (see zone.ts).
   */
  zoneMovablePfn: Int32Array | null = null;
  /**
   * Where the machine's per-frame buffers come from and go back to (see `BufferRecycler`),
   * or null: allocated, and left to the garbage collector.
   */
  readonly recycler: BufferRecycler | null;
  /** Buffers taken from `recycler` for this machine (given back on release); null without one. */
  readonly recycled: ArrayBuffer[] | null;
  /** Set by `releasePhysicalMemory`: the buffers went back, the machine is not usable. */
  released = false;
  /**
   * Per chunk of `1 << WRITE_CHUNK_SHIFT` frames: the `writeEpoch` of the last write to a
   * frame of it by the package's writers (`markWritten`). The memory-map check compares it
   * with `soundEpoch` to skip what did not change (invariants/sound.ts). From the recycler
   * when there is one (zeroed there: no chunk stamped, as on a new machine).
   */
  readonly chunkEpoch: Uint32Array;
  /**
   * The epoch the writers stamp; each pass of the check moves it on. `createPhysicalMemory`
   * builds the machine at epoch 1 and hands it out at `BUILT_EPOCH`, so that what was
   * written after the build is told from the build's own stamps.
   */
  writeEpoch = 1;
  /**
   * The configuration `createPhysicalMemory` built this memory map from, when it is frozen
   * all through (its layout is kept, see physical-memory.ts): every machine built from it
   * is, when handed out, the same memory map, which the check's `trustBuilt` takes as found
   * sound (invariants/built-clean.ts). Null otherwise.
   */
  builtFrom: object | null = null;
  /**
   * The memory-map check's record of its last walk (invariants/chunk-summary.ts
   * `WalkRecord`), made by its first pass; null before. A field rather than a side table
   * keyed by the memory map, for the reason `pageblocks` is one.
   */
  walkRecord: object | null = null;
  /** Chunks stamped before this epoch are as the last sound pass saw them (0: none yet). */
  soundEpoch = 0;
  /**
   * The chunks stamped at the current `writeEpoch`, each once, in the order of their first
   * stamp (`nrDirty` of them): the memory-map check's walk record gives it (null until its
   * first pass) and each pass, moving the epoch on, empties it. A writer appends a chunk
   * when it stamps it first in an epoch, so a chunk is at most once in it.
   */
  dirtyChunks: Int32Array | null = null;
  nrDirty = 0;
  /**
   * Per frame, the low byte of the `writeEpoch` of its last write by the package's writers
   * (`markWritten`), from the memory-map check's first pass on (null before: the walk record
   * gives it): within a stamped chunk, a frame whose byte is not the current epoch's was not
   * written in it (one whose byte is may have been, 256 epochs ago: read again).
   */
  frameEpoch: Uint8Array | null = null;
  /**
   * Per frame, 1 when a writer lowered its refcount or changed its mapcounts (marked at the
   * folio's head; a higher refcount cannot break what the rmap check tests of it), what it
   * is (`markWritten`), its `mapping` or `index`, or one of the flags the check reads of
   * its entries (PG_locked, PG_slab, PG_swapbacked, PG_swapcache, PG_anon_exclusive: the
   * flag setters, at the head or at the page written), since the incremental
   * rmap check last cleared it: that check visits only the folios marked here or whose
   * mappings it found changed, and takes an unmarked folio's fields for unchanged
   * (@mmsim/rmap `checkRmap`'s `incremental`). One store per write; a write straight into
   * the arrays does not mark.
   */
  readonly rmapWritten: Uint8Array;
  /**
   * Per group of `1 << LRU_MARK_SHIFT` frames, 1 when a writer changed what the LRU check
   * tests of one of them since that check last cleared it: what the frame is and its folio-list links (`markWritten`), one of
   * the flags that choose or guard an LRU list (PG_lru, PG_active, PG_swapbacked,
   * PG_unevictable, PG_mlocked: the flag setters), a refcount moving to or from 0
   * (`folioRefFreeze`, `folioRefUnfreeze`, `folioRefAdd` of a frozen folio; the last put
   * frees, which `markWritten` covers), or the LRU's own `where` mark (@mmsim/lru). The
   * incremental LRU check (@mmsim/lru `checkLru`'s `incremental`) re-checks only the
   * frames of the groups marked here. One store per write; a write straight into the
   * arrays does not mark. In the chunk stamps' zeroed machine buffer, in whole 8-byte
   * words (half a byte per frame).
   */
  readonly lruWritten: Uint8Array;

  /**
   * `asBuilt`, when given, is the shared frames buffer of a machine of this layout given back
   * in the state this constructor leaves it (-1 in every frame of `headOf`, `next` and
   * `prev`, 0 elsewhere; `releasePhysicalMemory` restores it, `BufferRecycler.takeAsLeft`
   * hands it out), taken from `recycler`: its fills are skipped.
   */
  constructor(
    nodeStart: number[],
    nodeEnd: number[],
    maxPfn: number,
    distances?: ReadonlyArray<ReadonlyArray<number>>,
    recycler: BufferRecycler | null = null,
    asBuilt: ArrayBuffer | null = null,
  ) {
    const nrNodes = nodeStart.length;
    this.nrNodes = nrNodes;
    this.maxPfn = maxPfn;
    this.nodeStart = nodeStart;
    this.nodeEnd = nodeEnd;
    this.recycler = recycler;
    this.recycled = recycler === null ? null : [];
    // The per-frame arrays of a small machine share one buffer: each array of its own is a
    // backing store the garbage collector tracks, and an explorer builds a machine per
    // schedule. A large machine keeps one buffer per array.
    const bytes = frameBufferBytes(maxPfn);
    let shared: ArrayBuffer | null = null;
    if (asBuilt !== null) {
      if (recycler === null || asBuilt.byteLength !== bytes || bytes === 0) {
        throw new MmsimError(
          'INVALID_ARGUMENT',
          'Memmap: a frames buffer as built needs a recycler and the size of the frames buffer',
        );
      }
      (this.recycled as ArrayBuffer[]).push(asBuilt);
      shared = asBuilt;
    } else if (bytes > 0) shared = takeMachineBuffer(this, bytes);
    const v = frameViews(maxPfn, shared);
    this.index = v.index;
    this.content = v.content;
    this.flags = v.flags;
    this.refcount = v.refcount;
    this.mapcount = v.mapcount;
    this.entireMapcount = v.entireMapcount;
    this.totalMapcount = v.totalMapcount;
    this.headOf = v.headOf;
    this.next = v.next;
    this.prev = v.prev;
    this.mappingId = v.mappingId;
    this.listId = v.listId;
    this.state = v.state;
    this.order = v.order;
    this.nid = v.nid;
    this.folioType = v.folioType;
    this.mappingKind = v.mappingKind;
    this.rmapWritten = v.rmapWritten;
    if (asBuilt === null) {
      this.headOf.fill(-1);
      this.next.fill(-1);
      this.prev.fill(-1);
    } else if ((recycler as BufferRecycler).checking) checkAsBuilt(this, asBuilt);
    this.nodeFree = new Float64Array(nrNodes);
    // The free-list heads, tails and counts and the first mapping-ref table share one
    // zeroed machine buffer: a typed array of more than 64 bytes gets a backing store of
    // its own outside the heap, slow to make for a machine per explored schedule.
    const lists = FREE_KINDS * nrNodes * MAX_ORDER;
    const small = takeMachineBuffer(this, 4 * (3 * lists + FIRST_MAPPING_REFS) + lists);
    this.freeHead = new Int32Array(small, 0, lists).fill(-1);
    this.freeTail = new Int32Array(small, 4 * lists, lists).fill(-1);
    this.nrFree = new Int32Array(small, 8 * lists, lists);
    this.mappingRefs = new Int32Array(small, 12 * lists, FIRST_MAPPING_REFS);
    // `lists` bytes, of which the groups' order words take two a group.
    const groups = FREE_KINDS * nrNodes;
    this.freeOrdersWritten = new Uint16Array(small, 4 * (3 * lists + FIRST_MAPPING_REFS), groups);
    this.nodeFreeCma = new Float64Array(nrNodes);
    this.nodeFreeIsolated = new Float64Array(nrNodes);
    this.nodeOffline = new Float64Array(nrNodes);
    this.freeKind = new Uint8Array(takeMachineBuffer(this, maxPfn));
    this.hugeFreeHead = new Int32Array(nrNodes).fill(-1);
    this.nrHugePages = new Int32Array(nrNodes);
    this.freeHugePages = new Int32Array(nrNodes);
    this.surplusHugePages = new Int32Array(nrNodes);
    const tables = nodeTables(nrNodes, distances);
    this.distance = tables.distance;
    this.fallback = tables.fallback;
    this.accessFactor = new Float64Array(nrNodes).fill(1);
    this.copyFactor = new Float64Array(nrNodes).fill(1);
    const chunks = (maxPfn >>> WRITE_CHUNK_SHIFT) + 1;
    // The LRU check's marks share the chunk stamps' buffer (whole words, 8-byte aligned).
    const epochBytes = (4 * chunks + 7) & ~7;
    const stamps = takeMachineBuffer(this, epochBytes + lruMarkBytes(maxPfn));
    this.chunkEpoch = new Uint32Array(stamps, 0, chunks);
    this.lruWritten = new Uint8Array(stamps, epochBytes, lruMarkBytes(maxPfn));
  }
}

/**
 * The byte every byte of `view`, a per-frame array of `m`, holds when the constructor is
 * done: 0xff for the -1 of `headOf`, `next` and `prev`, 0 for the others.
 */
export function frameFillByte(m: Memmap, view: ArrayBufferView): number {
  return view === m.headOf || view === m.next || view === m.prev ? 0xff : 0;
}

/**
 * Throws INVARIANT_VIOLATED at the first byte of the frames buffer `buffer` of `m` that is
 * not what the constructor leaves there (`frameFillByte`): a release that restored too
 * little, or a machine that wrote a frame of a hole (for a checking recycler's tests).
 */
function checkAsBuilt(m: Memmap, buffer: ArrayBuffer): void {
  const bytes = new Uint8Array(buffer);
  for (const value of Object.values(m)) {
    if (!ArrayBuffer.isView(value) || value.buffer !== buffer) continue;
    const fill = frameFillByte(m, value);
    for (let b = value.byteOffset; b < value.byteOffset + value.byteLength; b++) {
      if (bytes[b] !== fill) {
        throw new MmsimError(
          'INVARIANT_VIOLATED',
          `BufferRecycler: a buffer of ${buffer.byteLength} bytes given back as its memory map's constructor leaves it has byte ${b} = ${bytes[b]}, not ${fill}`,
        );
      }
    }
  }
}

/** A machine's node distance table and allocation fallback orders (read-only once built). */
interface NodeTables {
  readonly distance: Uint8Array;
  readonly fallback: readonly Int32Array[];
}

/** The tables of the default distances (10 local, 20 remote), by number of nodes. */
const defaultNodeTables: (NodeTables | undefined)[] = [];
/** The tables of a frozen distance table, by the table. */
const frozenNodeTables = new WeakMap<object, NodeTables>();

/**
 * The distance table and fallback orders of a machine of `nrNodes` nodes: nothing writes
 * them after the memory map is built, so machines with the same table share them (an
 * explorer builds a machine per schedule). Shared for the default table and for a table
 * frozen all through (a resolved kernel configuration's); built afresh for any other, which
 * its owner could still change.
 */
function nodeTables(
  nrNodes: number,
  distances: ReadonlyArray<ReadonlyArray<number>> | undefined,
): NodeTables {
  if (distances === undefined) {
    let tables = defaultNodeTables[nrNodes];
    if (tables === undefined) {
      tables = buildNodeTables(nrNodes, undefined);
      defaultNodeTables[nrNodes] = tables;
    }
    return tables;
  }
  // A table found here was frozen all through when it was kept, and stays so: looked up
  // before the freeze checks, which walk every row.
  let tables = frozenNodeTables.get(distances);
  if (tables !== undefined && tables.fallback.length === nrNodes) return tables;
  if (!Object.isFrozen(distances) || !distances.every((row) => Object.isFrozen(row))) {
    return buildNodeTables(nrNodes, distances);
  }
  if (tables === undefined || tables.fallback.length !== nrNodes) {
    tables = buildNodeTables(nrNodes, distances);
    frozenNodeTables.set(distances, tables);
  }
  return tables;
}

function buildNodeTables(
  nrNodes: number,
  distances: ReadonlyArray<ReadonlyArray<number>> | undefined,
): NodeTables {
  const distance = new Uint8Array(nrNodes * nrNodes);
  for (let a = 0; a < nrNodes; a++) {
    for (let b = 0; b < nrNodes; b++) {
      distance[a * nrNodes + b] =
        distances?.[a]?.[b] ?? (a === b ? LOCAL_DISTANCE : REMOTE_DISTANCE);
    }
  }
  const fallback: Int32Array[] = [];
  for (let n = 0; n < nrNodes; n++) {
    const row = n * nrNodes;
    // Nearest first by the distance table; on equal distance the nearer node id, then
    // the lower one (with the default table: |i - n|, as before the table existed). The
    // order is total, so an insertion sort gives the one order there is.
    const before = (a: number, b: number): boolean =>
      (distance[row + a]! - distance[row + b]! || Math.abs(a - n) - Math.abs(b - n) || a - b) < 0;
    const order = new Int32Array(nrNodes);
    for (let i = 0; i < nrNodes; i++) {
      let j = i;
      for (; j > 0 && before(i, order[j - 1]!); j--) order[j] = order[j - 1]!;
      order[j] = i;
    }
    fallback.push(order);
  }
  return { distance, fallback: Object.freeze(fallback) };
}

/** The object `page->mapping` of `pfn` points at, or null. */
export function getMappingObj(m: Memmap, pfn: number): object | null {
  return m.mappingObjs[m.mappingId[pfn]!]!;
}

/** Sets `page->mapping`'s object of `pfn` (null clears it). */
export function setMappingObj(m: Memmap, pfn: number, obj: object | null): void {
  const old = m.mappingId[pfn]!;
  let id = 0;
  if (obj !== null) {
    if (obj === m.lastMappingObj) id = m.lastMappingId;
    else {
      id = m.mappingIds.get(obj) ?? newMappingId(m, obj);
      m.lastMappingObj = obj;
      m.lastMappingId = id;
    }
  }
  if (old === id) return;
  if (id !== 0) m.mappingRefs[id]!++;
  m.mappingId[pfn] = id;
  markWritten(m, pfn);
  if (old !== 0 && --m.mappingRefs[old]! === 0) {
    const gone = m.mappingObjs[old]!;
    m.mappingIds.delete(gone);
    m.mappingObjs[old] = null;
    m.freeMappingIds.push(old);
    if (m.lastMappingObj === gone) {
      m.lastMappingObj = null;
      m.lastMappingId = 0;
    }
  }
}

function newMappingId(m: Memmap, obj: object): number {
  let id = m.freeMappingIds.pop();
  if (id === undefined) {
    id = m.mappingObjs.length;
    m.mappingObjs.push(null);
    if (id >= m.mappingRefs.length) {
      const grown = new Int32Array(m.mappingRefs.length * 2);
      grown.set(m.mappingRefs);
      m.mappingRefs = grown;
    }
  }
  m.mappingObjs[id] = obj;
  m.mappingIds.set(obj, id);
  return id;
}

/** Pfns per chunk of the page->private slots (`Memmap.privChunks`). */
const PRIV_SHIFT = 12;
const PRIV_CHUNK = 1 << PRIV_SHIFT;
/** Integers below this are kept in the slot itself. */
const PRIV_INLINE_LIMIT = 0x4000_0000;

/** `page_private(pfn)`: null when none. */
export function getPriv(m: Memmap, pfn: number): unknown {
  const chunks = m.privChunks;
  if (chunks === null) return null;
  const chunk = chunks[pfn >>> PRIV_SHIFT];
  if (chunk == null) return null;
  const slot = chunk[pfn & (PRIV_CHUNK - 1)]!;
  if (slot === 0) return null;
  return slot < 0 ? -slot - 1 : m.privObjs[slot];
}

/** `set_page_private(pfn, v)`; null (or undefined) clears it. */
export function setPriv(m: Memmap, pfn: number, value: unknown): void {
  let chunks = m.privChunks;
  if (value === null || value === undefined) {
    if (chunks === null) return;
    const chunk = chunks[pfn >>> PRIV_SHIFT];
    if (chunk == null) return;
    const i = pfn & (PRIV_CHUNK - 1);
    const old = chunk[i]!;
    if (old === 0) return;
    chunk[i] = 0;
    m.privCount--;
    if (old > 0) releasePrivId(m, old);
    return;
  }
  if (chunks === null) {
    chunks = new Array<Int32Array | null>(Math.ceil(m.maxPfn / PRIV_CHUNK)).fill(null);
    m.privChunks = chunks;
  }
  const c = pfn >>> PRIV_SHIFT;
  let chunk = chunks[c];
  if (chunk == null) {
    // No longer than the machine (the last chunk, or a machine of fewer than PRIV_CHUNK
    // frames), in a machine buffer: from the recycler when the machine has one, and back to
    // it on release (a chunk of its own was 16 KiB to allocate, zero and collect for each
    // explored schedule whose machine set a page->private).
    const len = Math.min(PRIV_CHUNK, m.maxPfn - (c << PRIV_SHIFT));
    chunk = new Int32Array(takeMachineBuffer(m, 4 * len), 0, len);
    chunks[c] = chunk;
  }
  const i = pfn & (PRIV_CHUNK - 1);
  const old = chunk[i]!;
  let slot: number;
  if (
    typeof value === 'number' &&
    value >>> 0 === value &&
    value < PRIV_INLINE_LIMIT &&
    (value !== 0 || 1 / value > 0)
  ) {
    slot = -value - 1;
    if (old > 0) releasePrivId(m, old);
  } else if (old > 0) {
    m.privObjs[old] = value;
    return;
  } else slot = newPrivId(m, value);
  if (old === 0) m.privCount++;
  chunk[i] = slot;
}

/**
 * `setPriv(m, p, null)` for each pfn p of [pfn, pfn + nr), in ascending order (so the ids
 * freed go back to `freePrivIds` in the same order), one chunk at a time: a chunk never
 * taken holds no value, and in one that was, only its non-zero slots are cleared. Freeing a
 * large folio (a hugetlb page, a compacted pageblock) clears its frames' page->private;
 * per frame, the chunk lookup cost more than the slot (`resetFrames`).
 */
export function clearPrivRange(m: Memmap, pfn: number, nr: number): void {
  const chunks = m.privChunks;
  if (chunks === null) return;
  const end = pfn + nr;
  let p = pfn;
  while (p < end && m.privCount !== 0) {
    const c = p >>> PRIV_SHIFT;
    const next = Math.min(end, (c + 1) << PRIV_SHIFT);
    const chunk = chunks[c];
    if (chunk != null) {
      const last = next - (c << PRIV_SHIFT);
      for (let i = p & (PRIV_CHUNK - 1); i < last; i++) {
        const old = chunk[i]!;
        if (old === 0) continue;
        chunk[i] = 0;
        m.privCount--;
        if (old > 0) releasePrivId(m, old);
      }
    }
    p = next;
  }
}

function newPrivId(m: Memmap, value: unknown): number {
  const id = m.freePrivIds.pop();
  if (id !== undefined) {
    m.privObjs[id] = value;
    return id;
  }
  m.privObjs.push(value);
  return m.privObjs.length - 1;
}

function releasePrivId(m: Memmap, id: number): void {
  m.privObjs[id] = null;
  m.freePrivIds.push(id);
}

/** The FolioList head `pfn` is on, or null. */
export function listOwnerOf(m: Memmap, pfn: number): FolioList | null {
  return m.lists[m.listId[pfn]!] ?? null;
}

/** Gives `list` an id (a list holds one while it is not empty). */
export function acquireListId(m: Memmap, list: FolioList): number {
  let id = m.freeListIds.pop();
  if (id === undefined) {
    id = m.lists.length;
    m.lists.push(list);
  } else m.lists[id] = list;
  return id;
}

/** Gives back the id of a list that became empty. */
export function releaseListId(m: Memmap, id: number): void {
  m.lists[id] = null;
  m.freeListIds.push(id);
}

/** The HPageTemporary array, allocated on first use. */
export function hugeTemporaryArray(m: Memmap): Uint8Array {
  let a = m.hugeTemporary;
  if (a === null) {
    a = new Uint8Array(m.maxPfn);
    m.hugeTemporary = a;
  }
  return a;
}

/**
 * A zeroed buffer of `bytes` bytes for the machine of `m`: from its recycler when it was
 * built with one (the buffer goes back with `releasePhysicalMemory`), else a new one.
 */
export function takeMachineBuffer(m: Memmap, bytes: number): ArrayBuffer {
  const recycler = m.recycler;
  if (recycler === null) return new ArrayBuffer(bytes);
  if (m.released) {
    throw new MmsimError('INVALID_STATE', 'this physical memory was released; build a new one');
  }
  const buffer = recycler.take(bytes);
  (m.recycled as ArrayBuffer[]).push(buffer);
  return buffer;
}

/** The internal view of a PhysicalMemory (they are the same object). */
export function memmapOf(mem: PhysicalMemory): Memmap {
  return mem as unknown as Memmap;
}

/** The public view of a Memmap. */
export function publicView(m: Memmap): PhysicalMemory {
  return m as unknown as PhysicalMemory;
}

function describePfn(m: Memmap, pfn: number, what: string): MmsimError | null {
  if (!Number.isInteger(pfn) || pfn < 0 || pfn >= m.maxPfn) {
    return new MmsimError(
      'INVALID_ARGUMENT',
      `${what} must be a pfn in [0, ${m.maxPfn}), got ${String(pfn)}`,
    );
  }
  if (m.state[pfn] === FRAME_HOLE) {
    return new MmsimError(
      'INVALID_ARGUMENT',
      `${what} ${pfn} is in a hole between nodes: no memory there (check pfnValid first)`,
    );
  }
  return null;
}

function isFreeState(s: number): boolean {
  return s === FRAME_FREE || s === FRAME_BUDDY || s === FRAME_POOL_HEAD || s === FRAME_POOL_TAIL;
}

/**
 * The error for a value passed as a folio that is not the head of a live folio. `put` says
 * whether the caller was dropping a reference (a free frame then means a double free).
 */
export function folioError(m: Memmap, folio: number, put = false): MmsimError {
  const bad = describePfn(m, folio, 'folio');
  if (bad !== null) return bad;
  const s = m.state[folio]!;
  if (isFreeState(s)) {
    const where =
      s === FRAME_POOL_HEAD || s === FRAME_POOL_TAIL ? 'its hugetlb pool' : 'the buddy allocator';
    return put
      ? new MmsimError(
          'DOUBLE_FREE',
          `folio ${folio} was already freed (it is back in ${where}): a reference was put twice`,
        )
      : new MmsimError(
          'USE_AFTER_FREE',
          `folio ${folio} is free (it is in ${where}): it was used after its last reference was put`,
        );
  }
  // FRAME_TAIL
  if (s === FRAME_OFFLINE) {
    return new MmsimError(
      'USE_AFTER_FREE',
      `folio ${folio} lies in a memory block that was taken offline: nothing may use it`,
    );
  }
  return new MmsimError(
    'INVALID_ARGUMENT',
    `pfn ${folio} is a tail page of folio ${m.headOf[folio]}: pass the head pfn (pfnFolio gives it)`,
  );
}

/** The error for a pfn that should be a page of a live folio. */
export function pageError(m: Memmap, pfn: number): MmsimError {
  const bad = describePfn(m, pfn, 'pfn');
  if (bad !== null) return bad;
  return new MmsimError(
    'USE_AFTER_FREE',
    `pfn ${pfn} is a free frame: its folio was used after its last reference was put`,
  );
}

/** Throws unless `folio` is the head of a live folio. */
export function checkFolio(m: Memmap, folio: number): void {
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
}

/** Throws unless `pfn` is a page (head or tail) of a live folio. */
export function checkPage(m: Memmap, pfn: number): void {
  const s = m.state[pfn];
  if (s !== FRAME_HEAD && s !== FRAME_TAIL) throw pageError(m, pfn);
}

/** Throws INVALID_ARGUMENT unless `nid` names a node. */
export function checkNid(m: Memmap, nid: number): void {
  if (!Number.isInteger(nid) || nid < 0 || nid >= m.nrNodes) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `nid must be a node id in [0, ${m.nrNodes - 1}], got ${String(nid)}`,
    );
  }
}

/** Throws unless `pfn` is a valid frame (any state but a hole). */
export function checkPfn(m: Memmap, pfn: number, what = 'pfn'): void {
  const bad = describePfn(m, pfn, what);
  if (bad !== null) throw bad;
}

/** True when the frame is free (in the buddy or in a hugetlb pool). */
export function frameIsFree(m: Memmap, pfn: number): boolean {
  return isFreeState(m.state[pfn]!);
}

/**
 * Notes a write to the memmap fields of frame `pfn` that the incremental memory-map check
 * skips when unchanged (invariants/sound.ts): one store, stamping its chunk with the
 * current write epoch (and, the first time in an epoch, a second one listing the chunk in
 * `dirtyChunks`), and the frame's own `frameEpoch`. The writers that change what a frame is (the buddy allocator, folio
 * preparation and freeing, split, hugetlb pools and HPageTemporary, memory failure,
 * isolation and hotplug, `page->mapping`, the folio lists' links) call it or
 * `markWrittenRange`. The hot setters do not, as none can change a skipped test: the flag,
 * refcount and mapcount setters act on live folios only (state FRAME_HEAD, or a live
 * folio's page), never set PG_head, keep the counts they guard non-negative and each
 * page's mapcount summed in its head. A write that bypasses the package's functions is
 * seen only by a full check.
 */
export function markWritten(m: Memmap, pfn: number): void {
  const c = pfn >>> WRITE_CHUNK_SHIFT;
  const epoch = m.writeEpoch;
  if (m.chunkEpoch[c] !== epoch) {
    m.chunkEpoch[c] = epoch;
    const dirty = m.dirtyChunks;
    if (dirty !== null) dirty[m.nrDirty++] = c;
  }
  const frames = m.frameEpoch;
  if (frames !== null) frames[pfn] = epoch;
  m.rmapWritten[pfn] = 1;
  m.lruWritten[pfn >>> LRU_MARK_SHIFT] = 1;
}

/** `markWritten` for frames `pfn` to `pfn + nr - 1`. */
export function markWrittenRange(m: Memmap, pfn: number, nr: number): void {
  const epoch = m.writeEpoch;
  const last = (pfn + nr - 1) >>> WRITE_CHUNK_SHIFT;
  const stamps = m.chunkEpoch;
  for (let c = pfn >>> WRITE_CHUNK_SHIFT; c <= last; c++) {
    if (stamps[c] === epoch) continue;
    stamps[c] = epoch;
    const dirty = m.dirtyChunks;
    if (dirty !== null) dirty[m.nrDirty++] = c;
  }
  const frames = m.frameEpoch;
  if (frames !== null) {
    if (nr <= 16) for (let p = pfn; p < pfn + nr; p++) frames[p] = epoch;
    else frames.fill(epoch & 0xff, pfn, pfn + nr);
  }
  const marks = m.rmapWritten;
  // A loop for the common short range (an order-0 folio freed): no builtin call.
  if (nr <= 16) for (let p = pfn; p < pfn + nr; p++) marks[p] = 1;
  else marks.fill(1, pfn, pfn + nr);
  const lastGroup = (pfn + nr - 1) >>> LRU_MARK_SHIFT;
  for (let g = pfn >>> LRU_MARK_SHIFT; g <= lastGroup; g++) m.lruWritten[g] = 1;
}
