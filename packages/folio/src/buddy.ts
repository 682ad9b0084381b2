import { checkInt, EBUSY, ENOMEM, MmsimError } from '@mmsim/runtime';
import { MAX_ORDER } from './constants.js';
import { PG_head } from './flags.js';
import { type FolioList, folioListInternals } from './folio-list.js';
import {
  type AllocFailureHook,
  checkNid,
  clearPrivRange,
  FOLIO_TYPE_NORMAL,
  type Folio,
  FRAME_BUDDY,
  FRAME_FREE,
  FRAME_HEAD,
  FRAME_TAIL,
  FREE_KIND_CMA,
  FREE_KIND_ISOLATE,
  FREE_KIND_NORMAL,
  type Memmap,
  markWritten,
  markWrittenRange,
  memmapOf,
  type PhysicalMemory,
  setMappingObj,
  setPriv,
} from './memmap.js';
import { PAGEBLOCK_ORDER } from './pageblock.js';
import { ZONE_MOVABLE, ZONE_NORMAL } from './zone.js';

/**
 * The per-node buddy allocator (mm/page_alloc.c, Linux 6.3), one zone per node. Free blocks
 * of order 0..MAX_ORDER-1 sit on per-order free lists linked through the memmap's pfn
 * links, as the kernel links them through page->lru. Each order has three lists per node
 * (FREE_KIND_*): one for the unmovable / movable / reclaimable pageblocks (the model does not
 * split them), one for MIGRATE_CMA pageblocks and one for MIGRATE_ISOLATE pageblocks, whose
 * pages no allocation takes. Not modelled: fallback stealing between the first three
 * migratetypes, per-CPU page lists, watermarks and reclaim; an allocation succeeds whenever
 * a block fits.
 */

/** Options of `folioAlloc` and `allocHugetlbFolio`. */
export interface AllocOptions {
  /** `__GFP_THISNODE`: fail rather than fall back to another node. */
  readonly thisNode?: boolean;
  /**
   * `__GFP_MOVABLE` (default true: the model's allocations are user and page-cache memory,
   * GFP_HIGHUSER_MOVABLE). Only movable allocations get ALLOC_CMA
   * (`gfp_to_alloc_flags_cma`, mm/page_alloc.c, 6.3) and may take pages of MIGRATE_CMA
   * pageblocks or of ZONE_MOVABLE (`gfp_zone`); false is a kernel (unmovable) allocation
   * (`GFP_USER`, or any gfp under `memalloc_pin_save`), served from neither.
   */
  readonly movable?: boolean;
}

/** FREE_KIND_* of the pageblock holding `pfn`. */
export function pageblockFreeKind(m: Memmap, pfn: number): number {
  const kinds = m.pbKind;
  return kinds === null ? FREE_KIND_NORMAL : kinds[pfn >> PAGEBLOCK_ORDER]!;
}

/** The free-list slot of `kind`, node `nid`, order 0 (add the order). */
export function freeListBase(m: Memmap, kind: number, nid: number): number {
  return (kind * m.nrNodes + nid) * MAX_ORDER;
}

/**
 * Marks free list `slot` changed for the memory-map check (`Memmap.freeOrdersWritten`:
 * its order's bit in its group's word). Not a kernel operation: the check's bookkeeping.
 */
export function noteFreeListWritten(m: Memmap, slot: number): void {
  const group = (slot / MAX_ORDER) | 0;
  m.freeOrdersWritten[group]! |= 1 << (slot - group * MAX_ORDER);
}

/** The free-list slot the free block headed by `pfn` is linked on. */
export function freeSlotOf(m: Memmap, pfn: number): number {
  return freeListBase(m, m.freeKind[pfn]!, m.nid[pfn]!) + m.order[pfn]!;
}

/**
 * `__mod_zone_freepage_state(zone, delta, mt)`: NR_FREE_PAGES (and NR_FREE_CMA_PAGES for
 * CMA) move with the free pages of the NORMAL and CMA lists; isolated free pages are kept
 * apart (`nodeFreeIsolated`), not counted as free.
 */
export function accountFreePages(m: Memmap, nid: number, kind: number, delta: number): void {
  if (kind === FREE_KIND_ISOLATE) {
    m.nodeFreeIsolated[nid]! += delta;
    return;
  }
  m.nodeFree[nid]! += delta;
  if (kind === FREE_KIND_CMA) m.nodeFreeCma[nid]! += delta;
}

/**
 * `add_to_free_list` / `add_to_free_list_tail`: link a block on its order's free list,
 * `slot` (a list of `kind`: `freeListBase(m, kind, nid) + order`).
 */
export function addToFreeList(
  m: Memmap,
  pfn: number,
  slot: number,
  kind: number,
  toTail: boolean,
): void {
  m.freeKind[pfn] = kind;
  markWritten(m, pfn);
  if (toTail) {
    const tail = m.freeTail[slot]!;
    m.prev[pfn] = tail;
    m.next[pfn] = -1;
    if (tail >= 0) m.next[tail] = pfn;
    else m.freeHead[slot] = pfn;
    if (tail >= 0) markWritten(m, tail);
    m.freeTail[slot] = pfn;
  } else {
    const head = m.freeHead[slot]!;
    m.next[pfn] = head;
    m.prev[pfn] = -1;
    if (head >= 0) m.prev[head] = pfn;
    else m.freeTail[slot] = pfn;
    if (head >= 0) markWritten(m, head);
    m.freeHead[slot] = pfn;
  }
  m.nrFree[slot]!++;
  noteFreeListWritten(m, slot);
}

/** `del_page_from_free_list`. */
export function delFromFreeList(m: Memmap, pfn: number, slot: number): void {
  const next = m.next[pfn]!;
  const prev = m.prev[pfn]!;
  if (prev >= 0) m.next[prev] = next;
  else m.freeHead[slot] = next;
  if (next >= 0) m.prev[next] = prev;
  else m.freeTail[slot] = prev;
  m.next[pfn] = -1;
  m.prev[pfn] = -1;
  markWritten(m, pfn);
  if (prev >= 0) markWritten(m, prev);
  if (next >= 0) markWritten(m, next);
  m.nrFree[slot]!--;
  noteFreeListWritten(m, slot);
}

/**
 * `__rmqueue_smallest` + `expand`: take the first block of the smallest order that fits and
 * give the unused upper halves back to the lower free lists. Returns the first pfn or -1.
 */
function rmqueueSmallest(m: Memmap, nid: number, order: number, kind: number): number {
  return rmqueueSmallestIn(m, nid, order, kind, 0, m.maxPfn);
}

/**
 * `__rmqueue_smallest` on the `kind` lists of node `nid`, restricted to the pfns [lo, hi)
 * of one zone (zone boundaries are MAX_ORDER_NR_PAGES-aligned, so no free block straddles
 * one): the first block of the smallest order that lies in the zone, split as `expand`
 * does. Returns its first pfn or -1.
 */
function rmqueueSmallestIn(
  m: Memmap,
  nid: number,
  order: number,
  kind: number,
  lo: number,
  hi: number,
): number {
  if (lo >= hi) return -1;
  const base = freeListBase(m, kind, nid);
  for (let current = order; current < MAX_ORDER; current++) {
    let pfn = m.freeHead[base + current]!;
    while (pfn >= 0 && (pfn < lo || pfn >= hi)) pfn = m.next[pfn]!;
    if (pfn < 0) continue;
    delFromFreeList(m, pfn, base + current);
    m.state[pfn] = FRAME_FREE;
    markWritten(m, pfn);
    let high = current;
    let size = 1 << current;
    while (high > order) {
      high--;
      size >>= 1;
      const half = pfn + size;
      m.state[half] = FRAME_BUDDY;
      m.order[half] = high;
      markWritten(m, half);
      addToFreeList(m, half, base + high, kind, false);
    }
    accountFreePages(m, nid, kind, -(1 << order));
    return pfn;
  }
  return -1;
}

/**
 * `__rmqueue` (mm/page_alloc.c, 6.3) for one node: a movable allocation (ALLOC_CMA) takes
 * from the CMA lists first when they hold more than half the node's free pages, else from
 * the normal lists and then from CMA (`__rmqueue_cma_fallback`); an unmovable one never
 * from CMA. Returns the first pfn or -1.
 */
function rmqueue(
  m: Memmap,
  nid: number,
  order: number,
  allocCma: boolean,
  lo = 0,
  hi = m.maxPfn,
): number {
  if (!allocCma || m.nodeFreeCma[nid] === 0) {
    return rmqueueSmallestIn(m, nid, order, FREE_KIND_NORMAL, lo, hi);
  }
  if (m.nodeFreeCma[nid]! > m.nodeFree[nid]! / 2) {
    const pfn = rmqueueSmallestIn(m, nid, order, FREE_KIND_CMA, lo, hi);
    if (pfn >= 0) return pfn;
  }
  const pfn = rmqueueSmallestIn(m, nid, order, FREE_KIND_NORMAL, lo, hi);
  return pfn >= 0 ? pfn : rmqueueSmallestIn(m, nid, order, FREE_KIND_CMA, lo, hi);
}

/**
 * `folioAlloc` on a machine with zones (a node with ZONE_MOVABLE):
 * `get_page_from_freelist` over the zonelist (mm/page_alloc.c, 6.3), the nodes in
 * fallback order and within each node the highest allowed zone first. A movable allocation
 * tries the node's ZONE_MOVABLE, then its ZONE_NORMAL (CMA blocks allowed, ALLOC_CMA); an
 * unmovable one (`movable: false`: GFP_USER, or any gfp under `memalloc_pin_save`) only
 * ZONE_NORMAL, and never a MIGRATE_CMA pageblock.
 */
function folioAllocZoned(
  m: Memmap,
  order: number,
  nid: number,
  options: AllocOptions | undefined,
): Folio | number {
  const movable = options?.movable !== false;
  const zonelist = m.fallback[nid]!;
  const last = options?.thisNode === true ? 1 : zonelist.length;
  let pfn = -1;
  for (let i = 0; i < last && pfn < 0; i++) {
    const n = zonelist[i]!;
    const end = m.nodeEnd[n]!;
    const zoneStart = m.zoneMovablePfn === null ? end : m.zoneMovablePfn[n]!;
    if (movable && zoneStart < end) pfn = rmqueue(m, n, order, true, zoneStart, end);
    if (pfn < 0) pfn = rmqueue(m, n, order, movable, m.nodeStart[n]!, zoneStart);
  }
  if (pfn < 0) {
    if (order > 0 && m.allocFailureHook !== null) {
      m.allocFailureHook(nid, order, movable ? ZONE_MOVABLE : ZONE_NORMAL);
    }
    return -ENOMEM;
  }
  prepNewFolio(m, pfn, order, FOLIO_TYPE_NORMAL);
  return pfn;
}

/**
 * Turns free frames [pfn, pfn + 2^order) into a new folio: refcount 1, clean flags
 * (PG_head when large), mapcount 0, no mapping, content words 0 (`prep_new_page` with
 * `__GFP_ZERO`-like contents so integrity checks start from a known value).
 */
export function prepNewFolio(m: Memmap, pfn: number, order: number, type: number): void {
  m.state[pfn] = FRAME_HEAD;
  m.order[pfn] = order;
  m.headOf[pfn] = pfn;
  m.refcount[pfn] = 1;
  m.folioType[pfn] = type;
  m.content[pfn] = 0;
  markWritten(m, pfn);
  if (order === 0) return;
  markWrittenRange(m, pfn, 1 << order);
  m.flags[pfn] = 1 << PG_head;
  const end = pfn + (1 << order);
  if (1 << order <= RESET_LOOP_MAX) {
    for (let p = pfn + 1; p < end; p++) {
      m.state[p] = FRAME_TAIL;
      m.headOf[p] = pfn;
    }
  } else {
    // A THP or a huge page: two fills rather than a pass of two writes per tail.
    m.state.fill(FRAME_TAIL, pfn + 1, end);
    m.headOf.fill(pfn, pfn + 1, end);
  }
  m.content.fill(0, pfn + 1, end);
}

/**
 * Whether two free buddies of `order` on the free lists of `kind` must have been merged.
 * `__free_one_page` (mm/page_alloc.c, 6.3) merges every such pair, but
 * `move_freepages_block` only moves blocks from list to list: when `set_migratetype_isolate`
 * (mm/page_isolation.c) isolates two neighbouring pageblocks whose free blocks were kept
 * apart (a buddy in an isolated pageblock does not merge with one in a normal pageblock),
 * each keeps its own block of pageblock order or more until `unset_migratetype_isolate`
 * re-frees one whose buddy is no longer isolated. Below pageblock order both halves share a
 * pageblock, and its migratetype, so they always merged when the second was freed.
 */
export function buddiesMustMerge(order: number, kind: number): boolean {
  return order < PAGEBLOCK_ORDER || kind !== FREE_KIND_ISOLATE;
}

/**
 * `__free_one_page` (6.3): return a block to its node's buddy, merging with free buddies of
 * the same order as long as they exist. The merged block goes to the head of its free list,
 * or to the tail when `toTail` (FPI_TO_TAIL, used for boot-time memory) or when the
 * next-higher buddy is free too (`buddy_merge_likely`), so that it is less likely to be
 * allocated before the merge can happen. The frames must already be reset to FRAME_FREE.
 */
export function freeOneBlock(m: Memmap, pfn: number, order: number, toTail: boolean): void {
  const nid = m.nid[pfn]!;
  const kind = pageblockFreeKind(m, pfn);
  const base = freeListBase(m, kind, nid);
  accountFreePages(m, nid, kind, 1 << order);
  while (order < MAX_ORDER - 1) {
    const buddy = pfn ^ (1 << order);
    // A buddy outside the node is a hole (nodes start MAX_ORDER_NR_PAGES-aligned).
    if (m.state[buddy] !== FRAME_BUDDY || m.order[buddy] !== order) break;
    // 6.3: no merge across pageblocks of different migratetypes when one of them is
    // CMA or ISOLATE (`migratetype_is_mergeable`).
    if (order >= PAGEBLOCK_ORDER && m.pbKind !== null && pageblockFreeKind(m, buddy) !== kind)
      break;
    const buddyKind = m.freeKind[buddy]!;
    // Stamps the buddy (and its list neighbours) for the memory-map check.
    delFromFreeList(m, buddy, freeListBase(m, buddyKind, nid) + order);
    if (buddyKind !== kind) {
      accountFreePages(m, nid, buddyKind, -(1 << order));
      accountFreePages(m, nid, kind, 1 << order);
    }
    m.state[buddy] = FRAME_FREE;
    pfn &= buddy;
    order++;
  }
  // addToFreeList stamps pfn (no scheduling point between, so the same write epoch).
  m.state[pfn] = FRAME_BUDDY;
  m.order[pfn] = order;
  if (!toTail && order < MAX_ORDER - 2) {
    const buddy = pfn ^ (1 << order);
    const higher = (buddy & pfn) ^ (1 << (order + 1));
    toTail = m.state[higher] === FRAME_BUDDY && m.order[higher] === order + 1;
  }
  addToFreeList(m, pfn, base + order, kind, toTail);
}

/**
 * Marks the frames of a folio free (the memmap part of `free_pages_prepare`). A large folio's
 * per-frame fields are cleared with typed-array fills (one builtin call per field instead of
 * a pass of eight writes per frame); mapping ids and page->private, which keep counts of
 * their own, are dropped frame by frame where set.
 */
export function resetFrames(m: Memmap, pfn: number, nr: number): void {
  const end = pfn + nr;
  if (nr === 1) markWritten(m, pfn);
  else markWrittenRange(m, pfn, nr);
  if (nr <= RESET_LOOP_MAX) {
    for (let p = pfn; p < end; p++) {
      m.state[p] = FRAME_FREE;
      m.flags[p] = 0;
      m.mapcount[p] = 0;
      m.mappingKind[p] = 0;
      if (m.mappingId[p] !== 0) setMappingObj(m, p, null);
      if (m.privCount !== 0) setPriv(m, p, null);
      m.index[p] = 0;
      m.headOf[p] = -1;
    }
  } else {
    m.state.fill(FRAME_FREE, pfn, end);
    m.flags.fill(0, pfn, end);
    m.mapcount.fill(0, pfn, end);
    m.mappingKind.fill(0, pfn, end);
    m.index.fill(0, pfn, end);
    m.headOf.fill(-1, pfn, end);
    const ids = m.mappingId;
    for (let p = pfn; p < end; p++) if (ids[p] !== 0) setMappingObj(m, p, null);
    if (m.privCount !== 0) clearPrivRange(m, pfn, nr);
  }
  m.refcount[pfn] = 0;
  m.entireMapcount[pfn] = 0;
  m.totalMapcount[pfn] = 0;
  m.folioType[pfn] = FOLIO_TYPE_NORMAL;
  m.order[pfn] = 0;
}

/**
 * Up to this many frames `resetFrames` and `prepNewFolio` write frame by frame (a fill call
 * costs more).
 */
const RESET_LOOP_MAX = 16;

/**
 * Allocates an order-`order` folio on node `nid`: a model of `__folio_alloc_node` /
 * `alloc_pages_node` (Linux 6.3). Without `thisNode` (no `__GFP_THISNODE`) it falls back to
 * the other nodes by distance |i - nid|, the lower node id first on ties. Returns the new
 * folio (refcount 1) or `-ENOMEM` when no node has a free block of that order.
 */
export function folioAlloc(
  mem: PhysicalMemory,
  order: number,
  nid: number,
  options?: AllocOptions,
): Folio | number {
  const m = memmapOf(mem);
  if (!(order >= 0 && order < MAX_ORDER && (order | 0) === order)) {
    checkInt('order', order, 0, MAX_ORDER - 1);
  }
  if (!(nid >= 0 && nid < m.nrNodes && (nid | 0) === nid)) checkNid(m, nid);
  if (m.zoneMovablePfn !== null) return folioAllocZoned(m, order, nid, options);
  const allocCma = options?.movable !== false;
  let pfn = rmqueue(m, nid, order, allocCma);
  if (pfn < 0) {
    if (options?.thisNode === true) {
      if (order > 0 && m.allocFailureHook !== null)
        m.allocFailureHook(nid, order, allocCma ? ZONE_MOVABLE : ZONE_NORMAL);
      return -ENOMEM;
    }
    const zonelist = m.fallback[nid]!;
    for (let i = 1; i < zonelist.length && pfn < 0; i++) {
      pfn = rmqueue(m, zonelist[i]!, order, allocCma);
    }
    if (pfn < 0) {
      if (order > 0 && m.allocFailureHook !== null)
        m.allocFailureHook(nid, order, allocCma ? ZONE_MOVABLE : ZONE_NORMAL);
      return -ENOMEM;
    }
  }
  prepNewFolio(m, pfn, order, FOLIO_TYPE_NORMAL);
  return pfn;
}

/** Allocates exactly on `nid` without fallback; used to fill the hugetlb pools at boot. */
export function allocOnNode(m: Memmap, order: number, nid: number): number {
  return rmqueueSmallest(m, nid, order, FREE_KIND_NORMAL);
}

/**
 * Like `allocOnNode`, restricted to the pfns [lo, hi) of one zone of `nid` (normal free
 * lists only, so never from a CMA pageblock): an order-`order` block or -1.
 */
export function allocOnNodeIn(
  m: Memmap,
  order: number,
  nid: number,
  lo: number,
  hi: number,
): number {
  return rmqueueSmallestIn(m, nid, order, FREE_KIND_NORMAL, lo, hi);
}

/** Free pages in node `nid`'s buddy allocator (hugetlb pool pages are not counted). */
export function nodeFreePages(mem: PhysicalMemory, nid: number): number {
  const m = memmapOf(mem);
  checkNid(m, nid);
  return m.nodeFree[nid]!;
}

/** `zone->free_area[order].nr_free` of node `nid`: free blocks of that order. */
export function nodeNrFree(mem: PhysicalMemory, nid: number, order: number): number {
  const m = memmapOf(mem);
  checkNid(m, nid);
  checkInt('order', order, 0, MAX_ORDER - 1);
  return m.nrFree[nid * MAX_ORDER + order]!;
}

/** The free blocks of one order on node `nid`, in free-list order (head first). */
export function nodeFreeList(mem: PhysicalMemory, nid: number, order: number): number[] {
  const m = memmapOf(mem);
  checkNid(m, nid);
  checkInt('order', order, 0, MAX_ORDER - 1);
  const out: number[] = [];
  const limit = m.nrFree[nid * MAX_ORDER + order]!;
  for (let p = m.freeHead[nid * MAX_ORDER + order]!; p >= 0; p = m.next[p]!) {
    if (out.length > limit) {
      throw new MmsimError('INVARIANT_VIOLATED', `free list of node ${nid} order ${order} loops`);
    }
    out.push(p);
  }
  return out;
}

/**
 * Makes the allocator call `hook(nid, order, highestZoneidx)` whenever an allocation of
 * order > 0 fails (`folioAlloc` returning -ENOMEM): the point of `__alloc_pages_slowpath`
 * (mm/page_alloc.c, 6.3) where `wake_all_kswapds` runs, and `wakeup_kswapd` wakes kcompactd
 * for a node with enough free memory that is too fragmented (`wakeup_kcompactd`).
 * `highestZoneidx` is the allocation's `ac->highest_zoneidx`, `gfp_zone(gfp_mask)`:
 * ZONE_MOVABLE for a movable allocation (`__GFP_MOVABLE | __GFP_HIGHMEM`, whether or not the
 * machine has a populated ZONE_MOVABLE), ZONE_NORMAL for a kernel one (`movable: false`;
 * the model folds ZONE_DMA / ZONE_DMA32 into ZONE_NORMAL). One hook per memory; null
 * removes it.
 */
export function setAllocFailureHook(mem: PhysicalMemory, hook: AllocFailureHook | null): void {
  if (hook !== null && typeof hook !== 'function') {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      'the allocation-failure hook must be a function or null',
    );
  }
  memmapOf(mem).allocFailureHook = hook;
}

/** The hook set by `setAllocFailureHook`, or null. */
export function allocFailureHook(mem: PhysicalMemory): AllocFailureHook | null {
  return memmapOf(mem).allocFailureHook;
}

/**
 * `PageBuddy(page) ? buddy_order(page) : -1`: the order of the free buddy block whose first
 * frame is `pfn`, or -1 when `pfn` does not start a free block.
 */
export function buddyOrderAt(mem: PhysicalMemory, pfn: number): number {
  const m = memmapOf(mem);
  if (!(Number.isInteger(pfn) && pfn >= 0 && pfn < m.maxPfn)) {
    throw new MmsimError('INVALID_ARGUMENT', `pfn must be in [0, ${m.maxPfn}), got ${String(pfn)}`);
  }
  return m.state[pfn] === FRAME_BUDDY ? m.order[pfn]! : -1;
}

/**
 * `__isolate_free_page(page, order)` followed by `split_map_pages` (mm/page_alloc.c,
 * mm/compaction.c, 6.3): takes the free block starting at `pfn` off its free list and
 * turns each of its pages into an order-0 folio with one reference, the form in which
 * compaction's free scanner keeps its targets on `cc->freepages`. Returns the number of
 * pages isolated (`1 << order`), or 0 when `pfn` does not start a free block. The
 * watermark check of `__isolate_free_page` is not modelled (the model has no watermarks).
 * Each page goes back with `folioPut` (`release_freepages`).
 *
 * With `list`, the pages are then added at its tail in pfn order (the free scanner's
 * `list_add_tail` of each onto `cc->freepages`): the machine and the list end as
 * `list.addTail` page by page leaves them, done for the whole block at once
 * (compaction takes blocks of up to a pageblock, and per page `prepNewFolio` and `addTail`
 * with their checks and stamps cost more than the writes). A page that is on a list already (a corrupt memmap) is refused by
 * `list.addTail` after the pages before it were added, as the page-by-page loop refuses it.
 */
export function isolateFreeBlock(mem: PhysicalMemory, pfn: number, list?: FolioList): number {
  const m = memmapOf(mem);
  if (list !== undefined && folioListInternals().memmap(list) !== m) {
    throw new MmsimError('INVALID_ARGUMENT', 'the list must be a FolioList of the same memory');
  }
  const order = buddyOrderAt(mem, pfn);
  if (order < 0) return 0;
  const nid = m.nid[pfn]!;
  const kind = m.freeKind[pfn]!;
  delFromFreeList(m, pfn, freeListBase(m, kind, nid) + order);
  const nr = 1 << order;
  accountFreePages(m, nid, kind, -nr);
  if (list === undefined) {
    for (let p = pfn; p < pfn + nr; p++) prepNewFolio(m, p, 0, FOLIO_TYPE_NORMAL);
    return nr;
  }
  prepNewPages(m, pfn, nr);
  // The pages up to the first one on a list already (none: all of them).
  const ids = m.listId;
  let ok = 0;
  while (ok < nr && ids[pfn + ok] === 0) ok++;
  folioListInternals().addTailRun(list, pfn, ok);
  if (ok < nr) list.addTail(pfn + ok); // throws CONTRACT_VIOLATION
  return nr;
}

/**
 * `prepNewFolio(m, p, 0, FOLIO_TYPE_NORMAL)` for each of the free frames pfn .. pfn + nr - 1:
 * `nr` order-0 folios, with typed-array fills for a long run (one builtin call per field
 * instead of six writes and a stamp per frame). The test of `isolateFreeBlock` onto a list
 * compares it with the page-by-page calls.
 */
function prepNewPages(m: Memmap, pfn: number, nr: number): void {
  const end = pfn + nr;
  if (nr <= RESET_LOOP_MAX) {
    for (let p = pfn; p < end; p++) prepNewFolio(m, p, 0, FOLIO_TYPE_NORMAL);
    return;
  }
  m.state.fill(FRAME_HEAD, pfn, end);
  m.order.fill(0, pfn, end);
  m.refcount.fill(1, pfn, end);
  m.folioType.fill(FOLIO_TYPE_NORMAL, pfn, end);
  m.content.fill(0, pfn, end);
  const heads = m.headOf;
  for (let p = pfn; p < end; p++) heads[p] = p;
  markWrittenRange(m, pfn, nr);
}

/**
 * Takes the free page `pfn` out of the buddy as an order-0 folio with one reference,
 * giving the rest of its free block back in halves, as `expand` does: a way for a test or
 * a scenario to put an allocation at a chosen place (a pinned kernel page that fragments a
 * pageblock). Returns `pfn`, or -EBUSY when the frame is not free in the buddy.
 */
export function allocPfn(mem: PhysicalMemory, pfn: number): Folio | number {
  const m = memmapOf(mem);
  checkPfnRange(m, pfn);
  let head = -1;
  for (let o = 0; o < MAX_ORDER; o++) {
    const h = pfn & ~((1 << o) - 1);
    if (m.state[h] === FRAME_BUDDY && h + (1 << m.order[h]!) > pfn) {
      head = h;
      break;
    }
  }
  if (head < 0) return -EBUSY;
  const nid = m.nid[head]!;
  const kind = m.freeKind[head]!;
  const base = freeListBase(m, kind, nid);
  let order = m.order[head]!;
  delFromFreeList(m, head, base + order);
  m.state[head] = FRAME_FREE;
  markWritten(m, head);
  while (order > 0) {
    order--;
    const size = 1 << order;
    const give = pfn < head + size ? head + size : head;
    if (give === head) head += size;
    m.state[give] = FRAME_BUDDY;
    m.order[give] = order;
    markWritten(m, give);
    addToFreeList(m, give, base + order, kind, false);
  }
  accountFreePages(m, nid, kind, -1);
  prepNewFolio(m, pfn, 0, FOLIO_TYPE_NORMAL);
  return pfn;
}

function checkPfnRange(m: Memmap, pfn: number): void {
  if (!(Number.isInteger(pfn) && pfn >= 0 && pfn < m.maxPfn)) {
    throw new MmsimError('INVALID_ARGUMENT', `pfn must be in [0, ${m.maxPfn}), got ${String(pfn)}`);
  }
}
