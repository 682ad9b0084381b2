import {
  type Folio,
  folioPut,
  folioRefAdd,
  HPAGE_PMD_NR,
  PG_anon_exclusive,
  pageSetFlag,
  pageTestFlag,
} from '@mmsim/folio';
import type { KernelGen } from '@mmsim/runtime';
import { PAGE_SIZE, PTRS_PER_PTE, RMAP_NONE } from './constants.js';
import { pageTryShareAnonRmap } from './dma-pinned.js';
import { mlockDrainLocal, munlockVmaFolio } from './mlock.js';
import { pmdIndexOf } from './page-table.js';
import {
  isMigrationEntry,
  isMigrationEntryDirty,
  isMigrationEntryYoung,
  isReadableExclusiveMigrationEntry,
  isWritableMigrationEntry,
  mkMigrationEntry,
  mkPte,
  PTE_DIRTY,
  PTE_SOFT_DIRTY,
  PTE_WRITE,
  PTE_YOUNG,
  pteDirty,
  ptePfn,
  pteSoftDirty,
  pteSwpSoftDirty,
  pteWrite,
  pteYoung,
  SWP_MIGRATION_READ,
  SWP_MIGRATION_READ_EXCLUSIVE,
  SWP_MIGRATION_WRITE,
} from './pte.js';
import { folioMarkDirty, pageAddAnonRmap, pageRemoveRmap } from './rmap-accounting.js';
import type { RmapState } from './rmap-state.js';
import { flushTlbPmd } from './tlb.js';
import { mmCounterFile } from './vm-fault.js';
import type { Vma } from './vma.js';

/**
 * `__split_huge_pmd_locked(vma, pmd, haddr, freeze)` (mm/huge_memory.c, 6.3), for
 * anonymous THPs, with `page_table_lock` held: replace the PMD entry by a page table of
 * 512 PTEs. A file VMA's PMD is dropped instead (`splitFilePmdLocked`).
 *
 * - A PMD migration entry becomes 512 PTE migration entries of the same kind.
 * - A present PMD is invalidated (flushed); without `freeze` each PTE maps its subpage
 *   with the PMD's write / young / dirty / soft-dirty bits, every subpage inherits
 *   PageAnonExclusive, and the folio gains 511 references (one per PTE) and per-page
 *   mapcounts in place of the entire one. With `freeze`, the PTEs are migration entries
 *   right away, which needs PageAnonExclusive cleared first (`page_try_share_anon_rmap`);
 *   if the folio may be pinned, it is split without freezing and try_to_migrate fails
 *   later. A frozen split drops the PMD's reference and mapping.
 * - Dropping the PMD mapping in a VM_LOCKED VMA munlocks the folio (`page_remove_rmap`'s
 *   `munlock_vma_folio`); returns true when the caller must then `mlock_drain_local`.
 */
export function splitHugePmdLocked(
  ctx: RmapState,
  vma: Vma,
  pmdIndex: number,
  freeze: boolean,
): boolean {
  const mm = vma.mm;
  const pmdv = mm.pmds.get(pmdIndex);
  if (pmdv === undefined) return false;
  if (vma.file !== null) return splitFilePmdLocked(ctx, vma, pmdIndex, pmdv);
  let drain = false;
  const page: Folio = ptePfn(pmdv);
  const pmdMigration = isMigrationEntry(pmdv);
  const firstVpn = pmdIndex * PTRS_PER_PTE;
  let write: boolean;
  let young: boolean;
  let dirty: boolean;
  let softDirty: boolean;
  let anonExclusive: boolean;
  if (pmdMigration) {
    write = isWritableMigrationEntry(pmdv);
    anonExclusive = isReadableExclusiveMigrationEntry(pmdv);
    young = isMigrationEntryYoung(pmdv);
    dirty = isMigrationEntryDirty(pmdv);
    softDirty = pteSwpSoftDirty(pmdv);
  } else {
    // pmdp_invalidate: the PMD stops being usable, and the TLBs are flushed.
    mm.pmds.set(pmdIndex, 0);
    flushTlbPmd(ctx, mm, firstVpn);
    dirty = pteDirty(pmdv);
    if (dirty) folioMarkDirty(ctx, page);
    write = pteWrite(pmdv);
    young = pteYoung(pmdv);
    softDirty = pteSoftDirty(pmdv);
    anonExclusive = pageTestFlag(ctx.mem, page, PG_anon_exclusive);
    if (freeze && anonExclusive && pageTryShareAnonRmap(ctx, page, page) !== 0) freeze = false;
    if (!freeze) folioRefAdd(ctx.mem, page, PTRS_PER_PTE - 1);
  }
  mm.pmds.delete(pmdIndex);
  const table = mm.pageTable(pmdIndex);
  for (let i = 0; i < PTRS_PER_PTE; i++) {
    const pfn = page + i;
    let entry: number;
    if (freeze || pmdMigration) {
      const type = write
        ? SWP_MIGRATION_WRITE
        : anonExclusive
          ? SWP_MIGRATION_READ_EXCLUSIVE
          : SWP_MIGRATION_READ;
      entry = mkMigrationEntry(pfn, type, young, dirty, softDirty);
    } else {
      let flags = 0;
      if (write) flags |= PTE_WRITE;
      if (young) flags |= PTE_YOUNG;
      // pte_mkdirty: on x86 it sets soft-dirty too.
      if (dirty) flags |= PTE_DIRTY | PTE_SOFT_DIRTY;
      if (softDirty) flags |= PTE_SOFT_DIRTY;
      entry = mkPte(pfn, flags);
      if (anonExclusive) pageSetFlag(ctx.mem, pfn, PG_anon_exclusive);
      pageAddAnonRmap(ctx, page, pfn, vma, table.base + i * PAGE_SIZE, RMAP_NONE);
    }
    table.set(firstVpn + i, entry);
  }
  ctx.rt.charge(ctx.costs.pteUpdate * PTRS_PER_PTE);
  if (!pmdMigration) {
    pageRemoveRmap(ctx, page, page, true);
    drain = munlockVmaFolio(ctx, page, vma, true); // page_remove_rmap's munlock_vma_folio
  }
  if (freeze) folioPut(ctx.mem, page);
  return drain;
}

/**
 * `__split_huge_pmd_locked` (mm/huge_memory.c, 6.3) for a VMA that is not anonymous (a
 * PMD-mapped file or shmem THP), with `page_table_lock` held: the PMD is cleared and
 * flushed and no page table replaces it (the pages are faulted in again, by PTE or PMD).
 * A present PMD gives its dirty bit to the folio (`set_page_dirty`), drops its entire
 * mapping (`page_remove_rmap(page, vma, true)`, munlocking in a VM_LOCKED VMA) and its
 * reference; a PMD migration entry just goes (Hugh Dickins, 99fa8a48203d "mm/thp: fix
 * __split_huge_pmd_locked() on shmem migration entry", 5.13): its mapping was dropped
 * when it was set, and `remove_migration_ptes` later finds nothing there. Either way
 * MM_FILEPAGES / MM_SHMEMPAGES lose HPAGE_PMD_NR. `freeze` changes nothing here. Returns
 * whether the caller must `mlock_drain_local`.
 */
function splitFilePmdLocked(ctx: RmapState, vma: Vma, pmdIndex: number, pmdv: number): boolean {
  const mm = vma.mm;
  const mem = ctx.mem;
  const page: Folio = ptePfn(pmdv);
  mm.pmds.delete(pmdIndex);
  flushTlbPmd(ctx, mm, pmdIndex * PTRS_PER_PTE);
  ctx.rt.charge(ctx.costs.pteUpdate);
  mm.rss[mmCounterFile(mem, page)]! -= HPAGE_PMD_NR;
  if (isMigrationEntry(pmdv)) return false;
  if (pteDirty(pmdv)) folioMarkDirty(ctx, page);
  pageRemoveRmap(ctx, page, page, true);
  const drain = munlockVmaFolio(ctx, page, vma, true);
  folioPut(mem, page);
  return drain;
}

/**
 * `split_huge_pmd_address(vma, address, freeze, folio)` / `__split_huge_pmd`
 * (mm/huge_memory.c, 6.3): under `page_table_lock`, split the PMD entry covering
 * `address` if it is a huge mapping (or PMD migration entry) of `folio` (any folio when
 * null).
 */
export function* splitHugePmd(
  ctx: RmapState,
  vma: Vma,
  address: number,
  freeze: boolean,
  folio: Folio | null,
): KernelGen {
  const mm = vma.mm;
  const idx = pmdIndexOf(address);
  if (!mm.pmds.has(idx)) return;
  const ptl = mm.pageTableLock;
  if (!ptl.trylock()) yield* ptl.lockContended();
  const pmdv = mm.pmds.get(idx);
  let drain = false;
  if (pmdv !== undefined && pmdv !== 0 && (folio === null || ptePfn(pmdv) === folio)) {
    drain = splitHugePmdLocked(ctx, vma, idx, freeze);
  }
  ptl.unlock();
  if (drain) yield* mlockDrainLocal(ctx);
}
