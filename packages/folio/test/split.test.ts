import { EAGAIN, EBUSY } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import {
  allocHugetlbFolio,
  createPhysicalMemory,
  FolioList,
  folioAlloc,
  folioClearFlag,
  folioEntireMapcountInc,
  folioFlags,
  folioGet,
  folioIndex,
  folioMapcount,
  folioMappingKind,
  folioOnList,
  folioOrder,
  folioPut,
  folioRawMapping,
  folioRefAdd,
  folioRefCount,
  folioSetFlag,
  folioSetIndex,
  folioSetMapping,
  folioSetPrivate,
  folioTestFlag,
  formatFlags,
  nodeFreePages,
  PAGE_MAPPING_ANON,
  PAGE_MAPPING_KSM,
  PAGE_MAPPING_MOVABLE,
  PG_active,
  PG_anon_exclusive,
  PG_arch_1,
  PG_dirty,
  PG_hwpoison,
  PG_locked,
  PG_lru,
  PG_private,
  PG_referenced,
  PG_swapbacked,
  PG_swapcache,
  PG_unevictable,
  PG_uptodate,
  PG_workingset,
  PG_writeback,
  type PhysicalMemory,
  pageContent,
  pageMapcount,
  pageMapcountDec,
  pageMapcountInc,
  pagePrivate,
  pageSetFlag,
  pageTestFlag,
  pfnFolio,
  setPageContent,
  setPagePrivate,
  splitFolio,
} from '../src/index.js';
import { expectMisuse, expectSound, unchanged } from './helpers.js';

function machine(): PhysicalMemory {
  return createPhysicalMemory({ nodes: [{ pages: 4096, hugetlbPages: 1 }] });
}

/** A locked order-`order` anon folio with the given per-page mapcounts and matching refs. */
function anonFolio(mem: PhysicalMemory, order: number, mapcounts: number[], anonVma = {}) {
  const f = folioAlloc(mem, order, 0);
  folioSetMapping(mem, f, PAGE_MAPPING_ANON, anonVma);
  folioSetIndex(mem, f, 100);
  folioSetFlag(mem, f, PG_locked);
  let total = 0;
  mapcounts.forEach((n, i) => {
    for (let k = 0; k < n; k++) pageMapcountInc(mem, f + i);
    total += n;
  });
  folioRefAdd(mem, f, total); // each PTE mapping holds a reference
  for (let i = 0; i < 1 << order; i++) setPageContent(mem, f + i, 1000 + i);
  return f;
}

describe('splitFolio', () => {
  test('isolated anon folio: pages keep contents, mapcounts, index; tails go to the list last pfn first', () => {
    const mem = machine();
    const anonVma = { name: 'anon_vma' };
    const f = anonFolio(mem, 2, [1, 2, 0, 1], anonVma);
    for (const flag of [
      PG_uptodate,
      PG_dirty,
      PG_swapbacked,
      PG_active,
      PG_referenced,
      PG_workingset,
      PG_arch_1,
    ]) {
      folioSetFlag(mem, f, flag);
    }
    pageSetFlag(mem, f + 1, PG_anon_exclusive); // mapped: survives
    pageSetFlag(mem, f + 2, PG_anon_exclusive); // unmapped: dropped
    pageSetFlag(mem, f + 3, PG_hwpoison);
    expect(folioRefCount(mem, f)).toBe(5);
    const list = new FolioList(mem);
    const other = folioAlloc(mem, 0, 0);
    list.addTail(other);

    expect(splitFolio(mem, f, list)).toBe(0);

    expect(list.toArray()).toEqual([other, f + 3, f + 2, f + 1]);
    expect(folioOnList(mem, f)).toBeNull();
    const mapcounts = [1, 2, 0, 1];
    for (let i = 0; i < 4; i++) {
      const p = f + i;
      expect(pfnFolio(mem, p)).toBe(p);
      expect(folioOrder(mem, p)).toBe(0);
      expect(pageContent(mem, p)).toBe(1000 + i);
      expect(pageMapcount(mem, p)).toBe(mapcounts[i]);
      expect(folioMapcount(mem, p)).toBe(mapcounts[i]);
      expect(folioIndex(mem, p)).toBe(100 + i);
      expect(folioMappingKind(mem, p)).toBe(PAGE_MAPPING_ANON);
      expect(folioRawMapping(mem, p)).toBe(anonVma);
      // 1 (the caller's, or the list's for a tail) + one per mapping; no cache.
      expect(folioRefCount(mem, p)).toBe(1 + mapcounts[i]!);
    }
    expect(formatFlags(folioFlags(mem, f))).toBe(
      'locked|referenced|uptodate|dirty|active|workingset|arch_1|swapbacked',
    );
    for (let i = 1; i < 4; i++) {
      expect(folioTestFlag(mem, f + i, PG_locked)).toBe(false);
      expect(folioTestFlag(mem, f + i, PG_arch_1)).toBe(false);
    }
    expect(formatFlags(folioFlags(mem, f + 2))).toBe(
      'referenced|uptodate|dirty|active|workingset|swapbacked',
    );
    expect(pageTestFlag(mem, f + 1, PG_anon_exclusive)).toBe(true);
    expect(pageTestFlag(mem, f + 2, PG_anon_exclusive)).toBe(false);
    expect(pageTestFlag(mem, f + 3, PG_hwpoison)).toBe(true);
    expectSound(mem);
  });

  test('after a split every piece can be unmapped and freed, and the memory comes back whole', () => {
    const mem = machine();
    const free = nodeFreePages(mem, 0);
    const f = anonFolio(
      mem,
      9,
      Array.from({ length: 512 }, (_, i) => i % 3),
    );
    const list = new FolioList(mem);
    expect(splitFolio(mem, f, list)).toBe(0);
    expect(list.size).toBe(511);
    expect(list.first()).toBe(f + 511);
    expect(list.last()).toBe(f + 1);
    folioClearFlag(mem, f, PG_locked);
    for (let i = 0; i < 512; i++) {
      const p = f + i;
      for (let k = 0; k < i % 3; k++) {
        pageMapcountDec(mem, p);
        folioPut(mem, p);
      }
      if (i > 0) list.del(p);
      folioSetMapping(mem, p, 0, null);
      folioPut(mem, p);
    }
    expect(nodeFreePages(mem, 0)).toBe(free);
    expectSound(mem);
  });

  test('an extra pin makes it -EAGAIN and changes nothing', () => {
    const mem = machine();
    const f = anonFolio(mem, 2, [1, 1, 1, 1]);
    folioGet(mem, f); // e.g. a GUP pin
    const list = new FolioList(mem);
    expect(unchanged(mem, () => splitFolio(mem, f, list))).toBe(-EAGAIN);
    expect(list.size).toBe(0);
  });

  test('kernel-style -EBUSY cases change nothing', () => {
    const mem = machine();
    const cases: Array<[string, () => number]> = [
      [
        'writeback',
        () => {
          const f = anonFolio(mem, 1, [1, 1]);
          folioSetFlag(mem, f, PG_writeback);
          return f;
        },
      ],
      ['unmapped anon (no anon_vma)', () => anonFolio(mem, 1, [0, 0])],
      [
        'KSM',
        () => {
          const f = anonFolio(mem, 1, [1, 0]);
          folioSetMapping(mem, f, PAGE_MAPPING_KSM, {});
          return f;
        },
      ],
      [
        'truncated file folio',
        () => {
          const f = folioAlloc(mem, 1, 0);
          folioSetFlag(mem, f, PG_locked);
          return f;
        },
      ],
      [
        'file folio with buffers',
        () => {
          const f = folioAlloc(mem, 1, 0);
          folioSetMapping(mem, f, 0, {});
          folioSetFlag(mem, f, PG_locked);
          folioSetFlag(mem, f, PG_private);
          folioRefAdd(mem, f, 3);
          return f;
        },
      ],
    ];
    for (const [name, make] of cases) {
      const f = make();
      expect(
        unchanged(mem, () => splitFolio(mem, f)),
        name,
      ).toBe(-EBUSY);
    }
  });

  test('page-cache folio: the cache holds one reference per page', () => {
    const mem = machine();
    const inode = { name: 'inode' };
    const f = folioAlloc(mem, 2, 0);
    folioSetMapping(mem, f, 0, inode);
    folioSetIndex(mem, f, 8);
    folioSetFlag(mem, f, PG_locked);
    folioSetFlag(mem, f, PG_uptodate);
    pageMapcountInc(mem, f + 2);
    folioRefAdd(mem, f, 1); // the mapping's reference
    const list = new FolioList(mem);
    expect(splitFolio(mem, f, list)).toBe(-EAGAIN); // page cache refs missing
    folioRefAdd(mem, f, 4); // one per page from the page cache
    expect(splitFolio(mem, f, list)).toBe(0);
    expect([0, 1, 2, 3].map((i) => folioRefCount(mem, f + i))).toEqual([2, 2, 3, 2]);
    expect([0, 1, 2, 3].map((i) => folioIndex(mem, f + i))).toEqual([8, 9, 10, 11]);
    expect([0, 1, 2, 3].map((i) => folioRawMapping(mem, f + i))).toEqual([
      inode,
      inode,
      inode,
      inode,
    ]);
    expectSound(mem);
  });

  test('swap-cache anon folio: pages keep their own swap entries', () => {
    const mem = machine();
    const f = anonFolio(mem, 1, [1, 0]);
    folioSetFlag(mem, f, PG_swapbacked);
    folioSetFlag(mem, f, PG_swapcache);
    folioSetPrivate(mem, f, 500);
    setPagePrivate(mem, f + 1, 501);
    folioRefAdd(mem, f, 2);
    const list = new FolioList(mem);
    expect(splitFolio(mem, f, list)).toBe(0);
    expect(folioRefCount(mem, f)).toBe(3);
    expect(folioRefCount(mem, f + 1)).toBe(2);
    expect(pagePrivate(mem, f + 1)).toBe(501);
    expect(folioTestFlag(mem, f + 1, PG_swapcache)).toBe(true);
    expectSound(mem);
  });

  test('without a list: unheld tails are freed, the others go before the head on its LRU list', () => {
    const mem = machine();
    const f = anonFolio(mem, 2, [1, 0, 1, 0]);
    folioSetFlag(mem, f, PG_lru);
    folioSetFlag(mem, f, PG_active);
    const lru = new FolioList(mem);
    const before = folioAlloc(mem, 0, 0);
    const after = folioAlloc(mem, 0, 0);
    lru.addTail(before);
    lru.addTail(f);
    lru.addTail(after);
    const free = nodeFreePages(mem, 0);
    expect(splitFolio(mem, f)).toBe(0);
    // f+1 and f+3 were unmapped and not cached: freed. f+2 is mapped: kept, on the LRU.
    expect(pfnFolio(mem, f + 1)).toBe(-1);
    expect(pfnFolio(mem, f + 3)).toBe(-1);
    expect(nodeFreePages(mem, 0)).toBe(free + 2);
    expect(lru.toArray()).toEqual([before, f + 2, f, after]);
    expect(folioRefCount(mem, f + 2)).toBe(1);
    expect(folioTestFlag(mem, f + 2, PG_lru)).toBe(true);
    expect(folioTestFlag(mem, f + 2, PG_active)).toBe(true);
    expect(folioRefCount(mem, f)).toBe(2);
    expectSound(mem);
  });

  test('without a list: tails of an unevictable LRU folio get PG_lru but no list', () => {
    const mem = machine();
    const f = anonFolio(mem, 1, [1, 1]);
    folioSetFlag(mem, f, PG_lru);
    folioSetFlag(mem, f, PG_unevictable);
    expect(splitFolio(mem, f)).toBe(0);
    expect(folioTestFlag(mem, f + 1, PG_lru)).toBe(true);
    expect(folioOnList(mem, f + 1)).toBeNull();
  });

  test('misuse throws and changes nothing', () => {
    const mem = machine();
    const unlocked = anonFolio(mem, 1, [1, 1]);
    folioClearFlag(mem, unlocked, PG_locked);
    expectMisuse(mem, () => splitFolio(mem, unlocked), 'CONTRACT_VIOLATION', /must be locked/);
    const small = folioAlloc(mem, 0, 0);
    folioSetFlag(mem, small, PG_locked);
    expectMisuse(mem, () => splitFolio(mem, small), 'INVALID_ARGUMENT', /order 0/);
    const huge = allocHugetlbFolio(mem, 0);
    folioSetFlag(mem, huge, PG_locked);
    expectMisuse(mem, () => splitFolio(mem, huge), 'INVALID_ARGUMENT', /hugetlb/);
    const pmd = anonFolio(mem, 9, []);
    folioEntireMapcountInc(mem, pmd);
    folioRefAdd(mem, pmd, 1);
    expectMisuse(mem, () => splitFolio(mem, pmd), 'CONTRACT_VIOLATION', /PMD/);
    const movable = folioAlloc(mem, 1, 0);
    folioSetMapping(mem, movable, PAGE_MAPPING_MOVABLE, {});
    folioSetFlag(mem, movable, PG_locked);
    expectMisuse(mem, () => splitFolio(mem, movable), 'INVALID_ARGUMENT', /movable/);
    const ok = anonFolio(mem, 1, [1, 1]);
    const otherMem = machine();
    expectMisuse(
      mem,
      () => splitFolio(mem, ok, new FolioList(otherMem)),
      'INVALID_ARGUMENT',
      /same PhysicalMemory/,
    );
    expectMisuse(mem, () => splitFolio(mem, ok + 1), 'INVALID_ARGUMENT', /tail/);
    const gone = folioAlloc(mem, 1, 0);
    folioPut(mem, gone);
    expectMisuse(mem, () => splitFolio(mem, gone), 'USE_AFTER_FREE');
  });
});
