import type { Kernel } from '@mmsim/kernel';
import { isMigrationEntry, PAGE_SIZE, PTRS_PER_PTE } from '@mmsim/rmap';
import type { Invariant } from '@mmsim/runtime';
import { firstProblem } from './invariant.js';

/**
 * `no-migration-entry-at-end`: when every task has ended, no page table (PTE or PMD level)
 * of any live process holds a migration entry: every migration either completed
 * (`remove_migration_ptes(src, dst)`) or was undone (`remove_migration_ptes(src, src)`).
 * During the run, `rmap-consistent` checks that each migration entry's folio is locked.
 *
 * Kernel rule (mm/migrate.c, mm/huge_memory.c, 6.3): migration entries exist only while
 * their folio is locked by the migration (`try_to_migrate` .. `remove_migration_ptes`) or
 * the split (`unmap_folio` .. `remap_page`); both unlock only after restoring every entry.
 * Checked at the end only, when no such operation can be in progress.
 */
export function noMigrationEntryAtEnd(k: Kernel): Invariant {
  return {
    name: 'no-migration-entry-at-end',
    // Null at every step: the explorer calls it only at the end.
    endOnly: true,
    check(phase) {
      if (phase !== 'end') return null;
      const problems: string[] = [];
      for (const mm of k.vm.processes) {
        for (const [idx, table] of mm.pageTables) {
          const ptes = table.ptes;
          // Two entries at a time where they line up: a word that reads as 0 (or -0: the
          // upper entry 0x80000000, no swap type) holds no migration entry.
          const pairs =
            ptes instanceof Uint32Array &&
            (ptes.byteOffset & 7) === 0 &&
            ptes.length === PTRS_PER_PTE
              ? new Float64Array(ptes.buffer, ptes.byteOffset, PTRS_PER_PTE >>> 1)
              : null;
          for (let i = 0; i < PTRS_PER_PTE; i++) {
            if (pairs !== null && (i & 1) === 0 && pairs[i >>> 1] === 0) {
              i++;
              continue;
            }
            const raw = ptes[i] as number;
            if (raw !== 0 && isMigrationEntry(raw)) {
              const addr = (idx * PTRS_PER_PTE + i) * PAGE_SIZE;
              problems.push(`${mm} 0x${addr.toString(16)} still holds a migration entry`);
            }
          }
        }
        for (const [idx, raw] of mm.pmds) {
          if (isMigrationEntry(raw)) {
            const addr = idx * PTRS_PER_PTE * PAGE_SIZE;
            problems.push(`${mm} 0x${addr.toString(16)} still holds a PMD migration entry`);
          }
        }
      }
      return firstProblem(problems);
    },
  };
}
