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
          // Eight entries at a time where the slots are 32-bit integers: the OR of eight
          // empty (0) entries is 0, and any other entry makes it nonzero (ToInt32 of a
          // uint32 is 0 only for 0), so a group that ORs to 0 holds no migration entry.
          const step = ptes instanceof Uint32Array && ptes.length === PTRS_PER_PTE ? 8 : 1;
          for (let g = 0; g < PTRS_PER_PTE; g += step) {
            if (
              step === 8 &&
              (ptes[g]! |
                ptes[g + 1]! |
                ptes[g + 2]! |
                ptes[g + 3]! |
                ptes[g + 4]! |
                ptes[g + 5]! |
                ptes[g + 6]! |
                ptes[g + 7]!) ===
                0
            ) {
              continue;
            }
            for (let i = g; i < g + step; i++) {
              const raw = ptes[i] as number;
              if (raw !== 0 && isMigrationEntry(raw)) {
                const addr = (idx * PTRS_PER_PTE + i) * PAGE_SIZE;
                problems.push(`${mm} 0x${addr.toString(16)} still holds a migration entry`);
              }
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
