import { checkInt, MmsimError } from '@mmsim/runtime';
import { MAX_ORDER } from './constants.js';
import {
  checkFolio,
  checkNid,
  checkPfn,
  type Folio,
  FREE_KIND_CMA,
  FREE_KIND_NORMAL,
  type Memmap,
  memmapOf,
  type PhysicalMemory,
} from './memmap.js';
import { getPageblockMigratetype, MIGRATE_CMA, MIGRATE_ISOLATE } from './pageblock.js';

/**
 * Memory zones (include/linux/mmzone.h, mm/page_alloc.c, Linux 6.3), as far as the model
 * needs them: every node has a ZONE_NORMAL and, when the machine config gives the node
 * `movablePages`, a ZONE_MOVABLE made of the node's highest pfns, from
 * `zone_movable_pfn[nid]` to the node's end. That is where `movablecore=` / `kernelcore=`
 * put it (`find_zone_movable_pfns_for_nodes`: the kernel part at the bottom of each node,
 * the start of ZONE_MOVABLE rounded up to MAX_ORDER_NR_PAGES). ZONE_DMA and ZONE_DMA32
 * (the low 4 GiB of an x86-64 machine) are folded into ZONE_NORMAL; ZONE_DEVICE is not
 * modelled.
 *
 * The allocation rule (`gfp_zone`, mm/page_alloc.c, 6.3): only an allocation with
 * `__GFP_MOVABLE` (GFP_HIGHUSER_MOVABLE: anonymous and page-cache memory, migration
 * targets) may come from ZONE_MOVABLE, and it tries ZONE_MOVABLE first; a kernel or
 * unmovable allocation (`GFP_USER`, `GFP_KERNEL`, anything under `memalloc_pin_save`) only
 * gets ZONE_NORMAL. `folioAlloc`'s `movable: false` option is the latter.
 */

/** `enum zone_type` (include/linux/mmzone.h, 6.3, x86-64: CONFIG_ZONE_DMA, CONFIG_ZONE_DMA32). */
export const ZONE_DMA = 0;
export const ZONE_DMA32 = 1;
export const ZONE_NORMAL = 2;
export const ZONE_MOVABLE = 3;

/** `zone_names[]` (mm/page_alloc.c, 6.3), by zone index. */
export const ZONE_NAMES: readonly string[] = Object.freeze(['DMA', 'DMA32', 'Normal', 'Movable']);

/**
 * `zone_movable_pfn[nid]`: the first pfn of node `nid`'s ZONE_MOVABLE, or the node's end
 * (one past its last pfn) when the node has none.
 */
export function zoneMovablePfn(mem: PhysicalMemory, nid: number): number {
  const m = memmapOf(mem);
  checkNid(m, nid);
  return m.zoneMovablePfn === null ? m.nodeEnd[nid]! : m.zoneMovablePfn[nid]!;
}

/** Pages in node `nid`'s ZONE_MOVABLE (`zone->spanned_pages` of that zone; 0 without one). */
export function zoneMovablePages(mem: PhysicalMemory, nid: number): number {
  const m = memmapOf(mem);
  return m.nodeEnd[nid]! - zoneMovablePfn(mem, nid);
}

/**
 * `page_zonenum(pfn_to_page(pfn))` (include/linux/mm.h, 6.3), which is also
 * `zone_idx(page_zone(page))`: ZONE_MOVABLE or ZONE_NORMAL.
 */
export function pageZonenum(mem: PhysicalMemory, pfn: number): number {
  const m = memmapOf(mem);
  checkPfn(m, pfn);
  const zm = m.zoneMovablePfn;
  return zm !== null && pfn >= zm[m.nid[pfn]!]! ? ZONE_MOVABLE : ZONE_NORMAL;
}

/** `is_zone_movable_page(page)` (include/linux/mm.h, 6.3). */
export function isZoneMovablePage(mem: PhysicalMemory, pfn: number): boolean {
  return pageZonenum(mem, pfn) === ZONE_MOVABLE;
}

/** `folio_is_zone_movable(folio)` (include/linux/mm.h, 6.3). */
export function folioIsZoneMovable(mem: PhysicalMemory, folio: Folio): boolean {
  checkFolio(memmapOf(mem), folio);
  return isZoneMovablePage(mem, folio);
}

/** `is_migrate_cma_page(page)` (include/linux/mmzone.h, 6.3): its pageblock is MIGRATE_CMA. */
export function isMigrateCmaPage(mem: PhysicalMemory, pfn: number): boolean {
  return getPageblockMigratetype(mem, pfn) === MIGRATE_CMA;
}

/**
 * `folio_is_longterm_pinnable(folio)` (include/linux/mm.h, 6.3, CONFIG_CMA and
 * CONFIG_MIGRATION): whether a FOLL_LONGTERM pin may stay on the folio where it is.
 * Not pinnable: a folio whose (head's) pageblock is MIGRATE_CMA or MIGRATE_ISOLATE, device
 * coherent memory (not modelled), or a folio in ZONE_MOVABLE; the zero page always is
 * (checked after the migratetype, as 6.3 does). 6.3 keeps fs-dax out earlier, in
 * `check_vma_flags` (-EOPNOTSUPP for FOLL_LONGTERM on a `vma_is_fsdax` VMA); the fs-dax
 * test inside this function came later, and the model has no fs-dax anyway.
 */
export function folioIsLongtermPinnable(mem: PhysicalMemory, folio: Folio): boolean {
  const m = memmapOf(mem);
  if (folio !== m.zeroPfn) checkFolio(m, folio);
  const mt = getPageblockMigratetype(mem, folio);
  if (mt === MIGRATE_CMA || mt === MIGRATE_ISOLATE) return false;
  if (folio === m.zeroPfn) return true;
  return !isZoneMovablePage(mem, folio);
}

/** The zones the model has, in `zone_idx` order: ZONE_NORMAL and ZONE_MOVABLE. */
export const MODEL_ZONES: readonly number[] = Object.freeze([ZONE_NORMAL, ZONE_MOVABLE]);

function checkZone(m: Memmap, nid: number, zoneIdx: number): void {
  checkNid(m, nid);
  if (zoneIdx !== ZONE_NORMAL && zoneIdx !== ZONE_MOVABLE) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `zone index must be ZONE_NORMAL (${ZONE_NORMAL}) or ZONE_MOVABLE (${ZONE_MOVABLE}), got ${String(zoneIdx)}`,
    );
  }
}

/**
 * `zone->zone_start_pfn` of zone `zoneIdx` of node `nid` (mm/page_alloc.c, 6.3): ZONE_NORMAL
 * starts at the node's start, ZONE_MOVABLE at `zone_movable_pfn[nid]`.
 */
export function zoneStartPfn(mem: PhysicalMemory, nid: number, zoneIdx: number): number {
  const m = memmapOf(mem);
  checkZone(m, nid, zoneIdx);
  return zoneIdx === ZONE_NORMAL ? m.nodeStart[nid]! : zoneMovablePfn(mem, nid);
}

/** `zone_end_pfn(zone)` (include/linux/mmzone.h, 6.3): one past the zone's last pfn. */
export function zoneEndPfn(mem: PhysicalMemory, nid: number, zoneIdx: number): number {
  const m = memmapOf(mem);
  checkZone(m, nid, zoneIdx);
  return zoneIdx === ZONE_NORMAL ? zoneMovablePfn(mem, nid) : m.nodeEnd[nid]!;
}

/** `populated_zone(zone)` (include/linux/mmzone.h, 6.3): the zone has pages. */
export function populatedZone(mem: PhysicalMemory, nid: number, zoneIdx: number): boolean {
  return zoneEndPfn(mem, nid, zoneIdx) > zoneStartPfn(mem, nid, zoneIdx);
}

/** Whether zone `zoneIdx` is all of node `nid` (the node has no other populated zone). */
function zoneIsWholeNode(m: Memmap, mem: PhysicalMemory, nid: number, zoneIdx: number): boolean {
  return (
    zoneStartPfn(mem, nid, zoneIdx) === m.nodeStart[nid]! &&
    zoneEndPfn(mem, nid, zoneIdx) === m.nodeEnd[nid]!
  );
}

/**
 * Sums the free blocks of the `kind` lists of node `nid` that lie in [lo, hi): pages when
 * `order` is -1, else the number of blocks of that order. Zone boundaries are
 * MAX_ORDER_NR_PAGES-aligned, so no free block straddles one.
 */
function freeInRange(m: Memmap, nid: number, kind: number, lo: number, hi: number, order: number) {
  const base = (kind * m.nrNodes + nid) * MAX_ORDER;
  let total = 0;
  const last = order < 0 ? MAX_ORDER - 1 : order;
  for (let o = Math.max(order, 0); o <= last; o++) {
    for (let p = m.freeHead[base + o]!; p >= 0; p = m.next[p]!) {
      if (p >= lo && p < hi) total += order < 0 ? 1 << o : 1;
    }
  }
  return total;
}

/**
 * `zone_page_state(zone, NR_FREE_PAGES)` (include/linux/vmstat.h, 6.3) for zone `zoneIdx`
 * of node `nid`: the free pages of its normal and CMA free lists (isolated ones not
 * counted), as `nodeFreePages` counts them for the whole node. For a zone that is the
 * whole node it is `nodeFreePages`; otherwise the node's free lists are walked.
 */
export function zoneFreePages(mem: PhysicalMemory, nid: number, zoneIdx: number): number {
  const m = memmapOf(mem);
  checkZone(m, nid, zoneIdx);
  if (zoneIsWholeNode(m, mem, nid, zoneIdx)) return m.nodeFree[nid]!;
  const lo = zoneStartPfn(mem, nid, zoneIdx);
  const hi = zoneEndPfn(mem, nid, zoneIdx);
  return (
    freeInRange(m, nid, FREE_KIND_NORMAL, lo, hi, -1) +
    freeInRange(m, nid, FREE_KIND_CMA, lo, hi, -1)
  );
}

/**
 * `zone->free_area[order].nr_free` of zone `zoneIdx` of node `nid`, over the same free
 * lists `nodeNrFree` reads for the whole node; for a zone that is the whole node it is
 * `nodeNrFree`.
 */
export function zoneNrFree(
  mem: PhysicalMemory,
  nid: number,
  zoneIdx: number,
  order: number,
): number {
  const m = memmapOf(mem);
  checkZone(m, nid, zoneIdx);
  checkInt('order', order, 0, MAX_ORDER - 1);
  if (zoneIsWholeNode(m, mem, nid, zoneIdx)) return m.nrFree[nid * MAX_ORDER + order]!;
  return freeInRange(
    m,
    nid,
    FREE_KIND_NORMAL,
    zoneStartPfn(mem, nid, zoneIdx),
    zoneEndPfn(mem, nid, zoneIdx),
    order,
  );
}
