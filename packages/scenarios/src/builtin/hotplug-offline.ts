import { memoryBlockRange, offlinePagesActor, offlineStats } from '@mmsim/callers';
import {
  allocPfn,
  getPageblockMigratetype,
  MIGRATE_MOVABLE,
  nodeFreeIsolatedPages,
  nodeOfflinePages,
  PAGEBLOCK_NR_PAGES,
} from '@mmsim/folio';
import { EBUSY, EINTR, endInvariant, type KernelGen, type Task, VmEvent } from '@mmsim/runtime';
import { appMapping, writePagesAndDrain, writerPair } from '../actors/written-pages.js';
import { offlineBlock, userPagesOutside } from '../invariants/hotplug.js';
import { bugHistory, type Scenario } from '../scenario.js';

/** Parameters of `hotplugOffline`. */
export interface HotplugOfflineParams {
  /** Pages the process maps and writes on node 1. Default 16. */
  readonly pages?: number;
  /** Accesses of each of the two writer threads (three writes in four). Default 24. */
  readonly accesses?: number;
  /**
   * Put an unmovable kernel page in the block before the offline: `offline_pages` must
   * then fail with -EBUSY and give the block back untouched. Default false.
   */
  readonly unmovable?: boolean;
}

/**
 * `hotplug-offline`: node 1's memory block goes offline (`echo offline >
 * /sys/devices/system/memory/memoryN/state` -> `offline_pages`) while two threads of a
 * process keep writing the pages they have there. `offline_pages` isolates the block's
 * pageblocks, migrates every page in use (`do_migrate_range`: MIGRATE_SYNC,
 * MR_MEMORY_HOTPLUG, targets off node 1), retries until `test_pages_isolated` passes, and
 * takes the block out of the buddy. With `unmovable`, a kernel page in the block makes
 * `start_isolate_page_range` refuse: -EBUSY, and the block is given back as it was.
 *
 * Clean in 6.3 and every built-in variant: no lost write, no user page mapped in the
 * offline block, nothing allocated there again (memmap-consistent), the offline succeeds
 * (or, with `unmovable`, fails with -EBUSY and leaves no pageblock isolated).
 */
export function hotplugOffline(params: HotplugOfflineParams = {}): Scenario {
  const pages = params.pages ?? 16;
  const accesses = params.accesses ?? 24;
  const unmovable = params.unmovable ?? false;
  return {
    name: 'hotplug-offline',
    title: 'offline_pages takes a memory block offline under two writers (MR_MEMORY_HOTPLUG)',
    description:
      "Node 1's memory block goes offline while two threads write their pages there: " +
      'offline_pages isolates the block, migrates its pages to node 0 (MIGRATE_SYNC, ' +
      'MR_MEMORY_HOTPLUG) until test_pages_isolated passes, and removes it from the buddy. ' +
      'With unmovable: a kernel page in the block makes the offline fail with -EBUSY and ' +
      'undo cleanly. Clean in 6.3: no lost write, no page left in or allocated from the block.',
    sources: [
      'torvalds/linux v6.3 mm/memory_hotplug.c (offline_pages, scan_movable_pages, do_migrate_range)',
      'torvalds/linux v6.3 mm/page_isolation.c (start_isolate_page_range, has_unmovable_pages, test_pages_isolated)',
      'torvalds/linux v6.3 drivers/base/memory.c (memory_block_offline)',
    ],
    config: {
      nodes: [{ pages: 1024 }, { pages: 1024 }],
      cpusPerNode: 1,
      variant: 'v6.3',
      zeroPage: false,
    },
    history: bugHistory({}),
    build(k) {
      const { mm, addr } = appMapping(k, pages);
      const { startPfn, nrPages } = memoryBlockRange(k, 1, 0);
      const stats = offlineStats();
      const offline = offlinePagesActor(k, { name: 'offline', cpu: 0, node: 1, block: 0, stats });
      // The task writing "offline": a SIGKILL (fault site signal.fatal_signal_pending) makes
      // offline_pages back off with -EINTR, legal then and only then.
      let offlineTask: Task | null = null;
      /** Every pageblock of the block MIGRATE_MOVABLE again and no free page left isolated. */
      const givenBack = (): string | null => {
        for (let p = startPfn; p < startPfn + nrPages; p += PAGEBLOCK_NR_PAGES) {
          if (getPageblockMigratetype(k.mem, p) !== MIGRATE_MOVABLE)
            return `pageblock at pfn ${p} was not given back (migratetype ${getPageblockMigratetype(k.mem, p)})`;
        }
        if (nodeFreeIsolatedPages(k.mem, 1) !== 0)
          return `${nodeFreeIsolatedPages(k.mem, 1)} free pages left isolated`;
        return null;
      };
      return {
        setupCpu: 1, // node 1: the pages land in the block
        *setup() {
          yield* writePagesAndDrain(k, mm, addr, pages);
          if (unmovable) {
            // A kernel page (slab, page table...): neither on the LRU nor movable.
            const kernelPage = allocPfn(k.mem, startPfn + nrPages - PAGEBLOCK_NR_PAGES + 7);
            k.addReferenceHolder({ name: 'kernel page', refs: (f) => (f === kernelPage ? 1 : 0) });
          }
        },
        actors: [
          ...writerPair(k, { mm, addr, pages, accesses, cpuA: 1, cpuB: 1 }),
          {
            ...offline,
            *body(task: Task): KernelGen {
              offlineTask = task;
              yield* offline.body(task);
            },
          },
        ],
        invariants: [
          userPagesOutside(
            k,
            'user-pages-outside-offline-block',
            mm,
            addr,
            pages,
            offlineBlock(k, startPfn, nrPages),
          ),
          endInvariant('offline-result', () => {
            if (stats.ret === -EINTR && offlineTask?.fatalSignalPending === true) {
              // offline_pages (mm/memory_hotplug.c, 6.3) `signal backoff`: the range given back.
              if (stats.failure !== 'signal backoff')
                return `offline_pages returned -EINTR (${stats.failure ?? '?'}), expected signal backoff`;
              if (nodeOfflinePages(k.mem, 1) !== 0)
                return `node 1 has ${nodeOfflinePages(k.mem, 1)} offline pages after -EINTR`;
              return givenBack();
            }
            if (!unmovable) {
              if (stats.ret !== 0)
                return `offline_pages returned ${String(stats.ret)} (${stats.failure ?? '?'}), expected 0`;
              if (nodeOfflinePages(k.mem, 1) !== nrPages)
                return `node 1 has ${nodeOfflinePages(k.mem, 1)} offline pages, expected ${nrPages}`;
              return null;
            }
            if (stats.ret !== -EBUSY)
              return `offline_pages returned ${String(stats.ret)}, expected -EBUSY (an unmovable page)`;
            return givenBack();
          }),
        ],
        figures: () => ({
          offline_ret: stats.ret ?? 1,
          offline_passes: stats.passes,
          pages_migrated: stats.migrated,
          pages_offlined: stats.offlined,
          pgmigrate_success: k.vmstat.vmEvent(VmEvent.PGMIGRATE_SUCCESS),
          pgmigrate_fail: k.vmstat.vmEvent(VmEvent.PGMIGRATE_FAIL),
        }),
      };
    },
  };
}
