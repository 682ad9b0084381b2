import { MADV_SOFT_OFFLINE, PAGE_SIZE } from '@mmsim/rmap';
import { type KernelGen, VmEvent } from '@mmsim/runtime';
import { appMapping, pageWriter, writePagesAndDrain } from '../actors/written-pages.js';
import { bugHistory, type Scenario } from '../scenario.js';

/** Parameters of `softOffline`. */
export interface SoftOfflineParams {
  /** Pages the process maps and writes. Default 8. */
  readonly pages?: number;
  /** Accesses of the writer (three writes in four). Default 32. */
  readonly accesses?: number;
  /** Pages soft-offlined, one after the other (at most `pages`). Default 4. */
  readonly offlines?: number;
}

/**
 * `soft-offline`: a process keeps writing its anonymous pages while another of its threads
 * soft-offlines some of them with madvise(MADV_SOFT_OFFLINE) (CAP_SYS_ADMIN), one page
 * after the other, as mm_regression's madv_soft tests and LTP's move_pages12 (2.x) do:
 * `madvise_inject_error` -> `soft_offline_page` -> `soft_offline_in_use_page`, which
 * isolates the page and migrates it with `migrate_pages(..., MIGRATE_SYNC,
 * MR_MEMORY_FAILURE)`, then poisons the old frame (`page_handle_poison`: PG_hwpoison, out
 * of the buddy for good). Every migration in this scenario has reason MR_MEMORY_FAILURE.
 *
 * Clean in 6.3 (and every built-in variant): no lost write (the writer's stores survive
 * the migration entries), no frame lost or reused (frames-conserved counts the poisoned
 * frames' reference), no migration entry left. Figures: `num_poisoned_pages`, the
 * `pgmigrate_success` / `pgmigrate_fail` of the MR_MEMORY_FAILURE migrations, and how
 * many madvise calls failed (-EBUSY when the page was busy, e.g. still in a per-CPU LRU
 * batch).
 */
export function softOffline(params: SoftOfflineParams = {}): Scenario {
  const pages = params.pages ?? 8;
  const accesses = params.accesses ?? 32;
  const offlines = Math.min(params.offlines ?? 4, pages);
  let failed = 0;
  return {
    name: 'soft-offline',
    title: 'madvise(MADV_SOFT_OFFLINE) migrates pages (MR_MEMORY_FAILURE) under a writer',
    description:
      'A process writes its pages while one of its threads soft-offlines some of them with ' +
      'madvise(MADV_SOFT_OFFLINE): each page is migrated (MIGRATE_SYNC, MR_MEMORY_FAILURE) ' +
      'and its old frame poisoned and never reused. Clean in 6.3: no lost write, no frame ' +
      'lost or handed out again, no migration entry left; reports num_poisoned_pages and ' +
      'pgmigrate_success.',
    sources: [
      'torvalds/linux v6.3 mm/memory-failure.c (soft_offline_page, soft_offline_in_use_page, page_handle_poison)',
      'torvalds/linux v6.3 mm/madvise.c (madvise_inject_error)',
      'ltp/testcases/kernel/syscalls/move_pages/move_pages12.c',
    ],
    config: {
      nodes: [{ pages: 512 }, { pages: 512 }],
      cpusPerNode: 1,
      variant: 'v6.3',
      zeroPage: false,
    },
    history: bugHistory({}),
    build(k) {
      const { mm, addr } = appMapping(k, pages);
      return {
        *setup() {
          yield* writePagesAndDrain(k, mm, addr, pages);
        },
        actors: [
          pageWriter(k, { cpu: 1, mm, addr, pages, accesses }),
          {
            name: 'madv-soft',
            cpu: 0,
            models:
              'madvise(MADV_SOFT_OFFLINE) -> soft_offline_page (mm/madvise.c, mm/memory-failure.c, 6.3)',
            *body(): KernelGen {
              for (let i = 0; i < offlines; i++) {
                const at = addr + ((i * 3) % pages) * PAGE_SIZE;
                const rc = yield* k.madvise(mm, at, PAGE_SIZE, MADV_SOFT_OFFLINE, true);
                if (rc !== 0) failed++;
              }
            },
          },
        ],
        figures: () => ({
          num_poisoned_pages: k.numPoisonedPages,
          pgmigrate_success: k.vmstat.vmEvent(VmEvent.PGMIGRATE_SUCCESS),
          pgmigrate_fail: k.vmstat.vmEvent(VmEvent.PGMIGRATE_FAIL),
          soft_offline_failed: failed,
        }),
      };
    },
  };
}
