import {
  buddyOrderAt,
  type Folio,
  folioMapcount,
  folioMapping,
  folioNrPages,
  folioOrder,
  folioPut,
  folioRefCount,
  folioTestFlag,
  folioTestHugetlb,
  folioTestLarge,
  folioTestMovable,
  folioTryGet,
  getPageblockMigratetype,
  getPageblockSkip,
  isMigrateMovable,
  MAX_ORDER,
  PAGEBLOCK_NR_PAGES,
  PG_dirty,
  PG_isolated,
  PG_lru,
  PG_unevictable,
  PG_writeback,
  pageblockAligned,
  pageblockEndPfn,
  pageblockStartPfn,
  pfnFolio,
  pfnValid,
  setPageblockSkip,
} from '@mmsim/folio';
import type { Kernel } from '@mmsim/kernel';
import {
  ISOLATE_ASYNC_MIGRATE,
  ISOLATE_UNEVICTABLE,
  MIGRATE_ASYNC,
  MIGRATE_SYNC,
  mappingAops,
} from '@mmsim/migrate';
import {
  EAGAIN,
  EINTR,
  fatalSignalPending,
  type KernelGen,
  NodeStat,
  VmEvent,
} from '@mmsim/runtime';
import {
  ISOLATION_DONE,
  ISOLATION_FAILED,
  isolateForMigrationFinish,
  isolateLruFolioHeldStart,
  skipIsolationOnOrder,
} from '../isolate.js';
import {
  COMPACT_CLUSTER_MAX,
  type CompactControl,
  ISOLATE_ABORT,
  ISOLATE_NONE,
  ISOLATE_SUCCESS,
} from './control.js';
import { compactionTracepoints } from './tracepoints.js';

/** `sysctl_compact_unevictable_allowed` default (1; 0 only with CONFIG_PREEMPT_RT). */
export const COMPACT_UNEVICTABLE_ALLOWED = true;

/**
 * Why `isolate_migratepages_block` passed over a pfn, for tests and reports: the goto
 * label or check of mm/compaction.c (6.3) that refused it.
 */
export type CompactionSkipReason =
  | 'buddy'
  | 'compound'
  | 'not-lru'
  | 'movable-busy'
  | 'freed'
  | 'pinned'
  | 'gfp-nofs'
  | 'unevictable'
  | 'writeback'
  | 'dirty-no-migrate-folio'
  | 'locked'
  | 'lru-race';

/** One refusal, reported to `onSkip` when given. */
export interface CompactionSkip {
  readonly pfn: number;
  readonly reason: CompactionSkipReason;
}

/**
 * A listener for the refusals of the migration scanner (tests and reports). Called once
 * per refused folio or free block, never on the fast path of an isolation.
 */
export type CompactionSkipListener = (skip: CompactionSkip) => void;

const skipListeners = new WeakMap<CompactControl, CompactionSkipListener>();

/** Makes `isolateMigratepagesBlock` report each refusal of `cc` to `listener`. */
export function onCompactionSkip(cc: CompactControl, listener: CompactionSkipListener): void {
  skipListeners.set(cc, listener);
}

/**
 * `too_many_isolated(cc)` (mm/compaction.c, 6.3): more folios of the node isolated than
 * half its LRU (an eighth of it with `__GFP_FS`, so that GFP_NOFS compactors can still
 * isolate past the ordinary ones).
 */
export function tooManyIsolated(k: Kernel, cc: CompactControl): boolean {
  const nid = cc.zone.nid;
  const v = k.vmstat;
  let inactive =
    v.nodePageState(nid, NodeStat.NR_INACTIVE_FILE) +
    v.nodePageState(nid, NodeStat.NR_INACTIVE_ANON);
  let active =
    v.nodePageState(nid, NodeStat.NR_ACTIVE_FILE) + v.nodePageState(nid, NodeStat.NR_ACTIVE_ANON);
  const isolated =
    v.nodePageState(nid, NodeStat.NR_ISOLATED_FILE) +
    v.nodePageState(nid, NodeStat.NR_ISOLATED_ANON);
  if (cc.gfpFs) {
    inactive = Math.floor(inactive / 8);
    active = Math.floor(active / 8);
  }
  return isolated > Math.floor((inactive + active) / 2);
}

/** `reclaim_throttle(pgdat, VMSCAN_THROTTLE_ISOLATED)`: HZ/50 in 6.3 (20 ms). */
export const THROTTLE_ISOLATED_NS = 20_000_000;

/** `block_end_pfn(pfn, order)`: the end of the order-aligned block holding `pfn`. */
function blockEndPfn(pfn: number, order: number): number {
  const size = 1 << Math.max(order, 0);
  return pfn - (pfn % size) + size;
}

/**
 * `isolate_migratepages_block(cc, low_pfn, end_pfn, mode)` (mm/compaction.c, Linux 6.3):
 * the migration scanner over [lowPfn, endPfn) of one pageblock. Onto `cc.migratepages`
 * (at the head, `list_add`) it takes LRU folios and non-LRU movable pages; it refuses, in
 * the kernel's order:
 * - `too_many_isolated` first: -EAGAIN when the list is not empty or in MIGRATE_ASYNC,
 *   else `reclaim_throttle` (sleep, HZ/50) and check again;
 * - a pageblock whose skip bit is set (unless `ignore_skip_hint`): the block is aborted;
 * - free buddy pages (the block is jumped over), a hugetlb folio unless `alloc_contig`
 *   (then `isolate_hugetlb`), a compound page unless `alloc_contig` (6.3; 6.9+ variant
 *   `compactionIsolatesLarge`: only when `skip_isolation_on_order`);
 * - non-LRU pages: `isolate_movable_page` for a movable page not already PG_isolated (the
 *   driver SDK's pages), else refused (reserved, slab, zero page: unmovable);
 * - with a lookup reference taken (`get_page_unless_zero`): an anonymous page pinned
 *   beyond its mappings (`page_count - 1 > total_mapcount`, the racy pin check), a page
 *   with a mapping in a GFP_NOFS compaction, one no longer on the LRU, an unevictable one
 *   without ISOLATE_UNEVICTABLE, under writeback with ISOLATE_ASYNC_MIGRATE (every mode
 *   but MIGRATE_SYNC), dirty with ISOLATE_ASYNC_MIGRATE (or unevictable with a mapping)
 *   when `trylock_page` fails or its mapping has no `migrate_folio`;
 * - then `folio_isolate_lru` + NR_ISOLATED (`isolateLruFolioHeld`).
 * Every COMPACT_CLUSTER_MAX pfns it drops the LRU lock and reschedules: a scheduling
 * point when it took or tried a page since the last one (over free or skipped ranges the
 * scan is atomic). Its scheduling points (this one and the `cond_resched()` after
 * `too_many_isolated`) are `if (!rt.virtualStep()) yield;`: the same step and decision as
 * the `yield`, taken without suspending the generators of the whole compaction (six or more
 * levels deep) when the same task runs on. It stops after COMPACT_CLUSTER_MAX isolated pages (unless
 * `finish_pageblock` or contended). Direct MIGRATE_ASYNC compaction skips the rest of an
 * order-aligned block at the first failure and puts back what it took from it.
 * Counts `compact_isolated` and `cc.total_migrate_scanned`, fires
 * `mm_compaction_isolate_migratepages`, sets `cc.migrate_pfn`. Returns 0, -EAGAIN or
 * -EINTR.
 */
export function* isolateMigratepagesBlock(
  k: Kernel,
  cc: CompactControl,
  lowPfn: number,
  endPfn: number,
  isolateMode: number,
): KernelGen<number> {
  const mem = k.mem;
  const task = k.rt.current;
  const onSkip = skipListeners.get(cc);
  const startPfn = lowPfn;
  let nrScanned = 0;
  let nrIsolated = 0;
  let validPage = -1;
  let skipUpdated = false;
  let ret = 0;
  let skipOnFailure = false;
  let nextSkipPfn = 0;

  while (tooManyIsolated(k, cc)) {
    if (cc.nr_migratepages > 0) return -EAGAIN;
    if (cc.mode === MIGRATE_ASYNC) return -EAGAIN;
    yield* k.rt.sleepFor(THROTTLE_ISOLATED_NS);
    if (fatalSignalPending(k.rt, task)) return -EINTR;
  }
  if (!k.rt.virtualStep()) yield; // cond_resched()

  if (cc.direct_compaction && cc.mode === MIGRATE_ASYNC) {
    skipOnFailure = true;
    nextSkipPfn = blockEndPfn(lowPfn, cc.order);
  }

  const refuse = (pfn: number, reason: CompactionSkipReason): void => {
    if (onSkip !== undefined) onSkip({ pfn, reason });
  };

  let aborted = false;
  let locked = false;
  for (; lowPfn < endPfn; lowPfn++) {
    let failed = false;
    if (skipOnFailure && lowPfn >= nextSkipPfn) {
      // Isolated something from the previous order-aligned block without a failure.
      if (nrIsolated > 0) break;
      nextSkipPfn = blockEndPfn(lowPfn, cc.order);
    }
    if (lowPfn % COMPACT_CLUSTER_MAX === 0) {
      if (fatalSignalPending(k.rt, task)) {
        cc.contended = true;
        ret = -EINTR;
        break;
      }
      // Drop lru_lock if held, and reschedule: a scheduling point after pages were taken
      // or tried since the last one (the model takes lru_lock inside folio_isolate_lru).
      if (locked) {
        locked = false;
        if (!k.rt.virtualStep()) yield; // cond_resched()
      }
    }
    nrScanned++;
    if (!pfnValid(mem, lowPfn)) continue;
    if (validPage < 0 && pageblockAligned(lowPfn)) {
      if (!cc.ignore_skip_hint && getPageblockSkip(mem, lowPfn)) {
        lowPfn = endPfn;
        aborted = true;
        break;
      }
      validPage = lowPfn;
    }
    const buddyOrder = buddyOrderAt(mem, lowPfn);
    if (buddyOrder >= 0) {
      if (buddyOrder > 0 && buddyOrder < MAX_ORDER) {
        lowPfn += (1 << buddyOrder) - 1;
        nrScanned += (1 << buddyOrder) - 1;
      }
      refuse(lowPfn, 'buddy');
      continue;
    }
    const folio: Folio = pfnFolio(mem, lowPfn);
    if (folio < 0) continue; // inside a free block, or a free hugetlb pool page
    if (folio !== lowPfn) {
      // A tail page: compound_order() of a tail is 0 in 6.3, so one pfn at a time.
      refuse(lowPfn, 'compound');
      failed = true;
    } else if (folioTestHugetlb(mem, folio)) {
      if (cc.alloc_contig) {
        const nr = folioNrPages(mem, folio);
        if (k.migrate.isolateHugetlb(folio, cc.migratepages)) {
          cc.nr_migratepages += nr;
          nrIsolated += nr;
        } else {
          refuse(lowPfn, 'compound');
          failed = true;
        }
        lowPfn += nr - 1;
        nrScanned += nr - 1;
        if (!failed) continue;
      } else {
        const nr = folioNrPages(mem, folio);
        lowPfn += nr - 1;
        nrScanned += nr - 1;
        refuse(folio, 'compound');
        failed = true;
      }
    } else if (
      folioTestLarge(mem, folio) &&
      !cc.alloc_contig &&
      (!k.variant.compactionIsolatesLarge || skipIsolationOnOrder(folioOrder(mem, folio), cc.order))
    ) {
      const nr = folioNrPages(mem, folio);
      lowPfn += nr - 1;
      nrScanned += nr - 1;
      refuse(folio, 'compound');
      failed = true;
    } else if (!folioTestFlag(mem, folio, PG_lru)) {
      if (folioTestMovable(mem, folio) && !folioTestFlag(mem, folio, PG_isolated)) {
        locked = true;
        if (k.migrate.isolateMovablePage(folio, isolateMode)) {
          cc.migratepages.add(folio);
          const nr = folioNrPages(mem, folio);
          cc.nr_migratepages += nr;
          nrIsolated += nr;
          if (cc.nr_migratepages >= COMPACT_CLUSTER_MAX && !cc.finish_pageblock && !cc.contended) {
            lowPfn++;
            break;
          }
          continue;
        }
        refuse(folio, 'movable-busy');
      } else {
        refuse(folio, 'not-lru');
      }
      failed = true;
    } else {
      locked = true;
      const reason = lruCandidateRefusal(k, cc, folio, isolateMode);
      if (reason === null) {
        if (!skipUpdated && validPage >= 0) {
          // test_and_set_skip: exclusive access to the block for this compactor.
          skipUpdated = true;
          if (!cc.ignore_skip_hint) {
            const wasSet = getPageblockSkip(mem, validPage);
            if (!wasSet && !cc.no_set_skip_hint) setPageblockSkip(mem, validPage);
            if (wasSet && !cc.finish_pageblock) {
              yield* k.lru.folioPut(folio);
              lowPfn = endPfn;
              aborted = true;
              break;
            }
          }
        }
        const nr = folioNrPages(mem, folio);
        // isolateLruFolioHeld(k, folio, cc.migratepages, true), as plain calls while it
        // runs through.
        const state = isolateLruFolioHeldStart(k, folio, cc.migratepages, true);
        if (
          state === ISOLATION_DONE ||
          (state !== ISOLATION_FAILED &&
            (yield* isolateForMigrationFinish(k, folio, cc.migratepages, state, true)))
        ) {
          lowPfn += nr - 1;
          nrScanned += nr - 1;
          cc.nr_migratepages += nr;
          nrIsolated += nr;
          if (cc.nr_migratepages >= COMPACT_CLUSTER_MAX && !cc.finish_pageblock && !cc.contended) {
            lowPfn++;
            break;
          }
          continue;
        }
        refuse(folio, 'lru-race');
      } else {
        if (reason !== 'freed') {
          // isolate_fail_put: an LRU-aware put, the lookup reference may be the last one.
          if (folioRefCount(mem, folio) > 1) folioPut(mem, folio);
          else yield* k.lru.folioPut(folio);
        }
        refuse(folio, reason);
      }
      failed = true;
    }
    // isolate_fail:
    if (!failed || !skipOnFailure) continue;
    if (nrIsolated > 0) {
      yield* k.migrate.putbackMovablePages(cc.migratepages);
      cc.nr_migratepages = 0;
      nrIsolated = 0;
    }
    if (lowPfn < nextSkipPfn) {
      lowPfn = nextSkipPfn - 1;
      nextSkipPfn += 1 << Math.max(cc.order, 0);
    }
  }
  if (lowPfn > endPfn) lowPfn = endPfn;
  if (!aborted && ret === 0) {
    if (lowPfn === endPfn && (nrIsolated === 0 || cc.finish_pageblock)) {
      if (!cc.no_set_skip_hint && validPage >= 0 && !skipUpdated) setPageblockSkip(mem, validPage);
      updateCachedMigrate(cc, lowPfn);
    }
    const tp = compactionTracepoints(k.rt).isolateMigratepages;
    if (tp.enabled) {
      tp.emit({
        start_pfn: startPfn,
        end_pfn: lowPfn,
        nr_scanned: nrScanned,
        nr_taken: nrIsolated,
      });
    }
  }
  cc.total_migrate_scanned += nrScanned;
  if (nrIsolated > 0) k.vmstat.countVmEvents(VmEvent.COMPACT_ISOLATED, nrIsolated);
  cc.migrate_pfn = lowPfn;
  return ret;
}

/**
 * The checks of `isolate_migratepages_block` (6.3) on an LRU folio, between
 * `get_page_unless_zero` and `TestClearPageLRU`. Returns null when the folio may be
 * isolated (the lookup reference held), 'freed' when no lookup reference could be taken,
 * else the reason, the lookup reference still held: the caller drops it
 * (`isolate_fail_put`, an LRU-aware put that may suspend). A plain function: most candidates pass, and a
 * generator a candidate cost more than the checks.
 */
function lruCandidateRefusal(
  k: Kernel,
  cc: CompactControl,
  folio: Folio,
  isolateMode: number,
): CompactionSkipReason | null {
  const mem = k.mem;
  if (!folioTryGet(mem, folio)) return 'freed';
  let reason: CompactionSkipReason | null = null;
  let mapping = folioMapping(mem, folio);
  if (mapping === null && folioRefCount(mem, folio) - 1 > folioMapcount(mem, folio)) {
    reason = 'pinned';
  } else if (!cc.gfpFs && mapping !== null) {
    reason = 'gfp-nofs';
  } else if (!folioTestFlag(mem, folio, PG_lru)) {
    reason = 'not-lru';
  } else {
    const unevictable = folioTestFlag(mem, folio, PG_unevictable);
    if ((isolateMode & ISOLATE_UNEVICTABLE) === 0 && unevictable) reason = 'unevictable';
    else if (
      (isolateMode & ISOLATE_ASYNC_MIGRATE) !== 0 &&
      folioTestFlag(mem, folio, PG_writeback)
    ) {
      reason = 'writeback';
    } else {
      const dirty = folioTestFlag(mem, folio, PG_dirty);
      if (
        ((isolateMode & ISOLATE_ASYNC_MIGRATE) !== 0 && dirty) ||
        (mapping !== null && unevictable)
      ) {
        // Lock the folio to stabilise the mapping against truncation.
        if (!k.locks.folioTrylock(folio, 'isolate_migratepages_block')) {
          reason = 'locked';
        } else {
          mapping = folioMapping(mem, folio);
          const migrateDirty =
            mapping === null || mappingAops(mem, mapping, folio).migrateFolio !== null;
          k.locks.folioUnlock(folio);
          if (!migrateDirty) reason = 'dirty-no-migrate-folio';
        }
      }
    }
  }
  return reason;
}

/** `update_cached_migrate(cc, pfn)` (mm/compaction.c, 6.3). */
function updateCachedMigrate(cc: CompactControl, pfn: number): void {
  if (cc.no_set_skip_hint) return;
  const end = pageblockEndPfn(pfn);
  const z = cc.zone;
  if (end > z.cachedMigratePfn[0]) z.cachedMigratePfn[0] = end;
  if (cc.mode !== MIGRATE_ASYNC && end > z.cachedMigratePfn[1]) z.cachedMigratePfn[1] = end;
}

/**
 * `suitable_migration_source(cc, page)` (mm/compaction.c, 6.3): any block, except for a
 * direct MIGRATE_ASYNC compaction, which takes only blocks of its own migratetype
 * (movable ones for a movable allocation).
 */
export function suitableMigrationSource(k: Kernel, cc: CompactControl, pfn: number): boolean {
  if (cc.mode !== MIGRATE_ASYNC || !cc.direct_compaction) return true;
  const mt = getPageblockMigratetype(k.mem, pfn);
  return cc.migratetype === 1 ? isMigrateMovable(mt) : mt === cc.migratetype;
}

/** The isolate mode of compaction: `isolate_migratepages` (mm/compaction.c, 6.3). */
export function compactionIsolateMode(cc: CompactControl): number {
  return (
    (COMPACT_UNEVICTABLE_ALLOWED ? ISOLATE_UNEVICTABLE : 0) |
    (cc.mode !== MIGRATE_SYNC ? ISOLATE_ASYNC_MIGRATE : 0)
  );
}

/**
 * `isolate_migratepages(cc)` (mm/compaction.c, Linux 6.3), without `fast_find_migrateblock`
 * (the model scans linearly): from `cc.migrate_pfn`, pageblock by pageblock up to the free
 * scanner, the first block that is suitable (skip bit clear unless `ignore_skip_hint`,
 * `suitable_migration_source`) goes through `isolateMigratepagesBlock`. Returns
 * ISOLATE_ABORT on -EAGAIN / -EINTR, ISOLATE_SUCCESS when something was isolated, else
 * ISOLATE_NONE.
 */
export function* isolateMigratepages(k: Kernel, cc: CompactControl): KernelGen<number> {
  const mode = compactionIsolateMode(cc);
  let lowPfn = cc.migrate_pfn;
  let blockStart = pageblockStartPfn(lowPfn);
  if (blockStart < cc.zone.startPfn) blockStart = cc.zone.startPfn;
  let blockEnd = pageblockEndPfn(lowPfn);
  for (
    ;
    blockEnd <= cc.free_pfn;
    cc.migrate_pfn = lowPfn = blockEnd, blockStart = blockEnd, blockEnd += PAGEBLOCK_NR_PAGES
  ) {
    // cond_resched()
    if (lowPfn % (COMPACT_CLUSTER_MAX * PAGEBLOCK_NR_PAGES) === 0 && !k.rt.virtualStep()) yield;
    if (!pfnValid(k.mem, blockStart)) continue;
    if (pageblockAligned(lowPfn) && !cc.ignore_skip_hint && getPageblockSkip(k.mem, lowPfn))
      continue;
    if (!suitableMigrationSource(k, cc, blockStart)) {
      updateCachedMigrate(cc, blockEnd);
      continue;
    }
    const err = yield* isolateMigratepagesBlock(k, cc, lowPfn, blockEnd, mode);
    if (err !== 0) return ISOLATE_ABORT;
    break;
  }
  return cc.nr_migratepages > 0 ? ISOLATE_SUCCESS : ISOLATE_NONE;
}

/**
 * `isolate_migratepages_range(cc, start_pfn, end_pfn)` (mm/compaction.c, Linux 6.3): the
 * alloc_contig path (CMA, gigantic hugetlb): every pageblock of [startPfn, endPfn) with
 * ISOLATE_UNEVICTABLE, until COMPACT_CLUSTER_MAX pages are isolated. `cc` must have
 * `alloc_contig` set (large folios and hugetlb are then isolated too). Returns 0, -EAGAIN
 * or -EINTR; `cc.migrate_pfn` says where it stopped.
 */
export function* isolateMigratepagesRange(
  k: Kernel,
  cc: CompactControl,
  startPfn: number,
  endPfn: number,
): KernelGen<number> {
  let pfn = startPfn;
  let blockStart = pageblockStartPfn(pfn);
  if (blockStart < cc.zone.startPfn) blockStart = cc.zone.startPfn;
  let blockEnd = pageblockEndPfn(pfn);
  let ret = 0;
  for (; pfn < endPfn; pfn = blockEnd, blockStart = blockEnd, blockEnd += PAGEBLOCK_NR_PAGES) {
    const end = Math.min(blockEnd, endPfn);
    if (!pfnValid(k.mem, blockStart)) continue;
    ret = yield* isolateMigratepagesBlock(k, cc, pfn, end, ISOLATE_UNEVICTABLE);
    if (ret !== 0) break;
    if (cc.nr_migratepages >= COMPACT_CLUSTER_MAX) break;
  }
  return ret;
}
