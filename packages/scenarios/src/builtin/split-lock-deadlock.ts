import { compactionActorStats, compactMemory } from '@mmsim/callers';
import { allocPfn, folioAlloc, nodeSpannedPages, nodeStartPfn } from '@mmsim/folio';
import { type Kernel, populateFile } from '@mmsim/kernel';
import { BLOCKDEV_AOPS } from '@mmsim/migrate';
import type { AddressSpaceView } from '@mmsim/rmap';
import { type KernelGen, MmsimError, VmEvent } from '@mmsim/runtime';
import { erofsReader } from '../actors/erofs-reader.js';
import { bugHistory, type Scenario } from '../scenario.js';

/** Parameters of `splitLockDeadlock`. */
export interface SplitLockDeadlockParams {
  /** Order of the large file folio. Default 2 (16 KiB). */
  readonly order?: number;
  /** Writes to /proc/sys/vm/compact_memory (`compact_nodes`, MIGRATE_SYNC). Default 4. */
  readonly compactions?: number;
  /** Reads of the large folio. Default 4. */
  readonly reads?: number;
}

/**
 * `split-lock-deadlock`: Gao Xiang, July 2024, on 6.10-rc7 (EROFS with large folios under
 * compaction stress): `echo 1 > /proc/sys/vm/compact_memory` (`compact_node`,
 * MIGRATE_SYNC) -> `migrate_pages_sync` -> its MIGRATE_ASYNC batch, already holding
 * locked, unmapped folios on `unmap_folios`, met a large file folio it could not migrate
 * whole (-ENOMEM from `compaction_alloc`) and called `try_split_folio`, whose `folio_lock`
 * sleeps even in MIGRATE_ASYNC. An EROFS reader held that file folio's lock while locking
 * a metadata folio of the block device (`erofs_read_metabuf`) that the batch held: a
 * deadlock. Fixed by 2e6506e1c4ee (6.11, `Fixes: 5dfab109d519`):
 * `try_split_folio(folio, split_folios, mode)` only trylocks in MIGRATE_ASYNC.
 *
 * The sleeping `folio_lock` in `try_split_folio` came with the batch (6.3-rc1), but the
 * path was reachable from compaction only once compaction isolated large folios at all
 * ("mm/compaction: enable compacting >0 order folios", 6.9): until then
 * `isolate_migratepages_block` skipped every compound page unless `cc->alloc_contig`. So
 * the scenario deadlocks in `v6.10` and is clean in `v6.11` (the trylock) and in 6.3 and
 * older (the large folio is never isolated; only the metadata folio moves).
 *
 * Here, on one node of four pageblocks, through the compaction caller (`compactMemory`: `compact_nodes` -> `compact_node` ->
 * `compact_zone`, order -1, MIGRATE_SYNC, MR_COMPACTION): a large folio of a compressed
 * file, which carries private data (EROFS attaches its per-folio state), and, above it, a
 * metadata folio of the EROFS block device, both in node 0's first pageblock (three early
 * kernel pages below them put the large folio lower); a page held
 * at the node's last pfn keeps the last pageblock from being one free block, so the free
 * scanner finds its targets there (`suitable_migration_target` refuses a free block of
 * pageblock order). The migration scanner walks up and puts each folio at the head of
 * `cc->migratepages` (`list_add`), so the metadata folio comes first in the batch; the
 * large folio gets no destination (`compaction_alloc` keeps order-0 pages), so it goes to
 * `try_split_folio` in the async phase while the batch holds the metadata folio locked.
 * An EROFS reader locks the file folio, then the metadata folio.
 */
export function splitLockDeadlock(params: SplitLockDeadlockParams = {}): Scenario {
  const order = params.order ?? 2;
  const compactions = params.compactions ?? 4;
  const reads = params.reads ?? 4;
  // The files' words, made once: `createFile` copies them into each machine's files.
  const metaContent = Object.freeze([5000]);
  const fileContent = Object.freeze(Array.from({ length: 1 << order }, (_, i) => 6000 + i));
  return {
    name: 'split-lock-deadlock',
    title:
      'Gao Xiang, 2024: an ASYNC batch sleeps in try_split_folio on a folio whose holder waits for the batch',
    description:
      'EROFS with large folios under compaction (Gao Xiang, 2024, on 6.10-rc7): sysctl ' +
      'compact_memory -> migrate_pages_sync -> the ASYNC batch holds locked folios and sleeps in ' +
      'try_split_folio -> folio_lock on a large file folio, whose reader holds it while locking ' +
      'a metadata folio the batch holds. Deadlocks in v6.10 (compaction isolates large folios ' +
      'since 6.9); fixed in v6.11 by trylocking in MIGRATE_ASYNC (2e6506e1c4ee); 6.3 compaction ' +
      'never isolates the large folio.',
    sources: [
      'Gao Xiang 20240729021306.398286-1-hsiangkao@linux.alibaba.com; upstream 2e6506e1c4ee "mm/migrate: fix deadlock in migrate_pages_batch() on large folios"',
      'Matthew Wilcox on lockdep and folio locks: Zqa1ZZrrlp5jHElW@casper.infradead.org',
      '"mm/compaction: enable compacting >0 order folios" (Zi Yan, 20240220183220.1451315-3-zi.yan@sent.com, 6.9): isolate_migratepages_block isolates large folios',
      'docs/locking.md#history',
    ],
    config: {
      nodes: [{ pages: 2048 }],
      cpusPerNode: 2,
      variant: 'v6.10',
      dependencyChecking: true,
    },
    history: bugHistory({ deadlocksIn: ['v6.10'] }),
    build(k) {
      const meta = k.createFile('erofs-bdev', { content: metaContent });
      const file = k.createFile('erofs-file', { content: fileContent });
      k.migrate.setAddressSpaceOperations(meta, BLOCKDEV_AOPS);
      const compacted = compactionActorStats();
      // Kernel pages (early allocations at the bottom of node 0, one at its last pfn) that
      // the scenario keeps: neither LRU nor movable, so compaction passes over them.
      const held = new Set<number>();
      k.addReferenceHolder({ name: 'kernel pages', refs: (f) => (held.has(f) ? 1 : 0) });
      // Folios (base pages) the migration scanner took, from mm_compaction_isolate_migratepages
      // (compact_isolated also counts the free scanner's pages).
      let isolated = 0;
      k.rt.trace.on('mm_compaction_isolate_migratepages', (e) => {
        isolated += (e.fields as { nr_taken: number }).nr_taken;
      });
      return {
        setup: () => splitLockSetup(k, file, meta, order, held),
        actors: [
          erofsReader(k, { cpu: 1, file, index: 0, meta, metaIndex: 0, rounds: reads }),
          compactMemory(k, { name: 'compact', cpu: 0, writes: compactions, stats: compacted }),
        ],
        figures: () => ({
          compactionIsolated: isolated,
          compactionMigrated: k.vmstat.vmEvent(VmEvent.PGMIGRATE_SUCCESS),
          compactionFailed: k.vmstat.vmEvent(VmEvent.PGMIGRATE_FAIL),
        }),
      };
    },
  };
}

/**
 * The set-up: three early kernel pages at the bottom of node 0, the erofs file's large folio
 * and the metadata folio on node 0, and a kernel page at node 0's last pfn (a module-level
 * generator: see `initTask` in scenario.ts).
 */
function* splitLockSetup(
  k: Kernel,
  file: AddressSpaceView,
  meta: AddressSpaceView,
  order: number,
  held: Set<number>,
): KernelGen {
  for (let i = 0; i < 3; i++) held.add(folioAlloc(k.mem, 0, 0, { thisNode: true }));
  yield* populateFile(k, file, [0], {
    order,
    privateData: { erofs: 'z_erofs_pcluster' },
    nid: 0,
  });
  yield* populateFile(k, meta, [0], { nid: 0 });
  const last = nodeStartPfn(k.mem, 0) + nodeSpannedPages(k.mem, 0) - 1;
  const page = allocPfn(k.mem, last);
  if (page < 0 || [...held].some((f) => f < 0)) {
    throw new MmsimError('INVALID_STATE', 'split-lock-deadlock: node 0 has no room');
  }
  held.add(page);
}
