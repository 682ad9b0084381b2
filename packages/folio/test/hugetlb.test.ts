import { ENOMEM } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import {
  allocHugetlbFolio,
  createPhysicalMemory,
  folioAlloc,
  folioFlags,
  folioNid,
  folioOrder,
  folioPut,
  folioRefCount,
  folioTestHugetlb,
  formatFlags,
  hugetlbFreeHugePages,
  hugetlbNrHugePages,
  nodeFreePages,
  pageContent,
  setPageContent,
} from '../src/index.js';
import { hugetlbFreeList } from '../src/internal.js';
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
