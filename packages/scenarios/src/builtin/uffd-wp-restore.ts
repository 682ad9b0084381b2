import { touchPages } from '@mmsim/kernel';
import { MIGRATE_SYNC, MR_SYSCALL } from '@mmsim/migrate';
import { MAP_ANONYMOUS, MAP_SHARED, PAGE_SIZE } from '@mmsim/rmap';
import { migrator } from '../actors/migrator.js';
import { mappedFolios } from '../actors/selectors.js';
import { userTask } from '../actors/user-task.js';
import { restoredPteNoNewPermission } from '../invariants/restored-pte.js';
import { bugHistory, type Scenario } from '../scenario.js';

/** Parameters of `uffdWpRestore`. */
export interface UffdWpRestoreParams {
  /** Pages of the memfd mapping write-protected with UFFDIO_WRITEPROTECT. Default 2. */
  readonly pages?: number;
  /** move_pages rounds, each to the other node. Default 2. */
  readonly migrations?: number;
  /** Loads of the reader (a snapshot child reading the protected pages). Default 8. */
  readonly reads?: number;
}

/**
 * `uffd-wp-restore`: Ives van Hoorne (codesandbox.io), November 2022: VM snapshots taken
 * with userfaultfd write-protection on memfds lost data under load; Peter Xu found the
 * cause in `remove_migration_pte`: a PTE restored from a read migration entry kept the
 * write bit `mk_pte(new, vma->vm_page_prot)` gives a shared writable shmem mapping, so a
 * uffd-wp-protected page came back writable (and still marked uffd-wp): writes went
 * through without a fault to the monitor. Fixed by "mm/migrate: fix read-only page got
 * writable when recover pte" (20221114000447.1681003-2-peterx@redhat.com, 6.1-rc6, Cc
 * stable; Fixes: b1f9e876862d "mm/uffd: enable write protection for shmem & hugetlbfs",
 * 5.19), which write-protects every PTE restored from a non-writable entry.
 *
 * Here: a MAP_SHARED | MAP_ANONYMOUS mapping (shmem, as a memfd is) registered with
 * UFFDIO_REGISTER_MODE_WP; the set-up writes its pages, then write-protects the first
 * `pages` of them (UFFDIO_WRITEPROTECT) and leaves as many writable; move_pages
 * (MIGRATE_SYNC) migrates all of them back and forth while a reader loads them. The
 * invariant `restored-pte-no-new-permission` compares every PTE before `try_to_migrate`
 * with the same PTE after `remove_migration_ptes`; the writable pages show the other
 * direction (a writable PTE restored writable is no finding).
 *
 * Every built-in variant (6.2 and later) has the fix: clean. The bug is the setting
 * `restoreWrprotectsReadEntry: false` (a variant such as `defineVariant({ name: 'v6.1-rc4',
 * extends: 'v6.2', restoreWrprotectsReadEntry: false })`), where the invariant fails on the
 * first restored protected page.
 */
export function uffdWpRestore(params: UffdWpRestoreParams = {}): Scenario {
  const pages = params.pages ?? 2;
  const migrations = params.migrations ?? 2;
  const reads = params.reads ?? 8;
  const total = 2 * pages;
  return {
    name: 'uffd-wp-restore',
    title:
      'Peter Xu, 2022: a uffd-wp-protected shmem page restored writable by remove_migration_pte',
    description:
      'A memfd-like shared mapping write-protected with userfaultfd (UFFDIO_WRITEPROTECT) is ' +
      'migrated by move_pages; a restored PTE may not gain a permission (restored-pte-no-new-permission). ' +
      'Before "mm/migrate: fix read-only page got writable when recover pte" (6.1-rc6) the PTE came ' +
      'back writable; every built-in variant has the fix (clean); the setting ' +
      'restoreWrprotectsReadEntry: false reproduces the bug.',
    sources: [
      'Peter Xu, "mm/migrate: fix read-only page got writable when recover pte", 20221114000447.1681003-2-peterx@redhat.com (6.1-rc6, Fixes: b1f9e876862d); reported by Ives van Hoorne',
      'Peter Xu, "mm/uffd: always wr-protect pte in pte|pmd_mkuffd_wp()", 20221208194628.766316-1-peterx@redhat.com (6.2)',
      'docs/model-vs-kernel.md#uffd-wp',
    ],
    config: {
      nodes: [{ pages: 512 }, { pages: 512 }],
      cpusPerNode: 1,
      variant: 'v6.3',
      zeroPage: false,
    },
    history: bugHistory({}),
    build(k) {
      const mm = k.createProcess('vm-snapshot');
      const length = total * PAGE_SIZE;
      const shm = k.vm.mmap(mm, { length, flags: MAP_SHARED | MAP_ANONYMOUS });
      return {
        *setup() {
          yield* touchPages(k, mm, shm, total, (i) => 70 + i);
          k.vm.userfaultfdRegisterWp(mm, shm, length);
          yield* k.vm.uffdioWriteprotect(mm, shm, pages * PAGE_SIZE, true);
        },
        actors: [
          userTask(k, {
            name: 'snapshot-reader',
            cpu: 1,
            mm,
            addr: shm,
            pages: total,
            accesses: reads,
            writeRatio: 0,
          }),
          migrator(k, {
            name: 'move_pages',
            cpu: 0,
            mode: MIGRATE_SYNC,
            reason: MR_SYSCALL,
            rounds: migrations,
            select: mappedFolios(k, mm, shm, total),
          }),
        ],
        invariants: [restoredPteNoNewPermission(mm, shm, total)],
      };
    },
  };
}
