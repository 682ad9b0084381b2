import { folioOrder, HPAGE_PMD_ORDER, pfnFolio } from '@mmsim/folio';
import { touchPages } from '@mmsim/kernel';
import { MAP_ANONYMOUS, MAP_SHARED, PMD_SIZE } from '@mmsim/rmap';
import { type Invariant, VmEvent } from '@mmsim/runtime';
import { migratorStats } from '../actors/migrator.js';
import { userTask } from '../actors/user-task.js';
import { movePagesToOtherNode } from '../actors/written-pages.js';
import type { Scenario } from '../scenario.js';

/** Parameters of `shmemThpMigrate`. */
export interface ShmemThpMigrateParams {
  /** Pages of the 2 MiB shmem THP each writer stores to and loads from. Default 16. */
  readonly pages?: number;
  /** Accesses of each writer thread. Default 24. */
  readonly accesses?: number;
  /** move_pages calls, each to the other node. Default 3. */
  readonly migrations?: number;
}

/** The name of the scenario's invariant. */
export const SHMEM_THP_CACHED_WHOLE = 'shmem-thp-cached-whole';

/**
 * `shmem-thp-migrate`: a process with 2 MiB of MAP_SHARED | MAP_ANONYMOUS memory backed by
 * a shmem THP (`shmem_enabled=always`: the first fault allocates a PMD-size shmem folio,
 * `shmem_get_folio_gfp`, mm/shmem.c, 6.3) and mapped by one PMD (`do_set_pmd`), two
 * threads writing and reading it, and move_pages (MIGRATE_SYNC, MR_SYSCALL) moving it
 * between the nodes. The folio migrates whole: the PMD becomes a PMD migration entry,
 * `folio_migrate_mapping` freezes the folio at 1 + 512 references and stores the new folio
 * in each of its 512 i_pages slots, and the PMD comes back mapping the new folio. No write may be lost (the shadow memory), no invariant
 * broken; the scenario's own invariant checks that the file's cache holds one folio per
 * page range in every slot (a PMD-size folio, or order-0 pieces after a split, never a
 * mix within a slot range).
 */
export function shmemThpMigrate(params: ShmemThpMigrateParams = {}): Scenario {
  const pages = params.pages ?? 16;
  const accesses = params.accesses ?? 24;
  const migrations = params.migrations ?? 3;
  return {
    name: 'shmem-thp-migrate',
    title:
      'A shmem THP (MAP_SHARED | MAP_ANONYMOUS) written by two threads while move_pages moves it whole',
    description:
      'shmem_enabled=always: the mapping is backed by one PMD-size shmem folio, cached in 512 ' +
      'i_pages slots; two threads store and load it while move_pages (MIGRATE_SYNC) moves it ' +
      'between the nodes. It migrates whole (thp_migration_success); no write may be lost and ' +
      'every slot must keep pointing at the folio that covers it.',
    sources: [
      'torvalds/linux v6.3 mm/shmem.c (shmem_get_folio_gfp, shmem_is_huge, shmem_add_to_page_cache)',
      'torvalds/linux v6.3 mm/migrate.c (folio_migrate_mapping, folio_expected_refs, migrate_pages_batch)',
      'the mm selftest migration.c of torvalds/linux v6.3 (its shape: threads touching memory while move_pages moves it)',
    ],
    config: {
      nodes: [{ pages: 2048 }, { pages: 2048 }],
      cpusPerNode: 2,
      variant: 'v6.3',
      zeroPage: false,
      shmemEnabled: 'always',
    },
    build(k) {
      const mm = k.createProcess('shmem-thp');
      const shm = k.vm.mmap(mm, { length: PMD_SIZE, flags: MAP_SHARED | MAP_ANONYMOUS });
      const file = mm.vmaLookup(shm)?.file ?? null;
      const moved = migratorStats();
      const cachedWhole: Invariant = {
        name: SHMEM_THP_CACHED_WHOLE,
        check() {
          if (file === null) return 'the shared anonymous mapping has no shmem file';
          for (const [index, folio] of file.pages) {
            const first = index - (index % (1 << folioOrder(k.mem, folio)));
            if (file.pages.get(first) !== folio) {
              return `i_pages[${index}] holds folio ${folio}, but the slot of its first index ${first} holds ${String(file.pages.get(first))}`;
            }
          }
          return null;
        },
      };
      return {
        *setup() {
          yield* touchPages(k, mm, shm, pages, (i) => 100 + i);
          const pte = k.vm.lookupPte(mm, shm);
          if (
            pte.kind !== 'present' ||
            folioOrder(k.mem, pfnFolio(k.mem, pte.pfn)) !== HPAGE_PMD_ORDER
          ) {
            throw new Error('shmem-thp-migrate: the mapping is not backed by a shmem THP');
          }
        },
        actors: [
          ...[1, 2].map((cpu) =>
            userTask(k, {
              name: `writer${cpu}`,
              cpu,
              mm,
              addr: shm,
              pages,
              accesses,
              writeRatio: 0.5,
            }),
          ),
          movePagesToOtherNode(k, { mm, addr: shm, rounds: migrations, stats: moved }),
        ],
        invariants: [cachedWhole],
        figures: () => ({
          migrated: moved.pagesMigrated,
          failed: moved.pagesFailed,
          thpMigrated: k.vmstat.vmEvent(VmEvent.THP_MIGRATION_SUCCESS),
        }),
      };
    },
  };
}
