import { MIGRATE_SYNC, MR_SYSCALL } from '@mmsim/migrate';
import {
  HPAGE_SIZE,
  MAP_ANONYMOUS,
  MAP_HUGETLB,
  MAP_PRIVATE,
  MAP_SHARED,
  type MmView,
  PAGE_SIZE,
} from '@mmsim/rmap';
import { MmsimError } from '@mmsim/runtime';
import { migrator, migratorStats } from '../actors/migrator.js';
import { mappedFolios } from '../actors/selectors.js';
import { userTask } from '../actors/user-task.js';
import { bugHistory, type Scenario } from '../scenario.js';

/** Parameters of `hugetlbMappedMigrate`. */
export interface HugetlbMappedMigrateParams {
  /** Accesses of each user task. Default 12. */
  readonly accesses?: number;
  /** move_pages rounds (each to the other node). Default 2. */
  readonly migrations?: number;
}

/**
 * `hugetlb-mapped-migrate`: mapped hugetlb folios migrate while processes write and read
 * them (Linux 6.3: `hugetlb_fault`, `try_to_migrate_one`'s hugetlb branch,
 * `unmap_and_move_huge_page`, `remove_migration_pte`). A private MAP_HUGETLB mapping of a
 * 2 MiB page is written by its process, then forked: the child shares the pages
 * (copy_hugetlb_page_range write-protects them) and its writes copy them (hugetlb_wp);
 * a shared MAP_HUGETLB mapping (an unlinked hugetlbfs inode's page cache) is written by
 * both. move_pages (MIGRATE_SYNC, MR_SYSCALL) moves every mapped hugetlb folio to the
 * other node and back, taking the i_mmap_rwsem for write and trying each shared VMA's
 * hugetlb_vma_lock. Faults on a migration entry wait for the folio's unlock
 * (`migration_entry_wait_huge`). Clean in v6.3: no lost write, no leaked reference, no
 * migration entry left, pool counters consistent.
 */
export function hugetlbMappedMigrate(params: HugetlbMappedMigrateParams = {}): Scenario {
  const accesses = params.accesses ?? 12;
  const migrations = params.migrations ?? 2;
  const HUGE = 1;
  const PAGES = HUGE * (HPAGE_SIZE / PAGE_SIZE);
  return {
    name: 'hugetlb-mapped-migrate',
    title: 'Mapped hugetlb folios (private, forked, shared) migrate under writers',
    description:
      'A private MAP_HUGETLB mapping written by a process and its forked child (COW of 2 MiB ' +
      'pages) and a shared MAP_HUGETLB mapping written by both migrate between the nodes ' +
      '(move_pages, MIGRATE_SYNC) while the tasks store and load through the huge entries. ' +
      'In v6.3: no deadlock, no lost write, no leaked reference, no migration entry left.',
    sources: [
      'torvalds/linux v6.3 mm/hugetlb.c (hugetlb_fault, hugetlb_no_page, hugetlb_wp)',
      'torvalds/linux v6.3 mm/rmap.c try_to_migrate_one, mm/migrate.c unmap_and_move_huge_page',
      'docs/model-vs-kernel.md#hugetlb',
    ],
    config: {
      nodes: [
        { pages: 4096, hugetlbPages: 6 },
        { pages: 4096, hugetlbPages: 6 },
      ],
      cpusPerNode: 2,
      variant: 'v6.3',
      zeroPage: false,
    },
    history: bugHistory({}),
    build(k) {
      const parent = k.createProcess('huge-app');
      const priv = k.vm.mmap(parent, {
        length: HUGE * HPAGE_SIZE,
        flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB,
      });
      const shared = k.vm.mmap(parent, {
        length: HUGE * HPAGE_SIZE,
        flags: MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB,
      });
      if (priv < 0 || shared < 0) {
        throw new MmsimError('INVALID_CONFIG', 'hugetlb-mapped-migrate: the pool is too small');
      }
      const moved = migratorStats();
      let child: MmView | null = null;
      const childMm = () => {
        if (child === null) throw new MmsimError('INVALID_STATE', 'the child is forked in setup');
        return child;
      };
      // Touch a few pages of each 2 MiB folio: the first page and one in the middle.
      const touched = 8;
      const stride = PAGES / touched;
      return {
        *setup() {
          for (const base of [priv, shared]) {
            for (let i = 0; i < touched; i++) {
              const at = base + i * stride * PAGE_SIZE;
              yield* k.vm.userWrite(parent, at, 500 + i);
              k.shadow.wrote(k.shadow.userLocation(parent, at), 500 + i, 'init');
            }
          }
          child = yield* k.vm.fork(parent, 'huge-child');
        },
        actors: [
          userTask(k, {
            name: 'parent-priv',
            cpu: 1,
            mm: parent,
            addr: priv,
            pages: PAGES,
            accesses,
          }),
          {
            name: 'huge-child',
            cpu: 2,
            models:
              'user-space loads and stores of the forked child (arch/x86/mm/fault.c, mm/hugetlb.c, 6.3)',
            *body(task) {
              yield* userTask(k, {
                name: 'child-priv',
                cpu: 2,
                mm: childMm(),
                addr: priv,
                pages: PAGES,
                accesses,
              }).body(task);
              yield* userTask(k, {
                name: 'child-shared',
                cpu: 2,
                mm: childMm(),
                addr: shared,
                pages: PAGES,
                accesses,
              }).body(task);
            },
          },
          userTask(k, {
            name: 'parent-shared',
            cpu: 3,
            mm: parent,
            addr: shared,
            pages: PAGES,
            accesses,
          }),
          migrator(k, {
            name: 'move_pages',
            cpu: 0,
            mode: MIGRATE_SYNC,
            reason: MR_SYSCALL,
            rounds: migrations,
            stats: moved,
            select: function* (round, target) {
              yield* mappedFolios(k, parent, priv, PAGES)(round, target);
              yield* mappedFolios(k, parent, shared, PAGES)(round, target);
              if (child !== null) yield* mappedFolios(k, child, priv, PAGES)(round, target);
            },
          }),
        ],
        figures: () => ({
          movePagesMigrated: moved.pagesMigrated,
          movePagesFailed: moved.pagesFailed,
          readsChecked: k.shadow.readsChecked,
        }),
      };
    },
  };
}
