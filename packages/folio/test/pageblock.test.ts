import { MmsimError } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  allocPfn,
  buddyOrderAt,
  checkPhysicalMemory,
  createPhysicalMemory,
  folioAlloc,
  folioPut,
  folioRefCount,
  getPageblockMigratetype,
  getPageblockSkip,
  isolateFreeBlock,
  MIGRATE_MOVABLE,
  MIGRATE_UNMOVABLE,
  nodeFreePages,
  nodeNrFree,
  PAGEBLOCK_NR_PAGES,
  pageblockEndPfn,
  pageblockStartPfn,
  pfnFolio,
  resetPageblockSkip,
  setAllocFailureHook,
  setPageblockMigratetype,
  setPageblockSkip,
} from '../src/index.js';

const mem = () => createPhysicalMemory({ nodes: [{ pages: 2048 }] });

describe('pageblocks (include/linux/pageblock-flags.h, 6.3)', () => {
  it('are 512 pages, MIGRATE_MOVABLE at boot, with a skip bit per block', () => {
    const m = mem();
    expect(PAGEBLOCK_NR_PAGES).toBe(512);
    expect(pageblockStartPfn(700)).toBe(512);
    expect(pageblockEndPfn(700)).toBe(1024);
    expect(getPageblockMigratetype(m, 1000)).toBe(MIGRATE_MOVABLE);
    setPageblockMigratetype(m, 600, MIGRATE_UNMOVABLE);
    expect(getPageblockMigratetype(m, 1023)).toBe(MIGRATE_UNMOVABLE);
    expect(getPageblockMigratetype(m, 1024)).toBe(MIGRATE_MOVABLE);
    expect(getPageblockSkip(m, 1500)).toBe(false);
    setPageblockSkip(m, 1500);
    setPageblockSkip(m, 10);
    expect(getPageblockSkip(m, 1024)).toBe(true);
    resetPageblockSkip(m, 1024, 2048);
    expect(getPageblockSkip(m, 1500)).toBe(false);
    expect(getPageblockSkip(m, 0)).toBe(true);
    expect(() => setPageblockMigratetype(m, 0, 9)).toThrow(MmsimError);
    expect(() => getPageblockSkip(m, 1 << 20)).toThrow(MmsimError);
  });
});

describe('the buddy for compaction', () => {
  it('isolateFreeBlock takes a free block off the buddy as order-0 pages (__isolate_free_page + split_map_pages)', () => {
    const m = mem();
    const free = nodeFreePages(m, 0);
    expect(buddyOrderAt(m, 1024)).toBe(10);
    expect(isolateFreeBlock(m, 1025)).toBe(0); // not the first frame of a free block
    expect(isolateFreeBlock(m, 1024)).toBe(1024);
    expect(nodeFreePages(m, 0)).toBe(free - 1024);
    expect(pfnFolio(m, 1500)).toBe(1500);
    expect(folioRefCount(m, 1500)).toBe(1);
    for (let p = 1024; p < 2048; p++) folioPut(m, p);
    expect(nodeFreePages(m, 0)).toBe(free);
    expect(buddyOrderAt(m, 1024)).toBe(10);
    expect(checkPhysicalMemory(m)).toEqual([]);
  });

  it('allocPfn takes exactly that page and gives the rest of its block back in halves', () => {
    const m = mem();
    const free = nodeFreePages(m, 0);
    expect(allocPfn(m, 2047)).toBe(2047);
    expect(nodeFreePages(m, 0)).toBe(free - 1);
    // 1024..2046 free as blocks of order 9, 8, ..., 0
    for (let o = 0; o < 10; o++) expect(nodeNrFree(m, 0, o)).toBeGreaterThanOrEqual(1);
    expect(buddyOrderAt(m, 1024)).toBe(9);
    expect(allocPfn(m, 2047)).toBeLessThan(0); // no longer free
    expect(checkPhysicalMemory(m)).toEqual([]);
    folioPut(m, 2047);
    expect(buddyOrderAt(m, 1024)).toBe(10);
  });

  it('calls the allocation-failure hook for an order > 0 failure only', () => {
    const m = createPhysicalMemory({ nodes: [{ pages: 1024 }] });
    const calls: Array<[number, number]> = [];
    setAllocFailureHook(m, (nid, order) => calls.push([nid, order]));
    const held: number[] = [];
    for (;;) {
      const f = folioAlloc(m, 0, 0);
      if (f < 0) break;
      held.push(f);
    }
    expect(calls).toEqual([]); // the order-0 failure does not call it
    expect(folioAlloc(m, 2, 0, { thisNode: true })).toBeLessThan(0);
    expect(folioAlloc(m, 3, 0)).toBeLessThan(0);
    expect(calls).toEqual([
      [0, 2],
      [0, 3],
    ]);
    setAllocFailureHook(m, null);
    expect(folioAlloc(m, 2, 0)).toBeLessThan(0);
    expect(calls).toHaveLength(2);
  });
});
