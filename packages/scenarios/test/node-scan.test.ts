import {
  allocHugetlbFolio,
  type Folio,
  folioAlloc,
  folioNrPages,
  folioPut,
  folioSetFlag,
  folioSetMapping,
  folioTestFlag,
  folioTestHugetlb,
  folioTestMovable,
  nodeSpannedPages,
  nodeStartPfn,
  PAGE_MAPPING_MOVABLE,
  PG_lru,
  pfnFolio,
  pfnValid,
} from '@mmsim/folio';
import { createKernel, type Kernel } from '@mmsim/kernel';
import { describe, expect, it } from 'vitest';
import { nodeScan } from '../src/index.js';

/** The walk `nodeScan` had, through the folio accessors: the reference. */
function* referenceScan(k: Kernel, node: number): Generator<Folio> {
  const mem = k.mem;
  const start = nodeStartPfn(mem, node);
  const end = start + nodeSpannedPages(mem, node);
  for (let pfn = start; pfn < end; ) {
    if (!pfnValid(mem, pfn)) {
      pfn++;
      continue;
    }
    const folio = pfnFolio(mem, pfn);
    if (folio !== pfn) {
      pfn++;
      continue;
    }
    pfn += folioNrPages(mem, folio);
    if (folioTestHugetlb(mem, folio)) continue;
    if (folioTestFlag(mem, folio, PG_lru) || folioTestMovable(mem, folio)) yield folio;
  }
}

describe('nodeScan (compaction’s migration scanner over the memmap reader)', () => {
  it('yields what the walk through the folio accessors yields: LRU and movable heads, not hugetlb, free frames or tails', () => {
    // Node 0 with a hugetlb page (512 aligned frames), node 1 after a hole.
    const k = createKernel({ nodes: [{ pages: 1024, hugetlbPages: 1 }, { pages: 256 }] });
    const mem = k.mem;
    let state = 777;
    const rand = (n: number) => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return (state >>> 8) % n;
    };
    const huge = allocHugetlbFolio(mem, 0);
    expect(huge).toBeGreaterThanOrEqual(0);
    folioSetFlag(mem, huge, PG_lru); // a flag the scan must not look at
    const live: Folio[] = [];
    for (let round = 0; round < 6; round++) {
      // Allocate folios of orders 0..3 on both nodes, mark some as on the LRU and some as
      // movable, free some of the earlier ones (free frames between heads).
      for (let i = 0; i < 40; i++) {
        const folio = folioAlloc(mem, rand(4), rand(2));
        if (folio < 0) continue;
        const kind = rand(4);
        if (kind === 0 || kind === 1) folioSetFlag(mem, folio, PG_lru);
        else if (kind === 2) folioSetMapping(mem, folio, PAGE_MAPPING_MOVABLE, {});
        live.push(folio);
      }
      for (let i = 0; i < 15 && live.length > 0; i++) {
        const folio = live.splice(rand(live.length), 1)[0]!;
        if (folioTestMovable(mem, folio)) folioSetMapping(mem, folio, 0, null);
        if (folioTestFlag(mem, folio, PG_lru)) continue; // kept: freeing needs it off the LRU
        folioPut(mem, folio);
      }
      for (const node of [0, 1]) {
        const want = [...referenceScan(k, node)];
        expect(want.length).toBeGreaterThan(0);
        expect([...nodeScan(k, node)(round, 1 - node)], `round ${round} node ${node}`).toEqual(
          want,
        );
        // The node from a function of the round and target, as the loop scenarios pass it.
        expect([...nodeScan(k, (_r, target) => 1 - target)(round, 1 - node)]).toEqual(want);
      }
    }
    expect([...nodeScan(k, 0)(0, 1)]).not.toContain(huge);
  });
});
