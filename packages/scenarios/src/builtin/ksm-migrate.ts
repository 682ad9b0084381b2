import { touchPages } from '@mmsim/kernel';
import { MIGRATE_SYNC, MR_SYSCALL } from '@mmsim/migrate';
import { MADV_MERGEABLE, PAGE_SIZE } from '@mmsim/rmap';
import { MmsimError } from '@mmsim/runtime';
import { ksmd, ksmdStats } from '../actors/ksmd.js';
import { migrator, migratorStats } from '../actors/migrator.js';
import { concatSelectors, mappedFolios } from '../actors/selectors.js';
import { userTask } from '../actors/user-task.js';
import { bugHistory, type Scenario } from '../scenario.js';

/** Parameters of `ksmMigrate`. */
export interface KsmMigrateParams {
  /** Zero-filled mergeable pages in each of the two processes. Default 6. */
  readonly pages?: number;
  /** Migration rounds, alternately to node 1 and node 0. Default 4. */
  readonly migrations?: number;
  /** ksmd batches (`ksm_do_scan` calls) after the set-up merge. Default 4. */
  readonly scans?: number;
  /** Accesses of the writer thread (half of them stores). Default 8. */
  readonly accesses?: number;
}

/**
 * `ksm-migrate`: the shape of LTP migrate_pages03
 * (ltp/testcases/kernel/syscalls/migrate_pages/migrate_pages03.c, which tags 4b0ece6fa016
 * "mm: migrate: fix remove_migration_pte() for ksm pages"): zero-filled, MADV_MERGEABLE
 * pages merged by ksmd into one KSM page mapped at unrelated addresses of two processes,
 * then migrated back and forth between two nodes while ksmd keeps scanning and a thread of
 * one process writes (each store breaks its page out of the KSM page with a copy, each
 * load must see the last store).
 *
 * Kernel rules exercised (Linux 6.3): `migrate_folio_unmap` takes no anon_vma for a KSM
 * folio; `try_to_migrate` and `remove_migration_ptes` reach its mappings through
 * `rmap_walk_ksm`, at each rmap_item's address (4b0ece6fa016: the page of a small folio is
 * never computed from `linear_page_index`); `folio_migrate_ksm` moves the stable node's
 * `kpfn`; `do_wp_page` copies a KSM page on write. Expected: clean in every variant.
 */
export function ksmMigrate(params: KsmMigrateParams = {}): Scenario {
  const pages = params.pages ?? 6;
  const migrations = params.migrations ?? 4;
  const scans = params.scans ?? 4;
  const accesses = params.accesses ?? 8;
  return {
    name: 'ksm-migrate',
    title: 'LTP migrate_pages03: KSM pages merged by ksmd, ping-ponged between nodes under writes',
    description:
      'Zero-filled MADV_MERGEABLE pages of two processes are merged by ksmd into one KSM page ' +
      'mapped at unrelated addresses, then migrated between two nodes while ksmd scans and a ' +
      'thread writes. rmap_walk_ksm must find every mapping at its rmap_item address ' +
      '(4b0ece6fa016, in every modelled variant) and folio_migrate_ksm must move the stable ' +
      'node; a store copies its page out of the KSM page. Clean in every variant.',
    sources: [
      'LTP ltp/testcases/kernel/syscalls/migrate_pages/migrate_pages03.c (tags 4b0ece6fa016 "mm: migrate: fix remove_migration_pte() for ksm pages", before 6.2)',
      'torvalds/linux v6.3 mm/ksm.c: ksm_madvise, ksm_do_scan, cmp_and_merge_page, try_to_merge_one_page, rmap_walk_ksm, folio_migrate_ksm',
      'torvalds/linux v6.3 mm/migrate.c: migrate_folio_unmap, remove_migration_pte',
    ],
    config: {
      nodes: [{ pages: 256 }, { pages: 256 }],
      cpusPerNode: 2,
      variant: 'v6.3',
    },
    history: bugHistory({}),
    build(k) {
      const a = k.vm.createProcess('migrate_pages03');
      const b = k.vm.createProcess('ksm-peer');
      const addrA = k.vm.mmap(a, { length: pages * PAGE_SIZE });
      // b's pages at other indexes: a KSM page's index says nothing about its addresses.
      k.vm.mmap(b, { length: 5 * PAGE_SIZE });
      const addrB = k.vm.mmap(b, { length: pages * PAGE_SIZE });
      if (k.rt.cpus.length < 3) {
        throw new MmsimError('INVALID_CONFIG', 'ksm-migrate needs at least 3 CPUs');
      }
      const moved = migratorStats();
      const scanned = ksmdStats();
      return {
        *setup() {
          yield* touchPages(k, a, addrA, pages, () => 0);
          yield* touchPages(k, b, addrB, pages, () => 0);
          for (const [mm, addr] of [
            [a, addrA],
            [b, addrB],
          ] as const) {
            const rc = yield* k.vm.ksmMadvise(mm, addr, pages * PAGE_SIZE, MADV_MERGEABLE);
            if (rc !== 0) throw new MmsimError('INVALID_STATE', `madvise(MADV_MERGEABLE) = ${rc}`);
          }
          // The test waits for full scans: the first takes checksums, the second merges.
          while (k.vm.ksmStats.fullScans < 2) yield* k.ksmDoScan(100);
        },
        actors: [
          ksmd(k, {
            cpu: 1,
            batches: scans,
            pagesToScan: pages,
            sleepNs: 1_000_000,
            stats: scanned,
          }),
          userTask(k, { name: 'writer', cpu: 2, mm: a, addr: addrA, pages, accesses }),
          migrator(k, {
            name: 'migrate_pages',
            cpu: 0,
            mode: MIGRATE_SYNC,
            reason: MR_SYSCALL,
            rounds: migrations,
            stats: moved,
            select: concatSelectors(
              mappedFolios(k, a, addrA, pages),
              mappedFolios(k, b, addrB, pages),
            ),
          }),
        ],
        figures: () => ({
          pagesMigrated: moved.pagesMigrated,
          pagesFailed: moved.pagesFailed,
          pagesShared: k.vm.ksmStats.pagesShared,
          pagesSharing: k.vm.ksmStats.pagesSharing,
          ksmdPagesScanned: scanned.pagesScanned,
        }),
      };
    },
  };
}
