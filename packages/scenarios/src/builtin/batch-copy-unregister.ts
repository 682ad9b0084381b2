import { touchPages } from '@mmsim/kernel';
import { DmaCopyMigrator, MIGRATE_ASYNC, MR_COMPACTION } from '@mmsim/migrate';
import { PAGE_SIZE } from '@mmsim/rmap';
import { copyOffloadOf, providerUnload } from '../actors/copy-offload.js';
import { migrator, migratorStats } from '../actors/migrator.js';
import { mappedFolios } from '../actors/selectors.js';
import { userTask } from '../actors/user-task.js';
import { bugHistory, type Scenario } from '../scenario.js';

/** Parameters of `batchCopyUnregister`. */
export interface BatchCopyUnregisterParams {
  /** Pages of the working set. Default 8. */
  readonly pages?: number;
  /** Migration rounds, each to the other node. Default 4. */
  readonly migrations?: number;
}

/**
 * `batch-copy-unregister`: the copy provider's module is unloaded while a batch copy is in
 * flight in it. `migrate_offload_unregister` clears the provider and `synchronize_srcu()`s:
 * the copy entered the provider inside `migrate_offload_srcu`'s read side, so the unload
 * waits for it before the channels are released (RFC v6 3/5: "the synchronize_srcu() in
 * unregister waits for all in-flight copy before the module reference is dropped"). The
 * batches that start after the unregister find no provider and copy on the CPU. An unload
 * that did not wait would free the channels under the copy: the provider reports that use
 * after free as a kernel BUG (a test shows it; no variant skips the wait).
 */
export function batchCopyUnregister(params: BatchCopyUnregisterParams = {}): Scenario {
  const pages = params.pages ?? 8;
  const migrations = params.migrations ?? 4;
  return {
    name: 'batch-copy-unregister',
    title: 'Batch copy: the provider is unregistered while a copy is in flight (SRCU)',
    description:
      'MIGRATE_ASYNC migrations of a working set with the dcbm DMA provider registered, while ' +
      'rmmod unregisters the provider in the middle of a batch copy and releases its channels. ' +
      'synchronize_srcu in migrate_offload_unregister must wait for the copy; later batches ' +
      'copy on the CPU. No deadlock, no use after free, no lost write.',
    sources: [
      'RFC v6 3/5 "mm/migrate: add copy offload registration infrastructure" (https://lkml.iu.edu/hypermail/linux/kernel/2606.3/10543.html)',
      'RFC v6 4/5 dcbm (https://lkml.iu.edu/hypermail/linux/kernel/2606.3/10553.html)',
      'docs/batch-copy.md',
    ],
    config: {
      nodes: [{ pages: 1024 }, { pages: 1024 }],
      cpusPerNode: 2,
      variant: 'batch-copy',
      zeroPage: false,
    },
    history: bugHistory({}),
    build(k) {
      const mm = k.createProcess('app');
      const addr = k.vm.mmap(mm, { length: pages * PAGE_SIZE });
      const dma = new DmaCopyMigrator({ channels: 2, minPages: 1 });
      copyOffloadOf(k).register(dma);
      const moved = migratorStats();
      const unload = { unloadedDuringCopy: false };
      return {
        *setup() {
          yield* touchPages(k, mm, addr, pages, (i) => 300 + i);
        },
        actors: [
          migrator(k, {
            name: 'kcompactd',
            cpu: 0,
            mode: MIGRATE_ASYNC,
            reason: MR_COMPACTION,
            rounds: migrations,
            stats: moved,
            select: mappedFolios(k, mm, addr, pages),
          }),
          providerUnload(k, { cpu: 1, provider: dma, stats: unload }),
          userTask(k, { name: 'app-user', cpu: 2, mm, addr, pages, accesses: 4 * pages }),
        ],
        figures: () => ({
          pagesMigrated: moved.pagesMigrated,
          pagesFailed: moved.pagesFailed,
          foliosOffloaded: dma.foliosMigrated,
          providerReleased: dma.released ? 1 : 0,
          unloadedDuringCopy: unload.unloadedDuringCopy ? 1 : 0,
        }),
      };
    },
  };
}
