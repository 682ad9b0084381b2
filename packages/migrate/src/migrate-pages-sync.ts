import type { FolioList } from '@mmsim/folio';
import { type KernelGen, tracedFunction } from '@mmsim/runtime';
import type { MigrateCallbacks } from './callbacks.js';
import { listHead } from './lists.js';
import type { MigrateEnv } from './migrate-env.js';
import { migratePagesBatch } from './migrate-pages-batch.js';
import { MIGRATE_ASYNC, type MigrateMode } from './modes.js';
import type { MigrateReason } from './reasons.js';
import { MigrateStats } from './stats.js';
import { variantPasses } from './variants.js';

/**
 * `migrate_pages_sync(from, get_new_page, put_new_page, private, mode, reason, ret_folios,
 * split_folios, stats)` (mm/migrate.c, 6.3-rc3, 2ef7dbb26990): a synchronous caller's
 * batch, optimistically in MIGRATE_ASYNC first, then pessimistically one folio at a time.
 *
 * 1. `migrate_pages_batch` in MIGRATE_ASYNC with NR_MAX_MIGRATE_ASYNC_RETRY (3) passes and
 *    stats of its own; its permanent failures go to a private list. Its successes and THP
 *    splits count. On -ENOMEM its failures count too and everything goes to `ret_folios`.
 * 2. A THP split in the async phase counts as one failure (`nr_thp_failed` and the
 *    result); the other async failures are not counted, since they are retried: the
 *    private list is appended to `from`, which then holds the -EAGAIN leftovers followed by
 *    the permanent async failures (-EBUSY of writeback, of dirty page cache...).
 * 3. Each folio of `from` in turn goes alone through `migrate_pages_batch` in the caller's
 *    mode with NR_MAX_MIGRATE_SYNC_RETRY (7) passes, so it may sleep on its locks and
 *    writeback while holding no other folio lock; what is left goes to `ret_folios`.
 *
 * The pass counts are the variant's `asyncFirstPasses` and the mode's passes less those
 * (3 and 7 in every built-in variant); a variant's `steps.migratePagesBatch` replaces
 * `migrate_pages_batch` in both phases.
 *
 * Returns the failures counted, or -ENOMEM. 6.3 counts only THP splits of the async
 * phase; a split of a smaller large folio there is not counted, so `migrate_pages()` may
 * return 0 with unmigrated pieces left on the list. Variants with `countsNrSplit` (6.7+,
 * Zi Yan's "mm/migrate: correct nr_failed in migrate_pages_sync()", Fixes: 2ef7dbb26990)
 * count the async phase's `nr_split` instead.
 */
export const migratePagesSync = tracedFunction('migrate_pages_sync', migratePagesSyncBody);
function* migratePagesSyncBody(
  env: MigrateEnv,
  from: FolioList,
  cb: MigrateCallbacks,
  mode: MigrateMode,
  reason: MigrateReason,
  retFolios: FolioList,
  splitFolios: FolioList,
  stats: MigrateStats,
): KernelGen<number> {
  // The variant's knobs and batch step, read once per call: NR_MAX_MIGRATE_ASYNC_RETRY
  // and NR_MAX_MIGRATE_SYNC_RETRY (the mode's passes less the async ones).
  const variant = env.variant;
  const asyncPasses = variant.asyncFirstPasses;
  const syncPasses = variantPasses(variant, mode) - asyncPasses;
  const batchStep = variant.steps?.migratePagesBatch ?? migratePagesBatch;
  const folios = listHead(env.mem);
  const astats = new MigrateStats();
  let nrFailed = 0;
  // Try to migrate in batch with MIGRATE_ASYNC mode first.
  let rc = yield* batchStep(
    env,
    from,
    cb,
    MIGRATE_ASYNC,
    reason,
    folios,
    splitFolios,
    astats,
    asyncPasses,
  );
  stats.nrSucceeded += astats.nrSucceeded;
  stats.nrThpSucceeded += astats.nrThpSucceeded;
  stats.nrThpSplit += astats.nrThpSplit;
  stats.nrSplit += astats.nrSplit;
  if (rc < 0) {
    stats.nrFailedPages += astats.nrFailedPages;
    stats.nrThpFailed += astats.nrThpFailed;
    folios.spliceTailInit(retFolios);
    return rc;
  }
  stats.nrThpFailed += astats.nrThpSplit;
  // 6.7+ counts every large folio split (nr_split includes the THPs); 6.3 only THPs.
  nrFailed += env.variant.countsNrSplit ? astats.nrSplit : astats.nrThpSplit;
  // Fall back to one folio at a time, synchronously. Every failure but THP splits is
  // retried, so it is not counted.
  folios.spliceTailInit(from);
  while (!from.isEmpty()) {
    from.moveTo(from.first(), folios);
    rc = yield* batchStep(env, folios, cb, mode, reason, retFolios, splitFolios, stats, syncPasses);
    folios.spliceTailInit(retFolios);
    if (rc < 0) return rc;
    nrFailed += rc;
  }
  return nrFailed;
}
