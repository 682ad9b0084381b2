import { populateFile } from '@mmsim/kernel';
import { BLOCKDEV_AOPS, MIGRATE_SYNC, MR_MEMORY_HOTPLUG } from '@mmsim/migrate';
import { migrator } from '../actors/migrator.js';
import { cachedFolios } from '../actors/selectors.js';
import { bugHistory, type Scenario } from '../scenario.js';

/** Parameters of `bhNorefsLargeFolio`. */
export interface BhNorefsLargeFolioParams {
  /**
   * Order of the block device's folios when the variant has `blockDevLargeFolios` (a
   * logical block of 2^order pages); order-0 folios otherwise. Default 2.
   */
  readonly order?: number;
  /** Migrations of the block device's cache (memory offlining), each to the other node. Default 2. */
  readonly migrations?: number;
}

/**
 * `bh-norefs-large-folio`: "BUG: sleeping function called from invalid context" in
 * `buffer_migrate_folio_norefs` with large folios (2025; kernel test robot
 * 202503101536.27099c77-lkp@intel.com and syzbot f3c6fda1297c748a7076, after
 * 3c20917120ce gave block devices large folios in 6.15-rc1). Since ebdf4de5642f (Jan Kara,
 * 5.0) `__buffer_migrate_folio(..., check_refs)` holds `mapping->i_private_lock` from the
 * buffer-count check to the end, copy included, and copying a large folio calls
 * `cond_resched()` between pages. Fixed by 2d900efff915 (Davidlohr Bueso with Luis
 * Chamberlain, reviewed by Jan Kara, 6.15-rc4): the lock covers the count check only and
 * the new BH_Migrate bit on the head buffer makes atomic `__find_get_block` lookups back off.
 *
 * The model's block devices get large folios only with the variant setting
 * `blockDevLargeFolios` (off in every built-in variant, as in the kernels they model:
 * their block devices cache in order-0 folios, and the scenario is clean there); the fix is
 * `norefsLockCoversCopy: false`. So the finding needs a custom variant:
 * `defineVariant({ extends: 'v6.11', blockDevLargeFolios: true })` is a 6.15-rc1-like kernel
 * (SLEEP_IN_ATOMIC from `folio_copy`), and with `norefsLockCoversCopy: false` as well the
 * 6.15-rc4 one (clean). The model has large folios with buffers (`populateFile` attaches
 * `buffersPerPage` buffers to each page of a large folio); what it adds here is the
 * `i_private_lock` spinlock and the `might_sleep` of `folio_copy`.
 *
 * Here: a block device whose cache holds 4 pages of metadata (one large folio, or four small
 * ones), one buffer per page, and memory offlining migrating them (`do_migrate_range`:
 * MIGRATE_SYNC, MR_MEMORY_HOTPLUG, `alloc_migration_target`).
 */
export function bhNorefsLargeFolio(params: BhNorefsLargeFolioParams = {}): Scenario {
  const order = params.order ?? 2;
  const migrations = params.migrations ?? 2;
  const nr = 1 << order;
  const indices = Array.from({ length: nr }, (_, i) => i);
  return {
    name: 'bh-norefs-large-folio',
    title:
      '2025: buffer_migrate_folio_norefs copies a large block-device folio under i_private_lock (sleep in atomic)',
    description:
      'Large block-device folios (3c20917120ce, 6.15-rc1) met the i_private_lock that ' +
      'buffer_migrate_folio_norefs holds through the copy since ebdf4de5642f: folio_copy ' +
      'reschedules between pages, a sleep in atomic context (kernel test robot and syzbot, 2025). ' +
      'Fixed by 2d900efff915 (6.15-rc4): the lock covers the buffer-count check only, BH_Migrate ' +
      'holds lookups off. Built-in variants have no large block-device folios (setting ' +
      'blockDevLargeFolios) and are clean; a custom variant with it fails, and with ' +
      'norefsLockCoversCopy off as well is clean.',
    sources: [
      'Davidlohr Bueso, "mm/migrate: fix sleep in atomic for large folios and buffer heads" 20250418015921.132400-8-dave@stgolabs.net; upstream 2d900efff915 (6.15-rc4), Fixes: 3c20917120ce',
      'reports: https://lore.kernel.org/oe-lkp/202503101536.27099c77-lkp@intel.com, syzbot+f3c6fda1297c748a7076@syzkaller.appspotmail.com',
      'Jan Kara, ebdf4de5642f "mm: migrate: fix reference check race between __find_get_block() and migration" (5.0)',
      'torvalds/linux v6.3 mm/migrate.c __buffer_migrate_folio; mm/util.c folio_copy',
    ],
    config: {
      nodes: [{ pages: 256 }, { pages: 256 }],
      cpusPerNode: 2,
      variant: 'v6.3',
    },
    history: bugHistory({}),
    build(k) {
      const bdev = k.createFile('bdev-meta', { content: indices.map((i) => 8000 + i) });
      k.migrate.setAddressSpaceOperations(bdev, BLOCKDEV_AOPS);
      const large = k.variant.blockDevLargeFolios;
      return {
        *setup() {
          if (large) yield* populateFile(k, bdev, [0], { order, buffersPerPage: 1 });
          else yield* populateFile(k, bdev, indices, { buffersPerPage: 1 });
        },
        actors: [
          migrator(k, {
            name: 'offline_pages',
            cpu: 0,
            mode: MIGRATE_SYNC,
            reason: MR_MEMORY_HOTPLUG,
            rounds: migrations,
            select: cachedFolios(k, bdev, large ? [0] : indices),
          }),
        ],
      };
    },
  };
}
