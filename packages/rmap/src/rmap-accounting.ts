import {
  type Folio,
  FRAME_TAIL,
  folioClearFlag,
  folioEntireMapcount,
  folioEntireMapcountDec,
  folioEntireMapcountInc,
  folioNid,
  folioNrPages,
  folioOrder,
  folioSetFlag,
  folioSetIndex,
  folioSetMapping,
  folioTestAnon,
  folioTestFlag,
  HPAGE_PMD_ORDER,
  memmapReader,
  PAGE_MAPPING_ANON,
  PG_anon_exclusive,
  PG_dirty,
  PG_swapbacked,
  pageMapcount,
  pageMapcountDec,
  pageMapcountInc,
  pageSetFlag,
  readerIsFolio,
} from '@mmsim/folio';
import { MmsimError, NodeStat } from '@mmsim/runtime';
import { folioAddressSpace } from './address-space.js';
import { RMAP_COMPOUND, RMAP_EXCLUSIVE } from './constants.js';
import type { RmapState } from './rmap-state.js';
import type { Vma } from './vma.js';

/**
 * The rmap side of mapping and unmapping a page (mm/rmap.c, 6.3): the mapcounts (the
 * per-page count for a PTE, the entire count for a PMD mapping of a PMD-sized folio), the
 * anon `mapping`, `index` and PageAnonExclusive, and the node counters `nr_anon_pages`
 * (NR_ANON_MAPPED) and `nr_mapped` (NR_FILE_MAPPED), which count pages mapped by at least
 * one page table. The caller holds the page-table lock and manages references.
 *
 * Not modelled: `_nr_pages_mapped` as a field (derived from the per-page counts), the
 * NR_*_THPS / PMDMAPPED counters, deferred split queues, mlock.
 */

/** `folio_test_pmd_mappable`: order >= HPAGE_PMD_ORDER. */
export function folioPmdMappable(ctx: RmapState, folio: Folio): boolean {
  return folioOrder(ctx.mem, folio) >= HPAGE_PMD_ORDER;
}

/** The page's own (PTE) mapcount, without the entire (PMD) mappings. */
function ptesMapping(ctx: RmapState, folio: Folio, pfn: number): number {
  // A page of the live `folio` (the head, or a tail whose head it is): its own count, read
  // from the memmap. Anything else goes through the accessors, which report it.
  const r = memmapReader(ctx.mem);
  if (
    readerIsFolio(r, folio) &&
    (pfn === folio || (r.state[pfn] === FRAME_TAIL && r.headOf[pfn] === folio))
  ) {
    return r.mapcount[pfn]!;
  }
  return pageMapcount(ctx.mem, pfn) - folioEntireMapcount(ctx.mem, folio);
}

/** `folio_entire_mapcount`, read from the memmap once `folio` is known live (`folioEntireMapcount`). */
function entireMapcount(ctx: RmapState, folio: Folio): number {
  const r = memmapReader(ctx.mem);
  return readerIsFolio(r, folio) ? r.entireMapcount[folio]! : folioEntireMapcount(ctx.mem, folio);
}

/**
 * Pages of `folio` mapped by at least one PTE (what 6.3 keeps as `_nr_pages_mapped`'s
 * FOLIO_PAGES_MAPPED bits). A live folio whose pages' mapcounts sum to 0 (`totalMapcount`,
 * kept by the folio package's mapcount writers) has none: no page's mapcount is negative
 * (`pageMapcountDec` refuses to go below 0), so every one is 0. That spares the page walk
 * of a PMD-mapped THP that no PTE maps, on each of its PMD map and unmap.
 */
function pagesPteMapped(ctx: RmapState, folio: Folio): number {
  const r = memmapReader(ctx.mem);
  if (readerIsFolio(r, folio) && r.totalMapcount[folio] === 0) return 0;
  const nr = folioNrPages(ctx.mem, folio);
  const entire = folioEntireMapcount(ctx.mem, folio);
  let count = 0;
  for (let i = 0; i < nr; i++) if (pageMapcount(ctx.mem, folio + i) - entire > 0) count++;
  return count;
}

function modMapped(ctx: RmapState, folio: Folio, nr: number): void {
  if (nr === 0) return;
  const r = memmapReader(ctx.mem);
  // Not a live folio: the accessor throws its error.
  if (!readerIsFolio(r, folio)) folioTestAnon(ctx.mem, folio);
  // `folio_test_anon` and `folio_nid`.
  const anon = (r.mappingKind[folio]! & PAGE_MAPPING_ANON) !== 0;
  ctx.vmstat.modNodePageState(
    r.nid[folio]!,
    anon ? NodeStat.NR_ANON_PAGES : NodeStat.NR_MAPPED,
    nr,
  );
}

/**
 * `__page_set_anon_rmap` (mm/rmap.c, 6.3): a folio that is not anonymous yet gets the
 * VMA's anon_vma (exclusive) or its root (shared) as mapping, and its linear index; an
 * exclusive mapping marks the page PageAnonExclusive.
 */
function pageSetAnonRmap(
  ctx: RmapState,
  folio: Folio,
  pfn: number,
  vma: Vma,
  address: number,
  exclusive: boolean,
): void {
  const mem = ctx.mem;
  if (!folioTestAnon(mem, folio)) {
    const av = vma.anonVma;
    if (av === null) {
      throw new MmsimError('CONTRACT_VIOLATION', `${vma} has no anon_vma (anon_vma_prepare first)`);
    }
    folioSetMapping(mem, folio, PAGE_MAPPING_ANON, exclusive ? av : av.root);
    folioSetIndex(mem, folio, vma.linearPageIndex(address));
  }
  if (exclusive) pageSetFlag(mem, pfn, PG_anon_exclusive);
}

/**
 * `folio_add_new_anon_rmap(folio, vma, address)` (mm/rmap.c, 6.3): a freshly allocated
 * folio becomes anonymous memory of `vma`: swap-backed, mapped once (the page by a PTE, or
 * a PMD-sized folio whole by a PMD), exclusive, filed under the VMA's anon_vma.
 */
export function folioAddNewAnonRmap(ctx: RmapState, folio: Folio, vma: Vma, address: number): void {
  const mem = ctx.mem;
  folioSetFlag(mem, folio, PG_swapbacked);
  let nr: number;
  if (!folioPmdMappable(ctx, folio)) {
    pageMapcountInc(mem, folio);
    nr = 1;
  } else {
    folioEntireMapcountInc(mem, folio);
    nr = folioNrPages(mem, folio);
  }
  pageSetAnonRmap(ctx, folio, folio, vma, address, true);
  modMapped(ctx, folio, nr);
}

/**
 * `page_add_anon_rmap(page, vma, address, flags)` (mm/rmap.c, 6.3): one more PTE (or, with
 * RMAP_COMPOUND, PMD) maps the page of an anonymous folio. On its first mapping the page
 * gets its anon rmap set up (PageAnonExclusive with RMAP_EXCLUSIVE); asking for
 * RMAP_EXCLUSIVE on a page that is already mapped is a bug, as the kernel's VM_BUG_ON says.
 */
export function pageAddAnonRmap(
  ctx: RmapState,
  folio: Folio,
  pfn: number,
  vma: Vma,
  address: number,
  flags: number,
): void {
  const mem = ctx.mem;
  const compound = (flags & RMAP_COMPOUND) !== 0;
  let first: boolean;
  let nr = 0;
  if (!compound) {
    const entire = entireMapcount(ctx, folio);
    first = ptesMapping(ctx, folio, pfn) === 0;
    if ((flags & RMAP_EXCLUSIVE) !== 0 && !first) {
      throw new MmsimError(
        'CONTRACT_VIOLATION',
        `page_add_anon_rmap: pfn ${pfn} is already mapped, it cannot be mapped exclusively`,
      );
    }
    pageMapcountInc(mem, pfn);
    nr = first && entire === 0 ? 1 : 0;
  } else {
    const before = folioEntireMapcount(mem, folio);
    first = before === 0;
    if ((flags & RMAP_EXCLUSIVE) !== 0 && !first) {
      throw new MmsimError(
        'CONTRACT_VIOLATION',
        `page_add_anon_rmap: folio ${folio} is already PMD-mapped, it cannot be mapped exclusively`,
      );
    }
    folioEntireMapcountInc(mem, folio);
    if (first) nr = folioNrPages(mem, folio) - pagesPteMapped(ctx, folio);
  }
  if (first) pageSetAnonRmap(ctx, folio, pfn, vma, address, (flags & RMAP_EXCLUSIVE) !== 0);
  modMapped(ctx, folio, nr);
}

/**
 * `page_add_file_rmap(page, vma, compound)` (mm/rmap.c, 6.3): one more PTE (or PMD) maps a
 * page-cache page.
 */
export function pageAddFileRmap(
  ctx: RmapState,
  folio: Folio,
  pfn: number,
  compound: boolean,
): void {
  const mem = ctx.mem;
  let nr = 0;
  if (!compound) {
    const first = ptesMapping(ctx, folio, pfn) === 0;
    const entire = folioEntireMapcount(mem, folio);
    pageMapcountInc(mem, pfn);
    nr = first && entire === 0 ? 1 : 0;
  } else {
    const first = folioEntireMapcount(mem, folio) === 0;
    folioEntireMapcountInc(mem, folio);
    if (first) nr = folioNrPages(mem, folio) - pagesPteMapped(ctx, folio);
  }
  modMapped(ctx, folio, nr);
}

/**
 * `__page_dup_rmap(page, compound)` (include/linux/rmap.h, 6.3): fork duplicates a mapping
 * of a page that is already mapped, so no counter other than the mapcount changes.
 */
export function pageDupRmap(ctx: RmapState, folio: Folio, pfn: number, compound: boolean): void {
  if (compound) folioEntireMapcountInc(ctx.mem, folio);
  else pageMapcountInc(ctx.mem, pfn);
}

/**
 * `page_remove_rmap(page, vma, compound)` (mm/rmap.c, 6.3): one PTE (or PMD) mapping went
 * away; the page's last mapping takes it out of nr_anon_pages / nr_mapped. The folio keeps
 * its mapping and PageAnonExclusive (migration and the COW logic rely on that).
 */
export function pageRemoveRmap(ctx: RmapState, folio: Folio, pfn: number, compound: boolean): void {
  const mem = ctx.mem;
  let nr = 0;
  if (!compound) {
    const entire = entireMapcount(ctx, folio);
    pageMapcountDec(mem, pfn);
    const last = ptesMapping(ctx, folio, pfn) === 0;
    nr = last && entire === 0 ? 1 : 0;
  } else {
    folioEntireMapcountDec(mem, folio);
    if (folioEntireMapcount(mem, folio) === 0) {
      nr = folioNrPages(mem, folio) - pagesPteMapped(ctx, folio);
    }
  }
  modMapped(ctx, folio, -nr);
}

/**
 * `page_move_anon_rmap(page, vma)` (mm/rmap.c, 6.3): do_wp_page reuses the only mapping
 * of a shared anonymous page: the folio moves to the VMA's own anon_vma and the page
 * becomes exclusive.
 */
export function pageMoveAnonRmap(ctx: RmapState, folio: Folio, pfn: number, vma: Vma): void {
  const av = vma.anonVma;
  if (av === null) throw new MmsimError('CONTRACT_VIOLATION', `${vma} has no anon_vma`);
  folioSetMapping(ctx.mem, folio, PAGE_MAPPING_ANON, av);
  pageSetFlag(ctx.mem, pfn, PG_anon_exclusive);
}

/**
 * `folio_mark_dirty` (mm/page-writeback.c, 6.3): set PG_dirty; a page-cache folio that
 * becomes dirty is counted in its node's `nr_dirty` (`folio_account_dirtied`).
 */
export function folioMarkDirty(ctx: RmapState, folio: Folio): void {
  const mem = ctx.mem;
  // Already dirty: a live folio with PG_dirty, read from the memmap (else the accessor).
  const r = memmapReader(mem);
  if (
    readerIsFolio(r, folio)
      ? (r.flags[folio]! & (1 << PG_dirty)) !== 0
      : folioTestFlag(mem, folio, PG_dirty)
  ) {
    return;
  }
  folioSetFlag(mem, folio, PG_dirty);
  if (folioAddressSpace(mem, folio) !== null) {
    ctx.vmstat.modNodePageState(folioNid(mem, folio), NodeStat.NR_DIRTY, folioNrPages(mem, folio));
  }
}

/** `folio_cancel_dirty` for a page-cache folio leaving the cache (truncation). */
export function folioCancelDirty(ctx: RmapState, folio: Folio): void {
  const mem = ctx.mem;
  if (!folioTestFlag(mem, folio, PG_dirty)) return;
  folioClearFlag(mem, folio, PG_dirty);
  if (folioAddressSpace(mem, folio) !== null) {
    ctx.vmstat.modNodePageState(folioNid(mem, folio), NodeStat.NR_DIRTY, -folioNrPages(mem, folio));
  }
}
