import { touchPages } from '@mmsim/kernel';
import { MAP_ANONYMOUS, MAP_SHARED, PAGE_SIZE } from '@mmsim/rmap';
import type { Invariant } from '@mmsim/runtime';
import { migratorStats } from '../actors/migrator.js';
import { userTask } from '../actors/user-task.js';
import { movePagesToOtherNode } from '../actors/written-pages.js';
import type { Scenario } from '../scenario.js';

/** Parameters of `shmemMigrationStarvation`. */
export interface ShmemMigrationStarvationParams {
  /** move_pages(2) calls, each to the other node. Default 6. */
  readonly migrations?: number;
  /** Reader threads, one per CPU after the migrator's. Default 3. */
  readonly readers?: number;
  /** Loads of each reader. Default 200. */
  readonly reads?: number;
  /**
   * The bound: a finding when more than this many move_pages calls in a row leave the page
   * where it was (each call already retries the folio for its whole pass budget). Default 1.
   */
  readonly bound?: number;
}

/** The name of the scenario's invariant. */
export const MIGRATION_RETRY_BOUND = 'migration-retry-bound';

/**
 * `shmem-migration-starvation`: Dev Jain (Arm), August 2024, "Race condition observed
 * between page migration and page fault handling on arm64 machines"
 * (20240801081657.1386743-1-dev.jain@arm.com): the mm selftest `migration` (shared_anon)
 * failed on arm64 because `try_to_migrate_one` clears a PTE and only then installs the
 * migration entry; a reader faulting in between reads `pte_none` without the page-table
 * lock, goes `do_pte_missing` -> `do_fault` -> `shmem_fault` -> `filemap_get_entry`,
 * takes a reference on the folio under migration and waits for its lock. The refcount
 * check of `folio_migrate_mapping` then fails (-EAGAIN), every pass, for as long as a
 * reader keeps faulting in the window. Proposed fixes: check the refcount already in the
 * unmap step and back off (Dev Jain, "mm: Retry migration earlier upon refcount mismatch",
 * August 2024); clear, install, then flush (December 2024, lkml 2412.2/05616); a selftest
 * that tolerates failures. None is in a kernel the model has as a variant, so the race is
 * in every variant.
 *
 * Here: a MAP_SHARED | MAP_ANONYMOUS page (shmem), readers loading it on the other CPUs,
 * move_pages (MIGRATE_SYNC) moving it back and forth, and `VirtualMemory.setUnmapWindow`
 * opening the window (the model otherwise clears and installs in one step). The invariant
 * `migration-retry-bound` is the starvation bound: more than `bound` move_pages calls in a
 * row that leave the page behind is a finding. Off the window (`window: false` in the
 * tests) no call ever fails: the failures are the race's.
 *
 * Not in the built-in registry: with the race in every variant, `mmsim check` would report
 * it for v6.3 too (see the report of this change and docs/model-vs-kernel.md).
 */
export function shmemMigrationStarvation(
  params: ShmemMigrationStarvationParams & { readonly window?: boolean } = {},
): Scenario {
  const migrations = params.migrations ?? 6;
  const readers = params.readers ?? 3;
  const reads = params.reads ?? 200;
  const bound = params.bound ?? 1;
  const window = params.window ?? true;
  return {
    name: 'shmem-migration-starvation',
    title:
      'Dev Jain, 2024: a shmem reader faulting in the pte_none window of try_to_migrate_one starves move_pages',
    description:
      'A reader that faults between the two stores of try_to_migrate_one (PTE cleared, migration ' +
      'entry not yet set) takes the do_fault path: a page-cache reference and a wait for the folio ' +
      'lock, so the migration fails its refcount check on every pass. A finding when more than ' +
      `${bound} move_pages call(s) in a row fail (migration-retry-bound). In every variant (no fix ` +
      'merged in a kernel the model has).',
    sources: [
      'Dev Jain, 20240801081657.1386743-1-dev.jain@arm.com (linux-mm, August 2024) and the thread (David Hildenbrand, lkml 2408.0/00717)',
      'Dev Jain, "mm: Retry migration earlier upon refcount mismatch" (proposed, 2024); lkml 2412.2/05616 (clear, mark, then flush; proposed)',
      'docs/model-vs-kernel.md#shmem-migration-starvation',
    ],
    config: {
      nodes: [{ pages: 512 }, { pages: 512 }],
      cpusPerNode: Math.ceil((readers + 1) / 2),
      variant: 'v6.3',
      zeroPage: false,
    },
    build(k) {
      const mm = k.createProcess('selftest');
      const shm = k.vm.mmap(mm, { length: PAGE_SIZE, flags: MAP_SHARED | MAP_ANONYMOUS });
      k.vm.setUnmapWindow(window);
      const moved = migratorStats();
      const retryBound: Invariant = {
        name: MIGRATION_RETRY_BOUND,
        check() {
          let run = 0;
          for (const notMigrated of moved.results) {
            run = notMigrated > 0 ? run + 1 : 0;
            if (run > bound) {
              return (
                `move_pages left the shmem page behind in ${run} calls in a row (bound ${bound}), ` +
                'each after its full retry budget: a reader faulting in the pte_none window of ' +
                'try_to_migrate_one holds a page-cache reference, so every pass fails its refcount check'
              );
            }
          }
          return null;
        },
      };
      return {
        *setup() {
          yield* touchPages(k, mm, shm, 1, () => 11);
        },
        actors: [
          ...Array.from({ length: readers }, (_, i) =>
            userTask(k, {
              name: `reader${i}`,
              cpu: i + 1,
              mm,
              addr: shm,
              pages: 1,
              accesses: reads,
              writeRatio: 0,
            }),
          ),
          movePagesToOtherNode(k, { mm, addr: shm, rounds: migrations, stats: moved }),
        ],
        invariants: [retryBound],
        figures: () => ({
          migrated: moved.pagesMigrated,
          failed: moved.pagesFailed,
          calls: moved.results.length,
        }),
      };
    },
  };
}
