import { ENOMEM } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import {
  createPhysicalMemory,
  folioAlloc,
  folioEntireMapcount,
  folioFlags,
  folioGetPrivate,
  folioIndex,
  folioMapcount,
  folioMappingKind,
  folioNid,
  folioNrPages,
  folioOrder,
  folioPut,
  folioRawMapping,
  folioRefCount,
  folioSetFlag,
  folioSetIndex,
  folioSetMapping,
  folioTestLarge,
  MAX_ORDER,
  nodeFreePages,
  nodeNrFree,
  PAGE_MAPPING_ANON,
  PG_dirty,
  PG_head,
  PG_uptodate,
  type PhysicalMemory,
  pageContent,
  pageMapcount,
  pfnFolio,
  setPageContent,
} from '../src/index.js';
import { nodeFreeList } from '../src/internal.js';
import { expectMisuse, expectSound } from './helpers.js';

function freeLists(mem: PhysicalMemory, nid: number): number[][] {
  return Array.from({ length: MAX_ORDER }, (_, order) => nodeFreeList(mem, nid, order));
}

describe('buddy allocator', () => {
  test('boot hands every frame to the buddy in maximal aligned blocks', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 4096 }, { pages: 2048 + 3 }] });
    // Node 0: pfn 0 is the zero page, then 1 (o0), 2 (o1), 4 (o2) ... 512 (o9), then o10 blocks.
    expect(freeLists(mem, 0)).toEqual([
      [1],
      [2],
      [4],
      [8],
      [16],
      [32],
      [64],
      [128],
      [256],
      [512],
      [1024, 2048, 3072],
    ]);
    expect(nodeFreePages(mem, 0)).toBe(4095);
    // Node 1 starts at 4096: two order-10 blocks and a tail of 3 pages (o1 + o0).
    expect(nodeNrFree(mem, 1, 10)).toBe(2);
    expect(nodeFreeList(mem, 1, 1)).toEqual([4096 + 2048]);
    expect(nodeFreeList(mem, 1, 0)).toEqual([4096 + 2050]);
    expect(nodeFreePages(mem, 1)).toBe(2051);
    expectSound(mem);
  });

  test('a new folio of every order is clean, and freeing it restores the free lists exactly', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 1024 }, { pages: 2048 }] });
    for (let order = 0; order < MAX_ORDER; order++) {
      const before = freeLists(mem, 1);
      const folio = folioAlloc(mem, order, 1, { thisNode: true });
      expect(folio).toBeGreaterThanOrEqual(0);
      expect(folio % (1 << order)).toBe(0);
      expect(folioNid(mem, folio)).toBe(1);
      expect(folioOrder(mem, folio)).toBe(order);
      expect(folioNrPages(mem, folio)).toBe(1 << order);
      expect(folioTestLarge(mem, folio)).toBe(order > 0);
      expect(folioRefCount(mem, folio)).toBe(1);
      expect(folioFlags(mem, folio)).toBe(order > 0 ? 1 << PG_head : 0);
      expect(folioMapcount(mem, folio)).toBe(0);
      expect(folioEntireMapcount(mem, folio)).toBe(0);
      expect(folioMappingKind(mem, folio)).toBe(0);
      expect(folioRawMapping(mem, folio)).toBeNull();
      expect(folioIndex(mem, folio)).toBe(0);
      expect(folioGetPrivate(mem, folio)).toBeNull();
      for (let p = folio; p < folio + (1 << order); p++) {
        expect(pfnFolio(mem, p)).toBe(folio);
        expect(pageContent(mem, p)).toBe(0);
        expect(pageMapcount(mem, p)).toBe(0);
      }
      expect(nodeFreePages(mem, 1)).toBe(2048 - (1 << order));
      expectSound(mem);
      folioPut(mem, folio);
      expect(freeLists(mem, 1)).toEqual(before);
      expect(nodeFreePages(mem, 1)).toBe(2048);
      expectSound(mem);
    }
  });

  test('allocation splits the smallest block: the lowest pages are used, upper halves go back', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 1024 }, { pages: 1024 }] });
    const folio = folioAlloc(mem, 0, 1, { thisNode: true });
    expect(folio).toBe(1024);
    // expand(): 1024+512 at order 9, 1024+256 at order 8, ..., 1025 at order 0.
    for (let order = 0; order < MAX_ORDER - 1; order++) {
      expect(nodeFreeList(mem, 1, order)).toEqual([1024 + (1 << order)]);
    }
    expect(nodeNrFree(mem, 1, 10)).toBe(0);
    const second = folioAlloc(mem, 0, 1, { thisNode: true });
    expect(second).toBe(1025);
    folioPut(mem, folio);
    folioPut(mem, second);
    // Both freed: everything merges back into one order-10 block.
    expect(nodeFreeList(mem, 1, 10)).toEqual([1024]);
    for (let order = 0; order < MAX_ORDER - 1; order++) expect(nodeNrFree(mem, 1, order)).toBe(0);
    expectSound(mem);
  });

  test('a freed page goes to the head, or to the tail when its higher buddy is free', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 1024 }, { pages: 1024 }] });
    const live = Array.from({ length: 7 }, () => folioAlloc(mem, 0, 1, { thisNode: true }));
    expect(live).toEqual([1024, 1025, 1026, 1027, 1028, 1029, 1030]);
    expect(nodeFreeList(mem, 1, 0)).toEqual([1031]);
    folioPut(mem, 1026); // buddy 1027 busy: head
    expect(nodeFreeList(mem, 1, 0)).toEqual([1026, 1031]);
    folioPut(mem, 1027); // merges with 1026 into an order-1 block
    expect(nodeFreeList(mem, 1, 0)).toEqual([1031]);
    expect(nodeFreeList(mem, 1, 1)).toEqual([1026]);
    folioPut(mem, 1029); // buddy 1028 busy, 1030-1031 not an order-1 block: head
    expect(nodeFreeList(mem, 1, 0)).toEqual([1029, 1031]);
    // 1025: buddy 1024 busy, but the order-1 buddy of 1024-1025 (1026) is free at order 1,
    // so a merge is likely soon: buddy_merge_likely puts it at the tail.
    folioPut(mem, 1025);
    expect(nodeFreeList(mem, 1, 0)).toEqual([1029, 1031, 1025]);
    expectSound(mem);
    for (const f of [1024, 1028, 1030]) folioPut(mem, f);
    expect(nodeFreeList(mem, 1, 10)).toEqual([1024]);
    expectSound(mem);
  });

  test('-ENOMEM when nothing fits, and the caller-side check works', () => {
    // Blocks: 1..511 in orders 0..8, 512 (o9), 1024 (o6), 1088 (o3), 1096 (o2).
    const mem = createPhysicalMemory({ nodes: [{ pages: 1100 }] });
    expect(folioAlloc(mem, 10, 0)).toBe(-ENOMEM);
    const huge = folioAlloc(mem, 9, 0);
    expect(huge).toBe(512);
    expect(folioAlloc(mem, 9, 0)).toBe(-ENOMEM);
    const live: number[] = [];
    for (;;) {
      const f = folioAlloc(mem, 0, 0);
      if (f < 0) {
        expect(f).toBe(-ENOMEM);
        break;
      }
      live.push(f);
    }
    // 1100 pages - zero page - 512 = 587 order-0 pages.
    expect(live.length).toBe(587);
    expect(nodeFreePages(mem, 0)).toBe(0);
    expectSound(mem);
    for (const f of live) folioPut(mem, f);
    folioPut(mem, huge);
    expect(nodeFreePages(mem, 0)).toBe(1099);
    expectSound(mem);
  });

  test('thisNode fails on an empty node; otherwise nodes are tried by distance, lower id on ties', () => {
    const mem = createPhysicalMemory({
      nodes: [{ pages: 1024 }, { pages: 1024 }, { pages: 1024 }, { pages: 1024 }],
    });
    const drain = (nid: number): number[] => {
      const out: number[] = [];
      for (let f = folioAlloc(mem, 0, nid, { thisNode: true }); f >= 0; ) {
        out.push(f);
        f = folioAlloc(mem, 0, nid, { thisNode: true });
      }
      return out;
    };
    const held = drain(1);
    expect(held.length).toBe(1024);
    expect(folioAlloc(mem, 0, 1, { thisNode: true })).toBe(-ENOMEM);
    // Nodes 0 and 2 are both at distance 1 from node 1: node 0 wins the tie.
    const f0 = folioAlloc(mem, 0, 1);
    expect(folioNid(mem, f0)).toBe(0);
    held.push(f0, ...drain(0));
    expect(folioNid(mem, folioAlloc(mem, 0, 1))).toBe(2);
    held.push(...drain(2));
    expect(folioNid(mem, folioAlloc(mem, 0, 1))).toBe(3);
    held.push(...drain(3));
    expect(folioAlloc(mem, 0, 1)).toBe(-ENOMEM);
    expect(folioAlloc(mem, 0, 3)).toBe(-ENOMEM);
    expectSound(mem);
  });

  test('a reused frame comes back clean', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 1024 }] });
    const f = folioAlloc(mem, 0, 0, { thisNode: true });
    setPageContent(mem, f, 1234);
    folioSetFlag(mem, f, PG_uptodate);
    folioSetFlag(mem, f, PG_dirty);
    folioSetMapping(mem, f, PAGE_MAPPING_ANON, {});
    folioSetIndex(mem, f, 77);
    folioPut(mem, f);
    const g = folioAlloc(mem, 0, 0, { thisNode: true });
    expect(g).toBe(f);
    expect(pageContent(mem, g)).toBe(0);
    expect(folioFlags(mem, g)).toBe(0);
    expect(folioMappingKind(mem, g)).toBe(0);
    expect(folioRawMapping(mem, g)).toBeNull();
    expect(folioIndex(mem, g)).toBe(0);
  });

  test('bad order or node is INVALID_ARGUMENT and changes nothing', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 1024 }, { pages: 1024 }] });
    for (const order of [-1, 11, 1.5, Number.NaN, 2 ** 32]) {
      expectMisuse(mem, () => folioAlloc(mem, order, 0), 'INVALID_ARGUMENT', /order must be/);
    }
    for (const nid of [-1, 2, 0.5, Number.NaN]) {
      expectMisuse(mem, () => folioAlloc(mem, 0, nid), 'INVALID_ARGUMENT', /nid must be/);
    }
    expectMisuse(mem, () => nodeNrFree(mem, 0, 11), 'INVALID_ARGUMENT');
    expectMisuse(mem, () => nodeFreePages(mem, 5), 'INVALID_ARGUMENT');
  });
});
