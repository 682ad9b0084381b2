import { EBUSY, EINVAL, MmsimError } from '@mmsim/runtime';
import {
  accountFreePages,
  addToFreeList,
  delFromFreeList,
  freeListBase,
  freeOneBlock,
  isolateFreeBlock,
  pageblockFreeKind,
} from './buddy.js';
import { MAX_ORDER } from './constants.js';
import { PG_hwpoison, PG_lru, PG_reserved } from './flags.js';
import { PAGE_MAPPING_MOVABLE } from './mapping.js';
import {
  FOLIO_TYPE_HUGETLB,
  FRAME_BUDDY,
  FRAME_FREE,
  FRAME_HEAD,
  FRAME_OFFLINE,
  FRAME_POOL_HEAD,
  FRAME_POOL_TAIL,
  FRAME_TAIL,
  FREE_KIND_CMA,
  FREE_KIND_ISOLATE,
  FREE_KIND_NORMAL,
  type Memmap,
  markWrittenRange,
  memmapOf,
  type PhysicalMemory,
} from './memmap.js';
import { dissolveFreeHugeFolio } from './memory-failure.js';
import {
  getPageblockMigratetype,
  MIGRATE_CMA,
  MIGRATE_ISOLATE,
  MIGRATE_MOVABLE,
  PAGEBLOCK_NR_PAGES,
  PAGEBLOCK_ORDER,
  pageblockStartPfn,
  setPageblockMigratetype,
} from './pageblock.js';
import { folioPut } from './refcount.js';

/**
 * Pageblock isolation (mm/page_isolation.c, include/linux/page-isolation.h, Linux 6.3):
 * the step memory hotplug offline and `alloc_contig_range` (CMA, gigantic hugetlb) take
 * before migrating a range away. An isolated pageblock has migratetype MIGRATE_ISOLATE;
 * its free pages sit on the isolate free lists, which no allocation takes from
 * (`__rmqueue` never asks for MIGRATE_ISOLATE), and pages freed there go back to those
 * lists. Compaction's free scanner passes over it (`suitable_migration_target`).
 */

/** `MEMORY_OFFLINE` isolation flag (6.3): isolating to offline memory. */
export const MEMORY_OFFLINE = 0x1;
/** `REPORT_FAILURE` isolation flag (6.3): dump the unmovable page found. */
export const REPORT_FAILURE = 0x2;

function checkRange(m: Memmap, start: number, end: number, what: string): void {
  if (
    !(
      Number.isInteger(start) &&
      Number.isInteger(end) &&
      start >= 0 &&
      end <= m.maxPfn &&
      start < end
    )
  ) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `${what}: [${String(start)}, ${String(end)}) is not a pfn range of this memory`,
    );
  }
}

function checkMigratetype(what: string, migratetype: number): void {
  if (migratetype !== MIGRATE_MOVABLE && migratetype !== MIGRATE_CMA) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `${what}: migratetype must be MIGRATE_MOVABLE (${MIGRATE_MOVABLE}) or MIGRATE_CMA (${MIGRATE_CMA}), got ${String(migratetype)}`,
    );
  }
}

/**
 * `split_free_page` as `isolate_single_pageblock` uses it (6.3): a free block larger than
 * a pageblock that covers `pfn`'s pageblock is cut into pageblock-sized free blocks, each
 * on the list of its own pageblock's kind, so that one pageblock can change lists alone.
 */
function splitStraddlingFreeBlock(m: Memmap, pfn: number): void {
  for (let o = PAGEBLOCK_ORDER + 1; o < MAX_ORDER; o++) {
    const head = pfn & ~((1 << o) - 1);
    if (m.state[head] !== FRAME_BUDDY || m.order[head] !== o) continue;
    const nid = m.nid[head]!;
    const kind = m.freeKind[head]!;
    delFromFreeList(m, head, freeListBase(m, kind, nid) + o);
    accountFreePages(m, nid, kind, -(1 << o));
    for (let p = head; p < head + (1 << o); p += PAGEBLOCK_NR_PAGES) {
      const k = pageblockFreeKind(m, p);
      m.state[p] = FRAME_BUDDY;
      m.order[p] = PAGEBLOCK_ORDER;
      addToFreeList(m, p, freeListBase(m, k, nid) + PAGEBLOCK_ORDER, k, false);
      accountFreePages(m, nid, k, PAGEBLOCK_NR_PAGES);
    }
    return;
  }
}

/**
 * `move_freepages_block(zone, page, mt)` (6.3): moves every free block that starts in the
 * pageblock of `pfn` to the free lists of `kind`, keeping the free counters right
 * (`__mod_zone_freepage_state`). Returns the number of pages moved.
 */
function moveFreepagesBlock(m: Memmap, pfn: number, kind: number): number {
  const start = pageblockStartPfn(pfn);
  const end = Math.min(start + PAGEBLOCK_NR_PAGES, m.nodeEnd[m.nid[start]!]!);
  let moved = 0;
  for (let p = start; p < end; ) {
    if (m.state[p] !== FRAME_BUDDY) {
      p++;
      continue;
    }
    const order = m.order[p]!;
    const from = m.freeKind[p]!;
    if (from !== kind) {
      const nid = m.nid[p]!;
      delFromFreeList(m, p, freeListBase(m, from, nid) + order);
      accountFreePages(m, nid, from, -(1 << order));
      addToFreeList(m, p, freeListBase(m, kind, nid) + order, kind, false);
      accountFreePages(m, nid, kind, 1 << order);
      moved += 1 << order;
    }
    p += 1 << order;
  }
  return moved;
}

/**
 * `has_unmovable_pages(start_pfn, end_pfn, migratetype, flags)` (mm/page_isolation.c,
 * 6.3): the first page of [start, end) (one pageblock) that keeps it from being isolated,
 * or -1. A CMA pageblock counts as unmovable unless the isolation is for CMA
 * (`migratetype` MIGRATE_CMA). Then, page by page: PG_reserved refuses; a hugetlb folio
 * is skipped (its migration is supported); another compound page refuses unless its head
 * is on the LRU or movable; a page with no reference (free, or the interior of a free
 * block) passes; with MEMORY_OFFLINE, a PG_hwpoison page and an offline page pass; a page
 * on the LRU or non-LRU movable passes; anything else (slab, kernel, page tables, driver
 * pages) refuses. ZONE_MOVABLE's shortcut is not modelled (one zone per node).
 */
export function hasUnmovablePages(
  mem: PhysicalMemory,
  start: number,
  end: number,
  migratetype: number,
  flags: number,
): number {
  const m = memmapOf(mem);
  checkRange(m, start, end, 'has_unmovable_pages');
  if (getPageblockMigratetype(mem, start) === MIGRATE_CMA) {
    return migratetype === MIGRATE_CMA ? -1 : start;
  }
  const offline = (flags & MEMORY_OFFLINE) !== 0;
  for (let pfn = start; pfn < end; pfn++) {
    const s = m.state[pfn]!;
    if (s === FRAME_BUDDY) {
      pfn += (1 << m.order[pfn]!) - 1;
      continue;
    }
    if (s === FRAME_FREE || s === FRAME_OFFLINE) continue; // page_ref_count == 0
    if (s === FRAME_POOL_HEAD || s === FRAME_POOL_TAIL) {
      pfn = m.headOf[pfn]! + (1 << m.order[m.headOf[pfn]!]!) - 1; // free hugetlb folio
      continue;
    }
    if (s !== FRAME_HEAD && s !== FRAME_TAIL) continue;
    const head = m.headOf[pfn]!;
    if ((m.flags[pfn]! & (1 << PG_reserved)) !== 0 || (m.flags[head]! & (1 << PG_reserved)) !== 0)
      return pfn;
    const lruOrMovable =
      (m.flags[head]! & (1 << PG_lru)) !== 0 || m.mappingKind[head] === PAGE_MAPPING_MOVABLE;
    const order = m.order[head]!;
    if (m.folioType[head] === FOLIO_TYPE_HUGETLB || order > 0) {
      if (m.folioType[head] !== FOLIO_TYPE_HUGETLB && !lruOrMovable) return pfn;
      pfn = head + (1 << order) - 1;
      continue;
    }
    if (m.refcount[head] === 0) continue;
    if (offline && (m.flags[pfn]! & (1 << PG_hwpoison)) !== 0) continue;
    if (lruOrMovable) continue;
    return pfn;
  }
  return -1;
}

/**
 * `set_migratetype_isolate(page, migratetype, isol_flags, start_pfn, end_pfn)` (6.3): -EBUSY
 * if the pageblock of `pfn` is isolated already or `has_unmovable_pages` finds a page in
 * it (restricted to [start, end) for the range's first and last blocks); else its
 * migratetype becomes MIGRATE_ISOLATE and its free pages move to the isolate lists
 * (`move_freepages_block`), out of NR_FREE_PAGES. Returns 0 or -EBUSY.
 */
export function setMigratetypeIsolate(
  mem: PhysicalMemory,
  pfn: number,
  migratetype: number,
  flags: number,
  start: number,
  end: number,
): number {
  const m = memmapOf(mem);
  const block = pageblockStartPfn(pfn);
  if (getPageblockMigratetype(mem, block) === MIGRATE_ISOLATE) return -EBUSY;
  const from = Math.max(block, start);
  const to = Math.min(block + PAGEBLOCK_NR_PAGES, end, m.nodeEnd[m.nid[block]!]!);
  if (hasUnmovablePages(mem, from, to, migratetype, flags) >= 0) return -EBUSY;
  splitStraddlingFreeBlock(m, block);
  setPageblockMigratetype(mem, block, MIGRATE_ISOLATE);
  moveFreepagesBlock(m, block, FREE_KIND_ISOLATE);
  return 0;
}

/**
 * `unset_migratetype_isolate(page, migratetype)` (6.3): the pageblock of `pfn` gets
 * `migratetype` back and its free pages return to that type's lists. A free block of at
 * least pageblock order is taken out and freed again (`__isolate_free_page` +
 * `__putback_isolated_page`), so that it merges with its buddy, as the kernel does.
 */
export function unsetMigratetypeIsolate(
  mem: PhysicalMemory,
  pfn: number,
  migratetype: number,
): void {
  const m = memmapOf(mem);
  const block = pageblockStartPfn(pfn);
  if (getPageblockMigratetype(mem, block) !== MIGRATE_ISOLATE) return;
  setPageblockMigratetype(mem, block, migratetype);
  const kind = migratetype === MIGRATE_CMA ? FREE_KIND_CMA : FREE_KIND_NORMAL;
  splitStraddlingFreeBlock(m, block); // a block reaching into a still-isolated neighbour
  if (!refreeWholeBlock(m, block)) moveFreepagesBlock(m, block, kind);
}

/**
 * When the pageblock at `block` is one free block, takes it off its list and frees it
 * again, so it goes to its pageblock's list and merges with a free buddy of the same
 * kind (`__isolate_free_page` + `__putback_isolated_page`). Returns whether it did.
 */
function refreeWholeBlock(m: Memmap, block: number): boolean {
  if (m.state[block] !== FRAME_BUDDY || m.order[block] !== PAGEBLOCK_ORDER) return false;
  const nid = m.nid[block]!;
  const fromKind = m.freeKind[block]!;
  delFromFreeList(m, block, freeListBase(m, fromKind, nid) + PAGEBLOCK_ORDER);
  accountFreePages(m, nid, fromKind, -PAGEBLOCK_NR_PAGES);
  m.state[block] = FRAME_FREE;
  freeOneBlock(m, block, PAGEBLOCK_ORDER, false);
  return true;
}

/**
 * The `outer_start` of `alloc_contig_range` (mm/page_alloc.c, 6.3): the first pfn of the
 * free buddy block that holds `start`, or `start` when it is in none.
 */
export function allocContigOuterStart(mem: PhysicalMemory, start: number): number {
  const m = memmapOf(mem);
  checkRange(m, start, start + 1, 'alloc_contig_range');
  let outer = start;
  let order = 0;
  while (m.state[outer] !== FRAME_BUDDY) {
    if (++order >= MAX_ORDER) return start;
    outer = start & ~((1 << order) - 1);
  }
  if (outer !== start && outer + (1 << m.order[outer]!) <= start) return start;
  return outer;
}

/**
 * `start_isolate_page_range(start_pfn, end_pfn, migratetype, flags, gfp)` (6.3): isolates
 * every pageblock that [start, end) touches, first to last; on the first refusal the blocks
 * already isolated are given back (`unset_migratetype_isolate`) and -EBUSY returned. The
 * 6.3 `isolate_single_pageblock` migration of a free or movable compound page straddling
 * an unaligned range end is not modelled: the range ends are rounded to pageblocks and a
 * free block across them is split. Returns 0 or -EBUSY.
 */
export function startIsolatePageRange(
  mem: PhysicalMemory,
  start: number,
  end: number,
  migratetype: number,
  flags: number,
): number {
  const m = memmapOf(mem);
  checkRange(m, start, end, 'start_isolate_page_range');
  checkMigratetype('start_isolate_page_range', migratetype);
  const first = pageblockStartPfn(start);
  for (let pfn = first; pfn < end; pfn += PAGEBLOCK_NR_PAGES) {
    if (setMigratetypeIsolate(mem, pfn, migratetype, flags, start, end) !== 0) {
      for (let undo = first; undo < pfn; undo += PAGEBLOCK_NR_PAGES) {
        unsetMigratetypeIsolate(mem, undo, migratetype);
      }
      return -EBUSY;
    }
  }
  return 0;
}

/**
 * `undo_isolate_page_range(start_pfn, end_pfn, migratetype)` (6.3): every isolated
 * pageblock of the range gets `migratetype` back.
 */
export function undoIsolatePageRange(
  mem: PhysicalMemory,
  start: number,
  end: number,
  migratetype: number,
): void {
  const m = memmapOf(mem);
  checkRange(m, start, end, 'undo_isolate_page_range');
  checkMigratetype('undo_isolate_page_range', migratetype);
  for (let pfn = pageblockStartPfn(start); pfn < end; pfn += PAGEBLOCK_NR_PAGES) {
    unsetMigratetypeIsolate(mem, pfn, migratetype);
  }
}

/**
 * The scan of `test_pages_isolated(start_pfn, end_pfn, isol_flags)` (6.3): first, every
 * pageblock of the range must be MIGRATE_ISOLATE (else the scan stops at the first that is
 * not); then `__test_page_isolated_in_pageblock` walks the pages: a free buddy block
 * passes, and with MEMORY_OFFLINE a PG_hwpoison page and an offline page pass. Returns
 * the pfn where the scan stopped (`fin_pfn` of the `test_pages_isolated` tracepoint):
 * `end` when every page passed (the kernel returns 0), less when it returns -EBUSY.
 */
export function testPagesIsolatedScan(
  mem: PhysicalMemory,
  start: number,
  end: number,
  flags: number,
): number {
  const m = memmapOf(mem);
  checkRange(m, start, end, 'test_pages_isolated');
  for (let pfn = pageblockStartPfn(start); pfn < end; pfn += PAGEBLOCK_NR_PAGES) {
    if (getPageblockMigratetype(mem, pfn) !== MIGRATE_ISOLATE) return Math.max(pfn, start);
  }
  const offline = (flags & MEMORY_OFFLINE) !== 0;
  let pfn = start;
  while (pfn < end) {
    const s = m.state[pfn]!;
    if (s === FRAME_BUDDY) pfn += 1 << m.order[pfn]!;
    else if (offline && s === FRAME_OFFLINE) pfn++;
    else if (offline && s === FRAME_HEAD && (m.flags[pfn]! & (1 << PG_hwpoison)) !== 0) pfn++;
    else break;
  }
  return pfn;
}

/**
 * `dissolve_free_huge_pages(start_pfn, end_pfn)` (mm/hugetlb.c, 6.3): every free hugetlb
 * folio of the pool in the range goes back to the buddy. Returns 0 (the model has no
 * reservations, so no -EBUSY).
 */
export function dissolveFreeHugePages(mem: PhysicalMemory, start: number, end: number): number {
  const m = memmapOf(mem);
  checkRange(m, start, end, 'dissolve_free_huge_pages');
  for (let pfn = start; pfn < end; pfn++) {
    if (m.state[pfn] === FRAME_POOL_HEAD) {
      const rc = dissolveFreeHugeFolio(mem, pfn);
      if (rc !== 0) return rc;
    }
  }
  return 0;
}

/**
 * `__offline_isolated_pages(start_pfn, end_pfn)` (mm/page_alloc.c, 6.3) with the zone
 * accounting of `offline_pages` (`adjust_present_page_count(-nr_pages)`): every free block
 * of the (isolated, tested) range leaves the isolate lists and its frames become
 * FRAME_OFFLINE; a PG_hwpoison page stays as it is. Returns the frames taken offline.
 */
export function offlineIsolatedPages(mem: PhysicalMemory, start: number, end: number): number {
  const m = memmapOf(mem);
  checkRange(m, start, end, '__offline_isolated_pages');
  let nr = 0;
  let pfn = start;
  while (pfn < end) {
    if (m.state[pfn] !== FRAME_BUDDY) {
      pfn++;
      continue;
    }
    const order = m.order[pfn]!;
    const nid = m.nid[pfn]!;
    const kind = m.freeKind[pfn]!;
    delFromFreeList(m, pfn, freeListBase(m, kind, nid) + order);
    accountFreePages(m, nid, kind, -(1 << order));
    m.state.fill(FRAME_OFFLINE, pfn, pfn + (1 << order));
    markWrittenRange(m, pfn, 1 << order);
    m.order[pfn] = 0;
    m.nodeOffline[nid]! += 1 << order;
    nr += 1 << order;
    pfn += 1 << order;
  }
  return nr;
}

/**
 * `online_pages(pfn, nr_pages)` (mm/memory_hotplug.c, 6.3) for a range taken offline: the
 * pageblocks start isolated (`move_pfn_range_to_zone` initialises them MIGRATE_ISOLATE),
 * the frames are freed to the buddy (`online_pages_range` -> `generic_online_page`), and
 * `undo_isolate_page_range(..., MIGRATE_MOVABLE)` makes them allocatable. Returns 0, or
 * -EINVAL when a frame of the range is not offline or the range is not pageblock-aligned.
 */
export function onlinePages(mem: PhysicalMemory, start: number, nrPages: number): number {
  const m = memmapOf(mem);
  const end = start + nrPages;
  checkRange(m, start, end, 'online_pages');
  if (start % PAGEBLOCK_NR_PAGES !== 0 || end % PAGEBLOCK_NR_PAGES !== 0) return -EINVAL;
  for (let pfn = start; pfn < end; pfn++) if (m.state[pfn] !== FRAME_OFFLINE) return -EINVAL;
  for (let pfn = start; pfn < end; pfn += PAGEBLOCK_NR_PAGES) {
    setPageblockMigratetype(mem, pfn, MIGRATE_ISOLATE);
  }
  m.state.fill(FRAME_FREE, start, end);
  markWrittenRange(m, start, nrPages);
  for (let pfn = start; pfn < end; ) {
    let order = Math.min(MAX_ORDER - 1, 31 - Math.clz32(pfn & -pfn || 1 << 30));
    while (pfn + (1 << order) > end) order--;
    m.nodeOffline[m.nid[pfn]!]! -= 1 << order;
    freeOneBlock(m, pfn, order, true);
    pfn += 1 << order;
  }
  undoIsolatePageRange(mem, start, end, MIGRATE_MOVABLE);
  return 0;
}

/** Frames of node `nid` taken offline (`spanned - present` pages of its zone). */
export function nodeOfflinePages(mem: PhysicalMemory, nid: number): number {
  const m = memmapOf(mem);
  if (!(Number.isInteger(nid) && nid >= 0 && nid < m.nrNodes)) {
    throw new MmsimError('INVALID_ARGUMENT', `nid must be a node id, got ${String(nid)}`);
  }
  return m.nodeOffline[nid]!;
}

/** Whether `pfn` lies in a block taken offline (`!pfn_to_online_page(pfn)`). */
export function pfnOffline(mem: PhysicalMemory, pfn: number): boolean {
  const m = memmapOf(mem);
  return Number.isInteger(pfn) && pfn >= 0 && pfn < m.maxPfn && m.state[pfn] === FRAME_OFFLINE;
}

/**
 * `isolate_freepages_range(cc, start_pfn, end_pfn)` (mm/compaction.c, 6.3) as
 * `alloc_contig_range` uses it: every page of [start, end) must be free in the buddy; each
 * free block is taken off its list and split into order-0 pages with one reference
 * (`split_map_pages`). A block reaching past `end` is taken whole. Returns one past the
 * last page taken (`outer_end`), or 0 when a page was not free; then the pages already
 * taken are given back.
 */
export function isolateFreepagesRange(mem: PhysicalMemory, start: number, end: number): number {
  const m = memmapOf(mem);
  checkRange(m, start, end, 'isolate_freepages_range');
  let pfn = start;
  while (pfn < end) {
    const nr = m.state[pfn] === FRAME_BUDDY ? isolateFreeBlock(mem, pfn) : 0;
    if (nr === 0) {
      freeContigRange(mem, start, pfn - start);
      return 0;
    }
    pfn += nr;
  }
  return pfn;
}

/**
 * `free_contig_range(pfn, nr_pages)` (mm/page_alloc.c, 6.3): drops the reference of each
 * of the `nr` order-0 pages from `pfn` (`__free_page`).
 */
export function freeContigRange(mem: PhysicalMemory, pfn: number, nr: number): void {
  for (let p = pfn; p < pfn + nr; p++) folioPut(mem, p);
}

/**
 * Declares a CMA area at boot (`cma_init_reserved_mem` + `cma_activate_area` ->
 * `init_cma_reserved_pageblock`, mm/cma.c and mm/page_alloc.c, 6.3): each pageblock of
 * [base, base + count) becomes MIGRATE_CMA and its free pages go to the CMA lists, where
 * only movable allocations may take them. `base` and `count` must be pageblock-aligned,
 * inside one node, and every page free (throws INVALID_CONFIG otherwise).
 */
export function declareCmaArea(mem: PhysicalMemory, base: number, count: number): void {
  const m = memmapOf(mem);
  const end = base + count;
  if (
    !(Number.isInteger(base) && Number.isInteger(count) && base >= 0 && count > 0) ||
    base % PAGEBLOCK_NR_PAGES !== 0 ||
    count % PAGEBLOCK_NR_PAGES !== 0 ||
    end > m.maxPfn
  ) {
    throw new MmsimError(
      'INVALID_CONFIG',
      `cma: base ${String(base)} and size ${String(count)} must be pageblock-aligned (${PAGEBLOCK_NR_PAGES} pages) and inside the memory`,
    );
  }
  const nid = m.nid[base]!;
  for (let pfn = base; pfn < end; pfn++) {
    const s = m.state[pfn];
    if (m.nid[pfn] !== nid || (s !== FRAME_BUDDY && s !== FRAME_FREE)) {
      throw new MmsimError(
        'INVALID_CONFIG',
        `cma: pfn ${pfn} of the area [${base}, ${end}) is not free memory of node ${nid} (the zero page, a hugetlb pool page or a hole)`,
      );
    }
  }
  for (let pfn = base; pfn < end; pfn += PAGEBLOCK_NR_PAGES) {
    splitStraddlingFreeBlock(m, pfn);
    setPageblockMigratetype(mem, pfn, MIGRATE_CMA);
    moveFreepagesBlock(m, pfn, FREE_KIND_CMA);
  }
  // init_cma_reserved_pageblock frees each block: the CMA blocks merge with each other.
  for (let pfn = base; pfn < end; pfn += PAGEBLOCK_NR_PAGES) refreeWholeBlock(m, pfn);
}

/** Per node: free pages on the CMA lists (NR_FREE_CMA_PAGES). */
export function nodeFreeCmaPages(mem: PhysicalMemory, nid: number): number {
  const m = memmapOf(mem);
  return m.nodeFreeCma[nid] ?? 0;
}

/** Per node: free pages on the isolate lists (free, yet not allocatable). */
export function nodeFreeIsolatedPages(mem: PhysicalMemory, nid: number): number {
  const m = memmapOf(mem);
  return m.nodeFreeIsolated[nid] ?? 0;
}
