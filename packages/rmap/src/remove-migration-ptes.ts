import {
  FOLIO_TYPE_HUGETLB,
  type Folio,
  folioGet,
  folioIndex,
  folioNrPages,
  folioOrder,
  folioTestAnon,
  folioTestFlag,
  folioTestKsm,
  memmapReader,
  PG_dirty,
  readerIsFolio,
} from '@mmsim/folio';
import { type KernelGen, MmsimError, type RwSemaphore, tracedFunction } from '@mmsim/runtime';
import {
  PAGE_SIZE,
  PTRS_PER_PTE,
  RMAP_COMPOUND,
  RMAP_EXCLUSIVE,
  RMAP_NONE,
  VM_LOCKED,
} from './constants.js';
import { vmaPageProtWritable } from './fault-file.js';
import { removeMigrationPteHugetlb } from './hugetlb-rmap.js';
import { folioPgoff, isVmHugetlbPage } from './hugetlb-state.js';
import { ksmPageRange } from './ksm.js';
import { mlockDrainLocal, mlockVmaFolio } from './mlock.js';
import type { PageTable } from './page-table.js';
import { pageVmaMappedWalk, uncontendedPteTable } from './page-vma-mapped.js';
import {
  isMigrationEntry,
  isMigrationEntryDirty,
  isMigrationEntryYoung,
  isReadableMigrationEntry,
  isWritableMigrationEntry,
  mkPte,
  PTE_DIRTY,
  PTE_SOFT_DIRTY,
  PTE_UFFD_WP,
  PTE_WRITE,
  PTE_YOUNG,
  ptePfn,
  pteSwpSoftDirty,
  pteSwpUffdWp,
} from './pte.js';
import type { VmaView } from './readonly-views.js';
import { pageAddAnonRmap, pageAddFileRmap } from './rmap-accounting.js';
import type { RmapState } from './rmap-state.js';
import type { RmapWalkControl } from './rmap-walk.js';
import {
  enterUncontendedWalk,
  exitUncontendedWalk,
  rmapUncontended,
  UNCONTENDED_TARGET,
  uncontendedPtlLock,
  uncontendedPtlUnlock,
  uncontendedWalkTarget,
  vmaCoversPgoff,
  WALK_NOTHING,
  WALK_PLAIN,
} from './uncontended.js';
import type { Vma } from './vma.js';
import { folioVmaRange, folioVmaRangeAtInto } from './vma-address.js';
import { WalkControlPool } from './walk-pool.js';

/**
 * The present entry that replaces migration entry `swp` of `vma` for page `pfn` of `dst`
 * (`remove_migration_pte`, mm/migrate.c, 6.3): `mk_pte` from the VMA's protection (young,
 * clean, writable only in a shared writable mapping that wants no write notification:
 * shmem, `vmaPageProtWritable`), soft-dirty kept, old unless the entry was young, dirty if
 * the entry and the folio are dirty (`pte_mkdirty`, which on x86 sets soft-dirty too);
 * then a writable entry gets `maybe_mkwrite` and any other is write-protected
 * (`pte_wrprotect`: Peter Xu's "mm/migrate: fix read-only page got writable when recover
 * pte", 6.1-rc6, 20221114000447.1681003-2-peterx@redhat.com, Fixes: b1f9e876862d); an entry
 * carrying uffd-wp gets `pte_mkuffd_wp` (which write-protects since 6.2).
 *
 * `ctx.restoreWrprotectsReadEntry` false is the kernel before that fix (6.1-rc4 and older,
 * reported by Ives van Hoorne on memfds with uffd-wp): a non-writable entry is not
 * write-protected, and uffd-wp is added only to it, with 6.1's `pte_mkuffd_wp` (the bit
 * alone). A uffd-wp-protected shmem page then comes back writable and protected at once:
 * writes go through without a fault to the monitor.
 */
export function pteFromMigrationEntry(
  ctx: RmapState,
  swp: number,
  pfn: number,
  dstDirty: boolean,
  vma: Vma,
): number {
  let flags = PTE_YOUNG;
  if (vmaPageProtWritable(vma)) flags |= PTE_WRITE;
  if (pteSwpSoftDirty(swp)) flags |= PTE_SOFT_DIRTY;
  if (!isMigrationEntryYoung(swp)) flags &= ~PTE_YOUNG;
  if (dstDirty && isMigrationEntryDirty(swp)) flags |= PTE_DIRTY | PTE_SOFT_DIRTY;
  const writable = isWritableMigrationEntry(swp);
  if (writable) {
    if (vma.writable) flags |= PTE_WRITE;
  } else if (ctx.restoreWrprotectsReadEntry) {
    flags &= ~PTE_WRITE;
  }
  if (pteSwpUffdWp(swp)) {
    if (ctx.restoreWrprotectsReadEntry) flags = (flags & ~PTE_WRITE) | PTE_UFFD_WP;
    else if (!writable) flags |= PTE_UFFD_WP;
  }
  return mkPte(pfn, flags);
}

/**
 * `remove_migration_pmd(pvmw, new)` (mm/huge_memory.c, 6.3), with `page_table_lock` held:
 * the PMD migration entry becomes a huge mapping of `dst`, with one more reference and
 * an entire mapping (RMAP_EXCLUSIVE for anon unless the entry was plain readable).
 */
function removeMigrationPmd(ctx: RmapState, dst: Folio, vma: Vma, pmdIndex: number): void {
  const mm = vma.mm;
  const swp = mm.pmds.get(pmdIndex)!;
  folioGet(ctx.mem, dst);
  const pmde = pteFromMigrationEntry(ctx, swp, dst, folioTestFlag(ctx.mem, dst, PG_dirty), vma);
  const address = pmdIndex * PTRS_PER_PTE * PAGE_SIZE;
  if (folioTestAnon(ctx.mem, dst)) {
    const flags = RMAP_COMPOUND | (isReadableMigrationEntry(swp) ? RMAP_NONE : RMAP_EXCLUSIVE);
    pageAddAnonRmap(ctx, dst, dst, vma, address, flags);
  } else {
    pageAddFileRmap(ctx, dst, dst, true);
  }
  mlockVmaFolio(ctx, dst, vma, true); // the end of page_add_*_rmap
  mm.pmds.set(pmdIndex, pmde);
  ctx.rt.charge(ctx.costs.pteUpdate);
  const tp = ctx.trace.removeMigrationPmd;
  if (tp.enabled) tp.emit({ addr: address, pmd: pmde });
}

/**
 * One migration entry of `src` at `vpn` of `vma` back to a present PTE of `dst`, with
 * `table.ptl` held: the loop body of `remove_migration_pte` (below).
 */
function restoreMigrationPte(
  ctx: RmapState,
  dst: Folio,
  vma: Vma,
  anon: boolean,
  order: number,
  nr: number,
  pgoff: number,
  table: PageTable,
  vpn: number,
  swp: number,
): void {
  const mem = ctx.mem;
  const address = vpn * PAGE_SIZE;
  const idx = nr > 1 ? vma.linearPageIndex(address) - pgoff : 0;
  const page = dst + idx;
  folioGet(mem, dst);
  // `folio_test_dirty(dst)`: folioGet checked that dst is live.
  const dirty = (memmapReader(mem).flags[dst]! & (1 << PG_dirty)) !== 0;
  const pte = pteFromMigrationEntry(ctx, swp, page, dirty, vma);
  if (anon) {
    const flags = isReadableMigrationEntry(swp) ? RMAP_NONE : RMAP_EXCLUSIVE;
    pageAddAnonRmap(ctx, dst, page, vma, address, flags);
  } else {
    pageAddFileRmap(ctx, dst, page, false);
  }
  mlockVmaFolio(ctx, dst, vma, false); // the end of page_add_*_rmap
  table.set(vpn, pte);
  ctx.rt.charge(ctx.costs.pteUpdate);
  const tp = ctx.trace.removeMigrationPte;
  if (tp.enabled) tp.emit({ addr: address, pte, order });
}

/**
 * The uncontended walk of `remove_migration_ptes` over a singly-mapped anon or page-cache
 * folio, as plain calls: the same steps, charges and results as `rmap_walk` /
 * `rmap_walk_locked` with `remove_migration_pte`, taken only when nothing can sleep, spin or
 * pass a scheduling point: `dst` is anon and not KSM and its anon_vma has one VMA, or it is
 * a locked page-cache folio whose file's `i_mmap` has one VMA; the rmap's rwsem (unless
 * `locked`) and the page-table lock are free, the entries lie within one page table, and
 * the VMA is neither hugetlb nor VM_LOCKED (no mlock drain). Returns false, having changed
 * nothing, when one of these does not hold.
 */
/** The range of `removeMigrationPtesUncontended`, filled in by each call (read at once, kept by nobody). */
const RESTORE_RANGE = { startVpn: 0, endVpn: 0 };

function removeMigrationPtesUncontended(
  ctx: RmapState,
  src: Folio,
  dst: Folio,
  locked: boolean,
): boolean {
  const mem = ctx.mem;
  if (!rmapUncontended.enabled) return false;
  // dst's fields read from the memmap (`checkRemoveMigrationPtes` checked it is live).
  const r = memmapReader(mem);
  const walk = uncontendedWalkTarget(r, mem, dst, locked, false);
  if (walk !== WALK_PLAIN) return walk === WALK_NOTHING;
  const vma = UNCONTENDED_TARGET.vma as Vma;
  const sem = UNCONTENDED_TARGET.sem as RwSemaphore;
  const anon = UNCONTENDED_TARGET.anon;
  const order = r.order[dst]!;
  const nr = 1 << order;
  const pgoff = r.index[dst]!;
  // `folio_pgoff`: the index, but for a hugetlb folio (in huge pages; `folioPgoff` has it).
  const walkPgoff = r.folioType[dst] === FOLIO_TYPE_HUGETLB ? folioPgoff(mem, dst) : pgoff;
  const inVma = vmaCoversPgoff(vma, walkPgoff, nr);
  const range =
    inVma && folioVmaRangeAtInto(vma, pgoff - vma.pgoff, nr, RESTORE_RANGE) ? RESTORE_RANGE : null;
  const table = range === null ? null : uncontendedPteTable(vma.mm, range, src, isMigrationEntry);
  if (table === undefined) return false;
  if (!enterUncontendedWalk(ctx, sem, locked)) return false; // the walk's own error
  try {
    if (!inVma) return true;
    ctx.rt.charge(ctx.costs.rmapStep);
    if (range === null || table === null) return true;
    const ptl = table.ptl;
    const endVpn = range.endVpn;
    const taken = uncontendedPtlLock(ctx, ptl);
    for (let vpn = range.startVpn; vpn < endVpn; vpn++) {
      const swp = table.get(vpn);
      if (!isMigrationEntry(swp)) continue;
      const page = ptePfn(swp);
      if (page - src < 0 || page - src >= nr) continue;
      restoreMigrationPte(ctx, dst, vma, anon, order, nr, pgoff, table, vpn, swp);
    }
    uncontendedPtlUnlock(ptl, taken);
    return true;
  } finally {
    exitUncontendedWalk(ctx, sem, locked);
  }
}

/**
 * `remove_migration_pte(folio, vma, addr, old)` (mm/migrate.c, 6.3): every migration entry
 * of `src` in `vma` (`page_vma_mapped_walk` with PVMW_SYNC | PVMW_MIGRATION) becomes a
 * present entry for the matching page of `dst`: one folio reference and one mapping per
 * PTE, RMAP_EXCLUSIVE for an anonymous folio when the entry was writable or
 * readable-exclusive. In a VM_LOCKED VMA `page_add_*_rmap` mlocks dst again
 * (`mlock_vma_folio`: src was munlocked by try_to_migrate, and dst went on the LRU before
 * this walk so that `__mlock_folio` moves it to the unevictable list with its
 * `mlock_count`), then `mlock_drain_local`. Always returns true (the walk goes on).
 */
function* removeMigrationPte(
  ctx: RmapState,
  dst: Folio,
  vma: Vma,
  src: Folio,
  address: number,
): KernelGen<boolean> {
  if (isVmHugetlbPage(vma)) {
    return yield* removeMigrationPteHugetlb(ctx, dst, vma, src, pteFromMigrationEntry);
  }
  const mm = vma.mm;
  const mem = ctx.mem;
  const nr = folioNrPages(mem, dst);
  const pgoff = folioIndex(mem, dst);
  // A KSM page: the walk's address is the rmap_item's; the page index of a small folio is
  // never used to pick the page (the 4b0ece6fa016 fix, older than 6.2: only a large folio computes
  // `idx` from linear_page_index, below).
  const range = folioTestKsm(mem, dst) ? ksmPageRange(address) : folioVmaRange(vma, pgoff, nr);
  if (range === null) return true;
  const anon = folioTestAnon(mem, dst);
  const order = folioOrder(mem, dst);
  yield* pageVmaMappedWalk(mm, range, src, nr, {
    matches: isMigrationEntry,
    pmd: (pmdIndex) => {
      removeMigrationPmd(ctx, dst, vma, pmdIndex);
      return true;
    },
    pte: (table, vpn, swp) => {
      restoreMigrationPte(ctx, dst, vma, anon, order, nr, pgoff, table, vpn, swp);
      return true;
    },
  });
  // `if (vma->vm_flags & VM_LOCKED) mlock_drain_local();` after the walk (6.3).
  if ((vma.flags & VM_LOCKED) !== 0) yield* mlockDrainLocal(ctx);
  return true;
}

/**
 * `remove_migration_ptes(src, dst, locked)` (mm/migrate.c, 6.3): walk the rmap of `dst`
 * (which already has src's mapping and index; on failure `dst === src`) and turn every
 * migration entry of `src` back into a mapping, of `dst`. `locked` says the caller
 * already holds the rmap lock (`rmap_walk_locked`). The anon walk locks the anon_vma
 * directly (the folio is unmapped, so the caller's `folio_get_anon_vma` reference is
 * what keeps it alive).
 */
export const removeMigrationPtes = tracedFunction('remove_migration_ptes', removeMigrationPtesBody);
function* removeMigrationPtesBody(
  ctx: RmapState,
  src: Folio,
  dst: Folio,
  locked: boolean,
): KernelGen {
  checkRemoveMigrationPtes(ctx, src, dst);
  if (removeMigrationPtesUncontended(ctx, src, dst, locked)) return;
  const rwc = REMOVE_MIGRATION_WALKS.take(ctx);
  rwc.src = src;
  yield* REMOVE_MIGRATION_WALKS.walk(ctx, dst, rwc, locked);
}

/**
 * The `rmap_walk_control` of `remove_migration_ptes` (mm/migrate.c, 6.3): `rmap_one` is
 * `remove_migration_pte` with the call's src (`arg`). Allocated once and reused (a
 * `WalkControlPool`; a walk left suspended keeps its own), filled in per call.
 */
class RemoveMigrationWalk implements RmapWalkControl {
  ctx: RmapState | null = null;
  src: Folio = -1;

  rmapOne(folio: Folio, vma: VmaView, address: number): KernelGen<boolean> {
    return removeMigrationPte(this.ctx as RmapState, folio, vma as Vma, this.src, address);
  }
}

/** The free `RemoveMigrationWalk`s. */
const REMOVE_MIGRATION_WALKS = new WalkControlPool(() => new RemoveMigrationWalk());

/**
 * `removeMigrationPtes` as a plain call when it cannot sleep, spin or pass a scheduling
 * point (see `removeMigrationPtesUncontended`) and no one traces kernel functions: true
 * when done; false, having changed nothing, when the caller must run `removeMigrationPtes`.
 */
export function removeMigrationPtesFast(
  ctx: RmapState,
  src: Folio,
  dst: Folio,
  locked: boolean,
): boolean {
  if (ctx.rt.functions.enabled) return false;
  checkRemoveMigrationPtes(ctx, src, dst);
  return removeMigrationPtesUncontended(ctx, src, dst, locked);
}

/** The argument check of `remove_migration_ptes` (above); it changes nothing. */
function checkRemoveMigrationPtes(ctx: RmapState, src: Folio, dst: Folio): void {
  const mem = ctx.mem;
  const r = memmapReader(mem);
  // Not live folios: the accessor throws its error (src first, as before).
  if (!readerIsFolio(r, src)) folioNrPages(mem, src);
  if (!readerIsFolio(r, dst)) folioNrPages(mem, dst);
  if (r.order[src] !== r.order[dst]) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `remove_migration_ptes: src ${src} has ${folioNrPages(mem, src)} pages but dst ${dst} has ${folioNrPages(mem, dst)}`,
    );
  }
}
