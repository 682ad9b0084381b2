import {
  FOLIO_TYPE_HUGETLB,
  type Folio,
  type FolioList,
  folioEntireMapcount,
  folioMapped,
  folioNrPages,
  folioTestAnon,
  HPAGE_PMD_ORDER,
  type MemmapReader,
  memmapReader,
  type PhysicalMemory,
  pageMapcount,
  readerIsFolio,
} from '@mmsim/folio';
import {
  EAGAIN,
  EDEADLOCK,
  ENOMEM,
  FP_FOLIO,
  type KernelGen,
  MmsimError,
  tracedFunction,
} from '@mmsim/runtime';
import type { MigrateCallbacks } from './callbacks.js';
import { MIGRATEPAGE_SUCCESS, MIGRATEPAGE_UNMAP } from './constants.js';
import { folioTestClearContentCopied } from './copy-offload.js';
import { listHead, listMoveTail } from './lists.js';
import type { MigrateEnv } from './migrate-env.js';
import {
  MOVE_SLEEPS,
  migrateFolioMove,
  migrateFolioMovePlain,
  migrateFolioMoveSlow,
} from './migrate-folio-move.js';
import {
  migrateFolioExtract,
  PAGE_WAS_MAPPED,
  recordedAnonVma,
  recordedPageWasMapped,
} from './migrate-folio-record.js';
import {
  migrateFolioUndoDst,
  migrateFolioUndoSrc,
  migrateFolioUndoSrcPlain,
} from './migrate-folio-undo.js';
import {
  type DstFolioRef,
  migrateFolioUnmap,
  migrateFolioUnmapPlain,
  migrateFolioUnmapSlow,
  UNMAP_SLEEPS,
} from './migrate-folio-unmap.js';
import { migrateFoliosBatchCopy } from './migrate-folios-precopy.js';
import type { MigrateMode } from './modes.js';
import { type MigrateReason, MR_LONGTERM_PIN, MR_NUMA_MISPLACED } from './reasons.js';
import type { MigrateStats } from './stats.js';
import { trySplitFolio } from './try-split-folio.js';
import { variantBatchesMode } from './variants.js';

function splitList(list: FolioList | null): FolioList {
  if (list === null) {
    throw new MmsimError(
      'INVARIANT_VIOLATED',
      'migrate_pages_batch: a large folio needs splitting but the caller passed no split_folios list',
    );
  }
  return list;
}

/**
 * `folio_order` of a folio on one of the batch's lists, read once per iteration for
 * `folio_nr_pages` (`1 << order`) and `largeKind`. A folio on a `FolioList` is the head of
 * a live folio; if it is not, the checked accessor throws its error.
 */
function listFolioOrder(r: MemmapReader, mem: PhysicalMemory, folio: Folio): number {
  if (!readerIsFolio(r, folio)) folioNrPages(mem, folio);
  return r.order[folio]!;
}

/**
 * A large folio that is not hugetlb (`folio_test_large && !folio_test_hugetlb`), and
 * whether it is PMD-mappable (a THP): 0, 1 (large) or 2 (THP). `order` is the live head's
 * (`listFolioOrder`).
 */
function largeKind(r: MemmapReader, folio: Folio, order: number): 0 | 1 | 2 {
  if (order === 0 || r.folioType[folio] === FOLIO_TYPE_HUGETLB) return 0;
  return order >= HPAGE_PMD_ORDER ? 2 : 1;
}

/**
 * Whether a large folio is on the deferred-split queue (`!list_empty(&folio->_deferred_list)`,
 * 6.10). The model keeps no queue: in 6.10 only `__folio_remove_rmap` queues a folio
 * (`deferred_split_folio`), when an anonymous large folio loses the last mapping of some
 * page while other pages stay PTE-mapped and no PMD maps it; the model has no
 * deferred_split shrinker to take it off again, and a split or a free does. So the queue
 * membership is that state: anonymous, mapped, no entire (PMD) mapping, and some page
 * unmapped. (A folio that became fully unmapped while isolated stays queued in the kernel;
 * its split there fails with -EBUSY for want of an anon_vma and it migrates as usual,
 * which is what the model does for it.)
 */
function deferredSplitQueued(env: MigrateEnv, folio: Folio, nrPages: number): boolean {
  const mem = env.mem;
  if (!folioTestAnon(mem, folio) || !folioMapped(mem, folio)) return false;
  if (folioEntireMapcount(mem, folio) > 0) return false;
  for (let p = folio; p < folio + nrPages; p++) {
    if (pageMapcount(mem, p) === 0) return true;
  }
  return false;
}

/**
 * `migrate_pages_batch(from, get_new_page, put_new_page, private, mode, reason,
 * ret_folios, split_folios, stats, nr_pass)` (mm/migrate.c, 6.3): migrate the folios of
 * `from` as one batch. Returns the number of folios that failed (a large folio counts
 * once), or -ENOMEM.
 *
 * Unmap phase, up to `nr_pass` passes while some folio asks for a retry: for each folio
 * of `from` (with a `cond_resched()` scheduling point), `migrate_folio_unmap`:
 * - MIGRATEPAGE_UNMAP: src to the tail of `unmap_folios`, dst to the tail of `dst_folios`
 *   (the two lists stay parallel); src and dst stay locked, src unmapped, across every
 *   later pass;
 * - MIGRATEPAGE_SUCCESS (freed under us): counted as migrated;
 * - -EAGAIN: stays on `from`, counted as a retry (it carries no state between passes);
 * - -ENOMEM: counted as failed; a large folio is split onto `split_folios` unless the
 *   reason is MR_NUMA_MISPLACED (a successful split counts a THP split, and the loop goes
 *   on); for MR_LONGTERM_PIN a split failing with -EAGAIN is retried instead; otherwise the
 *   pending retries count as failed pages, and the unmap phase is abandoned: to the move
 *   phase if anything is unmapped, else straight to the cleanup, returning -ENOMEM;
 * - any other error (-EBUSY...): failed, src already on `ret_folios`.
 * Without THP migration support a THP is counted as failed and split first.
 *
 * Then exactly one `try_to_unmap_flush()` for the whole batch, before any copy: every PTE
 * cleared with TTU_BATCH_FLUSH is flushed here. Not after an -ENOMEM with nothing
 * unmapped: 6.3 goes straight to `out` then, and a deferral of a folio whose unmap was
 * undone (-EAGAIN, -EBUSY) stays pending in the task's batch (`leaveTlbBatchPending`).
 *
 * Move phase, up to `nr_pass` passes: `migrate_folio_move` on `unmap_folios` and
 * `dst_folios` in lockstep; -EAGAIN keeps the pair locked for the next pass.
 *
 * Cleanup: whatever is left on `unmap_folios` is undone (mappings restored, unlocked,
 * moved to `ret_folios`) and its dst given back. Folios still on `from` (the -EAGAIN
 * leftovers of the unmap phase) are counted as failed and left there for the caller.
 *
 * The 6.3 code counts small and large folios in separate counters (`retry` /
 * `large_retry`, `nr_failed` / `nr_large_failed`) and sums them; one counter here gives
 * the same results (6.5 merged them too). Variant policy: 6.3-rc1 and the RFC run this in
 * every mode, pass `force = pass > 2` to the unmap step, split folios onto a list of their
 * own and migrate them at the end with the full pass budget without counting small-folio
 * failures (`no_split_folio_counting`), and 6.3-rc1 restarts after -EDEADLOCK once the
 * batch's locks are released (`avoid_force_lock`); 6.4+ (`v6.10`, `v6.11`) uncounts a
 * LONGTERM_PIN split retry; 6.10+ (`splitsDeferredFirst`) splits a folio on the
 * deferred-split queue before anything else, counted as a failure (and in nr_thp_failed
 * from 6.11); 6.7+ counts every split in `nr_split`. The prototype knobs read here:
 * `batchLockStrategy` (what a sync mode does with a contended src lock once the batch holds
 * one: sleep, -EDEADLOCK, or -EAGAIN), `splitPolicy: 'never'` (no `try_split_folio`: the
 * large folio fails whole), and `steps.migrateFolioMove` (replaces `migrate_folio_move`).
 */
export const migratePagesBatch = tracedFunction('migrate_pages_batch', migratePagesBatchBody);
function* migratePagesBatchBody(
  env: MigrateEnv,
  from: FolioList,
  cb: MigrateCallbacks,
  mode: MigrateMode,
  reason: MigrateReason,
  retFolios: FolioList,
  splitFolios: FolioList | null,
  stats: MigrateStats,
  nrPass: number,
): KernelGen<number> {
  const mem = env.mem;
  const reader = memmapReader(mem);
  const rt = env.rt;
  const variant = env.variant;
  const inBatchSplit = variant.splitRetry === 'in-batch';
  const split = inBatchSplit ? listHead(mem) : splitFolios;
  const unmapFolios = listHead(mem);
  const dstFolios = listHead(mem);
  // The caller's `struct folio *dst` that migrate_folio_unmap fills in (one per call).
  const dstp: DstFolioRef = { dst: -1 };
  const nosplit = reason === MR_NUMA_MISPLACED;
  // The variant's knobs and steps, read once per call.
  const splitAllowed = variant.splitPolicy !== 'never';
  const lockStrategyApplies = variant.batchLockStrategy !== 'sleep';
  const moveStep = variant.steps?.migrateFolioMove ?? migrateFolioMove;
  if (!variantBatchesMode(variant, mode) && from.size > 1) {
    env.warnOnce(
      'migrate_pages_batch',
      `VM_WARN_ON_ONCE: a ${from.size}-folio batch in a synchronous mode`,
    );
  }
  let nrFailed = 0;
  let noSplitFolioCounting = false;
  for (;;) {
    let rc = 0;
    let rcSaved = 0;
    let avoidForceLock = false;
    let retry = 1;
    let thpRetry = 0;
    let nrRetryPages = 0;
    let abandoned = false;
    let straightToOut = false;

    unmap: for (let pass = 0; pass < nrPass && retry !== 0; pass++) {
      retry = 0;
      thpRetry = 0;
      nrRetryPages = 0;
      for (const folio of from) {
        const order = listFolioOrder(reader, mem, folio);
        const kind = largeKind(reader, folio, order);
        const isLarge = kind !== 0;
        const isThp = kind === 2 ? 1 : 0;
        const counted = isLarge || !noSplitFolioCounting;
        const nrPages = 1 << order;
        if (!rt.virtualStep()) yield; // cond_resched()
        rt.touchKernel(FP_FOLIO, folio, true); // this iteration's folio (footprints only)

        // 6.10+: a folio on the deferred-split queue (more than 2 pages: order-1 page-cache
        // folios do not use the queue) is split now; the split counts as a failure, so that
        // migrate_pages() does not report success with unmigrated pieces on its list
        // (8e279f970b5c, 6.10-rc4; `deferredSplitCountsFailed` off is 6.10-rc1).
        if (
          variant.splitsDeferredFirst &&
          splitAllowed &&
          isLarge &&
          nrPages > 2 &&
          deferredSplitQueued(env, folio, nrPages) &&
          (yield* trySplitFolio(env, folio, splitList(split), mode)) === 0
        ) {
          if (variant.deferredSplitCountsFailed) nrFailed++;
          if (variant.deferredSplitCountsThpFailed) stats.nrThpFailed += isThp;
          stats.nrThpSplit += isThp;
          stats.nrSplit++;
          continue;
        }

        // Large folio migration may be unsupported: split and migrate the pieces later.
        if (!env.thpMigrationSupported && isThp === 1) {
          nrFailed++;
          stats.nrThpFailed++;
          if (splitAllowed && (yield* trySplitFolio(env, folio, splitList(split), mode)) === 0) {
            stats.nrThpSplit++;
            stats.nrSplit++;
            continue;
          }
          stats.nrFailedPages += nrPages;
          listMoveTail(mem, folio, retFolios);
          continue;
        }

        // (Untraced and uncontended: as plain calls, with the same steps.)
        let r: number;
        if (!rt.functions.enabled) {
          r = migrateFolioUnmapPlain(
            env,
            cb,
            folio,
            dstp,
            mode,
            reason,
            retFolios,
            pass > 2,
            avoidForceLock,
          );
          if (r === UNMAP_SLEEPS) {
            r = yield* migrateFolioUnmapSlow(
              env,
              cb,
              folio,
              dstp,
              mode,
              reason,
              retFolios,
              pass > 2,
              avoidForceLock,
            );
          }
        } else {
          r = yield* migrateFolioUnmap(
            env,
            cb,
            folio,
            dstp,
            mode,
            reason,
            retFolios,
            pass > 2,
            avoidForceLock,
          );
        }
        switch (r) {
          case -ENOMEM: {
            // Memory is low: do not try the other folios; move what is unmapped and leave.
            if (counted) nrFailed++;
            stats.nrThpFailed += isThp;
            // NUMA balancing does not split large folios to retry.
            // `splitPolicy: 'never'`: no split, the large folio fails as a whole.
            if (isLarge && !nosplit && splitAllowed) {
              const s = yield* trySplitFolio(env, folio, splitList(split), mode);
              if (s === 0) {
                stats.nrThpSplit += isThp;
                stats.nrSplit++;
                continue;
              }
              if (reason === MR_LONGTERM_PIN && s === -EAGAIN) {
                // Try the split again, to help the long-term pin succeed.
                retry++;
                env.reasonCosts.retry(reason);
                thpRetry += isThp;
                nrRetryPages += nrPages;
                if (variant.longtermPinRetryUncounts) {
                  nrFailed--;
                  stats.nrThpFailed -= isThp;
                }
                continue;
              }
            }
            stats.nrFailedPages += nrPages + nrRetryPages;
            stats.nrThpFailed += thpRetry;
            // 6.3-rc1: give the pieces of split folios back to the caller.
            if (inBatchSplit && split !== null) split.spliceInit(retFolios);
            rc = r;
            rcSaved = r;
            abandoned = true;
            straightToOut = unmapFolios.isEmpty();
            // Nothing unmapped: `goto out` skips the flush at `move`, leaving any deferral of
            // a folio that was partly unmapped and undone in current->tlb_ubc.
            if (straightToOut) env.tlb.leaveTlbBatchPending?.('migrate_pages_batch');
            break unmap;
          }
          case -EDEADLOCK:
            // 6.3-rc1: the folio cannot be locked here without risking a deadlock. Move
            // (and unlock) what this batch holds, then start again.
            rcSaved = r;
            abandoned = true;
            break unmap;
          case -EAGAIN:
            if (counted) retry++;
            thpRetry += isThp;
            nrRetryPages += nrPages;
            env.reasonCosts.retry(reason);
            break;
          case MIGRATEPAGE_SUCCESS:
            stats.nrSucceeded += nrPages;
            stats.nrThpSucceeded += isThp;
            break;
          case MIGRATEPAGE_UNMAP:
            // The batch now holds a folio lock: no more sleeping src locks (6.3-rc1's
            // avoid_force_lock, or the 'trylock' strategy).
            if (lockStrategyApplies) avoidForceLock = true;
            listMoveTail(mem, folio, unmapFolios);
            dstFolios.addTail(dstp.dst);
            break;
          default:
            // A permanent failure (-EBUSY...): src is already on ret_folios.
            if (counted) nrFailed++;
            stats.nrThpFailed += isThp;
            stats.nrFailedPages += nrPages;
            break;
        }
      }
    }
    if (!abandoned) {
      nrFailed += retry;
      stats.nrThpFailed += thpRetry;
      stats.nrFailedPages += nrRetryPages;
    }

    if (!straightToOut) {
      // Flush the TLBs of every folio unmapped above: no copy may start before this.
      env.tlb.tryToUnmapFlush();
      // Batch copy (RFC v6): the provider copies what it can before the move passes.
      if (variant.copyStrategy === 'batch-precopy') {
        yield* migrateFoliosBatchCopy(env, unmapFolios, dstFolios, reason);
      }
      retry = 1;
      for (let pass = 0; pass < nrPass && retry !== 0; pass++) {
        retry = 0;
        thpRetry = 0;
        nrRetryPages = 0;
        let dst = dstFolios.first();
        let dst2 = dst >= 0 ? dstFolios.next(dst) : -1;
        for (const folio of unmapFolios) {
          const order = listFolioOrder(reader, mem, folio);
          const kind = largeKind(reader, folio, order);
          const isThp = kind === 2 ? 1 : 0;
          const counted = kind !== 0 || !noSplitFolioCounting;
          const nrPages = 1 << order;
          if (!rt.virtualStep()) yield; // cond_resched()
          rt.touchKernel(FP_FOLIO, folio, true); // this iteration's folio (footprints only)
          // (Untraced and uncontended: as plain calls, with the same steps.)
          let r: number;
          if (moveStep === migrateFolioMove && !rt.functions.enabled) {
            r = migrateFolioMovePlain(env, cb, folio, dst, dstFolios, mode, reason, retFolios);
            if (r === MOVE_SLEEPS) {
              r = yield* migrateFolioMoveSlow(
                env,
                cb,
                folio,
                dst,
                dstFolios,
                mode,
                reason,
                retFolios,
              );
            }
          } else {
            r = yield* moveStep(env, cb, folio, dst, dstFolios, mode, reason, retFolios);
          }
          switch (r) {
            case -EAGAIN:
              if (counted) retry++;
              thpRetry += isThp;
              nrRetryPages += nrPages;
              env.reasonCosts.retry(reason);
              break;
            case MIGRATEPAGE_SUCCESS:
              stats.nrSucceeded += nrPages;
              stats.nrThpSucceeded += isThp;
              break;
            default:
              if (counted) nrFailed++;
              stats.nrThpFailed += isThp;
              stats.nrFailedPages += nrPages;
              break;
          }
          dst = dst2;
          dst2 = dst >= 0 ? dstFolios.next(dst) : -1;
        }
      }
      nrFailed += retry;
      stats.nrThpFailed += thpRetry;
      stats.nrFailedPages += nrRetryPages;
      rc = rcSaved !== 0 ? rcSaved : nrFailed;
    }

    // Clean up what the move passes gave up on (mostly nothing: no iterator then).
    if (!unmapFolios.isEmpty()) {
      let dst = dstFolios.first();
      let dst2 = dst >= 0 ? dstFolios.next(dst) : -1;
      for (const folio of unmapFolios) {
        if (variant.copyStrategy === 'batch-precopy') folioTestClearContentCopied(mem, dst);
        const pageWasMapped = recordedPageWasMapped(env, dst) & PAGE_WAS_MAPPED;
        const anonVma = recordedAnonVma(env, dst);
        migrateFolioExtract(env, dst);
        if (!migrateFolioUndoSrcPlain(env, folio, pageWasMapped, anonVma, true, retFolios)) {
          yield* migrateFolioUndoSrc(env, folio, pageWasMapped, anonVma, true, retFolios);
        }
        dstFolios.del(dst);
        migrateFolioUndoDst(env, dst, true, cb);
        dst = dst2;
        dst2 = dst >= 0 ? dstFolios.next(dst) : -1;
      }
    }

    // 6.3-rc1: now migrate the pieces of split folios, not counting their failures.
    if (inBatchSplit && split !== null && rc >= 0 && !split.isEmpty()) {
      from.spliceInit(retFolios);
      split.spliceInit(from);
      noSplitFolioCounting = true;
      continue;
    }
    // 6.3-rc1: every lock of the batch is released; the contended lock may be slept on.
    if (rc === -EDEADLOCK) continue;
    return rc;
  }
}
