import { touchPages } from '@mmsim/kernel';
import { DmaCopyMigrator, MIGRATE_SYNC, MR_DEMOTION } from '@mmsim/migrate';
import { PAGE_SIZE } from '@mmsim/rmap';
import { copyOffloadOf } from '../actors/copy-offload.js';
import { migrator, migratorStats } from '../actors/migrator.js';
import { mappedFolios } from '../actors/selectors.js';
import { userTask } from '../actors/user-task.js';
import { bugHistory, type Scenario } from '../scenario.js';

/** Parameters of `batchCopyPartialFailure`. */
export interface BatchCopyPartialFailureParams {
  /** Pages of the working set. Default 8. */
  readonly pages?: number;
  /** Demotion rounds, each to the other node. Default 3. */
  readonly migrations?: number;
}

/**
 * `batch-copy-partial-failure`: part of a batch fails in the copy provider and falls back
 * per folio. The `migrate.copy_offload` fault site fails the DMA copy of the 2nd and 5th
 * folio handed to the provider: their dst stays unmarked, and the move phase copies just
 * those on the CPU while the others skip the copy (RFC v6: "lets a partially failed batch
 * fall back per folio rather than re-copying the whole batch"; dcbm: "On any DMA error,
 * FOLIO_CONTENT_COPIED is not set and the migration falls back to per-folio CPU copy").
 * Tasks store and load the pages throughout: no write may be lost, every folio must arrive.
 */
export function batchCopyPartialFailure(params: BatchCopyPartialFailureParams = {}): Scenario {
  const pages = params.pages ?? 8;
  const migrations = params.migrations ?? 3;
  return {
    name: 'batch-copy-partial-failure',
    title: 'Batch copy: part of a batch fails in the provider and falls back per folio',
    description:
      'Demotion-style migrations (MR_DEMOTION, MIGRATE_SYNC: an ASYNC batch first) of a working ' +
      'set with the dcbm DMA provider registered, two of whose folio copies fail: those folios ' +
      'are copied on the CPU by the move phase, the rest are not copied twice. No lost write.',
    sources: [
      'RFC v6 cover, changelog item 3 (https://lkml.iu.edu/hypermail/linux/kernel/2606.3/10552.html)',
      'RFC v6 4/5 dcbm (https://lkml.iu.edu/hypermail/linux/kernel/2606.3/10553.html)',
      'docs/batch-copy.md',
    ],
    config: {
      nodes: [{ pages: 1024 }, { pages: 1024 }],
      cpusPerNode: 2,
      variant: 'batch-copy',
      zeroPage: false,
      faults: { 'migrate.copy_offload': { calls: [2, 5] } },
    },
    history: bugHistory({}),
    build(k) {
      const mm = k.createProcess('app');
      const addr = k.vm.mmap(mm, { length: pages * PAGE_SIZE });
      const dma = new DmaCopyMigrator({ channels: 4, minPages: 1 });
      copyOffloadOf(k).register(dma);
      const moved = migratorStats();
      return {
        *setup() {
          yield* touchPages(k, mm, addr, pages, (i) => 600 + i);
        },
        actors: [
          migrator(k, {
            name: 'demote',
            cpu: 0,
            mode: MIGRATE_SYNC,
            reason: MR_DEMOTION,
            rounds: migrations,
            stats: moved,
            select: mappedFolios(k, mm, addr, pages),
          }),
          userTask(k, { name: 'writer-a', cpu: 1, mm, addr, pages, accesses: 3 * pages }),
          userTask(k, { name: 'writer-b', cpu: 2, mm, addr, pages, accesses: 3 * pages }),
        ],
        figures: () => ({
          pagesMigrated: moved.pagesMigrated,
          pagesFailed: moved.pagesFailed,
          foliosOffloaded: dma.foliosMigrated,
          offloadFailures: dma.foliosFailures,
        }),
      };
    },
  };
}
