import { type ContigMigrateStats, cmaAlloc, cmaArea, cmaRelease } from '@mmsim/callers';
import { type KernelGen, VmEvent } from '@mmsim/runtime';
import { appMapping, writePagesAndDrain, writerPair } from '../actors/written-pages.js';
import { type PfnRange, userPagesOutside } from '../invariants/hotplug.js';
import { bugHistory, type Scenario } from '../scenario.js';

/** Parameters of `cmaUnderLoad`. */
export interface CmaUnderLoadParams {
  /** Pages of the process's mapping; the set-up writes the first half. Default 16. */
  readonly pages?: number;
  /** Accesses of each of the two writer threads (three writes in four). Default 24. */
  readonly accesses?: number;
  /** Pages of each `cma_alloc` (at most the area's 1536). Default 512. */
  readonly count?: number;
  /** `cma_alloc` calls, each released before the next. Default 2. */
  readonly allocations?: number;
}

/** The CMA area of the scenario's machine: pageblocks [512, 2048) of its one node. */
const CMA_BASE = 512;
const CMA_PAGES = 1536;

/**
 * `cma-under-load`: a node whose CMA area holds most of its free memory, so the process's
 * movable pages land there (`__rmqueue` takes CMA first when it holds more than half the
 * free pages); two threads write those pages and fault in the rest while a driver takes
 * contiguous runs with `cma_alloc` and releases them. Each `cma_alloc` isolates its
 * pageblocks, migrates what is in use there (`__alloc_contig_migrate_range`: MIGRATE_SYNC,
 * MR_CONTIG_RANGE, up to 5 tries), checks the range free and hands it over; the faults
 * meanwhile must not get pages of the isolated blocks.
 *
 * Clean in 6.3 and every built-in variant: no lost write, no user page mapped in a range
 * while the driver holds it, no free page of an isolated block on an allocatable list
 * (memmap-consistent). Figures: successful and failed `cma_alloc` calls
 * (`cma_alloc_success` / `cma_alloc_fail`), pages migrated.
 */
export function cmaUnderLoad(params: CmaUnderLoadParams = {}): Scenario {
  const pages = params.pages ?? 16;
  const accesses = params.accesses ?? 24;
  const count = Math.min(params.count ?? 512, CMA_PAGES);
  const allocations = params.allocations ?? 2;
  return {
    name: 'cma-under-load',
    title:
      'cma_alloc takes contiguous runs while threads write pages in the CMA area (MR_CONTIG_RANGE)',
    description:
      "A process's pages sit in a CMA area; two threads write them and fault in more while a " +
      'driver takes runs with cma_alloc (alloc_contig_range: isolate, migrate with ' +
      'MIGRATE_SYNC / MR_CONTIG_RANGE, take) and releases them. Clean in 6.3: no lost write, ' +
      'no user page in a range the driver holds, no allocation from an isolated pageblock.',
    sources: [
      'torvalds/linux v6.3 mm/cma.c (cma_alloc, cma_release)',
      'torvalds/linux v6.3 mm/page_alloc.c (alloc_contig_range, __alloc_contig_migrate_range, __rmqueue)',
      'torvalds/linux v6.3 mm/page_isolation.c (start_isolate_page_range, test_pages_isolated)',
    ],
    config: {
      nodes: [{ pages: 2048 }],
      cpusPerNode: 3,
      variant: 'v6.3',
      zeroPage: false,
      cma: [{ name: 'reserved', base: CMA_BASE, pages: CMA_PAGES }],
    },
    history: bugHistory({}),
    build(k) {
      const { mm, addr } = appMapping(k, pages);
      const cma = cmaArea(k);
      const migrate: ContigMigrateStats = { rounds: 0, migrated: 0, mapped: 0, ret: 0 };
      let held: PfnRange = null;
      let failed = 0;
      return {
        *setup() {
          yield* writePagesAndDrain(k, mm, addr, pages >> 1);
        },
        actors: [
          ...writerPair(k, { mm, addr, pages, accesses, cpuA: 1, cpuB: 2 }),
          {
            name: 'cma-driver',
            cpu: 0,
            models:
              'cma_alloc -> alloc_contig_range (MIGRATE_CMA, MIGRATE_SYNC, MR_CONTIG_RANGE), cma_release (mm/cma.c, mm/page_alloc.c, 6.3)',
            *body(): KernelGen {
              for (let i = 0; i < allocations; i++) {
                const pfn = yield* cmaAlloc(k, cma, count, { stats: migrate });
                if (pfn < 0) {
                  failed++;
                  continue;
                }
                held = { start: pfn, end: pfn + count };
                yield; // the device uses the buffer
                held = null;
                cmaRelease(k, cma, pfn, count);
              }
            },
          },
        ],
        invariants: [
          userPagesOutside(k, 'user-pages-outside-cma-allocation', mm, addr, pages, () => held),
        ],
        figures: () => ({
          cma_alloc_success: k.vmstat.vmEvent(VmEvent.CMA_ALLOC_SUCCESS),
          cma_alloc_fail: k.vmstat.vmEvent(VmEvent.CMA_ALLOC_FAIL),
          cma_alloc_failed_calls: failed,
          pages_migrated: migrate.migrated,
          pgmigrate_success: k.vmstat.vmEvent(VmEvent.PGMIGRATE_SUCCESS),
          pgmigrate_fail: k.vmstat.vmEvent(VmEvent.PGMIGRATE_FAIL),
        }),
      };
    },
  };
}
