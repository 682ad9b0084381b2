import type { Kernel } from '@mmsim/kernel';
import { MIGRATE_SYNC, MR_SYSCALL } from '@mmsim/migrate';
import { MAP_SHARED, type MmView, PAGE_SIZE } from '@mmsim/rmap';
import type { KernelGen } from '@mmsim/runtime';
import { migrator } from '../actors/migrator.js';
import { rangeLocker } from '../actors/range-locker.js';
import { mappedFolios } from '../actors/selectors.js';
import { bugHistory, type Scenario } from '../scenario.js';
import { historicNodePages } from './machine-size.js';

/** Parameters of `rfcLockOrder`. */
export interface RfcLockOrderParams {
  /** Pages of the file (the run locked together and migrated together). Default 2. */
  readonly pages?: number;
  /** move_pages calls (each to the other node). Default 4. */
  readonly migrations?: number;
  /** Times the range locker takes the run. Default 6. */
  readonly lockRounds?: number;
}

/**
 * `rfc-lock-order`: the concern Alistair Popple raised on the September 2022 RFC of the
 * batching series (docs/locking.md#history). In the RFC, a synchronous batch, once its passes
 * force (`pass > 2`), sleeps in `folio_lock` on a source folio while it holds the locks of
 * the folios it already unmapped. Anyone else who locks two of those folios in the other
 * order deadlocks with it. Isolation keeps two migrators apart (Yang Shi), but not a
 * filesystem that locks a run of page-cache folios in ascending order (Huang Ying: "we
 * shouldn't forbid other places to lock 2 pages at the same time").
 *
 * Here a process maps a file shared; move_pages(2) (MIGRATE_SYNC, MR_SYSCALL) is given its
 * pages from the last to the first, so the migration list is in descending index order,
 * while a range locker (btrfs-style `lock_delalloc_pages`) repeatedly locks the same
 * page-cache folios in ascending order and holds them. In `rfc-2022` the batch can hold
 * the higher folio and sleep on the lower one, which the range locker holds while it waits
 * for the higher: a deadlock. 6.3-rc1 answered with `-EDEADLOCK` (v1 of the series, Dec
 * 2022); 6.3 final batches synchronously only after an ASYNC (trylock-only) pass, then
 * migrates one folio at a time, so it never sleeps on a lock while holding another.
 */
export function rfcLockOrder(params: RfcLockOrderParams = {}): Scenario {
  const pages = params.pages ?? 2;
  const migrations = params.migrations ?? 4;
  const lockRounds = params.lockRounds ?? 6;
  // The file's words, made once: `createFile` copies them into each machine's file.
  const content = Object.freeze(Array.from({ length: pages }, (_, i) => 1000 + i));
  return {
    name: 'rfc-lock-order',
    title: 'RFC (Sep 2022): a sync batch sleeps on a folio lock while holding others',
    description:
      'Alistair Popple on the RFC of "migrate_pages(): batch TLB flushing" (Sep 2022): with ' +
      'batching in every mode, migrate_page_unmap() may lock_page() one page while holding the ' +
      'locks of others on its list, so two tasks taking the same pages in different orders ' +
      'deadlock. A move_pages(2) call migrating a shared file mapping in descending order races ' +
      'a range locker taking the same page-cache folios in ascending order. Deadlocks in ' +
      'rfc-2022; avoided by -EDEADLOCK in v6.3-rc1 and by async-first batching in v6.3.',
    sources: [
      'RFC cover 20220921060616.73086-1-ying.huang@intel.com (lore.kernel.org/linux-mm)',
      'Alistair Popple 87o7v2lbn4.fsf@nvdebian.thelocal; Yang Shi; Huang Ying 87ill937qe.fsf@yhuang6-desk2',
      'John Hubbard (ascending order is the only convention), same thread',
      'docs/locking.md#history',
    ],
    config: {
      nodes: [{ pages: historicNodePages(pages) }, { pages: historicNodePages(pages) }],
      cpusPerNode: 2,
      variant: 'rfc-2022',
      dependencyChecking: true,
    },
    history: bugHistory({ deadlocksIn: ['rfc-2022'] }),
    build(k) {
      const file = k.createFile('data', { content });
      const mm = k.createProcess('app');
      const addr = k.vm.mmap(mm, { length: pages * PAGE_SIZE, flags: MAP_SHARED, file });
      return {
        setup: () => readPages(k, mm, addr, pages),
        actors: [
          migrator(k, {
            name: 'move_pages',
            cpu: 0,
            mode: MIGRATE_SYNC,
            reason: MR_SYSCALL,
            rounds: migrations,
            select: mappedFolios(k, mm, addr, pages, 'descending'),
          }),
          rangeLocker(k, {
            cpu: 1,
            file,
            first: 0,
            pages,
            lengths: [pages, 1],
            rounds: lockRounds,
          }),
        ],
      };
    },
  };
}

/**
 * The set-up: reads each page of the mapping once, faulting the page cache in (a
 * module-level generator: see `initTask` in scenario.ts).
 */
function* readPages(k: Kernel, mm: MmView, addr: number, pages: number): KernelGen {
  for (let i = 0; i < pages; i++) {
    // As plain calls while no fault waits (`userRead`'s steps); the generator from where it would.
    const got = k.vm.userReadPlain(mm, addr + i * PAGE_SIZE);
    if (typeof got !== 'number') yield* got;
  }
}
