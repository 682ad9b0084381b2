import {
  FOLIO_TYPE_HUGETLB,
  type Folio,
  folioIndex,
  folioMapcount,
  folioMapped,
  folioNrPages,
  folioOrder,
  folioPut,
  folioRefCount,
  folioTestAnon,
  folioTestKsm,
  memmapReader,
  PG_anon_exclusive,
  pageTestFlag,
  readerFolioMapcount,
  readerIsFolio,
} from '@mmsim/folio';
import {
  EBUSY,
  type KernelGen,
  MmsimError,
  type RwSemaphore,
  tracedFunction,
} from '@mmsim/runtime';
import {
  PAGE_SIZE,
  PTRS_PER_PTE,
  TTU_MIGRATE_ALLOWED,
  TTU_RMAP_LOCKED,
  TTU_SPLIT_HUGE_PMD,
  VM_LOCKED,
} from './constants.js';
import { pageTryShareAnonRmap } from './dma-pinned.js';
import { tryToMigrateOneHugetlb } from './hugetlb-rmap.js';
import { folioPgoff, isVmHugetlbPage } from './hugetlb-state.js';
import { ksmPageRange } from './ksm.js';
import { mlockDrainLocal, munlockVmaFolio } from './mlock.js';
import type { Mm } from './mm.js';
import type { PageTable } from './page-table.js';
import { pageVmaMappedWalk, uncontendedPteTable } from './page-vma-mapped.js';
import {
  mkMigrationEntry,
  pteDirty,
  ptePfn,
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
import type { VmaView } from './readonly-views.js';
import { folioMarkDirty, pageRemoveRmap } from './rmap-accounting.js';
import type { RmapState } from './rmap-state.js';
import type { RmapWalkControl } from './rmap-walk.js';
import { splitHugePmd } from './split-huge-pmd.js';
import { flushTlbPage, flushTlbPmd } from './tlb.js';
import { pteAccessible, setTlbUbcFlushPending, shouldDeferFlush } from './tlb-batch.js';
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
 * `set_pmd_migration_entry(pvmw, page)` (mm/huge_memory.c, 6.3), with `page_table_lock`
 * held: invalidate the PMD (flushing at once: PMD mappings are never batched), clear
 * PageAnonExclusive or give up (-EBUSY, PMD restored) if the folio may be pinned, carry
 * the dirty bit into the folio, install a PMD migration entry (writable, readable-
 * exclusive or readable; young, dirty, soft-dirty), and drop the PMD's mapping and
 * reference. Returns 0 or -EBUSY.
 */
function setPmdMigrationEntry(ctx: RmapState, vma: Vma, pmdIndex: number, folio: Folio): number {
  const mm = vma.mm;
  const pmdval = mm.pmds.get(pmdIndex)!;
  const firstVpn = pmdIndex * PTRS_PER_PTE;
  mm.pmds.set(pmdIndex, 0);
  flushTlbPmd(ctx, mm, firstVpn);
  const anonExclusive =
    folioTestAnon(ctx.mem, folio) && pageTestFlag(ctx.mem, folio, PG_anon_exclusive);
  if (anonExclusive && pageTryShareAnonRmap(ctx, folio, folio) !== 0) {
    mm.pmds.set(pmdIndex, pmdval);
    return -EBUSY;
  }
  if (pteDirty(pmdval)) folioMarkDirty(ctx, folio);
  const type = pteWrite(pmdval)
    ? SWP_MIGRATION_WRITE
    : anonExclusive
      ? SWP_MIGRATION_READ_EXCLUSIVE
      : SWP_MIGRATION_READ;
  let entry = mkMigrationEntry(
    folio,
    type,
    pteYoung(pmdval),
    pteDirty(pmdval),
    pteSoftDirty(pmdval),
  );
  if (pteUffdWp(pmdval)) entry = pteSwpMkuffdWp(entry); // pmd_swp_mkuffd_wp
  mm.pmds.set(pmdIndex, entry);
  ctx.rt.charge(ctx.costs.pteUpdate);
  pageRemoveRmap(ctx, folio, folio, true);
  munlockVmaFolio(ctx, folio, vma, true); // page_remove_rmap's munlock_vma_folio
  folioPut(ctx.mem, folio);
  const tp = ctx.trace.setMigrationPmd;
  if (tp.enabled) tp.emit({ addr: firstVpn * PAGE_SIZE, pmd: entry });
  return 0;
}

/** The first store of `try_to_migrate_one`: clear the PTE and flush (now or batched). */
function nukePte(
  ctx: RmapState,
  mm: Mm,
  flags: number,
  table: PageTable,
  vpn: number,
  pte: number,
): void {
  table.set(vpn, 0);
  ctx.rt.charge(ctx.costs.pteUpdate);
  if (shouldDeferFlush(ctx, mm, flags)) {
    setTlbUbcFlushPending(ctx, mm, pte, ctx.tlbBatchSkipsInaccessible);
  } else if (pteAccessible(mm, pte)) {
    flushTlbPage(ctx, mm, vpn); // ptep_clear_flush: only an entry a CPU may cache
  }
}

/**
 * The rest of `try_to_migrate_one` for the cleared PTE that was `pte`: dirty the folio,
 * share an anon-exclusive page (or restore the PTE and stop: false), install the
 * migration entry, drop the mapping and its reference.
 */
function setMigrationPte(
  ctx: RmapState,
  folio: Folio,
  vma: Vma,
  anon: boolean,
  order: number,
  table: PageTable,
  vpn: number,
  pte: number,
): boolean {
  const mem = ctx.mem;
  const mm = vma.mm;
  const subpage = ptePfn(pte);
  // `PageAnonExclusive(subpage)`: the walk handed over a page of the live `folio`.
  const anonExclusive =
    anon && (memmapReader(mem).flags[subpage]! & (1 << PG_anon_exclusive)) !== 0;
  if (pteDirty(pte)) folioMarkDirty(ctx, folio);
  if (pteWrite(pte) && anon && !anonExclusive) {
    // The uncontended walk may not have taken the lock (see `uncontendedPtlLock`).
    if (table.ptl.owner === ctx.rt.current) table.ptl.unlock();
    throw new MmsimError(
      'INVARIANT_VIOLATED',
      `try_to_migrate_one: ${mm} maps pfn ${subpage} writable at 0x${(vpn * PAGE_SIZE).toString(16)} but the page is not PageAnonExclusive`,
    );
  }
  // See page_try_share_anon_rmap(): clear the PTE first.
  if (anonExclusive && pageTryShareAnonRmap(ctx, folio, subpage) !== 0) {
    table.set(vpn, pte);
    return false;
  }
  const type = pteWrite(pte)
    ? SWP_MIGRATION_WRITE
    : anonExclusive
      ? SWP_MIGRATION_READ_EXCLUSIVE
      : SWP_MIGRATION_READ;
  let entry = mkMigrationEntry(subpage, type, pteYoung(pte), pteDirty(pte), pteSoftDirty(pte));
  if (pteUffdWp(pte)) entry = pteSwpMkuffdWp(entry); // pte_swp_mkuffd_wp
  table.set(vpn, entry);
  const tp = ctx.trace.setMigrationPte;
  if (tp.enabled) tp.emit({ addr: vpn * PAGE_SIZE, pte: entry, order });
  pageRemoveRmap(ctx, folio, subpage, false);
  munlockVmaFolio(ctx, folio, vma, false); // page_remove_rmap's munlock_vma_folio
  folioPut(mem, folio);
  return true;
}

/**
 * `try_to_migrate_one(folio, vma, address, flags)` (mm/rmap.c, 6.3): replace every
 * mapping of `folio` in `vma` by a migration entry. Per PTE, under its page-table lock:
 *
 * - clear it: with the flush deferred to the task's batch when `should_defer_flush`
 *   (TTU_BATCH_FLUSH and another CPU in mm_cpumask), else `ptep_clear_flush` at once
 *   (mm/pgtable-generic.c, which flushes only a `pte_accessible` entry: a PROT_NONE
 *   entry whose change was already flushed needs none); the batched path skips such an
 *   entry only from 6.4 on (4d4b6d66db63, see `setTlbUbcFlushPending`);
 * - a dirty PTE dirties the folio (`folio_mark_dirty`);
 * - an anon-exclusive page must drop PageAnonExclusive (`page_try_share_anon_rmap`);
 *   when the folio may be pinned the PTE is restored and the walk stops (false), leaving
 *   the folio partly mapped;
 * - install the migration entry: writable if the PTE was, else readable-exclusive if the
 *   page was anon-exclusive, else readable; carrying young, dirty, soft-dirty and uffd-wp;
 * - drop the page's mapcount (`page_remove_rmap`, which in a VM_LOCKED VMA munlocks the
 *   folio: `munlock_vma_folio`, then `mlock_drain_local`) and one folio reference.
 *
 * A PMD-mapped THP goes through `set_pmd_migration_entry`, unless TTU_SPLIT_HUGE_PMD
 * split the PMD (frozen into migration entries) first. A hugetlb VMA goes through
 * `tryToMigrateOneHugetlb` (hugetlb-rmap.ts). Not modelled: device private pages, hwpoison, `pte_unused`, mmu notifiers.
 */
function* tryToMigrateOne(
  ctx: RmapState,
  folio: Folio,
  vma: Vma,
  address: number,
  flags: number,
): KernelGen<boolean> {
  if (isVmHugetlbPage(vma)) return yield* tryToMigrateOneHugetlb(ctx, folio, vma, flags);
  const mm = vma.mm;
  const mem = ctx.mem;
  if ((flags & TTU_SPLIT_HUGE_PMD) !== 0) yield* splitHugePmd(ctx, vma, address, true, folio);
  const nr = folioNrPages(mem, folio);
  // A KSM page is where its rmap_item says (rmap_walk_ksm's address), not at its index.
  const range = folioTestKsm(mem, folio)
    ? ksmPageRange(address)
    : folioVmaRange(vma, folioIndex(mem, folio), nr);
  if (range === null) return true;
  const anon = folioTestAnon(mem, folio);
  const order = folioOrder(mem, folio);
  // Between clearing a PTE and installing its migration entry: done at once, or, with
  // `ctx.unmapWindow`, after a scheduling point (see `setUnmapWindow`).
  let pending: { readonly mm: Mm; readonly vpn: number; readonly pte: number } | null = null;
  const ret = yield* pageVmaMappedWalk(
    mm,
    range,
    folio,
    nr,
    ctx.unmapWindow
      ? {
          matches: ptePresent,
          pmd: (pmdIndex) => setPmdMigrationEntry(ctx, vma, pmdIndex, folio) === 0,
          pte: (table, vpn, pte) => {
            nukePte(ctx, mm, flags, table, vpn, pte);
            pending = { mm, vpn, pte };
            ctx.unmapPending.add(pending);
            return true;
          },
          afterPte: (table, vpn) => {
            const p = pending!;
            ctx.unmapPending.delete(p);
            pending = null;
            return setMigrationPte(ctx, folio, vma, anon, order, table, vpn, p.pte);
          },
        }
      : {
          matches: ptePresent,
          pmd: (pmdIndex) => setPmdMigrationEntry(ctx, vma, pmdIndex, folio) === 0,
          pte: (table, vpn, pte) => {
            nukePte(ctx, mm, flags, table, vpn, pte);
            return setMigrationPte(ctx, folio, vma, anon, order, table, vpn, pte);
          },
        },
  );
  // 6.3 runs mlock_drain_local() after each page_remove_rmap of a VM_LOCKED VMA, under the
  // page-table lock; the model drains once the walk has dropped it.
  if ((vma.flags & VM_LOCKED) !== 0) yield* mlockDrainLocal(ctx);
  return ret;
}

/**
 * The uncontended walk of `try_to_migrate` over a singly-mapped anon or page-cache folio,
 * as plain calls: the same steps, charges and results as `rmap_walk` / `rmap_walk_locked`
 * with `try_to_migrate_one` (below), taken only when none of them can sleep, spin or pass
 * a scheduling point: the folio is anon and not KSM, its anon_vma has one VMA, or it is a
 * locked page-cache folio whose file's `i_mmap` has one VMA (`rmap_walk_file`; no
 * `cond_resched()` between VMAs either way), the rmap's rwsem (the anon_vma's or
 * `i_mmap_rwsem`, unless `TTU_RMAP_LOCKED`) and the page-table lock are free, the folio is
 * PTE-mapped within one page table, and nothing asks for a PMD split, a hugetlb walk, an
 * unmap window or an mlock drain. Returns false, having changed nothing, when one of these
 * does not hold: the caller then runs the walk as generators.
 */
/** The range of `tryToMigrateUncontended`, filled in by each call (read at once, kept by nobody). */
const UNMAP_RANGE = { startVpn: 0, endVpn: 0 };

function tryToMigrateUncontended(ctx: RmapState, folio: Folio, flags: number): boolean {
  const mem = ctx.mem;
  if (!rmapUncontended.enabled) return false;
  if ((flags & TTU_SPLIT_HUGE_PMD) !== 0 || ctx.unmapWindow) return false;
  // The folio's fields read from the memmap (`checkTryToMigrate` checked it is live).
  const r = memmapReader(mem);
  const locked = (flags & TTU_RMAP_LOCKED) !== 0;
  const walk = uncontendedWalkTarget(r, mem, folio, locked, true);
  if (walk !== WALK_PLAIN) return walk === WALK_NOTHING;
  const vma = UNCONTENDED_TARGET.vma as Vma;
  const sem = UNCONTENDED_TARGET.sem as RwSemaphore;
  // An anon folio's walk skips exec's temporary stack (`invalid_migration_vma`); a file's not.
  const anon = UNCONTENDED_TARGET.anon;
  const order = r.order[folio]!;
  const nr = 1 << order;
  const index = r.index[folio]!;
  // `folio_pgoff`: the index, but for a hugetlb folio (in huge pages; `folioPgoff` has it).
  const pgoff = r.folioType[folio] === FOLIO_TYPE_HUGETLB ? folioPgoff(mem, folio) : index;
  const inVma = vmaCoversPgoff(vma, pgoff, nr);
  const range =
    inVma && folioVmaRangeAtInto(vma, index - vma.pgoff, nr, UNMAP_RANGE) ? UNMAP_RANGE : null;
  const table = range === null ? null : uncontendedPteTable(vma.mm, range, folio, ptePresent);
  if (table === undefined) return false;
  if (!enterUncontendedWalk(ctx, sem, locked)) return false; // the walk's own error
  try {
    if (!inVma) return true;
    ctx.rt.charge(ctx.costs.rmapStep);
    if (anon && vma.isTemporaryStack) return true; // invalid_vma
    if (range === null || table === null) return true;
    const mm = vma.mm;
    const ptl = table.ptl;
    const endVpn = range.endVpn;
    const taken = uncontendedPtlLock(ctx, ptl);
    for (let vpn = range.startVpn; vpn < endVpn; vpn++) {
      const pte = table.get(vpn);
      if (!ptePresent(pte)) continue;
      const page = ptePfn(pte);
      if (page - folio < 0 || page - folio >= nr) continue;
      nukePte(ctx, mm, flags, table, vpn, pte);
      if (!setMigrationPte(ctx, folio, vma, anon, order, table, vpn, pte)) break;
    }
    uncontendedPtlUnlock(ptl, taken);
    return true;
  } finally {
    exitUncontendedWalk(ctx, sem, locked);
  }
}

/** The error for a try_to_migrate call that breaks its contract; nothing was changed. */
function misuse(message: string): MmsimError {
  return new MmsimError('INVALID_ARGUMENT', message);
}

/**
 * `try_to_migrate(folio, flags)` (mm/rmap.c, 6.3): replace every page-table mapping of a
 * locked folio by migration entries, walking the rmap with `try_to_migrate_one`
 * (`rmap_walk_locked` with TTU_RMAP_LOCKED), stopping once the folio is no longer mapped.
 * Anon folios skip exec's temporary stack VMAs. Afterwards the caller checks
 * `folioMapped`: a folio that stayed (partly) mapped cannot be migrated.
 *
 * Allowed flags: TTU_RMAP_LOCKED, TTU_SPLIT_HUGE_PMD, TTU_SYNC, TTU_BATCH_FLUSH; the
 * kernel WARNs and returns on any other, the model throws INVALID_ARGUMENT. The caller
 * must hold the folio lock and a reference of its own (migration's isolation reference).
 * TTU_SYNC changes nothing here: every PTE is read under its lock.
 */
export const tryToMigrate = tracedFunction('try_to_migrate', tryToMigrateBody);
function* tryToMigrateBody(ctx: RmapState, folio: Folio, flags: number): KernelGen {
  const mem = ctx.mem;
  checkTryToMigrate(ctx, folio, flags);
  if (tryToMigrateUncontended(ctx, folio, flags)) return;
  const rwc = TRY_TO_MIGRATE_WALKS.take(ctx);
  rwc.flags = flags;
  rwc.skipTemporaryStack = !folioTestKsm(mem, folio) && folioTestAnon(mem, folio);
  yield* TRY_TO_MIGRATE_WALKS.walk(ctx, folio, rwc, (flags & TTU_RMAP_LOCKED) !== 0);
}

/**
 * The `rmap_walk_control` of `try_to_migrate` (mm/rmap.c, 6.3): `rmap_one` is
 * `try_to_migrate_one` with the call's flags, `done` is `folio_not_mapped`, `anon_lock` is
 * `folio_lock_anon_vma_read`, and an anon (not KSM) folio's walk skips exec's temporary
 * stack (`invalid_migration_vma`). Allocated once and reused (a `WalkControlPool`; a
 * walk left suspended keeps its own), filled in per call.
 */
class TryToMigrateWalk implements RmapWalkControl {
  ctx: RmapState | null = null;
  flags = 0;
  skipTemporaryStack = false;
  readonly anonLock = true;

  rmapOne(folio: Folio, vma: VmaView, address: number): KernelGen<boolean> {
    return tryToMigrateOne(this.ctx as RmapState, folio, vma as Vma, address, this.flags);
  }

  done(folio: Folio): boolean {
    return !folioMapped((this.ctx as RmapState).mem, folio);
  }

  invalidVma(vma: VmaView): boolean {
    return this.skipTemporaryStack && vma.isTemporaryStack;
  }
}

/** The free `TryToMigrateWalk`s. */
const TRY_TO_MIGRATE_WALKS = new WalkControlPool(() => new TryToMigrateWalk());

/**
 * `tryToMigrate` as a plain call when it cannot sleep, spin or pass a scheduling point
 * (see `tryToMigrateUncontended`) and no one traces kernel functions: true when done;
 * false, having changed nothing, when the caller must run `tryToMigrate`. A call that
 * breaks the contract throws as `tryToMigrate` does.
 */
export function tryToMigrateFast(ctx: RmapState, folio: Folio, flags: number): boolean {
  if (ctx.rt.functions.enabled) return false;
  checkTryToMigrate(ctx, folio, flags);
  return tryToMigrateUncontended(ctx, folio, flags);
}

/** The contract checks of `try_to_migrate` (above); they change nothing. */
function checkTryToMigrate(ctx: RmapState, folio: Folio, flags: number): void {
  const mem = ctx.mem;
  const r = memmapReader(mem);
  if (!Number.isInteger(flags) || (flags & ~TTU_MIGRATE_ALLOWED) !== 0 || flags < 0) {
    throw misuse(
      `try_to_migrate: flags 0x${flags.toString(16)} include bits it does not take ` +
        '(allowed: TTU_RMAP_LOCKED | TTU_SPLIT_HUGE_PMD | TTU_SYNC | TTU_BATCH_FLUSH)',
    );
  }
  const me = ctx.rt.current;
  if (ctx.locks.folioLockOwner(folio) !== me) {
    throw new MmsimError(
      'CONTRACT_VIOLATION',
      `try_to_migrate: ${me} must hold the lock of folio ${folio}`,
    );
  }
  // Not a live folio: the accessor throws its error (USE_AFTER_FREE, a tail's pfn...).
  if (!readerIsFolio(r, folio)) folioRefCount(mem, folio);
  if (r.refcount[folio]! <= readerFolioMapcount(r, folio)) {
    throw new MmsimError(
      'CONTRACT_VIOLATION',
      `try_to_migrate: folio ${folio} has refcount ${folioRefCount(mem, folio)} for ` +
        `${folioMapcount(mem, folio)} mappings: the caller must hold a reference of its own`,
    );
  }
}
