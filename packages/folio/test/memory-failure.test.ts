import { describe, expect, test } from 'vitest';
import {
  createPhysicalMemory,
  dissolveFreeHugeFolio,
  folioAlloc,
  folioPut,
  folioRefCount,
  HPAGE_PMD_NR,
  hugetlbNodeCounters,
  isFreeBuddyPage,
  nodeFreePages,
  numPoisonedPages,
  numPoisonedPagesInc,
  PG_hwpoison,
  pageSetFlag,
  pageTestFlag,
  pfnFolio,
  takePageOffBuddy,
} from '../src/index.js';
import { expectSound } from './helpers.js';

/** The frame side of memory failure (mm/memory-failure.c, mm/page_alloc.c, 6.3). */

/** Allocates every free order-0 page of node 0 and returns their pfns. */
function drain(mem: ReturnType<typeof createPhysicalMemory>): Set<number> {
  const out = new Set<number>();
  for (;;) {
    const f = folioAlloc(mem, 0, 0, { thisNode: true });
    if (f < 0) return out;
    out.add(f);
  }
}

describe('memory failure frames', () => {
  test('take_page_off_buddy takes one page out of a free block and gives the rest back', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 1024 }] });
    const free = nodeFreePages(mem, 0);
    const pfn = 300;
    expect(isFreeBuddyPage(mem, pfn)).toBe(true);
    expect(takePageOffBuddy(mem, pfn)).toBe(true);
    expect(isFreeBuddyPage(mem, pfn)).toBe(false);
    expect(nodeFreePages(mem, 0)).toBe(free - 1);
    expect(pfnFolio(mem, pfn)).toBe(pfn);
    expect(folioRefCount(mem, pfn)).toBe(1);
    expectSound(mem);
    // Every other page can still be allocated, this one never.
    const got = drain(mem);
    expect(got.size).toBe(free - 1);
    expect(got.has(pfn)).toBe(false);
  });

  test('take_page_off_buddy refuses a page in use', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 64 }] });
    const f = folioAlloc(mem, 0, 0) as number;
    expect(takePageOffBuddy(mem, f)).toBe(false);
    expect(folioRefCount(mem, f)).toBe(1);
  });

  test('a poisoned page whose last reference is put stays out of the buddy; an unpoisoned one goes back', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 64 }] });
    const a = folioAlloc(mem, 0, 0) as number;
    const b = folioAlloc(mem, 0, 0) as number;
    const free = nodeFreePages(mem, 0);
    pageSetFlag(mem, a, PG_hwpoison);
    folioPut(mem, a);
    expect(nodeFreePages(mem, 0)).toBe(free);
    expect(pfnFolio(mem, a)).toBe(a);
    expect(folioRefCount(mem, a)).toBe(1);
    expect(pageTestFlag(mem, a, PG_hwpoison)).toBe(true);
    folioPut(mem, b);
    expect(nodeFreePages(mem, 0)).toBe(free + 1);
    expect(drain(mem).has(a)).toBe(false);
  });

  test('dissolve_free_huge_page gives a pool folio back to the buddy; a pfn outside the pools is left alone', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 4096, hugetlbPages: 2 }] });
    const before = hugetlbNodeCounters(mem, 0);
    const free = nodeFreePages(mem, 0);
    expect(dissolveFreeHugeFolio(mem, 100)).toBe(0);
    expect(nodeFreePages(mem, 0)).toBe(free);
    // Find a pooled frame: the pools are filled from the top of the buddy's free lists.
    let pooled = -1;
    for (let pfn = 0; pfn < 4096 && pooled < 0; pfn++) {
      if (pfnFolio(mem, pfn) < 0 && !isFreeBuddyPage(mem, pfn) && pfn !== 0) pooled = pfn;
    }
    expect(pooled).toBeGreaterThan(0);
    expect(dissolveFreeHugeFolio(mem, pooled + 5)).toBe(0);
    expect(hugetlbNodeCounters(mem, 0)).toEqual({
      ...before,
      nr_hugepages: before.nr_hugepages - 1,
      free_hugepages: before.free_hugepages - 1,
    });
    expect(nodeFreePages(mem, 0)).toBe(free + HPAGE_PMD_NR);
    expect(takePageOffBuddy(mem, pooled + 5)).toBe(true);
    expectSound(mem);
  });

  test('num_poisoned_pages counts per memory', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 64 }] });
    const other = createPhysicalMemory({ nodes: [{ pages: 64 }] });
    numPoisonedPagesInc(mem);
    numPoisonedPagesInc(mem);
    expect(numPoisonedPages(mem)).toBe(2);
    expect(numPoisonedPages(other)).toBe(0);
  });
});
