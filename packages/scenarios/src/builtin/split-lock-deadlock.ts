import { populateFile } from '@mmsim/kernel';
import { BLOCKDEV_AOPS, MIGRATE_ASYNC, MR_COMPACTION } from '@mmsim/migrate';
import { erofsReader } from '../actors/erofs-reader.js';
import { migrator } from '../actors/migrator.js';
import { nodeScan } from '../actors/selectors.js';
import type { Scenario } from '../scenario.js';

/** Parameters of `splitLockDeadlock`. */
export interface SplitLockDeadlockParams {
  /** Order of the large file folio. Default 2 (16 KiB). */
  readonly order?: number;
  /** Compaction runs. Default 4. */
  readonly compactions?: number;
  /** Reads of the large folio. Default 4. */
  readonly reads?: number;
}

/**
 * `split-lock-deadlock`: Gao Xiang, July 2024 (EROFS with large folios under compaction
 * stress): an ASYNC `migrate_pages_batch` already holding locked, unmapped folios on
 * `unmap_folios` met a large file folio it could not migrate whole and called
 * `try_split_folio`, whose `folio_lock` sleeps even in MIGRATE_ASYNC (Linux 6.3 to 6.10).
 * An EROFS reader held that file folio's lock while locking a metadata folio of the block
 * device (`erofs_read_metabuf`) that the batch held: a deadlock. Fixed by 2e6506e1c4ee
 * (6.11, `Fixes: 5dfab109d519`): `try_split_folio(folio, split_folios, mode)` only
 * trylocks in MIGRATE_ASYNC.
 *
 * Here: a metadata folio of the EROFS block device (lower pfn) and a large folio of a
 * compressed file, which carries private data (EROFS attaches its per-folio state), so
 * it cannot be split either; an EROFS reader locks the file folio, then the metadata
 * folio; compaction (MIGRATE_ASYNC, MR_COMPACTION, as direct compaction's first attempt)
 * scans the node and gets only order-0 destinations (`compaction_alloc`), so the large
 * folio goes to `try_split_folio`. In `v6.3` the batch holds the metadata folio and sleeps
 * on the file folio; in `v6.11` the trylock fails and the folio is retried later. The
 * hazard came with the batch (`Fixes: 5dfab109d519`, 6.3-rc1), so `rfc-2022` and
 * `v6.3-rc1` have it too, and `v6.2` (one folio at a time) does not.
 */
export function splitLockDeadlock(params: SplitLockDeadlockParams = {}): Scenario {
  const order = params.order ?? 2;
  const compactions = params.compactions ?? 4;
  const reads = params.reads ?? 4;
  return {
    name: 'split-lock-deadlock',
    title:
      'Gao Xiang, 2024: an ASYNC batch sleeps in try_split_folio on a folio whose holder waits for the batch',
    description:
      'EROFS with large folios under compaction (Gao Xiang, 2024): migrate_pages_batch holds ' +
      'locked folios and sleeps in try_split_folio -> folio_lock on a large file folio, whose ' +
      'reader holds it while locking a metadata folio the batch holds. Deadlocks in v6.3 (6.3 ' +
      'to 6.10); fixed in v6.11 by trylocking in MIGRATE_ASYNC (2e6506e1c4ee).',
    sources: [
      'Gao Xiang 20240729021306.398286-1-hsiangkao@linux.alibaba.com; upstream 2e6506e1c4ee "mm/migrate: fix deadlock in migrate_pages_batch() on large folios"',
      'Matthew Wilcox on lockdep and folio locks: Zqa1ZZrrlp5jHElW@casper.infradead.org',
      'docs/locking.md#history',
    ],
    config: {
      nodes: [{ pages: 1024 }, { pages: 1024 }],
      cpusPerNode: 2,
      variant: 'v6.3',
      dependencyChecking: true,
    },
    history: { deadlocksIn: ['rfc-2022', 'v6.3-rc1', 'v6.3'], fixedIn: ['v6.2', 'v6.11'] },
    build(k) {
      const nr = 1 << order;
      const meta = k.createFile('erofs-bdev', { content: [5000] });
      const file = k.createFile('erofs-file', {
        content: Array.from({ length: nr }, (_, i) => 6000 + i),
      });
      k.migrate.setAddressSpaceOperations(meta, BLOCKDEV_AOPS);
      return {
        *setup() {
          yield* populateFile(k, meta, [0]);
          yield* populateFile(k, file, [0], { order, privateData: { erofs: 'z_erofs_pcluster' } });
        },
        actors: [
          erofsReader(k, { cpu: 1, file, index: 0, meta, metaIndex: 0, rounds: reads }),
          migrator(k, {
            name: 'compact',
            cpu: 0,
            mode: MIGRATE_ASYNC,
            reason: MR_COMPACTION,
            rounds: compactions,
            style: 'compaction',
            select: nodeScan(k, (_round, target) => 1 - target),
          }),
        ],
      };
    },
  };
}
