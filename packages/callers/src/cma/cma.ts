import {
  allocContigOuterStart,
  folioMapped,
  freeContigRange,
  isolateFreepagesRange,
  MIGRATE_CMA,
  pageZonenum,
  pfnToNid,
  startIsolatePageRange,
  undoIsolatePageRange,
} from '@mmsim/folio';
import type { Kernel } from '@mmsim/kernel';
import { MIGRATE_SYNC, type MigrationTargetControl, MR_CONTIG_RANGE } from '@mmsim/migrate';
import {
  EAGAIN,
  EBUSY,
  EINTR,
  EINVAL,
  ENOMEM,
  fatalSignalPending,
  type KernelGen,
  MmsimError,
  Mutex,
  VmEvent,
} from '@mmsim/runtime';
import { CompactControl } from '../compaction/control.js';
import { isolateMigratepagesRange } from '../compaction/migrate-scanner.js';
import { testPagesIsolated } from '../page-isolation.js';
import { cmaTracepoints } from './tracepoints.js';

/**
 * The contiguous memory allocator (mm/cma.c, and `alloc_contig_range` in mm/page_alloc.c,
 * Linux 6.3). An area is reserved at boot (the machine configuration's `cma` list): its
 * pageblocks are MIGRATE_CMA, so movable allocations may use them while no device needs
 * them. `cma_alloc` then takes a run of pages from the area's bitmap and empties it with
 * `alloc_contig_range`, migrating what sits there with MIGRATE_SYNC and MR_CONTIG_RANGE.
 */

/** `struct cma` (mm/cma.h, 6.3), with `order_per_bit` 0: one bitmap bit per page. */
export class Cma {
  readonly name: string;
  /** `cma->base_pfn`. */
  readonly base_pfn: number;
  /** `cma->count`: pages in the area. */
  readonly count: number;
  /** `cma->bitmap`: 1 for a page handed out (or being allocated). */
  readonly bitmap: Uint8Array;
  /** Pages of successful and failed allocations (`/sys/kernel/mm/cma/<name>/alloc_pages_*`). */
  allocPagesSuccess = 0;
  allocPagesFail = 0;

  constructor(name: string, basePfn: number, count: number) {
    this.name = name;
    this.base_pfn = basePfn;
    this.count = count;
    this.bitmap = new Uint8Array(count);
  }

  /** Pages of the area handed out now. */
  get used(): number {
    let n = 0;
    for (const b of this.bitmap) n += b;
    return n;
  }
}

const areas = new WeakMap<Kernel, readonly Cma[]>();
const cmaMutexes = new WeakMap<Kernel, Mutex>();

/**
 * The CMA areas of the machine (`cma_areas[]`), from its configuration, in order. Each
 * area registers itself as a reference holder: a page its bitmap hands out is the
 * caller's, one reference (what the `frames-conserved` invariant counts).
 */
export function cmaAreas(k: Kernel): readonly Cma[] {
  let list = areas.get(k);
  if (list === undefined) {
    const made = k.config.cma.map((a) => new Cma(a.name, a.base, a.pages));
    for (const cma of made) {
      k.addReferenceHolder({
        name: `cma ${cma.name}`,
        refs: (folio) => {
          const bit = folio - cma.base_pfn;
          return bit >= 0 && bit < cma.count && cma.bitmap[bit] === 1 ? 1 : 0;
        },
      });
    }
    list = Object.freeze(made);
    areas.set(k, list);
  }
  return list;
}

/** The CMA area called `name` (default: the first); throws INVALID_ARGUMENT when none. */
export function cmaArea(k: Kernel, name?: string): Cma {
  const list = cmaAreas(k);
  const found = name === undefined ? list[0] : list.find((a) => a.name === name);
  if (found === undefined) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      name === undefined
        ? 'the machine has no CMA area: declare one in the configuration ({ cma: [{ base, pages }] })'
        : `no CMA area called '${name}' (the machine has: ${list.map((a) => a.name).join(', ') || 'none'})`,
    );
  }
  return found;
}

/** `cma_mutex` (mm/cma.c, 6.3): one `alloc_contig_range` of CMA at a time. */
function cmaMutex(k: Kernel): Mutex {
  let m = cmaMutexes.get(k);
  if (m === undefined) {
    m = new Mutex(k.rt, 'cma_mutex');
    cmaMutexes.set(k, m);
  }
  return m;
}

/** What the last `__alloc_contig_migrate_range` of a caller did (for tests and reports). */
export interface ContigMigrateStats {
  /** Rounds of isolate + migrate. */
  rounds: number;
  /** Pages `migrate_pages` moved (`total_migrated`). */
  migrated: number;
  /** Pages mapped when they were handed to `migrate_pages` (`total_mapped`). */
  mapped: number;
  /** The result: 0, -EBUSY after 5 tries, -EINTR, -ENOMEM... */
  ret: number;
}

/**
 * `__alloc_contig_migrate_range(cc, start, end)` (mm/page_alloc.c, 6.3), compaction's loop
 * on a fixed range: with LRU caching off, isolate up to COMPACT_CLUSTER_MAX pages with
 * `isolate_migratepages_range` (the alloc_contig path, ISOLATE_UNEVICTABLE) and migrate
 * them with `migrate_pages(..., alloc_migration_target, { nid: the zone's node },
 * MIGRATE_SYNC, MR_CONTIG_RANGE)`; what failed stays on the list and is tried again, and
 * the fifth try without progress gives -EBUSY. -ENOMEM from `migrate_pages` stops at once;
 * a fatal signal gives -EINTR. On an error the list is put back. `reclaim_clean_pages_from_list`
 * is not modelled (no page-cache reclaim): clean file pages are migrated like the others.
 * With the variant setting `allocContigRangeInfo` (6.9+) it fires
 * `mm_alloc_contig_migrate_range_info` at the end.
 */
export function* allocContigMigrateRange(
  k: Kernel,
  cc: CompactControl,
  start: number,
  end: number,
  migratetype: number,
  stats: ContigMigrateStats = { rounds: 0, migrated: 0, mapped: 0, ret: 0 },
): KernelGen<number> {
  const mtc: MigrationTargetControl = { nid: cc.zone.nid };
  const info = k.variant.allocContigRangeInfo;
  let pfn = start;
  let tries = 0;
  let ret = 0;
  yield* k.lru.lruCacheDisable();
  const task = k.rt.current;
  while (pfn < end || cc.migratepages.size > 0) {
    if (fatalSignalPending(k.rt, task)) {
      ret = -EINTR;
      break;
    }
    if (cc.migratepages.size === 0) {
      cc.nr_migratepages = 0;
      ret = yield* isolateMigratepagesRange(k, cc, pfn, end);
      if (ret !== 0 && ret !== -EAGAIN) break;
      pfn = cc.migrate_pfn;
      tries = 0;
    } else if (++tries === 5) {
      ret = -EBUSY;
      break;
    }
    stats.rounds++;
    if (info) for (const f of cc.migratepages) if (folioMapped(k.mem, f)) stats.mapped++;
    const result = yield* k.migrate.migratePages(
      cc.migratepages,
      k.migrate.allocMigrationTarget,
      null,
      mtc,
      cc.mode,
      MR_CONTIG_RANGE,
    );
    ret = result.rc;
    stats.migrated += result.stats.nrSucceeded;
    cc.nr_migratepages = cc.migratepages.size;
    if (ret === -ENOMEM) break;
  }
  k.lru.lruCacheEnable();
  if (info) {
    const tp = cmaTracepoints(k.rt).contigInfo;
    if (tp.enabled) {
      tp.emit({
        start,
        end,
        migratetype,
        nr_migrated: stats.migrated,
        nr_reclaimed: 0,
        nr_mapped: stats.mapped,
      });
    }
  }
  if (ret < 0) {
    if (cc.migratepages.size > 0) yield* k.migrate.putbackMovablePages(cc.migratepages);
    stats.ret = ret;
    return ret;
  }
  stats.ret = 0;
  return 0;
}

/**
 * `alloc_contig_range(start, end, migratetype, gfp_mask)` (mm/page_alloc.c, Linux 6.3):
 * isolate the pageblocks of the range (`start_isolate_page_range`; -EBUSY if one holds an
 * unmovable page), migrate what is in use out of it (`__alloc_contig_migrate_range` with a
 * whole-zone MIGRATE_SYNC `compact_control` that ignores and sets no skip hints; its
 * -EBUSY is not final), check that the range, from the free block holding `start`
 * (`outer_start`), is all free (`test_pages_isolated`, -EBUSY if not), take its pages
 * (`isolate_freepages_range`) and give back what lies outside [start, end). The
 * pageblocks are un-isolated in every case. On success each page of [start, end) is an
 * order-0 page with one reference, the caller's. Returns 0 or a negative errno.
 */
export function* allocContigRange(
  k: Kernel,
  start: number,
  end: number,
  migratetype: number,
  stats?: ContigMigrateStats,
): KernelGen<number> {
  const mem = k.mem;
  if (
    !(
      Number.isInteger(start) &&
      Number.isInteger(end) &&
      start >= 0 &&
      start < end &&
      end <= mem.maxPfn
    )
  ) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `alloc_contig_range: [${String(start)}, ${String(end)}) is not a pfn range of this machine`,
    );
  }
  const nid = pfnToNid(mem, start);
  if (pfnToNid(mem, end - 1) !== nid) return -EINVAL;
  const cc = new CompactControl(k, {
    order: -1,
    mode: MIGRATE_SYNC,
    nid,
    zone: pageZonenum(mem, start), // cc.zone = page_zone(pfn_to_page(start))
    ignore_skip_hint: true,
    alloc_contig: true,
  });
  let ret = startIsolatePageRange(mem, start, end, migratetype, 0);
  if (ret === 0) {
    ret = yield* allocContigMigrateRange(k, cc, start, end, migratetype, stats);
    if (ret === 0 || ret === -EBUSY) ret = yield* takeIsolatedRange(k, start, end);
  }
  undoIsolatePageRange(mem, start, end, migratetype);
  return ret;
}

/** The part of `alloc_contig_range` after the migration: test, take, trim. */
function* takeIsolatedRange(k: Kernel, start: number, end: number): KernelGen<number> {
  const mem = k.mem;
  const outerStart = allocContigOuterStart(mem, start);
  if (testPagesIsolated(k, outerStart, end, 0) !== 0) return -EBUSY;
  const outerEnd = isolateFreepagesRange(mem, outerStart, end);
  if (outerEnd === 0) return -EBUSY;
  if (start !== outerStart) freeContigRange(mem, outerStart, start - outerStart);
  if (end !== outerEnd) freeContigRange(mem, end, outerEnd - end);
  yield* [];
  return 0;
}

/**
 * `bitmap_find_next_zero_area_off(map, size, start, nr, align_mask, align_offset)`: the
 * first index at or after `from` where `nr` bits are clear and `index + offset` is a
 * multiple of `mask + 1`; `size` or more when there is none.
 */
function findZeroArea(
  map: Uint8Array,
  from: number,
  nr: number,
  mask: number,
  offset: number,
): number {
  const size = map.length;
  let index = ((from + offset + mask) & ~mask) - offset;
  while (index + nr <= size) {
    let clear = true;
    for (let i = index; i < index + nr; i++) {
      if (map[i] !== 0) {
        clear = false;
        index = ((i + 1 + offset + mask) & ~mask) - offset;
        break;
      }
    }
    if (clear) return index;
  }
  return size;
}

/** Options of `cmaAlloc`. */
export interface CmaAllocOptions {
  /** `align`: the run starts at a multiple of 2^align pages (default 0). */
  readonly align?: number;
  /** `no_warn` (default false); the model prints nothing either way. */
  readonly noWarn?: boolean;
  /** Statistics of the last `__alloc_contig_migrate_range`. */
  readonly stats?: ContigMigrateStats;
}

/**
 * `cma_alloc(cma, count, align, no_warn)` (mm/cma.c, Linux 6.3). Looks for `count` clear
 * bits in the area's bitmap at the alignment asked, marks them under `cma->lock`, and
 * calls `alloc_contig_range(pfn, pfn + count, MIGRATE_CMA, GFP_KERNEL)` under `cma_mutex`.
 * On -EBUSY the bits are cleared, `cma_alloc_busy_retry` fires and the search goes on past
 * that run (start = bitmap_no + mask + 1); any other error stops it. Returns the first pfn
 * of the run (its pages are order-0 pages with one reference each), or a negative errno
 * where the kernel returns NULL: -ENOMEM when no run fits, else the error of the last
 * `alloc_contig_range` (-EBUSY when every run tried was busy); -EINVAL for `count` 0.
 * Fires `cma_alloc_start` and `cma_alloc_finish`, and counts `cma_alloc_success` or
 * `cma_alloc_fail` (vm events since 5.12) and the area's `alloc_pages_success` /
 * `alloc_pages_fail`.
 */
export function* cmaAlloc(
  k: Kernel,
  cma: Cma,
  count: number,
  options: CmaAllocOptions = {},
): KernelGen<number> {
  const align = options.align ?? 0;
  if (!Number.isInteger(count) || count < 0) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `cma_alloc: count must be an integer >= 0, got ${String(count)}`,
    );
  }
  if (!Number.isInteger(align) || align < 0 || align > 10) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `cma_alloc: align must be an order in [0, 10], got ${String(align)}`,
    );
  }
  if (count === 0) return -EINVAL;
  const tps = cmaTracepoints(k.rt);
  if (tps.allocStart.enabled) tps.allocStart.emit({ name: cma.name, count, align });
  const mask = (1 << align) - 1;
  const offset = ((cma.base_pfn + mask) & ~mask) - cma.base_pfn;
  let start = 0;
  let pfn = -1;
  let page = -1;
  let ret = -ENOMEM;
  if (count <= cma.count) {
    for (;;) {
      const bitmapNo = findZeroArea(cma.bitmap, start, count, mask, offset);
      if (bitmapNo + count > cma.count) break;
      cma.bitmap.fill(1, bitmapNo, bitmapNo + count);
      pfn = cma.base_pfn + bitmapNo;
      const mutex = cmaMutex(k);
      yield* mutex.lock('cma_alloc');
      try {
        ret = yield* allocContigRange(k, pfn, pfn + count, MIGRATE_CMA, options.stats);
      } finally {
        mutex.unlock();
      }
      if (ret === 0) {
        page = pfn;
        break;
      }
      cma.bitmap.fill(0, bitmapNo, bitmapNo + count); // cma_clear_bitmap
      if (ret !== -EBUSY) break;
      if (tps.busyRetry.enabled)
        tps.busyRetry.emit({ name: cma.name, pfn, page: pfn, count, align });
      start = bitmapNo + mask + 1;
    }
  }
  if (tps.allocFinish.enabled) {
    tps.allocFinish.emit({ name: cma.name, pfn, page, count, align });
  }
  if (page >= 0) {
    k.vmstat.countVmEvents(VmEvent.CMA_ALLOC_SUCCESS);
    cma.allocPagesSuccess += count;
    return page;
  }
  k.vmstat.countVmEvents(VmEvent.CMA_ALLOC_FAIL);
  cma.allocPagesFail += count;
  return ret;
}

/**
 * `cma_release(cma, pages, count)` (mm/cma.c, 6.3): gives back `count` pages from `pfn`
 * that `cmaAlloc` handed out (`free_contig_range`, then the bitmap bits cleared) and fires
 * `cma_release`. Returns false, changing nothing, when the pages are not inside the area.
 */
export function cmaRelease(k: Kernel, cma: Cma, pfn: number, count: number): boolean {
  if (
    !Number.isInteger(pfn) ||
    !Number.isInteger(count) ||
    count < 0 ||
    pfn < cma.base_pfn ||
    pfn + count > cma.base_pfn + cma.count
  ) {
    return false;
  }
  const bit = pfn - cma.base_pfn;
  for (let i = bit; i < bit + count; i++) {
    if (cma.bitmap[i] !== 1) {
      throw new MmsimError(
        'CONTRACT_VIOLATION',
        `cma_release: pfn ${cma.base_pfn + i} of area '${cma.name}' was not allocated (released twice?)`,
      );
    }
  }
  freeContigRange(k.mem, pfn, count);
  cma.bitmap.fill(0, bit, bit + count);
  const tp = cmaTracepoints(k.rt).release;
  if (tp.enabled) tp.emit({ name: cma.name, pfn, page: pfn, count });
  return true;
}
