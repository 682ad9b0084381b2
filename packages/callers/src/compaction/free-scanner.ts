import {
  buddyOrderAt,
  type Folio,
  folioNrPages,
  folioTestHugetlb,
  folioTestLarge,
  getPageblockMigratetype,
  getPageblockSkip,
  isMigrateMovable,
  isolateFreeBlock,
  PAGEBLOCK_NR_PAGES,
  PAGEBLOCK_ORDER,
  pageblockEndPfn,
  pageblockStartPfn,
  pfnFolio,
  pfnValid,
  putFolioList,
  setPageblockSkip,
} from '@mmsim/folio';
import type { Kernel } from '@mmsim/kernel';
import { MIGRATE_ASYNC } from '@mmsim/migrate';
import { fatalSignalPending, type KernelGen, VmEvent } from '@mmsim/runtime';
import { COMPACT_CLUSTER_MAX, type CompactControl } from './control.js';
import { compactionTracepoints } from './tracepoints.js';

/**
 * `suitable_migration_target(cc, page)` (mm/compaction.c, Linux 6.3): a block that is one
 * free block of pageblock order or more is not a target (compaction would only break it
 * up); otherwise a MIGRATE_MOVABLE or MIGRATE_CMA block, or any block with
 * `ignore_block_suitable`.
 */
export function suitableMigrationTarget(k: Kernel, cc: CompactControl, pfn: number): boolean {
  if (buddyOrderAt(k.mem, pfn) >= PAGEBLOCK_ORDER) return false;
  if (cc.ignore_block_suitable) return true;
  return isMigrateMovable(getPageblockMigratetype(k.mem, pfn));
}

/**
 * `isolate_freepages_block(cc, &start_pfn, end_pfn, freelist, stride, strict)`
 * (mm/compaction.c, Linux 6.3): from `startPfn` to `endPfn` by `stride`, every free buddy
 * block is taken off the buddy (`__isolate_free_page`) and split into order-0 pages onto
 * `cc.freepages`; compound pages are jumped over, anything else passed. Not strict: stops
 * as soon as there are as many free pages as pages to migrate. Strict (CMA): stops at the
 * first pfn that is not free and then counts nothing. Every COMPACT_CLUSTER_MAX pfns,
 * `compact_unlock_should_abort` drops `zone->lock` if taken since: a scheduling point then. Counts
 * `compact_isolated` and `cc.total_free_scanned`, fires `mm_compaction_isolate_freepages`.
 * Returns the pages isolated and where it stopped.
 */
export function* isolateFreepagesBlock(
  k: Kernel,
  cc: CompactControl,
  startPfn: number,
  endPfn: number,
  stride: number,
  strict: boolean,
): KernelGen<{ isolated: number; nextPfn: number }> {
  const mem = k.mem;
  const task = k.rt.current;
  if (strict) stride = 1;
  let nrScanned = 0;
  let totalIsolated = 0;
  let blockPfn = startPfn;
  let locked = false;
  for (; blockPfn < endPfn; blockPfn += stride) {
    if (blockPfn % COMPACT_CLUSTER_MAX === 0) {
      if (fatalSignalPending(k.rt, task)) {
        cc.contended = true;
        break;
      }
      if (locked) {
        locked = false;
        yield; // compact_unlock_should_abort: zone->lock dropped, cond_resched()
      }
    }
    nrScanned++;
    if (!pfnValid(mem, blockPfn)) {
      if (strict) break;
      continue;
    }
    const order = buddyOrderAt(mem, blockPfn);
    if (order < 0) {
      const folio: Folio = pfnFolio(mem, blockPfn);
      if (folio === blockPfn && (folioTestLarge(mem, folio) || folioTestHugetlb(mem, folio))) {
        const nr = folioNrPages(mem, folio);
        blockPfn += nr - 1;
        nrScanned += nr - 1;
      }
      if (strict) break;
      continue;
    }
    locked = true; // zone->lock taken for the first free page found
    // __isolate_free_page, split_map_pages, then list_add_tail of each page in pfn order.
    const isolated = isolateFreeBlock(mem, blockPfn, cc.freepages);
    if (isolated === 0) break;
    nrScanned += isolated - 1;
    totalIsolated += isolated;
    cc.nr_freepages += isolated;
    if (!strict && cc.nr_migratepages <= cc.nr_freepages) {
      blockPfn += isolated;
      break;
    }
    blockPfn += isolated - 1;
  }
  if (blockPfn > endPfn) blockPfn = endPfn;
  const tp = compactionTracepoints(k.rt).isolateFreepages;
  if (tp.enabled) {
    tp.emit({
      start_pfn: startPfn,
      end_pfn: blockPfn,
      nr_scanned: nrScanned,
      nr_taken: totalIsolated,
    });
  }
  if (strict && blockPfn < endPfn) totalIsolated = 0;
  cc.total_free_scanned += nrScanned;
  if (totalIsolated > 0) k.vmstat.countVmEvents(VmEvent.COMPACT_ISOLATED, totalIsolated);
  return { isolated: totalIsolated, nextPfn: blockPfn };
}

/**
 * `isolate_freepages(cc)` (mm/compaction.c, Linux 6.3), without `fast_isolate_freepages`:
 * the free scanner, from `cc.free_pfn` down, pageblock by pageblock, to the block after
 * the migration scanner's; suitable blocks (`suitable_migration_target`, skip bit clear
 * unless `ignore_skip_hint`) go through `isolateFreepagesBlock` with a stride of
 * COMPACT_CLUSTER_MAX in MIGRATE_ASYNC (1 once a block gave pages, doubling while blocks
 * give none), 1 otherwise. A block scanned to its end gets its skip bit. Records in
 * `cc.free_pfn` where to go on.
 */
export function* isolateFreepages(k: Kernel, cc: CompactControl): KernelGen {
  const mem = k.mem;
  let isolateStartPfn = cc.free_pfn;
  let blockStartPfn = pageblockStartPfn(isolateStartPfn);
  let blockEndPfn = Math.min(blockStartPfn + PAGEBLOCK_NR_PAGES, cc.zone.endPfn);
  const lowPfn = pageblockEndPfn(cc.migrate_pfn);
  let stride = cc.mode === MIGRATE_ASYNC ? COMPACT_CLUSTER_MAX : 1;
  for (
    ;
    blockStartPfn >= lowPfn;
    blockEndPfn = blockStartPfn,
      blockStartPfn -= PAGEBLOCK_NR_PAGES,
      isolateStartPfn = blockStartPfn
  ) {
    if (blockStartPfn % (COMPACT_CLUSTER_MAX * PAGEBLOCK_NR_PAGES) === 0) yield; // cond_resched()
    if (!pfnValid(mem, blockStartPfn)) continue;
    if (!suitableMigrationTarget(k, cc, blockStartPfn)) continue;
    if (!cc.ignore_skip_hint && getPageblockSkip(mem, blockStartPfn)) continue;
    const { isolated, nextPfn } = yield* isolateFreepagesBlock(
      k,
      cc,
      isolateStartPfn,
      blockEndPfn,
      stride,
      false,
    );
    isolateStartPfn = nextPfn;
    if (isolateStartPfn === blockEndPfn && !cc.no_set_skip_hint) {
      // update_pageblock_skip
      setPageblockSkip(mem, blockStartPfn);
      if (blockStartPfn < cc.zone.cachedFreePfn) cc.zone.cachedFreePfn = blockStartPfn;
    }
    if (cc.nr_freepages >= cc.nr_migratepages) {
      if (isolateStartPfn >= blockEndPfn) isolateStartPfn = blockStartPfn - PAGEBLOCK_NR_PAGES;
      break;
    }
    if (isolateStartPfn < blockEndPfn) break;
    if (isolated > 0) {
      stride = 1;
      continue;
    }
    stride = Math.min(COMPACT_CLUSTER_MAX, stride << 1);
  }
  cc.free_pfn = isolateStartPfn;
}

/**
 * `compaction_alloc(src, data)` (mm/compaction.c, Linux 6.3): the `get_new_page` of
 * compaction's `migrate_pages()`, with `cc` as its private data: the first page of
 * `cc.freepages`; when that is empty the free scanner (`isolate_freepages`) runs first,
 * here without scheduling points (the callback does not yield in the model); null when
 * it found nothing (the batch then sees -ENOMEM). A large src gets none: 6.3's free
 * scanner keeps order-0 pages only (6.9's per-order free lists are not modelled; see
 * docs/model-vs-kernel.md).
 */
export function compactionAlloc(src: Folio, cc: CompactControl): Folio | null {
  const k = cc.k;
  if (folioTestLarge(k.mem, src) || folioTestHugetlb(k.mem, src)) return null;
  if (cc.freepages.isEmpty()) {
    const refill = isolateFreepages(k, cc);
    while (refill.next().done !== true) {
      // the scanner's cond_resched() points are not scheduling points here
    }
    if (cc.freepages.isEmpty()) return null;
  }
  const dst = cc.freepages.first();
  cc.freepages.del(dst);
  cc.nr_freepages--;
  return dst;
}

/** `compaction_free(dst, data)` (mm/compaction.c, 6.3): an unused target back on `cc.freepages`. */
export function compactionFree(dst: Folio, cc: CompactControl): void {
  cc.freepages.add(dst);
  cc.nr_freepages++;
}

/**
 * `release_freepages(&cc->freepages)` (mm/compaction.c, 6.3): gives the unused free pages
 * back to the buddy (`__free_page` each, in list order: `putFolioList`); returns the highest
 * pfn released (0 for none), where the free scanner is cached to restart.
 */
export function releaseFreepages(k: Kernel, cc: CompactControl): number {
  const high = putFolioList(k.mem, cc.freepages);
  cc.nr_freepages = 0;
  return Math.max(high, 0);
}
