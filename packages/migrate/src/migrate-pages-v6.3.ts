import {
  FOLIO_TYPE_HUGETLB,
  type FolioList,
  folioTestHugetlb,
  memmapReader,
  readerIsFolio,
} from '@mmsim/folio';
import type { KernelGen } from '@mmsim/runtime';
import type { MigrateCallbacks } from './callbacks.js';
import { kernelBug } from './errors.js';
import { traceFoliosIsolated } from './journey.js';
import { listCutBefore, listHead } from './lists.js';
import type { MigratePagesResult } from './migrate-core.js';
import type { MigrateEnv } from './migrate-env.js';
import { listHasHugetlb, migrateHugetlbs } from './migrate-hugetlbs.js';
import { migratePagesBatch } from './migrate-pages-batch.js';
import { migratePagesSync } from './migrate-pages-sync.js';
import { MIGRATE_ASYNC, type MigrateMode } from './modes.js';
import type { MigrateReason } from './reasons.js';
import { type MigrateStats, migratePagesEnd } from './stats.js';
import { variantBatchesMode, variantPasses } from './variants.js';

/**
 * `migrate_pages(from, get_new_page, put_new_page, private, mode, reason, &succeeded)`
 * (mm/migrate.c, 6.3) for the batch engine (variants `rfc-2022`, `v6.3-rc1`, `v6.3`,
 * `v6.11`); the arguments were checked by `MigrateCore.migratePages`.
 *
 * 1. `mm_migrate_pages_start`; `migrate_hugetlbs` (-ENOMEM ends here).
 * 2. Carve the next batch off the front of `from`: hugetlb folios still there (their
 *    retries are used up; already counted) move to the tail of `ret_folios`. The limit is
 *    the variant's `batchSize` (NR_MAX_BATCHED_MIGRATION in every built-in variant). With
 *    `batchLimit: 'at-limit'` (fb3592c41a44, 6.3-rc3) the batch ends with the folio that
 *    brings it to NR_MAX_BATCHED_MIGRATION base pages; with `'over-limit'` (the RFC and
 *    42012e0436d4, 6.3-rc1) it ends before the folio that takes it past the limit, which
 *    starts the next batch. Otherwise it takes all.
 * 3. MIGRATE_ASYNC: `migrate_pages_batch` with NR_MAX_MIGRATE_PAGES_RETRY passes (the
 *    variant's `passesAsync`...). Other modes: `migrate_pages_sync` in 6.3; in 6.3-rc1
 *    and the RFC the same batch call as ASYNC, in the caller's mode (`syncBatching`, read
 *    through `variantBatchesMode`). A variant's `steps.migratePagesBatch` replaces
 *    `migrate_pages_batch` here. What is left of the batch goes to the tail of
 *    `ret_folios`. -ENOMEM: the split pieces too, and stop.
 * 4. 6.3: the pieces of folios split in this batch get one best-effort pass, MIGRATE_ASYNC,
 *    its result ignored (the large folio was already counted once), its leftovers to
 *    `ret_folios`.
 * 5. Add the batch's failures; loop while `from` is not empty.
 * 6. `ret_folios` is spliced onto the front of `from` for the caller's
 *    `putback_movable_pages`; if `from` is then empty the result is 0 (every piece of every
 *    split folio made it; `allMigratedReturnsZero`, 03e5f82ea632: 6.3-rc1 and later, not
 *    the RFC). The vm events and `mm_migrate_pages` are emitted on every path.
 *
 * Returns `MigratePagesResult`: as `rc` the number of folios not migrated (a split large
 * folio counts once) or -ENOMEM, and a snapshot of `stats` (what `MigrateCore.migratePages`
 * hands its caller, with no generator of its own between them).
 * `listPages` and `listSize` are what the caller's pass over `from` counted when it saw no
 * hugetlb folio there (`MigrateCore`'s argument check reads every folio's type and order):
 * the list's base pages and folios; -1 (the default) when a hugetlb folio may be on it.
 * Untraced and with no hugetlb folio, `migrate_hugetlbs` is then skipped without a scan of
 * the list of its own, and the first batch of a list of at most `batchSize` pages is the
 * whole list, taken without the carve's pass (every limit of step 2 gives all of it then: no
 * folio brings the count past the limit, and the one that brings it to the limit is the
 * last). A list whose size is not `listSize` any more (a caller that changed it between the
 * call and the generator's first resumption) is carved as usual.
 */
export function* migratePagesV63(
  env: MigrateEnv,
  from: FolioList,
  cb: MigrateCallbacks,
  mode: MigrateMode,
  reason: MigrateReason,
  stats: MigrateStats,
  listPages = -1,
  listSize = -1,
): KernelGen<MigratePagesResult> {
  const mem = env.mem;
  const tp = env.tp;
  if (tp.start.enabled) tp.start.emit({ mode, reason });
  const costStartNs = env.rt.currentTask?.cpu.clock ?? 0; // per-reason cost attribution
  const costIpis = env.reasonCosts.ipiMark(env.vmstat);
  traceFoliosIsolated(env, from);
  const retFolios = listHead(mem);
  const splitFolios = listHead(mem);
  const variant = env.variant;
  // The variant's knobs and steps, read once per call (NR_MAX_BATCHED_MIGRATION, the
  // mode's NR_MAX_MIGRATE_PAGES_RETRY, whether the mode batches, the batch loop).
  const batchSize = variant.batchSize;
  const passes = variantPasses(variant, mode);
  const batchesMode = variantBatchesMode(variant, mode);
  const batchStep = variant.steps?.migratePagesBatch ?? migratePagesBatch;
  const overLimit = variant.batchLimit === 'over-limit';
  const reader = memmapReader(mem);
  // (Untraced and without a hugetlb folio on the list, migrate_hugetlbs does nothing.)
  const skipHugetlbs = !env.rt.functions.enabled && !(listPages < 0 && listHasHugetlb(env, from));
  let rcGather = skipHugetlbs
    ? 0
    : yield* migrateHugetlbs(env, from, cb, mode, reason, stats, retFolios);
  // The list as the caller counted it (nothing ran since) fits one batch: the carve's pass
  // would take all of it and move nothing to `ret_folios`.
  let takeAll = skipHugetlbs && listPages >= 0 && listPages <= batchSize && from.size === listSize;
  if (rcGather >= 0) {
    for (;;) {
      let nrPages = 0;
      let cut = -1;
      let full = false;
      // (The first batch of a list that fits one is all of it; see `listPages`.)
      if (takeAll) takeAll = false;
      else {
        for (const folio of from) {
          // (A folio on the list is a live head; the accessor throws if it is not.)
          if (!readerIsFolio(reader, folio)) folioTestHugetlb(mem, folio);
          // Hugetlb folios left on the list used up their retries.
          if (reader.folioType[folio] === FOLIO_TYPE_HUGETLB) {
            from.moveToTail(folio, retFolios);
            continue;
          }
          nrPages += 1 << reader.order[folio]!; // folio_nr_pages
          if (overLimit) {
            // Before fb3592c41a44: past the limit, this folio starts the next batch.
            if (nrPages > batchSize) {
              if (folio === from.first()) {
                // The kernel would carve empty batches forever; no folio it migrates this
                // way is larger than NR_MAX_BATCHED_MIGRATION (HPAGE_PMD_NR) pages (a
                // smaller `batchSize` makes it reachable).
                throw kernelBug(
                  'migrate_pages',
                  `folio ${folio} alone exceeds NR_MAX_BATCHED_MIGRATION (${batchSize} pages)`,
                );
              }
              full = true;
              cut = folio;
              break;
            }
          } else if (nrPages >= batchSize) {
            full = true;
            cut = from.next(folio);
            break;
          }
        }
      }
      const folios = listHead(mem);
      if (full) listCutBefore(folios, from, cut);
      else from.spliceInit(folios);
      let rc: number;
      if (batchesMode) {
        rc = yield* batchStep(env, folios, cb, mode, reason, retFolios, splitFolios, stats, passes);
      } else {
        rc = yield* migratePagesSync(env, folios, cb, mode, reason, retFolios, splitFolios, stats);
      }
      folios.spliceTailInit(retFolios);
      if (rc < 0) {
        rcGather = rc;
        splitFolios.spliceTailInit(retFolios);
        break;
      }
      if (!splitFolios.isEmpty()) {
        // Failures are not counted: each split folio already counted as one. Minimal
        // effort: MIGRATE_ASYNC, one pass.
        yield* batchStep(env, splitFolios, cb, MIGRATE_ASYNC, reason, retFolios, null, stats, 1);
        splitFolios.spliceTailInit(retFolios);
      }
      rcGather += rc;
      if (from.isEmpty()) break;
    }
  }
  // Permanent failures go back on the migration list; the caller puts them back.
  retFolios.spliceInit(from);
  // 0 if every split piece of every failed large folio was migrated (03e5f82ea632, kept by
  // 42012e0436d4 in 6.3-rc1; the September 2022 RFC predates it and returns the count).
  if (env.variant.allMigratedReturnsZero && from.isEmpty()) rcGather = 0;
  env.reasonCosts.end(
    reason,
    stats,
    (env.rt.currentTask?.cpu.clock ?? 0) - costStartNs,
    costIpis,
    env.vmstat,
  );
  migratePagesEnd(env, stats, mode, reason);
  return { rc: rcGather, stats: stats.snapshot() };
}
