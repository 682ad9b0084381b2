import {
  folioNid,
  MAX_ORDER,
  nodeSpannedPages,
  pageblockAligned,
  pageblockStartPfn,
  pageZonenum,
  resetPageblockSkip,
  ZONE_MOVABLE,
  ZONE_NORMAL,
  zoneEndPfn,
  zoneFreePages,
  zoneNrFree,
  zoneStartPfn,
} from '@mmsim/folio';
import type { Kernel } from '@mmsim/kernel';
import {
  MIGRATE_ASYNC,
  MIGRATE_SYNC,
  MIGRATE_SYNC_LIGHT,
  type MigrateMode,
  MR_COMPACTION,
} from '@mmsim/migrate';
import {
  ENOMEM,
  fatalSignalPending,
  type KernelGen,
  MmsimError,
  PF_MEMALLOC,
  VmEvent,
} from '@mmsim/runtime';
import {
  COMPACT_COMPLETE,
  COMPACT_CONTENDED,
  COMPACT_CONTINUE,
  COMPACT_DEFERRED,
  COMPACT_MAX_DEFER_SHIFT,
  COMPACT_NO_SUITABLE_PAGE,
  COMPACT_NOT_SUITABLE_ZONE,
  COMPACT_PARTIAL_SKIPPED,
  COMPACT_PRIO_ASYNC,
  COMPACT_SKIPPED,
  COMPACT_SUCCESS,
  CompactControl,
  type CompactControlInit,
  type CompactResult,
  compactScannersMet,
  EXTFRAG_THRESHOLD,
  ISOLATE_ABORT,
  ISOLATE_NONE,
  isViaCompactMemory,
  MIN_COMPACT_PRIORITY,
  PAGE_ALLOC_COSTLY_ORDER,
  populatedZones,
  type ZoneCompaction,
  zoneCompaction,
} from './control.js';
import { compactionAlloc, compactionFree, releaseFreepages } from './free-scanner.js';
import { isolateMigratepages } from './migrate-scanner.js';
import { compactionTracepoints } from './tracepoints.js';

/**
 * The watermarks the model uses: none. The model's allocator has no watermarks
 * (`min_wmark_pages` = `low_wmark_pages` = 0), so `zone_watermark_ok(zone, order, 0)` is
 * "a free block of that order or larger, and more free pages than the order's unusable
 * part"; `compaction_suitable` keeps its `compact_gap` (2 << order) margin.
 */
function zoneWatermarkOk(
  k: Kernel,
  nid: number,
  zone: number,
  order: number,
  mark: number,
): boolean {
  const free = zoneFreePages(k.mem, nid, zone) - ((1 << order) - 1);
  if (free <= mark) return false;
  if (order === 0) return true;
  for (let o = order; o < MAX_ORDER; o++) if (zoneNrFree(k.mem, nid, zone, o) > 0) return true;
  return false;
}

/**
 * `fragmentation_index(zone, order)` / `__fragmentation_index` (mm/vmstat.c, 6.3): 0 when
 * nothing is free, -1000 when a block of the order is free, else
 * `1000 - (1000 + free_pages * 1000 / requested) / free_blocks_total`: towards 0 a failure
 * from lack of memory, towards 1000 from fragmentation. Of zone `zone` (default ZONE_NORMAL,
 * the whole node when it has no ZONE_MOVABLE).
 */
export function fragmentationIndex(
  k: Kernel,
  nid: number,
  order: number,
  zone: number = ZONE_NORMAL,
): number {
  let blocksTotal = 0;
  let blocksSuitable = 0;
  let freePages = 0;
  for (let o = 0; o < MAX_ORDER; o++) {
    const n = zoneNrFree(k.mem, nid, zone, o);
    blocksTotal += n;
    freePages += n << o;
    if (o >= order) blocksSuitable += n << (o - order);
  }
  if (blocksTotal === 0) return 0;
  if (blocksSuitable > 0) return -1000;
  const requested = 1 << order;
  return 1000 - Math.floor((1000 + Math.floor((freePages * 1000) / requested)) / blocksTotal);
}

/**
 * `compaction_suitable(zone, order, alloc_flags, highest_zoneidx)` with
 * `__compaction_suitable` (mm/compaction.c, Linux 6.3): COMPACT_CONTINUE for a whole-zone
 * compaction; COMPACT_SUCCESS when the order's watermark is already met; COMPACT_SKIPPED
 * when there are not even `compact_gap(order)` (2 << order) free pages for the migration
 * targets; for a costly order (> PAGE_ALLOC_COSTLY_ORDER) COMPACT_NOT_SUITABLE_ZONE when
 * the fragmentation index is 0..`extfrag_threshold` (500): a failure from lack of memory,
 * which compaction cannot cure. Fires `mm_compaction_suitable` (for order -1 too, as
 * 6.3's `compact_zone` calls it for every compaction). Of zone `zone` of node `nid`
 * (default ZONE_NORMAL, the whole node when it has no ZONE_MOVABLE): its free pages only.
 */
export function compactionSuitable(
  k: Kernel,
  nid: number,
  order: number,
  zone: number = ZONE_NORMAL,
): CompactResult {
  let ret: CompactResult;
  if (isViaCompactMemory(order)) ret = COMPACT_CONTINUE;
  else if (zoneWatermarkOk(k, nid, zone, order, 0)) ret = COMPACT_SUCCESS;
  else if (!zoneWatermarkOk(k, nid, zone, 0, 2 << order)) ret = COMPACT_SKIPPED;
  else ret = COMPACT_CONTINUE;
  if (ret === COMPACT_CONTINUE && order > PAGE_ALLOC_COSTLY_ORDER) {
    const fragindex = fragmentationIndex(k, nid, order, zone);
    if (fragindex >= 0 && fragindex <= EXTFRAG_THRESHOLD) ret = COMPACT_NOT_SUITABLE_ZONE;
  }
  // 6.3 fires the tracepoint for order -1 too (compact_zone calls this for every order).
  const tp = compactionTracepoints(k.rt).suitable;
  if (tp.enabled) tp.emit({ nid, idx: zone, order, ret });
  return ret;
}

/** `reset_cached_positions(zone)` (mm/compaction.c, 6.3). */
function resetCachedPositions(z: ZoneCompaction): void {
  z.cachedMigratePfn[0] = z.startPfn;
  z.cachedMigratePfn[1] = z.startPfn;
  z.cachedFreePfn = pageblockStartPfn(z.endPfn - 1);
}

/**
 * `compact_finished(cc)` / `__compact_finished` (mm/compaction.c, Linux 6.3): COMPACT_COMPLETE
 * (whole zone) or COMPACT_PARTIAL_SKIPPED when the scanners met (the cached positions
 * reset); COMPACT_CONTINUE for a whole-zone compaction, or while the migration scanner is
 * inside a pageblock; COMPACT_SUCCESS when a free block of `cc.order` or larger exists
 * (the model's free lists have no migratetypes: any block counts); else
 * COMPACT_NO_SUITABLE_PAGE, reported as COMPACT_CONTINUE; COMPACT_CONTENDED when a lock
 * was contended. Proactive compaction (`cc.proactive_compaction`, checked before the
 * whole-zone rule since its order is -1 too): COMPACT_CONTINUE while the zone's
 * fragmentation score is above the low watermark (`fragmentation_score_wmark(pgdat,
 * true)`), else COMPACT_SUCCESS. Fires `mm_compaction_finished`.
 */
export function compactFinished(k: Kernel, cc: CompactControl): CompactResult {
  let ret: CompactResult;
  if (compactScannersMet(cc)) {
    resetCachedPositions(cc.zone);
    if (cc.direct_compaction) cc.zone.blockskipFlush = true;
    ret = cc.whole_zone ? COMPACT_COMPLETE : COMPACT_PARTIAL_SKIPPED;
  } else if (cc.proactive_compaction) {
    // kswapd_is_running(pgdat): the model has no kswapd task, it never runs here.
    const score = fragmentationScoreZone(k, cc.zone.nid, cc.zone.zoneIdx);
    ret = score > fragmentationScoreWmark(k, true) ? COMPACT_CONTINUE : COMPACT_SUCCESS;
    if (cc.contended || fatalSignalPending(k.rt, k.rt.current)) ret = COMPACT_CONTENDED; // out:
  } else if (isViaCompactMemory(cc.order)) {
    ret = COMPACT_CONTINUE;
  } else if (!pageblockAligned(cc.migrate_pfn)) {
    ret = COMPACT_CONTINUE;
  } else {
    ret = COMPACT_NO_SUITABLE_PAGE;
    for (let o = cc.order; o < MAX_ORDER; o++) {
      if (zoneNrFree(k.mem, cc.zone.nid, cc.zone.zoneIdx, o) > 0) {
        ret = COMPACT_SUCCESS;
        break;
      }
    }
    if (ret !== COMPACT_SUCCESS && (cc.contended || fatalSignalPending(k.rt, k.rt.current))) {
      ret = COMPACT_CONTENDED;
    }
  }
  const tp = compactionTracepoints(k.rt).finished;
  if (tp.enabled) tp.emit({ nid: cc.zone.nid, idx: cc.zone.zoneIdx, order: cc.order, ret });
  return ret === COMPACT_NO_SUITABLE_PAGE ? COMPACT_CONTINUE : ret;
}

/** `compaction_deferred(zone, order)` (mm/compaction.c, 6.3). */
export function compactionDeferred(z: ZoneCompaction, order: number): boolean {
  const limit = 1 << z.deferShift;
  if (order < z.orderFailed) return false;
  if (++z.considered >= limit) {
    z.considered = limit;
    return false;
  }
  return true;
}

/** `defer_compaction(zone, order)` (mm/compaction.c, 6.3). */
export function deferCompaction(z: ZoneCompaction, order: number): void {
  z.considered = 0;
  z.deferShift++;
  if (order < z.orderFailed) z.orderFailed = order;
  if (z.deferShift > COMPACT_MAX_DEFER_SHIFT) z.deferShift = COMPACT_MAX_DEFER_SHIFT;
}

/** `compaction_defer_reset(zone, order, alloc_success)` (mm/compaction.c, 6.3). */
export function compactionDeferReset(
  z: ZoneCompaction,
  order: number,
  allocSuccess: boolean,
): void {
  if (allocSuccess) {
    z.considered = 0;
    z.deferShift = 0;
  }
  if (order >= z.orderFailed) z.orderFailed = order + 1;
}

/** `compaction_restarting(zone, order)` (mm/compaction.c, 6.3). */
function compactionRestarting(z: ZoneCompaction, order: number): boolean {
  if (order < z.orderFailed) return false;
  return z.deferShift === COMPACT_MAX_DEFER_SHIFT && z.considered >= 1 << z.deferShift;
}

/**
 * `compact_zone(cc, capc)` (mm/compaction.c, Linux 6.3), without page capture: checks
 * `compaction_suitable` (COMPACT_CONTINUE for a whole-zone compaction), places the scanners (the zone's
 * ends for `whole_zone`, else the cached positions), `lru_add_drain()`, then until
 * `compact_finished` says otherwise: `isolate_migratepages`; `migrate_pages(&cc->migratepages,
 * compaction_alloc, compaction_free, cc, cc->mode, MR_COMPACTION)`; on failure
 * `putback_movable_pages`, -ENOMEM with the scanners apart ends it as COMPACT_CONTENDED,
 * and an ASYNC / SYNC_LIGHT compaction that failed inside a pageblock rescans the rest of
 * it (`finish_pageblock`). At the end the unused free pages go back (`release_freepages`)
 * and `compact_migrate_scanned` / `compact_free_scanned` are counted. Fires
 * `mm_compaction_begin` / `_migratepages` / `_end`.
 */
export function* compactZone(k: Kernel, cc: CompactControl): KernelGen<CompactResult> {
  const z = cc.zone;
  const sync = cc.mode !== MIGRATE_ASYNC;
  const tps = compactionTracepoints(k.rt);
  cc.total_migrate_scanned = 0;
  cc.total_free_scanned = 0;
  cc.nr_migratepages = 0;
  cc.nr_freepages = 0;
  // 6.3 asks compaction_suitable for every order (it answers COMPACT_CONTINUE for -1 and
  // fires mm_compaction_suitable all the same); 6.5 skips it for a whole-zone compaction.
  const suitable = compactionSuitable(k, z.nid, cc.order, z.zoneIdx);
  if (suitable === COMPACT_SUCCESS || suitable === COMPACT_SKIPPED) return suitable;
  if (suitable !== COMPACT_CONTINUE) return suitable;
  if (compactionRestarting(z, cc.order)) resetPageblockSkip(k.mem, z.startPfn, z.endPfn);
  cc.fast_start_pfn = 0;
  if (cc.whole_zone) {
    cc.migrate_pfn = z.startPfn;
    cc.free_pfn = pageblockStartPfn(z.endPfn - 1);
  } else {
    cc.migrate_pfn = z.cachedMigratePfn[sync ? 1 : 0];
    cc.free_pfn = z.cachedFreePfn;
    if (cc.free_pfn < z.startPfn || cc.free_pfn >= z.endPfn) {
      cc.free_pfn = pageblockStartPfn(z.endPfn - 1);
      z.cachedFreePfn = cc.free_pfn;
    }
    if (cc.migrate_pfn < z.startPfn || cc.migrate_pfn >= z.endPfn) {
      cc.migrate_pfn = z.startPfn;
      z.cachedMigratePfn[0] = z.cachedMigratePfn[1] = cc.migrate_pfn;
    }
    if (cc.migrate_pfn <= z.startPfn) cc.whole_zone = true;
  }
  let updateCached = !sync && z.cachedMigratePfn[0] === z.cachedMigratePfn[1];
  if (tps.begin.enabled) {
    tps.begin.emit({
      zone_start: z.startPfn,
      migrate_pfn: cc.migrate_pfn,
      free_pfn: cc.free_pfn,
      zone_end: z.endPfn,
      sync,
    });
  }
  yield* k.lru.lruAddDrain();
  let ret: CompactResult;
  let lastMigratedPfn = 0;
  out: for (ret = compactFinished(k, cc); ret === COMPACT_CONTINUE; ret = compactFinished(k, cc)) {
    const iterationStartPfn = cc.migrate_pfn;
    cc.finish_pageblock =
      pageblockStartPfn(lastMigratedPfn) === pageblockStartPfn(iterationStartPfn);
    for (;;) {
      // rescan:
      const isolated = yield* isolateMigratepages(k, cc);
      if (isolated === ISOLATE_ABORT) {
        ret = COMPACT_CONTENDED;
        yield* k.migrate.putbackMovablePages(cc.migratepages);
        cc.nr_migratepages = 0;
        break out;
      }
      if (isolated === ISOLATE_NONE) {
        if (updateCached) z.cachedMigratePfn[1] = z.cachedMigratePfn[0];
        break;
      }
      updateCached = false;
      lastMigratedPfn = iterationStartPfn;
      const result = yield* k.migrate.migratePages(
        cc.migratepages,
        compactionAlloc,
        compactionFree,
        cc,
        cc.mode,
        MR_COMPACTION,
      );
      if (tps.migratepages.enabled) {
        tps.migratepages.emit({
          nr_migrated: result.stats.nrSucceeded,
          nr_failed: cc.nr_migratepages - result.stats.nrSucceeded,
        });
      }
      cc.nr_migratepages = 0;
      const err = result.rc;
      if (err !== 0) {
        if (!cc.migratepages.isEmpty()) yield* k.migrate.putbackMovablePages(cc.migratepages);
        if (err === -ENOMEM && !compactScannersMet(cc)) {
          ret = COMPACT_CONTENDED;
          break out;
        }
        if (
          !pageblockAligned(cc.migrate_pfn) &&
          !cc.ignore_skip_hint &&
          !cc.finish_pageblock &&
          cc.mode !== MIGRATE_SYNC
        ) {
          cc.finish_pageblock = true;
          if (cc.order === 9) lastMigratedPfn = 0;
          continue; // goto rescan
        }
      }
      break;
    }
  }
  if (cc.nr_freepages > 0 || !cc.freepages.isEmpty()) {
    const freePfn = pageblockStartPfn(releaseFreepages(k, cc));
    if (freePfn > z.cachedFreePfn) z.cachedFreePfn = freePfn;
  }
  k.vmstat.countVmEvents(VmEvent.COMPACT_MIGRATE_SCANNED, cc.total_migrate_scanned);
  k.vmstat.countVmEvents(VmEvent.COMPACT_FREE_SCANNED, cc.total_free_scanned);
  if (tps.end.enabled) {
    tps.end.emit({
      zone_start: z.startPfn,
      migrate_pfn: cc.migrate_pfn,
      free_pfn: cc.free_pfn,
      zone_end: z.endPfn,
      sync,
      status: ret,
    });
  }
  return ret;
}

/**
 * `compact_node(nid)` (mm/compaction.c, Linux 6.3): the compaction that a write to
 * `/proc/sys/vm/compact_memory` runs on each node: `compact_zone` on every populated zone
 * of the node, lowest first (ZONE_NORMAL, then ZONE_MOVABLE), each with order -1,
 * MIGRATE_SYNC, the whole zone, skip hints ignored. The kernel's returns nothing; the
 * model returns the highest result of its zones.
 */
export function* compactNode(k: Kernel, nid: number): KernelGen<CompactResult> {
  let rc: CompactResult = COMPACT_SKIPPED;
  for (const zone of populatedZones(k, nid)) {
    const cc = new CompactControl(k, {
      order: -1,
      mode: MIGRATE_SYNC,
      nid,
      zone,
      ignore_skip_hint: true,
      whole_zone: true,
    });
    const status = yield* compactZone(k, cc);
    if (status > rc) rc = status;
  }
  return rc;
}

/**
 * `compact_nodes()` (mm/compaction.c, Linux 6.3), run by `sysctl_compaction_handler` on a
 * write to `/proc/sys/vm/compact_memory`: `lru_add_drain_all()`, then `compact_node` on
 * every node (or the given ones).
 */
export function* compactNodes(k: Kernel, nodes?: readonly number[]): KernelGen<CompactResult[]> {
  yield* k.lru.lruAddDrainAll();
  const results: CompactResult[] = [];
  // Every node by index, without building a list of them: `Array.from` with a mapping
  // callback held a third of this generator's own samples in a warm profile.
  const count = nodes === undefined ? k.nrNodes : nodes.length;
  for (let i = 0; i < count; i++) {
    results.push(yield* compactNode(k, nodes === undefined ? i : nodes[i]!));
  }
  return results;
}

/**
 * `compact_zone_order(zone, order, gfp_mask, prio, ...)` (mm/compaction.c, Linux 6.3): a
 * direct compaction of one zone: MIGRATE_ASYNC at COMPACT_PRIO_ASYNC, else
 * MIGRATE_SYNC_LIGHT; at MIN_COMPACT_PRIORITY (COMPACT_PRIO_SYNC_FULL) the whole zone,
 * skip hints and block suitability ignored.
 */
export function* compactZoneOrder(
  k: Kernel,
  nid: number,
  order: number,
  prio: number,
  extra: Partial<CompactControlInit> = {},
): KernelGen<CompactResult> {
  const full = prio === MIN_COMPACT_PRIORITY;
  const mode: MigrateMode = prio === COMPACT_PRIO_ASYNC ? MIGRATE_ASYNC : MIGRATE_SYNC_LIGHT;
  const cc = new CompactControl(k, {
    ...extra,
    order,
    mode,
    nid,
    direct_compaction: true,
    whole_zone: full,
    ignore_skip_hint: full,
    ignore_block_suitable: full,
  });
  return yield* compactZone(k, cc);
}

/**
 * `try_to_compact_pages(gfp_mask, order, alloc_flags, ac, prio, capture)`
 * (mm/compaction.c, Linux 6.3): direct compaction over the zones of the allocation's
 * zonelist (here: `nodes`, the preferred node first, and on each node its populated zones
 * up to `highestZoneidx` from the highest down, as `build_zonerefs_node` orders them;
 * default ZONE_MOVABLE, a movable allocation's `gfp_zone`): a zone whose compaction is deferred
 * is passed (except at MIN_COMPACT_PRIORITY); stops at the first COMPACT_SUCCESS
 * (`compaction_defer_reset`); a sync compaction that completed without success defers the
 * zone. Returns the highest result.
 */
export function* tryToCompactPages(
  k: Kernel,
  nodes: readonly number[],
  order: number,
  prio: number,
  highestZoneidx: number = ZONE_MOVABLE,
): KernelGen<CompactResult> {
  let rc: CompactResult = COMPACT_SKIPPED;
  const zonelist: number[] = [];
  for (const nid of nodes) {
    const zones = populatedZones(k, nid);
    for (let i = zones.length - 1; i >= 0; i--) {
      if (zones[i]! <= highestZoneidx) zonelist.push(nid, zones[i]!);
    }
  }
  for (let zi = 0; zi < zonelist.length; zi += 2) {
    const nid = zonelist[zi]!;
    const zone = zonelist[zi + 1]!;
    const z = zoneCompaction(k, nid, zone);
    if (prio > MIN_COMPACT_PRIORITY && compactionDeferred(z, order)) {
      rc = Math.max(COMPACT_DEFERRED, rc);
      continue;
    }
    const status = yield* compactZoneOrder(k, nid, order, prio, { zone });
    rc = Math.max(status, rc);
    if (status === COMPACT_SUCCESS) {
      compactionDeferReset(z, order, false);
      break;
    }
    if (
      prio !== COMPACT_PRIO_ASYNC &&
      (status === COMPACT_COMPLETE || status === COMPACT_PARTIAL_SKIPPED)
    ) {
      deferCompaction(z, order);
    }
    if (fatalSignalPending(k.rt, k.rt.current)) break;
  }
  return rc;
}

/**
 * `__alloc_pages_direct_compact` (mm/page_alloc.c, Linux 6.3) around `try_to_compact_pages`:
 * runs it with PF_MEMALLOC (`memalloc_noreclaim_save`); unless COMPACT_SKIPPED, counts
 * `compact_stall` and tries the allocation (`get_page_from_freelist`, here `allocate`):
 * `compact_success` and `compaction_defer_reset(zone, order, true)` when it succeeds,
 * `compact_fail` otherwise. Returns the result and the folio (or a negative errno).
 */
export function* allocPagesDirectCompact(
  k: Kernel,
  nodes: readonly number[],
  order: number,
  prio: number,
  allocate: () => number,
): KernelGen<{ result: CompactResult; folio: number }> {
  const task = k.rt.current;
  const hadMemalloc = (task.flags & PF_MEMALLOC) !== 0;
  task.flags |= PF_MEMALLOC;
  let result: CompactResult;
  try {
    result = yield* tryToCompactPages(k, nodes, order, prio);
  } finally {
    if (!hadMemalloc) task.flags &= ~PF_MEMALLOC;
  }
  if (result === COMPACT_SKIPPED) return { result, folio: -ENOMEM };
  k.vmstat.countVmEvents(VmEvent.COMPACT_STALL);
  const folio = allocate();
  if (folio >= 0) {
    const z = zoneCompaction(k, folioNid(k.mem, folio), pageZonenum(k.mem, folio));
    z.blockskipFlush = false;
    compactionDeferReset(z, order, true);
    k.vmstat.countVmEvents(VmEvent.COMPACT_SUCCESS);
  } else {
    k.vmstat.countVmEvents(VmEvent.COMPACT_FAIL);
  }
  yield; // cond_resched()
  return { result, folio };
}

/** `sysctl_compaction_proactiveness` default (mm/compaction.c, 6.3): 20. */
export const DEFAULT_COMPACTION_PROACTIVENESS = 20;

/**
 * `COMPACTION_HPAGE_ORDER` (mm/compaction.c, 6.3): `HPAGE_PMD_ORDER` with
 * CONFIG_TRANSPARENT_HUGEPAGE, the order the fragmentation score is measured against.
 */
export const COMPACTION_HPAGE_ORDER = 9;

const proactivenessOf = new WeakMap<Kernel, number>();

/** `vm.compaction_proactiveness` of the machine (default 20). */
export function compactionProactiveness(k: Kernel): number {
  return proactivenessOf.get(k) ?? DEFAULT_COMPACTION_PROACTIVENESS;
}

/**
 * Writes `vm.compaction_proactiveness` (`proc_dointvec_minmax`, 0..100). The kernel's
 * handler also wakes every kcompactd to look at once (`proactive_compact_trigger`); the
 * model's kcompactd looks at its next timeout. Bad values: INVALID_ARGUMENT (-EINVAL).
 */
export function setCompactionProactiveness(k: Kernel, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 100) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `vm.compaction_proactiveness must be an integer in [0, 100], got ${String(value)}`,
    );
  }
  proactivenessOf.set(k, value);
}

/**
 * `extfrag_for_order(zone, order)` (mm/vmstat.c, 6.3) with `fill_contig_page_info`: the
 * share (0..100) of the zone's free pages that are not in free blocks of `order` or larger;
 * 0 when nothing is free.
 */
export function extfragForOrder(
  k: Kernel,
  nid: number,
  order: number,
  zone: number = ZONE_NORMAL,
): number {
  let freePages = 0;
  let suitable = 0;
  for (let o = 0; o < MAX_ORDER; o++) {
    const n = zoneNrFree(k.mem, nid, zone, o);
    freePages += n << o;
    if (o >= order) suitable += n << (o - order);
  }
  if (freePages === 0) return 0;
  return Math.floor(((freePages - suitable * (1 << order)) * 100) / freePages);
}

/**
 * `fragmentation_score_zone(zone)` (mm/compaction.c, 6.3): `extfrag_for_order` at order 9,
 * of zone `zone` of node `nid` (default ZONE_NORMAL).
 */
export function fragmentationScoreZone(k: Kernel, nid: number, zone: number = ZONE_NORMAL): number {
  return extfragForOrder(k, nid, COMPACTION_HPAGE_ORDER, zone);
}

/**
 * `fragmentation_score_node(pgdat)` (mm/compaction.c, 6.3): the sum over the node's
 * populated zones of `fragmentation_score_zone_weighted` = `zone->present_pages * score /
 * (pgdat->node_present_pages + 1)`, each rounded down.
 */
export function fragmentationScoreNode(k: Kernel, nid: number): number {
  const nodePresent = nodeSpannedPages(k.mem, nid);
  let score = 0;
  for (const zone of populatedZones(k, nid)) {
    const present = zoneEndPfn(k.mem, nid, zone) - zoneStartPfn(k.mem, nid, zone);
    score += Math.floor((present * fragmentationScoreZone(k, nid, zone)) / (nodePresent + 1));
  }
  return score;
}

/**
 * `fragmentation_score_wmark(pgdat, low)` (mm/compaction.c, 6.3): the low watermark is
 * `max(100 - proactiveness, 5)`, the high one 10 above it (at most 100).
 */
export function fragmentationScoreWmark(k: Kernel, low: boolean): number {
  const wmarkLow = Math.max(100 - compactionProactiveness(k), 5);
  return low ? wmarkLow : Math.min(wmarkLow + 10, 100);
}

/**
 * `should_proactive_compact_node(pgdat)` (mm/compaction.c, 6.3): proactiveness not 0, kswapd
 * not running (the model has no kswapd task), and the node's fragmentation score above
 * the high watermark.
 */
export function shouldProactiveCompactNode(k: Kernel, nid: number): boolean {
  if (compactionProactiveness(k) === 0) return false;
  return fragmentationScoreNode(k, nid) > fragmentationScoreWmark(k, false);
}

/**
 * `proactive_compact_node(pgdat)` (mm/compaction.c, 6.3), run by kcompactd on a timeout
 * when `should_proactive_compact_node`: on every populated zone of the node, lowest first,
 * `compact_zone` with order -1, MIGRATE_SYNC_LIGHT, skip hints ignored, the whole zone,
 * `proactive_compaction` (which `compact_finished` ends once that zone's score is at or
 * below the low watermark). 6.3 counts no `compact_daemon_*` events here (later kernels
 * count the scanned pages). The kernel's returns nothing; the model returns the highest
 * result of its zones.
 */
export function* proactiveCompactNode(k: Kernel, nid: number): KernelGen<CompactResult> {
  let rc: CompactResult = COMPACT_SKIPPED;
  for (const zone of populatedZones(k, nid)) {
    const cc = new CompactControl(k, {
      order: -1,
      mode: MIGRATE_SYNC_LIGHT,
      nid,
      zone,
      ignore_skip_hint: true,
      whole_zone: true,
      proactive_compaction: true,
    });
    const status = yield* compactZone(k, cc);
    if (status > rc) rc = status;
  }
  return rc;
}
