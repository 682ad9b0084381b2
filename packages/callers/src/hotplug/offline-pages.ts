import {
  dissolveFreeHugePages,
  FolioList,
  folioNrPages,
  folioTestFlag,
  folioTestHugetlb,
  folioTestMovable,
  folioTryGet,
  MEMORY_OFFLINE,
  MIGRATE_MOVABLE,
  nodeOfflinePages,
  nodeSpannedPages,
  nodeStartPfn,
  offlineIsolatedPages,
  PAGEBLOCK_NR_PAGES,
  PG_hwpoison,
  PG_lru,
  pageTestFlag,
  pfnFolio,
  pfnToNid,
  pfnValid,
  REPORT_FAILURE,
  startIsolatePageRange,
  undoIsolatePageRange,
} from '@mmsim/folio';
import type { Kernel } from '@mmsim/kernel';
import { ISOLATE_UNEVICTABLE, MIGRATE_SYNC, MR_MEMORY_HOTPLUG } from '@mmsim/migrate';
import {
  EINTR,
  EINVAL,
  ENOENT,
  fatalSignalPending,
  type KernelGen,
  MmsimError,
} from '@mmsim/runtime';
import { testPagesIsolated } from '../page-isolation.js';

/**
 * Memory hotplug offline (mm/memory_hotplug.c, Linux 6.3): `offline_pages` takes a memory
 * block out of use after migrating everything movable out of it. 6.3 has no
 * hotplug-specific tracepoint or vmstat counter: the migrations show as `pgmigrate_*` and
 * `mm_migrate_pages` with reason MR_MEMORY_HOTPLUG, and the isolation check as
 * `test_pages_isolated`.
 */

/** Where the offline stopped when it failed (the `reason` of the kernel's pr_debug). */
export type OfflineFailure =
  | 'memory holes'
  | 'multizone range'
  | 'failure to isolate range'
  | 'signal backoff'
  | 'unmovable page'
  | 'failure to dissolve huge pages';

/** What one `offline_pages` call did. */
export interface OfflineStats {
  /** Rounds of the outer retry loop (scan, migrate, dissolve, test). */
  passes: number;
  /** `do_migrate_range` calls. */
  migrateCalls: number;
  /** Folios isolated for migration (summed over the calls). */
  isolated: number;
  /** Folios `migrate_pages` moved. */
  migrated: number;
  /** Folios that failed to isolate (`failed to isolate pfn`). */
  isolationFailed: number;
  /** Frames taken offline. */
  offlined: number;
  /** Set when the call failed. */
  failure: OfflineFailure | null;
  /** What `offline_pages` returned (set by `offlinePagesActor`). */
  ret?: number;
}

/** A fresh `OfflineStats`. */
export function offlineStats(): OfflineStats {
  return {
    passes: 0,
    migrateCalls: 0,
    isolated: 0,
    migrated: 0,
    isolationFailed: 0,
    offlined: 0,
    failure: null,
  };
}

/**
 * `scan_movable_pages(start, end, &movable_pfn)` (6.3): the first pfn of [start, end)
 * whose page is on the LRU, non-LRU movable, or in a hugetlb folio in use (migratable in
 * the model); -ENOENT when there is none. (The -EBUSY for a referenced PageOffline page
 * cannot happen in the model: offline frames have no reference.)
 */
export function scanMovablePages(k: Kernel, start: number, end: number): number {
  const mem = k.mem;
  for (let pfn = start; pfn < end; pfn++) {
    if (!pfnValid(mem, pfn)) continue;
    const head = pfnFolio(mem, pfn);
    if (head < 0) continue; // free, pooled or offline
    if (folioTestFlag(mem, head, PG_lru) || folioTestMovable(mem, head)) return pfn;
    if (folioTestHugetlb(mem, head)) return pfn;
  }
  return -ENOENT;
}

/**
 * `alloc_migration_target` with `mtc.nmask` as `do_migrate_range` sets it (6.3): the
 * preferred node is the source's, and the nodemask is `node_states[N_MEMORY]` without it
 * (unless it is the only node with memory), so the target comes from the nearest other
 * node with memory; when that node is full, the next in the source node's zonelist
 * order. Each node tried charges one allocation (`alloc_migration_target` per node with
 * __GFP_THISNODE), a small over-count of the kernel's one `__alloc_pages` call.
 */
export interface HotplugTargetControl {
  /** The node the source pages are on (`mtc.nid`). */
  readonly nid: number;
  /** `mtc.nmask`: the nodes the target may come from, in zonelist order. */
  readonly nodes: readonly number[];
}

/** Node ids by distance from `nid` (the zonelist order), `nid` first. */
function zonelistOf(k: Kernel, nid: number): number[] {
  const out: number[] = [];
  for (let n = 0; n < k.mem.nrNodes; n++) out.push(n);
  out.sort((a, b) => Math.abs(a - nid) - Math.abs(b - nid) || a - b);
  return out;
}

/** `node_states[N_MEMORY]`: nodes with present pages left. */
function nodeHasMemory(k: Kernel, nid: number): boolean {
  return nodeSpannedPages(k.mem, nid) - nodeOfflinePages(k.mem, nid) > 0;
}

/** The `mtc` of `do_migrate_range` for pages of node `nid`. */
export function hotplugTargetControl(k: Kernel, nid: number): HotplugTargetControl {
  const nodes = zonelistOf(k, nid).filter((n) => n !== nid && nodeHasMemory(k, n));
  if (nodes.length === 0) nodes.push(nid);
  return { nid, nodes };
}

/** The `get_new_page` of `do_migrate_range`, bound to a machine. */
export function hotplugAllocTarget(
  k: Kernel,
): (src: number, mtc: HotplugTargetControl) => number | null {
  return (src, mtc) => {
    for (const nid of mtc.nodes) {
      const dst = k.migrate.allocMigrationTarget(src, {
        nid,
        thisNode: true,
        reason: MR_MEMORY_HOTPLUG,
      });
      if (dst !== null) return dst;
    }
    return null;
  };
}

/**
 * `do_migrate_range(start_pfn, end_pfn)` (mm/memory_hotplug.c, 6.3): isolates every
 * in-use folio of the range (hugetlb with `isolate_hugetlb`; after `get_page_unless_zero`,
 * an LRU folio with `isolate_lru_page` (NR_ISOLATED_* += its pages), a non-LRU movable
 * one with `isolate_movable_page(page, ISOLATE_UNEVICTABLE)`; a PG_hwpoison page is
 * skipped) and migrates them with `migrate_pages(&source, alloc_migration_target, NULL,
 * &mtc, MIGRATE_SYNC, MR_MEMORY_HOTPLUG)`, the targets off the source node (see
 * `hotplugTargetControl`). What failed goes back (`putback_movable_pages`). The try to
 * unmap a poisoned page is not modelled.
 */
export function* doMigrateRange(
  k: Kernel,
  start: number,
  end: number,
  stats: OfflineStats = offlineStats(),
): KernelGen<number> {
  const mem = k.mem;
  const source = new FolioList(mem);
  for (let pfn = start; pfn < end; pfn++) {
    if (!pfnValid(mem, pfn)) continue;
    const head = pfnFolio(mem, pfn);
    if (head < 0) continue;
    const nr = folioNrPages(mem, head);
    if (folioTestHugetlb(mem, head)) {
      pfn = head + nr - 1;
      if (k.migrate.isolateHugetlb(head, source)) stats.isolated++;
      else stats.isolationFailed++;
      continue;
    }
    const page = pfn;
    if (nr > 1) pfn = head + nr - 1;
    if (pageTestFlag(mem, page, PG_hwpoison)) continue;
    if (!folioTryGet(mem, head)) continue;
    let ok: boolean;
    if (folioTestFlag(mem, head, PG_lru)) {
      ok = yield* k.lru.folioIsolateLru(head);
      if (ok) k.lru.nodeStatModFolio(head, k.lru.folioIsolatedItem(head), nr);
    } else {
      ok = k.migrate.isolateMovablePage(head, ISOLATE_UNEVICTABLE);
    }
    if (ok) {
      source.addTail(head);
      stats.isolated++;
    } else stats.isolationFailed++;
    yield* k.lru.folioPut(head);
  }
  if (source.size === 0) return 0;
  stats.migrateCalls++;
  const mtc = hotplugTargetControl(k, pfnToNid(mem, source.first()));
  const { rc, stats: ms } = yield* k.migrate.migratePages(
    source,
    hotplugAllocTarget(k),
    null,
    mtc,
    MIGRATE_SYNC,
    MR_MEMORY_HOTPLUG,
  );
  stats.migrated += ms.nrSucceeded;
  if (rc !== 0 && source.size > 0) yield* k.migrate.putbackMovablePages(source);
  return rc;
}

/** Options of `offlinePages`. */
export interface OfflinePagesOptions {
  /** Filled in as the call goes. */
  readonly stats?: OfflineStats;
}

/**
 * `offline_pages(start_pfn, nr_pages, zone, group)` (mm/memory_hotplug.c, Linux 6.3).
 * Returns 0 when the range is offline, or a negative errno:
 *
 * - -EINVAL: an empty or unaligned range (pageblock-aligned in the model, where a memory
 *   section is a pageblock), a range with holes or across nodes (zones).
 * - -EBUSY: `start_isolate_page_range(..., MIGRATE_MOVABLE, MEMORY_OFFLINE |
 *   REPORT_FAILURE)` refused (an unmovable page: see `hasUnmovablePages`), or
 *   `scan_movable_pages` found a definitely unmovable page.
 * - -EINTR: a (fatal) signal is pending at the top of a pass (`signal backoff`).
 *
 * Between isolation and the end, LRU caching is off (`lru_cache_disable`). The loop: scan
 * for movable pages and `do_migrate_range` until none is left (a scheduling point per
 * round), `dissolve_free_huge_pages`, then `test_pages_isolated(..., MEMORY_OFFLINE)`;
 * while that fails, all again. 6.3 has no timeout or retry limit: it retries as long as
 * pages remain and no signal arrives. On success the free pages leave the buddy
 * (`__offline_isolated_pages`) and the node's present pages drop; on failure the range is
 * given back (`undo_isolate_page_range(..., MIGRATE_MOVABLE)`).
 */
export function* offlinePages(
  k: Kernel,
  startPfn: number,
  nrPages: number,
  options: OfflinePagesOptions = {},
): KernelGen<number> {
  const mem = k.mem;
  const stats = options.stats ?? offlineStats();
  if (!Number.isInteger(startPfn) || !Number.isInteger(nrPages)) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `offline_pages: start_pfn and nr_pages must be integers, got ${String(startPfn)} and ${String(nrPages)}`,
    );
  }
  const end = startPfn + nrPages;
  if (
    nrPages <= 0 ||
    startPfn < 0 ||
    end > mem.maxPfn ||
    startPfn % PAGEBLOCK_NR_PAGES !== 0 ||
    end % PAGEBLOCK_NR_PAGES !== 0
  ) {
    return -EINVAL;
  }
  for (let pfn = startPfn; pfn < end; pfn++) {
    if (!pfnValid(mem, pfn)) {
      stats.failure = 'memory holes';
      return -EINVAL;
    }
  }
  const nid = pfnToNid(mem, startPfn);
  if (pfnToNid(mem, end - 1) !== nid || nodeStartPfn(mem, nid) > startPfn) {
    stats.failure = 'multizone range';
    return -EINVAL;
  }
  yield* k.lru.lruCacheDisable();
  let ret = startIsolatePageRange(
    mem,
    startPfn,
    end,
    MIGRATE_MOVABLE,
    MEMORY_OFFLINE | REPORT_FAILURE,
  );
  if (ret !== 0) {
    stats.failure = 'failure to isolate range';
    k.lru.lruCacheEnable();
    return ret;
  }
  const task = k.rt.current;
  do {
    stats.passes++;
    let pfn = startPfn;
    for (;;) {
      if (fatalSignalPending(k.rt, task)) {
        stats.failure = 'signal backoff';
        return failIsolated(k, startPfn, end, -EINTR);
      }
      yield; // cond_resched()
      pfn = scanMovablePages(k, pfn, end);
      if (pfn < 0) break;
      yield* doMigrateRange(k, pfn, end, stats);
    }
    if (pfn !== -ENOENT) {
      stats.failure = 'unmovable page';
      return failIsolated(k, startPfn, end, pfn);
    }
    ret = dissolveFreeHugePages(mem, startPfn, end);
    if (ret !== 0) {
      stats.failure = 'failure to dissolve huge pages';
      return failIsolated(k, startPfn, end, ret);
    }
    ret = testPagesIsolated(k, startPfn, end, MEMORY_OFFLINE);
  } while (ret !== 0);
  stats.offlined = offlineIsolatedPages(mem, startPfn, end);
  k.lru.lruCacheEnable();
  return 0;
}

/** The `failed_removal_isolated` exit: give the range back. */
function failIsolated(k: Kernel, start: number, end: number, ret: number): number {
  undoIsolatePageRange(k.mem, start, end, MIGRATE_MOVABLE);
  k.lru.lruCacheEnable();
  return ret;
}
