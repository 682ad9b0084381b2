import { touchPages } from '@mmsim/kernel';
import { DmaCopyMigrator, MIGRATE_SYNC, MR_SYSCALL } from '@mmsim/migrate';
import { MAP_ANONYMOUS, MAP_SHARED, PAGE_SIZE } from '@mmsim/rmap';
import { copyOffloadOf } from '../actors/copy-offload.js';
import { directIoTask } from '../actors/direct-io.js';
import { migrator, migratorStats } from '../actors/migrator.js';
import { mappedFolios } from '../actors/selectors.js';
import { userTask } from '../actors/user-task.js';
import { bugHistory, type Scenario } from '../scenario.js';

/** Parameters of `batchCopyStaleCopy`. */
export interface BatchCopyStaleCopyParams {
  /** Pages of the shared buffer. Default 4. */
  readonly pages?: number;
  /** O_DIRECT reads into the buffer. Default 6. */
  readonly reads?: number;
  /** move_pages rounds, each to the other node. Default 4. */
  readonly migrations?: number;
}

/**
 * `batch-copy-stale-copy`: the reviewers' question of the batch-copy series: the content is
 * copied before the move phase freezes the reference count, so what if the folio is written
 * between the two? A MAP_SHARED buffer (shmem: `try_to_migrate` unmaps a pinned shmem folio,
 * unlike an exclusive anonymous one) is the target of O_DIRECT reads: `pin_user_pages_fast`,
 * the device's DMA into the frame, `unpin_user_page`; a user task loads and stores it;
 * move_pages(2) migrates it back and forth with the DMA copy provider registered.
 *
 * A pinned folio has more references than expected: the series does not hand it to the
 * provider ("refcount equals expected", RFC v6 2/5), the move phase's freeze fails while
 * the pin is held (-EAGAIN), and once the pin is gone the CPU copies the written data. A
 * pre-copy without that check would copy the folio before the DMA lands, the pin would go
 * before the freeze, and the move phase would publish the stale copy: the no-lost-write
 * invariant catches it (a test shows it with the check turned off; no variant drops it).
 */
export function batchCopyStaleCopy(params: BatchCopyStaleCopyParams = {}): Scenario {
  const pages = params.pages ?? 4;
  const reads = params.reads ?? 6;
  const migrations = params.migrations ?? 4;
  return {
    name: 'batch-copy-stale-copy',
    title:
      'Batch copy: a pinned folio written by DMA between the pre-copy and the reference freeze',
    description:
      'O_DIRECT reads pin a shared buffer and DMA into it while move_pages migrates it with a ' +
      'copy provider registered (batch-copy series, RFC v6). A pinned folio must not be ' +
      'pre-copied: its reference count is above the expected one, so it falls back to the ' +
      'CPU copy after the freeze. No variant may lose a write.',
    sources: [
      'RFC v6 2/5 "mm/migrate: add batch-copy path in migrate_pages_batch" (https://lkml.iu.edu/hypermail/linux/kernel/2606.3/10551.html)',
      'RFC v6 cover (https://lkml.iu.edu/hypermail/linux/kernel/2606.3/10552.html)',
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
      const mm = k.createProcess('dio-app');
      const buf = k.vm.mmap(mm, {
        length: pages * PAGE_SIZE,
        flags: MAP_SHARED | MAP_ANONYMOUS,
      });
      const dma = new DmaCopyMigrator({ channels: 2, minPages: 1 });
      copyOffloadOf(k).register(dma);
      const moved = migratorStats();
      return {
        *setup() {
          yield* touchPages(k, mm, buf, pages, (i) => 900 + i);
        },
        actors: [
          directIoTask(k, { cpu: 1, mm, addr: buf, pages, reads, ioSteps: 2 }),
          userTask(k, { name: 'buf-user', cpu: 2, mm, addr: buf, pages, accesses: 2 * reads }),
          migrator(k, {
            name: 'move_pages',
            cpu: 0,
            mode: MIGRATE_SYNC,
            reason: MR_SYSCALL,
            rounds: migrations,
            stats: moved,
            select: mappedFolios(k, mm, buf, pages),
          }),
        ],
        figures: () => ({
          pagesMigrated: moved.pagesMigrated,
          pagesFailed: moved.pagesFailed,
          foliosOffloaded: dma.foliosMigrated,
          readsChecked: k.shadow.readsChecked,
        }),
      };
    },
  };
}
