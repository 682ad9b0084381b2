import { EBUSY, EINVAL, MmsimError } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  accountFreePages,
  addToFreeList,
  delFromFreeList,
  freeListBase,
  freeSlotOf,
  prepNewFolio,
} from '../src/buddy.js';
import {
  allocContigOuterStart,
  allocPfn,
  checkPhysicalMemory,
  createPhysicalMemory,
  declareCmaArea,
  folioAlloc,
  folioClearFlag,
  folioPut,
  folioSetFlag,
  freeContigRange,
  getPageblockMigratetype,
  hasUnmovablePages,
  isolateFreepagesRange,
  MEMORY_OFFLINE,
  MIGRATE_CMA,
  MIGRATE_ISOLATE,
  MIGRATE_MOVABLE,
  nodeFreeCmaPages,
  nodeFreeIsolatedPages,
  nodeFreePages,
  nodeOfflinePages,
  offlineIsolatedPages,
  onlinePages,
  PAGEBLOCK_NR_PAGES,
  PG_lru,
  PG_reserved,
  pfnFolio,
  pfnOffline,
  startIsolatePageRange,
  testPagesIsolatedScan,
  undoIsolatePageRange,
} from '../src/index.js';
import { physicalMemoryLooksSound, reportPhysicalMemory } from '../src/internal.js';
import { FREE_KIND_ISOLATE, FREE_KIND_NORMAL, memmapOf } from '../src/memmap.js';

const PB = PAGEBLOCK_NR_PAGES;
/** One node of 2048 pages: pageblocks [0,512) (zero page), [512,1024), [1024,1536), [1536,2048). */
const mem = () => createPhysicalMemory({ nodes: [{ pages: 2048 }] });

function clean(m: ReturnType<typeof mem>): void {
  expect(checkPhysicalMemory(m)).toEqual([]);
}

describe('pageblock isolation (mm/page_isolation.c, 6.3)', () => {
  it('isolating a free range takes its pages out of the free count and away from the allocator', () => {
    const m = mem();
    const before = nodeFreePages(m, 0);
    expect(startIsolatePageRange(m, PB, 2 * PB, MIGRATE_MOVABLE, 0)).toBe(0);
    expect(getPageblockMigratetype(m, PB)).toBe(MIGRATE_ISOLATE);
    expect(nodeFreePages(m, 0)).toBe(before - PB);
    expect(nodeFreeIsolatedPages(m, 0)).toBe(PB);
    clean(m);
    // Allocate everything that is left: nothing comes from the isolated block.
    for (;;) {
      const f = folioAlloc(m, 0, 0);
      if (f < 0) break;
      expect(f < PB || f >= 2 * PB).toBe(true);
    }
    clean(m);
  });

  it('a page freed inside an isolated block goes back to the isolate lists, not the allocator', () => {
    const m = mem();
    const f = allocPfn(m, PB + 7);
    expect(f).toBe(PB + 7);
    expect(startIsolatePageRange(m, PB, 2 * PB, MIGRATE_MOVABLE, 0)).toBe(-EBUSY); // kernel page
    folioSetFlag(m, PB + 7, PG_lru); // pretend it is on the LRU: movable
    expect(startIsolatePageRange(m, PB, 2 * PB, MIGRATE_MOVABLE, 0)).toBe(0);
    const isolated = nodeFreeIsolatedPages(m, 0);
    // the page leaves the LRU before it is freed
    folioClearFlag(m, PB + 7, PG_lru);
    folioPut(m, PB + 7);
    expect(nodeFreeIsolatedPages(m, 0)).toBe(isolated + 1);
    expect(testPagesIsolatedScan(m, PB, 2 * PB, 0)).toBe(2 * PB);
    clean(m);
  });

  it('refuses a block holding a reserved page, a kernel page or a pinned non-LRU page with -EBUSY', () => {
    const m = mem();
    // pfn 0 is the zero page: PG_reserved.
    expect(hasUnmovablePages(m, 0, PB, MIGRATE_MOVABLE, 0)).toBe(0);
    expect(startIsolatePageRange(m, 0, PB, MIGRATE_MOVABLE, MEMORY_OFFLINE)).toBe(-EBUSY);
    const k = allocPfn(m, 2 * PB + 3) as number;
    expect(hasUnmovablePages(m, 2 * PB, 3 * PB, MIGRATE_MOVABLE, 0)).toBe(k);
    folioSetFlag(m, k, PG_reserved);
    expect(hasUnmovablePages(m, 2 * PB, 3 * PB, MIGRATE_MOVABLE, 0)).toBe(k);
    // A refusal in the last block undoes the blocks already isolated.
    const before = nodeFreePages(m, 0);
    expect(startIsolatePageRange(m, PB, 3 * PB, MIGRATE_MOVABLE, 0)).toBe(-EBUSY);
    expect(getPageblockMigratetype(m, PB)).toBe(MIGRATE_MOVABLE);
    expect(nodeFreePages(m, 0)).toBe(before);
    expect(nodeFreeIsolatedPages(m, 0)).toBe(0);
    clean(m);
  });

  it('accepts LRU pages (they can be migrated) and an already isolated block is -EBUSY', () => {
    const m = mem();
    const f = allocPfn(m, PB + 1) as number;
    folioSetFlag(m, f, PG_lru);
    expect(hasUnmovablePages(m, PB, 2 * PB, MIGRATE_MOVABLE, 0)).toBe(-1);
    expect(startIsolatePageRange(m, PB, 2 * PB, MIGRATE_MOVABLE, 0)).toBe(0);
    expect(startIsolatePageRange(m, PB, 2 * PB, MIGRATE_MOVABLE, 0)).toBe(-EBUSY);
    // test_pages_isolated stops at the page still in use.
    expect(testPagesIsolatedScan(m, PB, 2 * PB, MEMORY_OFFLINE)).toBe(f);
    undoIsolatePageRange(m, PB, 2 * PB, MIGRATE_MOVABLE);
    expect(getPageblockMigratetype(m, PB)).toBe(MIGRATE_MOVABLE);
    expect(nodeFreeIsolatedPages(m, 0)).toBe(0);
    clean(m);
  });

  it('test_pages_isolated fails on a block that is not isolated', () => {
    const m = mem();
    expect(testPagesIsolatedScan(m, PB, 2 * PB, 0)).toBe(PB);
  });

  it('undo merges the free pageblocks back into the largest blocks', () => {
    const m = mem();
    expect(startIsolatePageRange(m, PB, 2 * PB, MIGRATE_MOVABLE, 0)).toBe(0);
    undoIsolatePageRange(m, PB, 2 * PB, MIGRATE_MOVABLE);
    clean(m); // checkPhysicalMemory reports unmerged free buddies
    expect(pfnFolio(m, PB)).toBe(-1);
  });
});

describe('offline and online of isolated pages (mm/memory_hotplug.c, 6.3)', () => {
  it('takes the free pages of an isolated range offline and brings them back', () => {
    const m = mem();
    const free = nodeFreePages(m, 0);
    expect(startIsolatePageRange(m, 2 * PB, 4 * PB, MIGRATE_MOVABLE, MEMORY_OFFLINE)).toBe(0);
    expect(testPagesIsolatedScan(m, 2 * PB, 4 * PB, MEMORY_OFFLINE)).toBe(4 * PB);
    expect(offlineIsolatedPages(m, 2 * PB, 4 * PB)).toBe(2 * PB);
    expect(nodeOfflinePages(m, 0)).toBe(2 * PB);
    expect(nodeFreePages(m, 0)).toBe(free - 2 * PB);
    expect(pfnOffline(m, 3 * PB)).toBe(true);
    expect(() => folioPut(m, 3 * PB)).toThrow(MmsimError);
    clean(m);
    expect(onlinePages(m, PB, PB)).toBe(-EINVAL); // not offline
    expect(onlinePages(m, 2 * PB, 2 * PB)).toBe(0);
    expect(nodeOfflinePages(m, 0)).toBe(0);
    expect(nodeFreePages(m, 0)).toBe(free);
    clean(m);
  });
});

describe('CMA pageblocks (mm/cma.c, mm/page_alloc.c, 6.3)', () => {
  it('unmovable allocations never take CMA pages; movable ones may', () => {
    const m = mem();
    declareCmaArea(m, 2 * PB, 2 * PB);
    expect(getPageblockMigratetype(m, 2 * PB)).toBe(MIGRATE_CMA);
    expect(nodeFreeCmaPages(m, 0)).toBe(2 * PB);
    clean(m);
    for (;;) {
      const f = folioAlloc(m, 0, 0, { movable: false });
      if (f < 0) break;
      expect(f < 2 * PB).toBe(true);
    }
    expect(nodeFreeCmaPages(m, 0)).toBe(2 * PB);
    const f = folioAlloc(m, 0, 0);
    expect(f >= 2 * PB).toBe(true);
    folioPut(m, f as number);
    expect(nodeFreeCmaPages(m, 0)).toBe(2 * PB);
    clean(m);
  });

  it('a movable allocation takes CMA first when CMA holds more than half the free pages', () => {
    const m = mem();
    declareCmaArea(m, PB, 3 * PB);
    const f = folioAlloc(m, 0, 0) as number;
    expect(f >= PB).toBe(true);
  });

  it('refuses a CMA block for a non-CMA isolation, accepts it for CMA', () => {
    const m = mem();
    declareCmaArea(m, 2 * PB, PB);
    expect(hasUnmovablePages(m, 2 * PB, 3 * PB, MIGRATE_MOVABLE, MEMORY_OFFLINE)).toBe(2 * PB);
    expect(startIsolatePageRange(m, 2 * PB, 3 * PB, MIGRATE_CMA, 0)).toBe(0);
    // The range starts inside a free block: alloc_contig_range takes it from outer_start.
    expect(isolateFreepagesRange(m, 2 * PB + 8, 2 * PB + 24)).toBe(0);
    const outer = allocContigOuterStart(m, 2 * PB + 8);
    expect(outer).toBe(2 * PB);
    const end = isolateFreepagesRange(m, outer, 2 * PB + 24);
    expect(end).toBe(3 * PB);
    expect(pfnFolio(m, 2 * PB + 8)).toBe(2 * PB + 8);
    clean(m);
    freeContigRange(m, outer, end - outer);
    undoIsolatePageRange(m, 2 * PB, 3 * PB, MIGRATE_CMA);
    expect(getPageblockMigratetype(m, 2 * PB)).toBe(MIGRATE_CMA);
    clean(m);
  });

  it('rejects a CMA area that is not pageblock-aligned or not free', () => {
    expect(() => declareCmaArea(mem(), 100, PB)).toThrow(/pageblock-aligned/);
    expect(() => declareCmaArea(mem(), 0, PB)).toThrow(/not free/);
  });
});

describe('checkPhysicalMemory: isolation, CMA and offline blocks', () => {
  it('accepts the legal states: an isolated block with a page in use, an offline block, a CMA block in use', () => {
    const m = createPhysicalMemory({ nodes: [{ pages: 4096 }] });
    declareCmaArea(m, 3 * PB, PB);
    const inCma = allocPfn(m, 3 * PB + 3) as number;
    folioSetFlag(m, inCma, PG_lru);
    const used = allocPfn(m, PB + 9) as number;
    folioSetFlag(m, used, PG_lru);
    expect(startIsolatePageRange(m, PB, 2 * PB, MIGRATE_MOVABLE, MEMORY_OFFLINE)).toBe(0);
    expect(startIsolatePageRange(m, 4 * PB, 6 * PB, MIGRATE_MOVABLE, MEMORY_OFFLINE)).toBe(0);
    expect(offlineIsolatedPages(m, 4 * PB, 6 * PB)).toBe(2 * PB);
    clean(m);
  });

  it('reports a free page of an isolated block that an allocation could take', () => {
    const m = mem();
    expect(startIsolatePageRange(m, PB, 2 * PB, MIGRATE_MOVABLE, 0)).toBe(0);
    // Corrupt: put the isolated free block back on the ordinary lists.
    const mm = memmapOf(m);
    delFromFreeList(mm, PB, freeSlotOf(mm, PB));
    accountFreePages(mm, 0, FREE_KIND_ISOLATE, -PB);
    addToFreeList(mm, PB, freeListBase(mm, FREE_KIND_NORMAL, 0) + 9, FREE_KIND_NORMAL, false);
    accountFreePages(mm, 0, FREE_KIND_NORMAL, PB);
    expect(checkPhysicalMemory(m)).toContain(
      'free block 512 (order 9) is on the ordinary lists but pageblock 1 is isolate',
    );
  });

  it('reports a page allocated in a block that was taken offline', () => {
    const m = mem();
    expect(startIsolatePageRange(m, 2 * PB, 3 * PB, MIGRATE_MOVABLE, MEMORY_OFFLINE)).toBe(0);
    offlineIsolatedPages(m, 2 * PB, 3 * PB);
    const mm = memmapOf(m);
    prepNewFolio(mm, 2 * PB + 4, 0, 0); // an allocation the offline block should never see
    mm.nodeOffline[0]! -= 1;
    expect(checkPhysicalMemory(m)).toContain(
      `pfn ${2 * PB + 4} is in use or free in pageblock 2, which was taken offline`,
    );
  });
});

describe('free buddies left unmerged in isolated pageblocks (mm/page_alloc.c, mm/page_isolation.c, 6.3)', () => {
  /** Both checks: the quick verdict and the report. */
  function verdicts(m: ReturnType<typeof mem>): { sound: boolean; report: string[] } {
    return { sound: physicalMemoryLooksSound(memmapOf(m)), report: reportPhysicalMemory(m) };
  }

  it('two neighbouring isolated pageblocks each holding a free order-9 block are legal', () => {
    // [1024, 2048) is one free order-10 block; isolating both of its pageblocks leaves an
    // order-9 block on the isolate list of each: move_freepages_block moves, it never merges.
    const m = mem();
    expect(startIsolatePageRange(m, 2 * PB, 4 * PB, MIGRATE_MOVABLE, 0)).toBe(0);
    const mm = memmapOf(m);
    expect([mm.order[2 * PB], mm.order[3 * PB]]).toEqual([9, 9]);
    expect([mm.freeKind[2 * PB], mm.freeKind[3 * PB]]).toEqual([
      FREE_KIND_ISOLATE,
      FREE_KIND_ISOLATE,
    ]);
    expect(verdicts(m)).toEqual({ sound: true, report: [] });
    expect(checkPhysicalMemory(m, { incremental: true })).toEqual([]);
    // Giving them back merges them again (unset_migratetype_isolate re-frees the block whose
    // buddy is no longer isolated).
    undoIsolatePageRange(m, 2 * PB, 4 * PB, MIGRATE_MOVABLE);
    expect(mm.order[2 * PB]).toBe(10);
    expect(verdicts(m)).toEqual({ sound: true, report: [] });
  });

  it('unmerged buddies below pageblock order are reported even when isolated', () => {
    const m = mem();
    expect(startIsolatePageRange(m, 2 * PB, 3 * PB, MIGRATE_MOVABLE, 0)).toBe(0);
    const mm = memmapOf(m);
    // Split the isolated order-9 block into two order-8 halves by hand, without merging.
    const pfn = 2 * PB;
    const base = freeListBase(mm, FREE_KIND_ISOLATE, 0);
    delFromFreeList(mm, pfn, base + 9);
    mm.order[pfn] = 8;
    mm.state[pfn + 256] = mm.state[pfn]!;
    mm.order[pfn + 256] = 8;
    mm.freeKind[pfn + 256] = FREE_KIND_ISOLATE;
    addToFreeList(mm, pfn, base + 8, FREE_KIND_ISOLATE, false);
    addToFreeList(mm, pfn + 256, base + 8, FREE_KIND_ISOLATE, false);
    const v = verdicts(m);
    expect(v.sound).toBe(false);
    expect(v.report).toContain(`free buddies ${pfn} and ${pfn + 256} of order 8 were not merged`);
  });
});
