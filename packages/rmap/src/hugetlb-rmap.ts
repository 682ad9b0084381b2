import {
  type Folio,
  folioEntireMapcount,
  folioEntireMapcountDec,
  folioEntireMapcountInc,
  folioGet,
  folioOnList,
  folioPut,
  folioRefCount,
  folioSetFlag,
  folioSetIndex,
  folioSetMapping,
  folioTestAnon,
  folioTestFlag,
  PAGE_MAPPING_ANON,
  PG_anon_exclusive,
  PG_dirty,
  pageSetFlag,
  pageTestFlag,
} from '@mmsim/folio';
import { type KernelGen, MmsimError } from '@mmsim/runtime';
import {
  PAGE_SIZE,
  PTRS_PER_PTE,
  RMAP_EXCLUSIVE,
  RMAP_NONE,
  TTU_RMAP_LOCKED,
} from './constants.js';
import { pageTryShareAnonRmap } from './dma-pinned.js';
import { folioPgoff, hugetlbOf, vmaHugecacheOffset } from './hugetlb-state.js';
import { pageVmaMappedWalk } from './page-vma-mapped.js';
import {
  isMigrationEntry,
  isReadableMigrationEntry,
  mkMigrationEntry,
  mkPte,
  PTE_DIRTY,
  PTE_SOFT_DIRTY,
  PTE_WRITE,
  PTE_YOUNG,
  pteDirty,
  ptePresent,
  pteSoftDirty,
  pteSwpMkuffdWp,
  pteUffdWp,
  pteWrite,
  pteYoung,
  SWP_MIGRATION_READ,
  SWP_MIGRATION_READ_EXCLUSIVE,
  SWP_MIGRATION_WRITE,
} from './pte.js';
import type { RmapState } from './rmap-state.js';
import { flushTlbPmd } from './tlb.js';
import type { Vma } from './vma.js';
import { folioVmaRange } from './vma-address.js';

/**
 * The rmap of mapped hugetlb folios (mm/rmap.c, mm/migrate.c, Linux 6.3). A hugetlb folio
 * is always mapped whole, by one huge entry per mapping (the model keeps it in `mm.pmds`,
 * like a PMD-mapped THP; the VMA's VM_HUGETLB tells them apart, as `is_vm_hugetlb_page`
 * does in the kernel), and counted in its entire mapcount only: hugetlb pages are not in
 * NR_ANON_MAPPED / NR_FILE_MAPPED, nor in the mm's rss counters (the kernel keeps
 * `mm->hugetlb_usage` apart, which the model does not).
 */

/**
 * `hugepage_add_new_anon_rmap(folio, vma, address)` (mm/rmap.c, 6.3): a new hugetlb folio
 * becomes anonymous memory of `vma`, mapped once, exclusive, at its huge-page index.
 */
export function hugepageAddNewAnonRmap(
  ctx: RmapState,
  folio: Folio,
  vma: Vma,
  address: number,
): void {
  const mem = ctx.mem;
  const av = vma.anonVma;
  if (av === null) {
    throw new MmsimError('CONTRACT_VIOLATION', `${vma} has no anon_vma (anon_vma_prepare first)`);
  }
  folioEntireMapcountInc(mem, folio);
  folioSetMapping(mem, folio, PAGE_MAPPING_ANON, av);
  folioSetIndex(mem, folio, vmaHugecacheOffset(vma, address));
  pageSetFlag(mem, folio, PG_anon_exclusive);
}

/**
 * `hugepage_add_anon_rmap(page, vma, address, flags)` (mm/rmap.c, 6.3), as
 * `remove_migration_pte` uses it: one more mapping; the first one sets the anon rmap up
 * (`__page_set_anon_rmap`, which leaves an already-anonymous folio's mapping alone) and
 * PageAnonExclusive with RMAP_EXCLUSIVE. RMAP_EXCLUSIVE on a mapped folio is a bug
 * (`VM_BUG_ON_PAGE`).
 */
export function hugepageAddAnonRmap(
  ctx: RmapState,
  folio: Folio,
  vma: Vma,
  address: number,
  flags: number,
): void {
  const mem = ctx.mem;
  const first = folioEntireMapcount(mem, folio) === 0;
  if (!first && (flags & RMAP_EXCLUSIVE) !== 0) {
    throw new MmsimError(
      'CONTRACT_VIOLATION',
      `hugepage_add_anon_rmap: hugetlb folio ${folio} is already mapped, it cannot be mapped exclusively`,
    );
  }
  folioEntireMapcountInc(mem, folio);
  if (!first) return;
  if (!folioTestAnon(mem, folio)) {
    const av = vma.anonVma;
    if (av === null) throw new MmsimError('CONTRACT_VIOLATION', `${vma} has no anon_vma`);
    folioSetMapping(mem, folio, PAGE_MAPPING_ANON, av);
    folioSetIndex(mem, folio, vmaHugecacheOffset(vma, address));
  }
  if ((flags & RMAP_EXCLUSIVE) !== 0) pageSetFlag(mem, folio, PG_anon_exclusive);
}

/** `page_dup_file_rmap(page, true)` (include/linux/rmap.h, 6.3) of a hugetlb folio. */
export function hugetlbDupFileRmap(ctx: RmapState, folio: Folio): void {
  folioEntireMapcountInc(ctx.mem, folio);
}

/**
 * `page_remove_rmap(page, vma, true)` of a hugetlb folio (mm/rmap.c, 6.3): the entire
 * mapcount drops and nothing else (hugetlb pages are not in NR_*MAPPED; no munlock).
 */
export function hugetlbRemoveRmap(ctx: RmapState, folio: Folio): void {
  folioEntireMapcountDec(ctx.mem, folio);
}

/**
 * `folio_mark_dirty` of a hugetlb folio: `hugetlbfs_dirty_folio` (fs/hugetlbfs/inode.c,
 * 6.3) only sets PG_dirty (hugetlbfs has no writeback, nothing is accounted); an anonymous
 * hugetlb folio has no mapping to account it either.
 */
export function hugetlbMarkDirty(ctx: RmapState, folio: Folio): void {
  folioSetFlag(ctx.mem, folio, PG_dirty);
}

/**
 * `folio_put` of a hugetlb folio: the last reference runs `free_huge_page`, which takes
 * the folio off `h->hugepage_activelist` and clears HPageMigratable (through the
 * lifecycle hooks; without them, off whatever list holds it) before the pool takes it.
 */
export function hugetlbFolioPut(ctx: RmapState, folio: Folio): void {
  const mem = ctx.mem;
  if (folioRefCount(mem, folio) === 1) {
    const life = hugetlbOf(ctx).lifecycle;
    if (life !== null) life.folioFreeing(folio);
    else folioOnList(mem, folio)?.del(folio);
  }
  folioPut(mem, folio);
}

/**
 * `make_huge_pte(vma, page, writable)` (mm/hugetlb.c, 6.3): young; writable ones are also
 * dirty (`huge_pte_mkdirty`, soft-dirty too on x86), the others write-protected.
 */
export function makeHugePte(folio: Folio, writable: boolean): number {
  return mkPte(folio, writable ? PTE_YOUNG | PTE_DIRTY | PTE_SOFT_DIRTY | PTE_WRITE : PTE_YOUNG);
}

/**
 * The hugetlb branch of `try_to_migrate_one` (mm/rmap.c, 6.3) for the huge entry at
 * `pmdIndex`, with its lock (`huge_pte_lock`: the model's `page_table_lock`) held. A
 * page-cache folio needs `hugetlb_vma_trylock_write` of a shared VMA (lock order: the
 * vma lock comes before `i_mmap_rwsem`, which the caller holds, so it can only be
 * tried): when it fails the walk stops and the folio stays mapped. `huge_pmd_unshare`
 * finds nothing to unshare (PMD sharing is not modelled). Then `huge_ptep_clear_flush`,
 * a dirty entry dirties the folio, an anon-exclusive folio must become shared
 * (`page_try_share_anon_rmap`, else the entry is restored and the walk stops), and the
 * migration entry (writable, readable-exclusive or readable; young, dirty, soft-dirty,
 * uffd-wp) replaces it; the mapping and its reference go.
 */
function setHugetlbMigrationEntry(
  ctx: RmapState,
  vma: Vma,
  pmdIndex: number,
  folio: Folio,
  anon: boolean,
): boolean {
  const mm = vma.mm;
  const mem = ctx.mem;
  if (!anon) {
    const lock = hugetlbOf(ctx).vmaPrivate(vma).vmaLock;
    if (lock !== null) {
      if (!lock.downWriteTrylock()) return false;
      lock.upWrite(); // huge_pmd_unshare found nothing: hugetlb_vma_unlock_write
    }
  }
  const pteval = mm.pmds.get(pmdIndex)!;
  const firstVpn = pmdIndex * PTRS_PER_PTE;
  mm.pmds.set(pmdIndex, 0);
  flushTlbPmd(ctx, mm, firstVpn);
  if (pteDirty(pteval)) hugetlbMarkDirty(ctx, folio);
  const anonExclusive = anon && pageTestFlag(mem, folio, PG_anon_exclusive);
  if (pteWrite(pteval) && anon && !anonExclusive) {
    mm.pmds.set(pmdIndex, pteval);
    throw new MmsimError(
      'INVARIANT_VIOLATED',
      `try_to_migrate_one: ${mm} maps hugetlb folio ${folio} writable at 0x${(firstVpn * PAGE_SIZE).toString(16)} but it is not PageAnonExclusive`,
    );
  }
  if (anonExclusive && pageTryShareAnonRmap(ctx, folio, folio) !== 0) {
    mm.pmds.set(pmdIndex, pteval); // set_huge_pte_at(mm, address, pvmw.pte, pteval)
    return false;
  }
  const type = pteWrite(pteval)
    ? SWP_MIGRATION_WRITE
    : anonExclusive
      ? SWP_MIGRATION_READ_EXCLUSIVE
      : SWP_MIGRATION_READ;
  let entry = mkMigrationEntry(
    folio,
    type,
    pteYoung(pteval),
    pteDirty(pteval),
    pteSoftDirty(pteval),
  );
  if (pteUffdWp(pteval)) entry = pteSwpMkuffdWp(entry);
  mm.pmds.set(pmdIndex, entry);
  ctx.rt.charge(ctx.costs.pteUpdate);
  hugetlbRemoveRmap(ctx, folio);
  folioPut(mem, folio); // the caller holds its own reference: never the last
  const tp = ctx.trace.setMigrationPmd;
  if (tp.enabled) tp.emit({ addr: firstVpn * PAGE_SIZE, pmd: entry });
  return true;
}

/**
 * `try_to_migrate_one` for a hugetlb folio in a VM_HUGETLB VMA (mm/rmap.c, 6.3): a
 * page-cache (shared) folio must come with TTU_RMAP_LOCKED, the caller holding
 * `i_mmap_rwsem` for write (`VM_BUG_ON`, here CONTRACT_VIOLATION); see
 * `setHugetlbMigrationEntry`. Returns false when the walk stopped with the folio mapped.
 */
export function* tryToMigrateOneHugetlb(
  ctx: RmapState,
  folio: Folio,
  vma: Vma,
  flags: number,
): KernelGen<boolean> {
  const mem = ctx.mem;
  const anon = folioTestAnon(mem, folio);
  if (!anon && (flags & TTU_RMAP_LOCKED) === 0) {
    throw new MmsimError(
      'CONTRACT_VIOLATION',
      `try_to_migrate: hugetlb page-cache folio ${folio} needs TTU_RMAP_LOCKED with i_mmap_rwsem held for write`,
    );
  }
  const range = folioVmaRange(vma, folioPgoff(mem, folio), PTRS_PER_PTE);
  if (range === null) return true;
  return yield* pageVmaMappedWalk(vma.mm, range, folio, PTRS_PER_PTE, {
    matches: ptePresent,
    pmd: (pmdIndex) => setHugetlbMigrationEntry(ctx, vma, pmdIndex, folio, anon),
    pte: () => true, // a hugetlb VMA has no page tables
  });
}

/**
 * The hugetlb branch of `remove_migration_pte` (mm/migrate.c, 6.3): the huge migration
 * entry of src at `pmdIndex` becomes a huge entry of `dst` (built as for any page,
 * `pteFromMigrationEntry`, then `arch_make_huge_pte`) with one more reference and
 * mapping: `hugepage_add_anon_rmap` (RMAP_EXCLUSIVE unless the entry was plain readable)
 * or `page_dup_file_rmap(new, true)`.
 */
/** `remove_migration_pte`'s present entry from a migration entry (remove-migration-ptes.ts). */
export type PteFromMigrationEntry = (
  ctx: RmapState,
  swp: number,
  pfn: number,
  dstDirty: boolean,
  vma: Vma,
) => number;

function removeMigrationHugetlbEntry(
  ctx: RmapState,
  dst: Folio,
  vma: Vma,
  pmdIndex: number,
  pteFromMigrationEntry: PteFromMigrationEntry,
): void {
  const mm = vma.mm;
  const mem = ctx.mem;
  const swp = mm.pmds.get(pmdIndex)!;
  folioGet(mem, dst);
  const pte = pteFromMigrationEntry(ctx, swp, dst, folioTestFlag(mem, dst, PG_dirty), vma);
  const address = pmdIndex * PTRS_PER_PTE * PAGE_SIZE;
  if (folioTestAnon(mem, dst)) {
    hugepageAddAnonRmap(
      ctx,
      dst,
      vma,
      address,
      isReadableMigrationEntry(swp) ? RMAP_NONE : RMAP_EXCLUSIVE,
    );
  } else {
    hugetlbDupFileRmap(ctx, dst);
  }
  mm.pmds.set(pmdIndex, pte);
  ctx.rt.charge(ctx.costs.pteUpdate);
  const tp = ctx.trace.removeMigrationPmd;
  if (tp.enabled) tp.emit({ addr: address, pmd: pte });
}

/** `remove_migration_pte` for a VM_HUGETLB VMA (see `removeMigrationHugetlbEntry`). */
export function* removeMigrationPteHugetlb(
  ctx: RmapState,
  dst: Folio,
  vma: Vma,
  src: Folio,
  pteFromMigrationEntry: PteFromMigrationEntry,
): KernelGen<boolean> {
  const range = folioVmaRange(vma, folioPgoff(ctx.mem, dst), PTRS_PER_PTE);
  if (range === null) return true;
  yield* pageVmaMappedWalk(vma.mm, range, src, PTRS_PER_PTE, {
    matches: isMigrationEntry,
    pmd: (pmdIndex) => {
      removeMigrationHugetlbEntry(ctx, dst, vma, pmdIndex, pteFromMigrationEntry);
      return true;
    },
    pte: () => true,
  });
  return true;
}
