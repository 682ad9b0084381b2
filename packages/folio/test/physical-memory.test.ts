import { describe, expect, test } from 'vitest';
import {
  createPhysicalMemory,
  folioAlloc,
  folioNid,
  HPAGE_PMD_NR,
  HPAGE_PMD_ORDER,
  isZeroPfn,
  MAX_ORDER,
  MAX_ORDER_NR_PAGES,
  nodeFreePages,
  nodeSpannedPages,
  nodeStartPfn,
  nodeStats,
  type PhysicalMemoryConfig,
  pageContent,
  pfnFolio,
  pfnToNid,
  pfnValid,
  setPageContent,
} from '../src/index.js';
import { expectMisuse, expectSound } from './helpers.js';

describe('createPhysicalMemory', () => {
  test('6.3 constants', () => {
    expect(MAX_ORDER).toBe(11);
    expect(MAX_ORDER_NR_PAGES).toBe(1024);
    expect(HPAGE_PMD_ORDER).toBe(9);
    expect(HPAGE_PMD_NR).toBe(512);
  });

  test('nodes get contiguous ranges starting at multiples of MAX_ORDER_NR_PAGES', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 1500 }, { pages: 10 }, { pages: 3000 }] });
    expect(mem.nrNodes).toBe(3);
    expect([0, 1, 2].map((n) => nodeStartPfn(mem, n))).toEqual([0, 2048, 3072]);
    expect([0, 1, 2].map((n) => nodeSpannedPages(mem, n))).toEqual([1500, 10, 3000]);
    expect(mem.maxPfn).toBe(3072 + 3000);
    expect(pfnValid(mem, 1499)).toBe(true);
    expect(pfnValid(mem, 1500)).toBe(false); // hole up to 2048
    expect(pfnValid(mem, 2047)).toBe(false);
    expect(pfnValid(mem, 2048)).toBe(true);
    expect(pfnValid(mem, 2058)).toBe(false);
    expect(pfnValid(mem, mem.maxPfn)).toBe(false);
    expect(pfnValid(mem, -1)).toBe(false);
    expect(pfnValid(mem, 0.5)).toBe(false);
    expect(pfnToNid(mem, 2050)).toBe(1);
    expect(pfnToNid(mem, 6071)).toBe(2);
    expect([0, 1, 2].map((n) => nodeFreePages(mem, n))).toEqual([1499, 10, 3000]);
    expectSound(mem);
  });

  test('the zero page is a reserved frame at the start of node 0 and reads 0', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 1024 }, { pages: 1024 }] });
    expect(mem.zeroPfn).toBe(0);
    expect(isZeroPfn(mem, 0)).toBe(true);
    expect(isZeroPfn(mem, 1)).toBe(false);
    expect(pfnFolio(mem, 0)).toBe(0);
    expect(folioNid(mem, 0)).toBe(0);
    expect(pageContent(mem, 0)).toBe(0);
    expectMisuse(mem, () => setPageContent(mem, 0, 1), 'CONTRACT_VIOLATION', /zero page/);
  });

  test('hugetlb pages are taken from their own node', () => {
    const mem = createPhysicalMemory({
      nodes: [
        { pages: 2048, hugetlbPages: 2 },
        { pages: 1024, hugetlbPages: 2 },
      ],
    });
    expect(nodeStats(mem, 0)).toMatchObject({
      nrHugePages: 2,
      freeHugePages: 2,
      freePages: 2047 - 1024,
    });
    expect(nodeStats(mem, 1)).toMatchObject({ nrHugePages: 2, freeHugePages: 2, freePages: 0 });
    expectSound(mem);
  });

  test('pfnFolio: head for any page of a folio, -1 for a free frame, error for an invalid pfn', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 1000 }, { pages: 100 }] });
    const f = folioAlloc(mem, 3, 0);
    for (let p = f; p < f + 8; p++) expect(pfnFolio(mem, p)).toBe(f);
    expect(pfnFolio(mem, f + 8)).toBe(-1);
    expectMisuse(mem, () => pfnFolio(mem, 1000), 'INVALID_ARGUMENT', /hole/);
    expectMisuse(mem, () => pfnFolio(mem, mem.maxPfn), 'INVALID_ARGUMENT', /must be a pfn/);
    expectMisuse(mem, () => pfnFolio(mem, -3), 'INVALID_ARGUMENT');
    expectMisuse(mem, () => pfnToNid(mem, 1010), 'INVALID_ARGUMENT', /hole/);
    expectMisuse(mem, () => nodeStats(mem, 2), 'INVALID_ARGUMENT', /nid must be/);
  });

  test('bad configurations name the field to fix', () => {
    const bad: Array<[unknown, RegExp]> = [
      [undefined, /config must be an object/],
      [{}, /nodes must be an array of 1 to 64 nodes/],
      [{ nodes: [] }, /nodes must be an array of 1 to 64 nodes, got 0 nodes/],
      [{ nodes: Array.from({ length: 65 }, () => ({ pages: 1 })) }, /got 65 nodes/],
      [{ nodes: [{ pages: 1024 }], extra: 1 }, /config\.extra is not a known field/],
      [{ nodes: [5] }, /nodes\[0\] must be an object/],
      [
        { nodes: [{ pages: 1024 }, { pages: 0 }] },
        /nodes\[1\]\.pages must be an integer in \[1, 16777216\], got 0/,
      ],
      [{ nodes: [{ pages: 1024 }, { pages: 2.5 }] }, /nodes\[1\]\.pages/],
      [{ nodes: [{ pages: '1024' }] }, /nodes\[0\]\.pages/],
      [{ nodes: [{ pages: 2 ** 24 + 1 }] }, /nodes\[0\]\.pages/],
      [
        { nodes: [{ pages: 1024, hugetlbPage: 1 }] },
        /nodes\[0\]\.hugetlbPage is not a known field/,
      ],
      [
        { nodes: [{ pages: 1024, hugetlbPages: 2 }] },
        /nodes\[0\]\.hugetlbPages must be an integer in \[0, 1\], got 2/,
      ],
      [
        { nodes: [{ pages: 1024 }, { pages: 1000, hugetlbPages: 2 }] },
        /nodes\[1\]\.hugetlbPages must be an integer in \[0, 1\]/,
      ],
      [{ nodes: [{ pages: 1024, hugetlbPages: -1 }] }, /hugetlbPages/],
      [{ nodes: [{ pages: 2 ** 24 }, { pages: 2 ** 24 }, { pages: 1 }] }, /nodes: the pfn span/],
    ];
    for (const [config, message] of bad) {
      let err: unknown;
      try {
        createPhysicalMemory(config as PhysicalMemoryConfig);
      } catch (e) {
        err = e;
      }
      expect(err, String(message)).toMatchObject({ code: 'INVALID_CONFIG' });
      expect((err as Error).message).toMatch(message);
    }
  });
});
