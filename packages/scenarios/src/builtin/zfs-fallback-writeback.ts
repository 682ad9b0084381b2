import { type Actor, populateFile } from '@mmsim/kernel';
import {
  type AddressSpaceOperations,
  MIGRATE_SYNC,
  MR_COMPACTION,
  SHMEM_AOPS,
  VARIANTS,
  type VariantName,
  type WritepageFn,
} from '@mmsim/migrate';
import type { KernelGen, Task } from '@mmsim/runtime';
import { BlockDevice } from '../actors/block-device.js';
import { filemapWriteWord } from '../actors/file-io.js';
import { migrator } from '../actors/migrator.js';
import { nodeScan } from '../actors/selectors.js';
import { bugHistory, type Scenario } from '../scenario.js';

/** Parameters of `zfsFallbackWriteback`. */
export interface ZfsFallbackWritebackParams {
  /** Pages of the file, each a dirty order-0 folio. Default 1. */
  readonly pages?: number;
  /** Whole-node compaction runs (MIGRATE_SYNC), each to the other node. Default 2. */
  readonly compactions?: number;
  /**
   * Give the filesystem a `->migrate_folio` (`migrate_folio`), the fix OpenZFS took
   * (openzfs/zfs#16723): no fallback, no writeout. Default false (OpenZFS 2.1/2.2 as
   * reported, no `->migrate_folio`).
   */
  readonly migrateFolio?: boolean;
}

/**
 * `zfs-fallback-writeback`: openzfs/zfs#15140 ("Kernel bug when flushing memory caches for
 * hugepages from Linux 6.3.1 to 6.7.4"), analysed by tstabrawa in openzfs/zfs#16568 and
 * #16723. ZFS's `address_space_operations` had no `->migrate_folio`, so a dirty page-cache
 * folio is migrated by `fallback_migrate_folio` (mm/migrate.c, 6.3), which in MIGRATE_SYNC
 * calls `writeout()`: `->writepage` starts writeback (asynchronous: ZFS completes it from
 * its I/O pipeline) and the move step returns -EAGAIN. Since the batched migration of 6.3
 * (the bisection in #15140 points at the 6.3-rc1 series) the folio stays locked and
 * unmapped on `unmap_folios` and the next move pass calls `move_to_new_folio` again: the
 * folio is clean now, so `fallback_migrate_folio` goes on to `migrate_folio` ->
 * `migrate_folio_extra`, whose `BUG_ON(folio_test_writeback(src))` fires while the write is
 * in flight. In 6.2 a retry went back through `unmap_and_move`, whose unmap step waits for
 * writeback in a forced pass, so the BUG was unreachable.
 *
 * The kernel kept `writeout()` in `fallback_migrate_folio` through every batch variant the
 * model has (6.3-rc1 .. 6.11), so the scenario fails in all of them and is clean in `v6.2`;
 * OpenZFS fixed it on its side (#16723: ZFS names `migrate_folio` as its `->migrate_folio`),
 * which the `migrateFolio` parameter models.
 *
 * Here: a file of `pages` dirty order-0 folios of a filesystem without `->migrate_folio`
 * whose `->writepage` starts writeback and submits it to a disk (completion after 20 µs
 * of virtual time), and whole-node compaction (MIGRATE_SYNC, MR_COMPACTION, as
 * `/proc/sys/vm/compact_memory` and the hugepage allocation of the report do).
 */
export function zfsFallbackWriteback(params: ZfsFallbackWritebackParams = {}): Scenario {
  const pages = params.pages ?? 1;
  const compactions = params.compactions ?? 2;
  const fixed = params.migrateFolio ?? false;
  const indices = Array.from({ length: pages }, (_, i) => i);
  return {
    name: 'zfs-fallback-writeback',
    title:
      'openzfs/zfs#15140: fallback_migrate_folio starts writeback in the move step; the retry hits BUG_ON(writeback)',
    description:
      'OpenZFS without ->migrate_folio on Linux 6.3+ (openzfs/zfs#15140): sync compaction ' +
      'migrates a dirty ZFS page-cache folio through fallback_migrate_folio, whose writeout() ' +
      'starts writeback and returns -EAGAIN in the move step; the batch keeps the folio on ' +
      'unmap_folios and the next move pass reaches migrate_folio_extra with the write in ' +
      'flight: BUG_ON(folio_test_writeback(src)). A kernel BUG in every batch variant ' +
      '(6.3-rc1 .. 6.11 kept writeout()); v6.2 waits for the writeback in the unmap step of a ' +
      'forced pass. OpenZFS fixed it with a ->migrate_folio (openzfs/zfs#16723; param ' +
      'migrateFolio).',
    sources: [
      'openzfs/zfs#15140 (report, bisected to the 6.3-rc1 migrate_pages batching series)',
      'openzfs/zfs#16568 and openzfs/zfs#16723 (tstabrawa: the analysis, and the fix giving ZFS a ->migrate_folio)',
      'torvalds/linux v6.3 mm/migrate.c: fallback_migrate_folio, writeout, migrate_folio_extra, migrate_pages_batch',
      'torvalds/linux v6.2 mm/migrate.c: unmap_and_move waits for writeback when force (pass > 2)',
    ],
    config: {
      nodes: [{ pages: 256 }, { pages: 256 }],
      cpusPerNode: 2,
      variant: 'v6.3',
    },
    // The bug is the batch engine's: its move step is where the retry finds the writeback.
    history: bugHistory({
      failsIn: (Object.keys(VARIANTS) as VariantName[]).filter(
        (v) => VARIANTS[v].engine === 'batch',
      ),
    }),
    build(k) {
      const file = k.createFile('zfs-file', { content: indices.map((i) => 7000 + i) });
      const disk = new BlockDevice(k, { name: 'zio', cpu: 1 });
      // zpl_writepage in the role the report gives it: start writeback, hand the I/O to the
      // pipeline, unlock; the write completes later.
      const writepage: WritepageFn = function* (services, folio) {
        services.locks.folioStartWriteback(folio, 'zpl_writepage');
        disk.submitWriteback(folio, 0);
        services.locks.folioUnlock(folio);
        return 0;
      };
      const aops: AddressSpaceOperations = fixed
        ? { name: 'zpl_address_space_operations', migrateFolio: SHMEM_AOPS.migrateFolio, writepage }
        : { name: 'zpl_address_space_operations', migrateFolio: null, writepage };
      k.migrate.setAddressSpaceOperations(file, aops);
      const compact = migrator(k, {
        name: 'compact_memory',
        cpu: 0,
        mode: MIGRATE_SYNC,
        reason: MR_COMPACTION,
        rounds: compactions,
        style: 'compaction',
        select: nodeScan(k, (_round, target) => 1 - target),
      });
      // The compaction is the disk's only producer: it closes the queue when it is done.
      const compactThenClose: Actor = {
        ...compact,
        *body(task: Task): KernelGen {
          yield* compact.body(task);
          disk.close();
        },
      };
      return {
        *setup() {
          yield* populateFile(k, file, indices);
          for (const i of indices) yield* filemapWriteWord(k, file, i, 7100 + i, 'setup');
        },
        actors: [disk.actor(), compactThenClose],
      };
    },
  };
}
