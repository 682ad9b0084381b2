import { pfnFolio } from '@mmsim/folio';
import type { KernelGen } from '@mmsim/runtime';
import type { Mm } from './mm.js';
import type { PageTable } from './page-table.js';
import { isMigrationEntry, ptePfn } from './pte.js';
import type { RmapState } from './rmap-state.js';

/**
 * `migration_entry_wait(mm, pmd, address)` / `__migration_entry_wait` (mm/migrate.c, 6.3),
 * reached from `do_swap_page`: lock the PTE, re-read it, and if it still holds a migration
 * entry, wait for the source folio's PG_locked to clear with
 * `migration_entry_wait_on_locked`: queued on the folio's hashed wait queue **without
 * taking a folio reference** (the page-table lock keeps the folio alive until the waiter
 * is queued; a reference would make the migration fail), the lock dropped, asleep
 * (TASK_UNINTERRUPTIBLE) until the migrator unlocks the folio. The caller then retries
 * the fault.
 */
export function* migrationEntryWait(ctx: RmapState, table: PageTable, vpn: number): KernelGen {
  const ptl = table.ptl;
  if (!ptl.trylock()) yield* ptl.lockContended();
  const pte = table.get(vpn);
  if (!isMigrationEntry(pte)) {
    ptl.unlock();
    return;
  }
  const folio = pfnFolio(ctx.mem, ptePfn(pte));
  yield* ctx.locks.migrationEntryWaitOnLocked(folio, ptl, 'migration_entry_wait');
}

/**
 * `migrationEntryWait` (above) from `do_swap_page`, as plain calls up to where it may
 * sleep: the PTE lock taken with a trylock and the entry re-read. Returns 0 (the fault is
 * retried) when the entry is gone, else the generator that goes on from there and returns
 * 0: the contended lock, or the sleep on the folio's PG_locked with the PTE lock held
 * until the waiter is queued. Run that generator at once with `yield*` (in the same step:
 * it may hold the PTE lock). The same steps and charges as `migrationEntryWait`.
 */
export function migrationEntryWaitPlain(
  ctx: RmapState,
  table: PageTable,
  vpn: number,
): number | KernelGen<number> {
  const ptl = table.ptl;
  if (!ptl.trylock()) return migrationEntryWaitContended(ctx, table, vpn);
  const pte = table.get(vpn);
  if (!isMigrationEntry(pte)) {
    ptl.unlock();
    return 0;
  }
  return migrationEntryWaitLocked(ctx, pfnFolio(ctx.mem, ptePfn(pte)), ptl);
}

/** `migrationEntryWaitPlain` after a failed trylock: the spin, then the rest; returns 0. */
function* migrationEntryWaitContended(
  ctx: RmapState,
  table: PageTable,
  vpn: number,
): KernelGen<number> {
  const ptl = table.ptl;
  yield* ptl.lockContended();
  const pte = table.get(vpn);
  if (!isMigrationEntry(pte)) {
    ptl.unlock();
    return 0;
  }
  yield* ctx.locks.migrationEntryWaitOnLocked(
    pfnFolio(ctx.mem, ptePfn(pte)),
    ptl,
    'migration_entry_wait',
  );
  return 0;
}

/** The sleep of `migrationEntryWaitPlain` on `folio`, with `ptl` held; returns 0. */
function* migrationEntryWaitLocked(
  ctx: RmapState,
  folio: number,
  ptl: PageTable['ptl'],
): KernelGen<number> {
  yield* ctx.locks.migrationEntryWaitOnLocked(folio, ptl, 'migration_entry_wait');
  return 0;
}

/**
 * `pmd_migration_entry_wait(mm, pmd)` (mm/migrate.c, 6.3): the same for a PMD migration
 * entry, under `page_table_lock`.
 */
export function* pmdMigrationEntryWait(ctx: RmapState, mm: Mm, pmdIndex: number): KernelGen {
  const ptl = mm.pageTableLock;
  if (!ptl.trylock()) yield* ptl.lockContended();
  const pmdv = mm.pmds.get(pmdIndex);
  if (pmdv === undefined || !isMigrationEntry(pmdv)) {
    ptl.unlock();
    return;
  }
  yield* ctx.locks.migrationEntryWaitOnLocked(ptePfn(pmdv), ptl, 'pmd_migration_entry_wait');
}
