import {
  formatPte,
  isMigrationEntry,
  isMigrationEntryDirty,
  isWritableMigrationEntry,
  type MmView,
  PAGE_SIZE,
  PTRS_PER_PTE,
  pteDirty,
  ptePresent,
  pteSoftDirty,
  pteSwpSoftDirty,
  pteSwpUffdWp,
  pteUffdWp,
  pteWrite,
} from '@mmsim/rmap';
import { type Invariant, MmsimError } from '@mmsim/runtime';

/** The name of `restoredPteNoNewPermission`'s invariant. */
export const RESTORED_PTE_INVARIANT = 'restored-pte-no-new-permission';

/**
 * What a PTE lost or gained from `before` (present, before `try_to_migrate`) through
 * `entry` (the migration entry) to `after` (present, after `remove_migration_ptes`), or
 * null when nothing: the write bit may not appear; uffd-wp, soft-dirty and dirty may not
 * disappear (losing uffd-wp lets writes past the monitor; losing soft-dirty or dirty hides
 * a write from clear_refs users or from writeback). The young bit may go either way.
 */
export function restoredPteProblem(before: number, entry: number, after: number): string | null {
  if (isWritableMigrationEntry(entry) !== pteWrite(before)) {
    return 'the migration entry does not carry the write permission the PTE had';
  }
  if (pteSwpUffdWp(entry) !== pteUffdWp(before)) return 'the migration entry lost uffd-wp';
  if (pteSoftDirty(before) && !pteSwpSoftDirty(entry)) {
    return 'the migration entry lost soft-dirty';
  }
  if (pteDirty(before) && !isMigrationEntryDirty(entry)) return 'the migration entry lost dirty';
  if (pteWrite(after) && !pteWrite(before)) return 'the restored PTE gained the write permission';
  if (pteUffdWp(before) && !pteUffdWp(after)) return 'the restored PTE lost uffd-wp';
  if (pteSoftDirty(before) && !pteSoftDirty(after)) return 'the restored PTE lost soft-dirty';
  if (pteDirty(before) && !pteDirty(after)) return 'the restored PTE lost dirty';
  return null;
}

/**
 * `restored-pte-no-new-permission`: a PTE that migration replaced by a migration entry and
 * then restored has no permission it did not have before (compared after every step, for
 * the `pages` PTEs of `mm` from `addr`; PTE-mapped pages only). Kernel rule: migration is
 * invisible to user space; `try_to_migrate_one` records the PTE's write permission (the
 * entry's type), uffd-wp, soft-dirty, young and dirty in the entry, and
 * `remove_migration_pte` rebuilds the same PTE (mm/rmap.c, mm/migrate.c, 6.3). Broken
 * before Peter Xu's "mm/migrate: fix read-only page got writable when recover pte"
 * (6.1-rc6): a uffd-wp-protected shmem page came back writable.
 *
 * Per PTE it keeps the last present value and the migration entry seen since; a present
 * PTE after an entry is compared with both (`restoredPteProblem`). Faults, unmaps and
 * UFFDIO_WRITEPROTECT between migrations only update the last present value.
 */
export function restoredPteNoNewPermission(mm: MmView, addr: number, pages: number): Invariant {
  if (!Number.isInteger(pages) || pages < 1 || addr % PAGE_SIZE !== 0) {
    throw new MmsimError('INVALID_ARGUMENT', `${RESTORED_PTE_INVARIANT}: bad range`);
  }
  const before = new Uint32Array(pages);
  const entry = new Uint32Array(pages);
  const firstVpn = addr / PAGE_SIZE;
  let failure: string | null = null;
  return {
    name: RESTORED_PTE_INVARIANT,
    check() {
      if (failure !== null || !mm.alive) return failure;
      for (let i = 0; i < pages; i++) {
        const vpn = firstVpn + i;
        const table = mm.pageTables.get(Math.floor(vpn / PTRS_PER_PTE));
        const pte = table === undefined ? 0 : (table.ptes[vpn % PTRS_PER_PTE] as number);
        if (pte === 0) {
          before[i] = 0;
          entry[i] = 0;
        } else if (isMigrationEntry(pte)) {
          if (before[i] !== 0) entry[i] = pte;
        } else if (ptePresent(pte)) {
          if (entry[i] !== 0) {
            const problem = restoredPteProblem(before[i]!, entry[i]!, pte);
            if (problem !== null) {
              failure =
                `${mm} 0x${(vpn * PAGE_SIZE).toString(16)}: ${problem} ` +
                `(before: ${formatPte(before[i]!)}; entry: ${formatPte(entry[i]!)}; after: ${formatPte(pte)})`;
              return failure;
            }
            entry[i] = 0;
          }
          before[i] = pte;
        }
      }
      return null;
    },
  };
}
