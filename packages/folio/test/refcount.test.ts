import { describe, expect, test } from 'vitest';
import {
  allocHugetlbFolio,
  createPhysicalMemory,
  FolioList,
  folioAlloc,
  folioAttachPrivate,
  folioGet,
  folioIndex,
  folioMapcount,
  folioNid,
  folioOrder,
  folioPut,
  folioPutRefs,
  folioRefAdd,
  folioRefCount,
  folioRefFreeze,
  folioRefSub,
  folioRefUnfreeze,
  folioSetFlag,
  folioSetMapping,
  folioTestFlag,
  folioTryGet,
  nodeFreePages,
  PAGE_MAPPING_ANON,
  PAGE_MAPPING_KSM,
  PAGE_MAPPING_MOVABLE,
  PG_active,
  PG_dirty,
  PG_locked,
  PG_lru,
  PG_mlocked,
  PG_private_2,
  PG_reserved,
  PG_unevictable,
  PG_uptodate,
  PG_writeback,
  pageContent,
  pageMapcountInc,
  pfnFolio,
  setPageContent,
  splitFolio,
} from '../src/index.js';
import { expectMisuse, expectSound } from './helpers.js';

function machine() {
  return createPhysicalMemory({ nodes: [{ pages: 2048 }, { pages: 1500 }] });
}

describe('refcount', () => {
  test('get and put count references; the last put frees the folio', () => {
    const mem = machine();
    const free = nodeFreePages(mem, 1);
    const f = folioAlloc(mem, 2, 1);
    folioGet(mem, f);
    folioGet(mem, f);
    expect(folioRefCount(mem, f)).toBe(3);
    folioPut(mem, f);
    folioPut(mem, f);
    expect(folioRefCount(mem, f)).toBe(1);
    expect(nodeFreePages(mem, 1)).toBe(free - 4);
    folioPut(mem, f);
    expect(nodeFreePages(mem, 1)).toBe(free);
    expect(pfnFolio(mem, f)).toBe(-1);
    expect(pfnFolio(mem, f + 3)).toBe(-1);
    expectSound(mem);
  });

  test('tryGet fails on a frozen folio and on a freed frame, without throwing', () => {
    const mem = machine();
    const f = folioAlloc(mem, 0, 0);
    expect(folioTryGet(mem, f)).toBe(true);
    expect(folioRefCount(mem, f)).toBe(2);
    expect(folioRefFreeze(mem, f, 2)).toBe(true);
    expect(folioTryGet(mem, f)).toBe(false);
    expect(folioRefCount(mem, f)).toBe(0);
    folioRefUnfreeze(mem, f, 1);
    folioPut(mem, f);
    // A speculative lookup of a freed page reads refcount 0.
    expect(folioTryGet(mem, f)).toBe(false);
    expectSound(mem);
  });

  test('freeze is a compare-and-exchange; unfreeze restores any count', () => {
    const mem = machine();
    const f = folioAlloc(mem, 0, 0);
    folioRefAdd(mem, f, 2);
    expect(folioRefFreeze(mem, f, 2)).toBe(false);
    expect(folioRefCount(mem, f)).toBe(3);
    expect(folioRefFreeze(mem, f, 3)).toBe(true);
    expect(folioRefCount(mem, f)).toBe(0);
    expectMisuse(mem, () => folioGet(mem, f), 'CONTRACT_VIOLATION', /folioTryGet/);
    expectMisuse(mem, () => folioPut(mem, f), 'COUNT_UNDERFLOW', /frozen/);
    expectMisuse(mem, () => folioRefFreeze(mem, f, 0), 'INVALID_ARGUMENT');
    folioRefUnfreeze(mem, f, 5);
    expect(folioRefCount(mem, f)).toBe(5);
    expectMisuse(mem, () => folioRefUnfreeze(mem, f, 1), 'CONTRACT_VIOLATION', /not frozen/);
    folioPutRefs(mem, f, 5);
    expect(pfnFolio(mem, f)).toBe(-1);
    expectSound(mem);
  });

  test('refSub never reaches 0; putRefs does and frees', () => {
    const mem = machine();
    const f = folioAlloc(mem, 1, 0);
    folioRefAdd(mem, f, 3);
    folioRefSub(mem, f, 2);
    expect(folioRefCount(mem, f)).toBe(2);
    expectMisuse(mem, () => folioRefSub(mem, f, 2), 'CONTRACT_VIOLATION', /folioPutRefs/);
    expectMisuse(mem, () => folioRefSub(mem, f, 3), 'COUNT_UNDERFLOW');
    expectMisuse(mem, () => folioPutRefs(mem, f, 3), 'COUNT_UNDERFLOW');
    expectMisuse(mem, () => folioRefAdd(mem, f, -1), 'INVALID_ARGUMENT');
    expectMisuse(mem, () => folioRefAdd(mem, f, 0x7fffffff), 'CONTRACT_VIOLATION', /overflow/);
    folioPutRefs(mem, f, 2);
    expect(pfnFolio(mem, f)).toBe(-1);
  });

  test('double free is DOUBLE_FREE, also after the frame merged into a bigger block', () => {
    const mem = machine();
    const a = folioAlloc(mem, 0, 1, { thisNode: true });
    const b = folioAlloc(mem, 0, 1, { thisNode: true });
    folioPut(mem, a);
    expectMisuse(mem, () => folioPut(mem, a), 'DOUBLE_FREE', /already freed/);
    folioPut(mem, b); // a and b merge: a's frame is now inside a bigger free block
    expectMisuse(mem, () => folioPut(mem, a), 'DOUBLE_FREE');
    expectMisuse(mem, () => folioPut(mem, b), 'DOUBLE_FREE');
    expectMisuse(mem, () => folioPutRefs(mem, b, 1), 'DOUBLE_FREE');
  });

  test('every accessor on a freed folio is USE_AFTER_FREE and changes nothing', () => {
    const mem = machine();
    const f = folioAlloc(mem, 2, 0);
    folioPut(mem, f);
    const list = new FolioList(mem);
    const uses: Array<() => unknown> = [
      () => folioRefCount(mem, f),
      () => folioGet(mem, f),
      () => folioRefAdd(mem, f, 1),
      () => folioRefFreeze(mem, f, 1),
      () => folioTestFlag(mem, f, PG_locked),
      () => folioSetFlag(mem, f, PG_locked),
      () => folioMapcount(mem, f),
      () => pageMapcountInc(mem, f + 1),
      () => pageContent(mem, f + 2),
      () => setPageContent(mem, f, 9),
      () => folioSetMapping(mem, f, PAGE_MAPPING_ANON, {}),
      () => folioIndex(mem, f),
      () => folioOrder(mem, f),
      () => folioNid(mem, f),
      () => list.add(f),
      () => splitFolio(mem, f),
    ];
    for (const use of uses) expectMisuse(mem, use, 'USE_AFTER_FREE');
    expect(list.size).toBe(0);
  });

  test('a tail pfn, an out-of-range pfn or a hole is INVALID_ARGUMENT', () => {
    const mem = machine();
    const f = folioAlloc(mem, 3, 0);
    expectMisuse(mem, () => folioGet(mem, f + 1), 'INVALID_ARGUMENT', /tail page of folio/);
    expectMisuse(mem, () => folioPut(mem, f + 7), 'INVALID_ARGUMENT', /pfnFolio/);
    for (const bad of [-1, mem.maxPfn, 1.5, Number.NaN]) {
      expectMisuse(mem, () => folioRefCount(mem, bad), 'INVALID_ARGUMENT', /must be a pfn/);
      expectMisuse(mem, () => folioPut(mem, bad), 'INVALID_ARGUMENT');
      expectMisuse(mem, () => folioTryGet(mem, bad), 'INVALID_ARGUMENT');
    }
    // Node 1 starts at 2048; node 0 ends at 2048 so there is no hole. Use a machine with one.
    const holed = createPhysicalMemory({ nodes: [{ pages: 1000 }, { pages: 1000 }] });
    expectMisuse(holed, () => folioGet(holed, 1010), 'INVALID_ARGUMENT', /hole/);
  });

  test('freeing a folio in a bad state is a CONTRACT_VIOLATION that frees nothing', () => {
    const mem = machine();
    const cases: Array<[string, (f: number) => void, RegExp]> = [
      ['mapped', (f) => pageMapcountInc(mem, f), /nonzero mapcount/],
      ['locked', (f) => folioSetFlag(mem, f, PG_locked), /locked/],
      ['writeback', (f) => folioSetFlag(mem, f, PG_writeback), /writeback/],
      ['lru', (f) => folioSetFlag(mem, f, PG_lru), /lru/],
      ['active', (f) => folioSetFlag(mem, f, PG_active), /active/],
      ['unevictable', (f) => folioSetFlag(mem, f, PG_unevictable), /unevictable/],
      ['private_2', (f) => folioSetFlag(mem, f, PG_private_2), /private_2/],
      ['reserved', (f) => folioSetFlag(mem, f, PG_reserved), /reserved/],
      ['on a list', (f) => new FolioList(mem).add(f), /on a folio list/],
      ['page cache', (f) => folioSetMapping(mem, f, 0, { host: 'inode' }), /non-NULL mapping/],
    ];
    for (const [name, spoil, why] of cases) {
      const f = folioAlloc(mem, 1, 0);
      spoil(f);
      expectMisuse(mem, () => folioPut(mem, f), 'CONTRACT_VIOLATION', why);
      expect(folioRefCount(mem, f), name).toBe(1);
    }
    const g = folioAlloc(mem, 0, 0);
    folioAttachPrivate(mem, g, { buffers: 1 });
    folioRefSub(mem, g, 1);
    expectMisuse(mem, () => folioPut(mem, g), 'CONTRACT_VIOLATION', /private/);
  });

  test('anon, KSM and movable tags, PG_mlocked and harmless flags are cleared at free', () => {
    const mem = machine();
    const free = nodeFreePages(mem, 0);
    const kinds = [PAGE_MAPPING_ANON, PAGE_MAPPING_KSM, PAGE_MAPPING_MOVABLE] as const;
    for (const kind of kinds) {
      const f = folioAlloc(mem, 0, 0);
      folioSetMapping(mem, f, kind, { kind });
      folioSetFlag(mem, f, PG_mlocked);
      folioSetFlag(mem, f, PG_dirty);
      folioSetFlag(mem, f, PG_uptodate);
      folioPut(mem, f);
    }
    expect(nodeFreePages(mem, 0)).toBe(free);
    expectSound(mem);
  });

  test('the zero page takes gets and puts but is never freed', () => {
    const mem = machine();
    const z = mem.zeroPfn;
    expect(folioRefCount(mem, z)).toBe(1);
    expect(folioTestFlag(mem, z, PG_reserved)).toBe(true);
    folioGet(mem, z);
    folioPut(mem, z);
    expect(folioTryGet(mem, z)).toBe(true);
    folioPut(mem, z);
    expectMisuse(mem, () => folioPut(mem, z), 'COUNT_UNDERFLOW', /zero page/);
    expect(pfnFolio(mem, z)).toBe(z);
    expectSound(mem);
  });

  test('a hugetlb folio goes back to its pool, not to the buddy', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 2048, hugetlbPages: 1 }] });
    const free = nodeFreePages(mem, 0);
    const h = allocHugetlbFolio(mem, 0);
    folioGet(mem, h);
    folioPut(mem, h);
    folioPut(mem, h);
    expect(nodeFreePages(mem, 0)).toBe(free);
    expect(pfnFolio(mem, h)).toBe(-1);
    expectMisuse(mem, () => folioPut(mem, h), 'DOUBLE_FREE', /hugetlb pool/);
    expectMisuse(mem, () => folioRefCount(mem, h), 'USE_AFTER_FREE', /hugetlb pool/);
    expectSound(mem);
  });
});
