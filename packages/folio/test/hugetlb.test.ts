import { ENOMEM } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import {
  allocHugetlbFolio,
  allocHugetlbFolioNodemask,
  allocMigrateHugetlbFolio,
  allocSurplusHugetlbFolio,
  checkPhysicalMemory,
  createPhysicalMemory,
  folioAlloc,
  folioFlags,
  folioNid,
  folioOrder,
  folioPut,
  folioRefCount,
  folioTestHugetlb,
  folioTestHugetlbTemporary,
  formatFlags,
  hugetlbBuddyAllocEvents,
  hugetlbFreeHugePages,
  hugetlbMeminfo,
  hugetlbMoveTemporaryState,
  hugetlbNodeCounters,
  hugetlbNrHugePages,
  hugetlbNrOvercommitHugePages,
  hugetlbSetNrOvercommitHugePages,
  hugetlbSurplusHugePages,
  nodeFreePages,
  pageContent,
  setPageContent,
} from '../src/index.js';
import { hugetlbFreeList } from '../src/internal.js';
import { memmapOf } from '../src/memmap.js';
import { expectMisuse, expectSound } from './helpers.js';

describe('hugetlb pools', () => {
  function machine() {
    return createPhysicalMemory({
      nodes: [{ pages: 2048, hugetlbPages: 2 }, { pages: 1024 }, { pages: 2048, hugetlbPages: 1 }],
    });
  }

  test('allocation takes the head of the node pool and frees back to it', () => {
    const mem = machine();
    const buddyFree = [0, 1, 2].map((n) => nodeFreePages(mem, n));
    const pool = hugetlbFreeList(mem, 0);
    expect(pool.length).toBe(2);
    const h = allocHugetlbFolio(mem, 0, { thisNode: true });
    expect(h).toBe(pool[0]);
    expect(folioTestHugetlb(mem, h)).toBe(true);
    expect(folioOrder(mem, h)).toBe(9);
    expect(folioRefCount(mem, h)).toBe(1);
    expect(formatFlags(folioFlags(mem, h))).toBe('head');
    expect(hugetlbNrHugePages(mem, 0)).toBe(2);
    expect(hugetlbFreeHugePages(mem, 0)).toBe(1);
    setPageContent(mem, h + 300, 7);
    folioPut(mem, h);
    expect(hugetlbFreeHugePages(mem, 0)).toBe(2);
    expect(hugetlbFreeList(mem, 0)).toEqual(pool);
    expect([0, 1, 2].map((n) => nodeFreePages(mem, n))).toEqual(buddyFree);
    // Reallocated: clean content.
    const again = allocHugetlbFolio(mem, 0);
    expect(again).toBe(h);
    expect(pageContent(mem, h + 300)).toBe(0);
    expectSound(mem);
  });

  test('exhaustion, thisNode and fallback by distance', () => {
    const mem = machine();
    expect(allocHugetlbFolio(mem, 1, { thisNode: true })).toBe(-ENOMEM);
    // Node 1 has no pool: nodes 0 and 2 are both at distance 1, node 0 first.
    const a = allocHugetlbFolio(mem, 1);
    const b = allocHugetlbFolio(mem, 1);
    const c = allocHugetlbFolio(mem, 1);
    expect([a, b, c].map((f) => folioNid(mem, f))).toEqual([0, 0, 2]);
    expect(allocHugetlbFolio(mem, 1)).toBe(-ENOMEM);
    expect(allocHugetlbFolio(mem, 2)).toBe(-ENOMEM);
    // An ordinary allocation is not served from a pool.
    expect(folioTestHugetlb(mem, folioAlloc(mem, 9, 2))).toBe(false);
    // Freed folios return to the pool of the node they belong to.
    folioPut(mem, c);
    expect(hugetlbFreeHugePages(mem, 2)).toBe(1);
    expect(hugetlbFreeHugePages(mem, 0)).toBe(0);
    folioPut(mem, a);
    expect(hugetlbFreeHugePages(mem, 0)).toBe(1);
    expectSound(mem);
  });

  test('misuse', () => {
    const mem = machine();
    expectMisuse(mem, () => allocHugetlbFolio(mem, 3), 'INVALID_ARGUMENT', /nid must be/);
    expectMisuse(mem, () => hugetlbNrHugePages(mem, -1), 'INVALID_ARGUMENT');
    const pooled = hugetlbFreeList(mem, 0)[0]!;
    expectMisuse(mem, () => folioTestHugetlb(mem, pooled), 'USE_AFTER_FREE', /hugetlb pool/);
    expectMisuse(mem, () => folioPut(mem, pooled + 5), 'DOUBLE_FREE');
  });
});

describe('temporary and surplus huge pages (mm/hugetlb.c, 6.3)', () => {
  function machine() {
    return createPhysicalMemory({
      nodes: [{ pages: 2048, hugetlbPages: 1 }, { pages: 2048 }, { pages: 256 }],
    });
  }
  const counters = (mem: ReturnType<typeof machine>, nid: number) => {
    const c = hugetlbNodeCounters(mem, nid);
    return [c.nr_hugepages, c.free_hugepages, c.surplus_hugepages];
  };

  test('alloc_migrate_hugetlb_folio: a temporary page from the buddy, back to the buddy when freed', () => {
    const mem = machine();
    const buddy1 = nodeFreePages(mem, 1);
    // vm.nr_overcommit_hugepages is 0: a temporary page does not care.
    expect(hugetlbNrOvercommitHugePages(mem)).toBe(0);
    const t = allocMigrateHugetlbFolio(mem, 1, { thisNode: true });
    expect(t).toBeGreaterThanOrEqual(0);
    expect(folioNid(mem, t)).toBe(1);
    expect(folioTestHugetlb(mem, t)).toBe(true);
    expect(folioTestHugetlbTemporary(mem, t)).toBe(true);
    expect(folioRefCount(mem, t)).toBe(1);
    expect(nodeFreePages(mem, 1)).toBe(buddy1 - 512);
    // Counted in nr_hugepages, not as free or surplus.
    expect(counters(mem, 1)).toEqual([1, 0, 0]);
    expect(hugetlbMeminfo(mem)).toEqual({
      HugePages_Total: 2,
      HugePages_Free: 1,
      HugePages_Rsvd: 0,
      HugePages_Surp: 0,
    });
    expectSound(mem);
    folioPut(mem, t);
    expect(counters(mem, 1)).toEqual([0, 0, 0]);
    expect(nodeFreePages(mem, 1)).toBe(buddy1);
    expect(hugetlbBuddyAllocEvents(mem)).toEqual({
      htlb_buddy_alloc_success: 1,
      htlb_buddy_alloc_fail: 0,
    });
    expectSound(mem);
  });

  test('__GFP_THISNODE: no order-9 block on the node is -ENOMEM; without it the buddy falls back', () => {
    const mem = machine();
    expect(allocMigrateHugetlbFolio(mem, 2, { thisNode: true })).toBe(-ENOMEM);
    expect(hugetlbBuddyAllocEvents(mem).htlb_buddy_alloc_fail).toBe(1);
    const t = allocMigrateHugetlbFolio(mem, 2);
    expect(folioNid(mem, t)).toBe(1); // node 1 is the nearest with a block
    expect(counters(mem, 1)).toEqual([1, 0, 0]);
    expect(counters(mem, 2)).toEqual([0, 0, 0]);
    folioPut(mem, t);
    expectSound(mem);
  });

  test('alloc_hugetlb_folio_nodemask: every pool before the buddy; allowAllocFallback limits the buddy only', () => {
    const mem = machine();
    // Node 0's pool page is found by distance before node 2's buddy is tried.
    const p = allocHugetlbFolioNodemask(mem, 2);
    expect(folioNid(mem, p)).toBe(0);
    expect(folioTestHugetlbTemporary(mem, p)).toBe(false);
    // The pools are empty now: the buddy, falling back from node 2 to node 1...
    const t = allocHugetlbFolioNodemask(mem, 2);
    expect(folioNid(mem, t)).toBe(1);
    expect(folioTestHugetlbTemporary(mem, t)).toBe(true);
    // ...unless the fallback is not allowed.
    expect(allocHugetlbFolioNodemask(mem, 2, { allowAllocFallback: false })).toBe(-ENOMEM);
    folioPut(mem, p);
    folioPut(mem, t);
    expect(counters(mem, 0)).toEqual([1, 1, 0]);
    expect(counters(mem, 1)).toEqual([0, 0, 0]);
    expectSound(mem);
  });

  test('alloc_surplus_hugetlb_folio: within nr_overcommit_hugepages; a node with surplus frees to the buddy', () => {
    const mem = machine();
    expect(allocSurplusHugetlbFolio(mem, 1)).toBe(-ENOMEM); // overcommit 0
    expect(hugetlbBuddyAllocEvents(mem).htlb_buddy_alloc_success).toBe(0);
    hugetlbSetNrOvercommitHugePages(mem, 1);
    const s = allocSurplusHugetlbFolio(mem, 0, { thisNode: true });
    expect(counters(mem, 0)).toEqual([2, 1, 1]);
    expect(hugetlbSurplusHugePages(mem, 0)).toBe(1);
    expect(allocSurplusHugetlbFolio(mem, 1)).toBe(-ENOMEM); // the global cap
    expectSound(mem);
    // Whichever page of node 0 is freed first leaves the pool as the surplus one.
    const p = allocHugetlbFolio(mem, 0, { thisNode: true });
    const buddy0 = nodeFreePages(mem, 0);
    folioPut(mem, p);
    expect(counters(mem, 0)).toEqual([1, 0, 0]);
    expect(nodeFreePages(mem, 0)).toBe(buddy0 + 512);
    // The surplus-born page is an ordinary pool page now.
    folioPut(mem, s);
    expect(counters(mem, 0)).toEqual([1, 1, 0]);
    expectSound(mem);
  });

  test('move_hugetlb_state: the temporary mark moves to the source, a surplus count across nodes', () => {
    const mem = machine();
    hugetlbSetNrOvercommitHugePages(mem, 1);
    allocHugetlbFolio(mem, 0, { thisNode: true });
    const src = allocSurplusHugetlbFolio(mem, 0, { thisNode: true });
    const dst = allocMigrateHugetlbFolio(mem, 1, { thisNode: true });
    expect(counters(mem, 0)).toEqual([2, 0, 1]);
    expect(counters(mem, 1)).toEqual([1, 0, 0]);
    hugetlbMoveTemporaryState(mem, src, dst);
    expect(folioTestHugetlbTemporary(mem, src)).toBe(true);
    expect(folioTestHugetlbTemporary(mem, dst)).toBe(false);
    expect(counters(mem, 0)).toEqual([2, 0, 0]);
    expect(counters(mem, 1)).toEqual([1, 0, 1]);
    // The mid-migration state (src temporary, still in use) is a legal one.
    expect(checkPhysicalMemory(mem)).toEqual([]);
    folioPut(mem, src);
    expect(counters(mem, 0)).toEqual([1, 0, 0]);
    // A destination that is not temporary: nothing moves.
    const other = allocMigrateHugetlbFolio(mem, 1, { thisNode: true });
    folioPut(mem, other);
    hugetlbMoveTemporaryState(mem, dst, dst);
    expect(counters(mem, 1)).toEqual([1, 0, 1]);
    expectSound(mem);
  });

  test('the pool check accepts surplus counted over a temporary page (a pool shrink in the kernel)', () => {
    const mem = machine();
    const t = allocMigrateHugetlbFolio(mem, 1, { thisNode: true });
    // set_max_huge_pages -> adjust_pool_surplus counts the temporary page as persistent
    // and may make it surplus: surplus 1 + temporary 1 on a node with nr_hugepages 1.
    memmapOf(mem).surplusHugePages[1] = 1;
    expect(checkPhysicalMemory(mem)).toEqual([]);
    memmapOf(mem).surplusHugePages[1] = 0;
    folioPut(mem, t);
    expectSound(mem);
  });

  test('misuse', () => {
    const mem = machine();
    expectMisuse(mem, () => hugetlbSetNrOvercommitHugePages(mem, -1), 'INVALID_ARGUMENT');
    expectMisuse(mem, () => hugetlbSetNrOvercommitHugePages(mem, 1.5), 'INVALID_ARGUMENT');
    expectMisuse(mem, () => allocMigrateHugetlbFolio(mem, 3), 'INVALID_ARGUMENT', /nid must be/);
    expectMisuse(mem, () => allocSurplusHugetlbFolio(mem, -1), 'INVALID_ARGUMENT');
    expectMisuse(mem, () => hugetlbNodeCounters(mem, 9), 'INVALID_ARGUMENT');
    const pooled = hugetlbFreeList(mem, 0)[0]!;
    expectMisuse(mem, () => folioTestHugetlbTemporary(mem, pooled), 'USE_AFTER_FREE');
  });
});
