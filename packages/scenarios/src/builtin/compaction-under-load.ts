import { compactionActorStats, kcompactd } from '@mmsim/callers';
import { type Folio, folioAlloc, folioPut } from '@mmsim/folio';
import { type Actor, touchPages } from '@mmsim/kernel';
import { PAGE_SIZE } from '@mmsim/rmap';
import { type KernelGen, VmEvent } from '@mmsim/runtime';
import { userTask } from '../actors/user-task.js';
import { bugHistory, type Scenario } from '../scenario.js';

/** Parameters of `compactionUnderLoad`. */
export interface CompactionUnderLoadParams {
  /** Pages of the writers' working set. Default 24. */
  readonly pages?: number;
  /** Accesses of each of the two writers. Default 16. */
  readonly accesses?: number;
  /** Order-2 allocation attempts of the allocating task. Default 4. */
  readonly allocations?: number;
}

/** Virtual ns the allocating task waits between two attempts. */
const RETRY_NS = 20_000_000;

/**
 * `compaction-under-load`: kcompactd (`kcompactd` -> `kcompactd_do_work` -> `compact_zone`,
 * MIGRATE_SYNC_LIGHT, MR_COMPACTION; mm/compaction.c, 6.3) compacts a fragmented node
 * while two threads of a process store into and load from the very anonymous pages it
 * migrates. An allocating task asks for order-2 blocks without direct reclaim (as a
 * GFP_NOWAIT or THP-without-defrag allocation does): each failure goes through the
 * allocator's slow path, which wakes kcompactd (`wakeup_kcompactd`); it retries a little
 * later. The node: the writers' pages at the bottom, every other page of the upper half
 * free, the rest held by the kernel, so no free block of order > 0 exists until
 * compaction makes one. Expected in every variant: no invariant violation, no lost write,
 * no deadlock.
 */
export function compactionUnderLoad(params: CompactionUnderLoadParams = {}): Scenario {
  const pages = params.pages ?? 24;
  const accesses = params.accesses ?? 16;
  const allocations = params.allocations ?? 4;
  return {
    name: 'compaction-under-load',
    title: 'kcompactd, woken by failed order-2 allocations, migrates pages two writers are using',
    description:
      'A fragmented node (no free block above order 0), two threads storing and loading their ' +
      'anonymous pages, a task whose order-2 allocations fail and wake kcompactd ' +
      '(wakeup_kcompactd), and kcompactd compacting the zone (MIGRATE_SYNC_LIGHT, ' +
      'MR_COMPACTION) under them. Expected in every variant: no invariant violation, no lost ' +
      'write, no deadlock.',
    sources: [
      'torvalds/linux v6.3 mm/compaction.c (kcompactd, kcompactd_do_work, wakeup_kcompactd, compact_zone)',
      'docs/callers.md#compaction',
    ],
    config: {
      nodes: [{ pages: 2048 }],
      cpusPerNode: 4,
      variant: 'v6.3',
      dependencyChecking: true,
    },
    history: bugHistory({}),
    build(k) {
      const mm = k.createProcess('app');
      const addr = k.vm.mmap(mm, { length: pages * PAGE_SIZE });
      // Pages the kernel keeps (neither LRU nor movable): the fragmentation.
      const held = new Set<Folio>();
      k.addReferenceHolder({ name: 'kernel pages', refs: (f) => (held.has(f) ? 1 : 0) });
      const compacted = compactionActorStats();
      let allocated = 0;
      const allocator: Actor = {
        name: 'alloc',
        cpu: 0,
        models:
          'order-2 allocations without direct reclaim: __alloc_pages_slowpath -> wake_all_kswapds -> wakeup_kcompactd on failure (mm/page_alloc.c, 6.3)',
        *body(): KernelGen {
          for (let a = 0; a < allocations; a++) {
            const folio = folioAlloc(k.mem, 2, 0, { thisNode: true });
            if (folio >= 0) {
              allocated++;
              folioPut(k.mem, folio);
            }
            yield* k.rt.sleepFor(RETRY_NS);
          }
        },
      };
      return {
        *setup() {
          yield* touchPages(k, mm, addr, pages, (i) => 1000 + i);
          yield* k.lru.lruAddDrainAll();
          for (;;) {
            const f = folioAlloc(k.mem, 0, 0, { thisNode: true });
            if (f < 0) break;
            held.add(f);
          }
          for (const f of [...held]) {
            if (f >= 1024 && f % 2 === 0) {
              held.delete(f);
              folioPut(k.mem, f);
            }
          }
        },
        actors: [
          allocator,
          kcompactd(k, { cpu: 1, nid: 0, timeouts: 1, checkNs: RETRY_NS / 4, stats: compacted }),
          userTask(k, { name: 'writer-a', cpu: 2, mm, addr, pages, accesses, writeRatio: 0.7 }),
          userTask(k, { name: 'writer-b', cpu: 3, mm, addr, pages, accesses, writeRatio: 0.7 }),
        ],
        figures: () => ({
          kcompactdRuns: compacted.runs,
          allocations: allocated,
          pagesMigrated: k.vmstat.vmEvent(VmEvent.PGMIGRATE_SUCCESS),
          compactDaemonWake: k.vmstat.vmEvent(VmEvent.COMPACT_DAEMON_WAKE),
        }),
      };
    },
  };
}
