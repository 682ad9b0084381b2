import { describe, expect, test } from 'vitest';
import {
  createPhysicalMemory,
  folioAlloc,
  folioAttachPrivate,
  folioDetachPrivate,
  folioGetPrivate,
  folioIndex,
  folioMapping,
  folioMappingKind,
  folioPut,
  folioRawMapping,
  folioRefCount,
  folioSetFlag,
  folioSetIndex,
  folioSetMapping,
  folioSetPrivate,
  folioTestAnon,
  folioTestFlag,
  folioTestKsm,
  folioTestMovable,
  type MappingKind,
  nodeFreePages,
  PAGE_MAPPING_ANON,
  PAGE_MAPPING_FLAGS,
  PAGE_MAPPING_KSM,
  PAGE_MAPPING_MOVABLE,
  PG_locked,
  PG_private,
  PG_slab,
  PG_swapbacked,
  PG_swapcache,
  pagePrivate,
  pfnFolio,
  registerSwapAddressSpace,
  setPagePrivate,
} from '../src/index.js';
import { expectMisuse } from './helpers.js';

describe('mapping', () => {
  test('tag values are the kernel bits', () => {
    expect([PAGE_MAPPING_ANON, PAGE_MAPPING_MOVABLE, PAGE_MAPPING_KSM, PAGE_MAPPING_FLAGS]).toEqual(
      [1, 2, 3, 3],
    );
  });

  test('kind tests and folio_mapping for each kind', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 1024 }] });
    const f = folioAlloc(mem, 0, 0);
    const inode = { name: 'address_space' };
    const anonVma = { name: 'anon_vma' };
    const mops = { name: 'movable_operations' };
    const stable = { name: 'stable_node' };
    expect(folioMapping(mem, f)).toBeNull();
    const table: Array<[MappingKind, object, boolean, boolean, boolean, object | null]> = [
      [0, inode, false, false, false, inode],
      [PAGE_MAPPING_ANON, anonVma, true, false, false, null],
      [PAGE_MAPPING_MOVABLE, mops, false, false, true, null],
      [PAGE_MAPPING_KSM, stable, true, true, false, null],
    ];
    for (const [kind, obj, anon, ksm, movable, mapping] of table) {
      folioSetMapping(mem, f, kind, obj);
      expect(folioMappingKind(mem, f)).toBe(kind);
      expect(folioRawMapping(mem, f)).toBe(obj);
      expect(folioTestAnon(mem, f)).toBe(anon);
      expect(folioTestKsm(mem, f)).toBe(ksm);
      expect(folioTestMovable(mem, f)).toBe(movable);
      expect(folioMapping(mem, f)).toBe(mapping);
    }
    folioSetMapping(mem, f, 0, inode);
    folioSetFlag(mem, f, PG_slab);
    expect(folioMapping(mem, f)).toBeNull();
  });

  test('a swap-cache folio resolves through the registered swap address space', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 1024 }] });
    const f = folioAlloc(mem, 0, 0);
    folioSetMapping(mem, f, PAGE_MAPPING_ANON, {});
    folioSetFlag(mem, f, PG_swapbacked);
    folioSetFlag(mem, f, PG_swapcache);
    folioSetPrivate(mem, f, 42); // the swap entry
    expectMisuse(mem, () => folioMapping(mem, f), 'CONTRACT_VIOLATION', /registerSwapAddressSpace/);
    const swapper = { name: 'swapper_spaces[0]' };
    registerSwapAddressSpace(mem, (m, folio) =>
      folioGetPrivate(m, folio) === 42 ? swapper : null,
    );
    expect(folioMapping(mem, f)).toBe(swapper);
    registerSwapAddressSpace(mem, null);
  });

  test('misuse of folioSetMapping changes nothing', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 1024 }] });
    const f = folioAlloc(mem, 0, 0);
    expectMisuse(
      mem,
      () => folioSetMapping(mem, f, 4 as MappingKind, {}),
      'INVALID_ARGUMENT',
      /mapping kind/,
    );
    expectMisuse(
      mem,
      () => folioSetMapping(mem, f, PAGE_MAPPING_ANON, null),
      'INVALID_ARGUMENT',
      /needs its object/,
    );
    expectMisuse(mem, () => folioSetMapping(mem, f, 0, 5 as unknown as object), 'INVALID_ARGUMENT');
    expectMisuse(
      mem,
      () => folioSetMapping(mem, mem.zeroPfn, 0, {}),
      'CONTRACT_VIOLATION',
      /zero page/,
    );
  });

  test('index', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 1024 }] });
    const f = folioAlloc(mem, 0, 0);
    folioSetIndex(mem, f, 2 ** 40);
    expect(folioIndex(mem, f)).toBe(2 ** 40);
    for (const bad of [-1, 0.5, 2 ** 53]) {
      expectMisuse(mem, () => folioSetIndex(mem, f, bad), 'INVALID_ARGUMENT', /index must be/);
    }
  });
});

describe('private', () => {
  test('attach takes a reference and sets PG_private; detach undoes both', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 1024 }] });
    const f = folioAlloc(mem, 0, 0);
    const buffers = { heads: 8 };
    folioAttachPrivate(mem, f, buffers);
    expect(folioTestFlag(mem, f, PG_private)).toBe(true);
    expect(folioRefCount(mem, f)).toBe(2);
    expect(folioGetPrivate(mem, f)).toBe(buffers);
    expectMisuse(
      mem,
      () => folioAttachPrivate(mem, f, {}),
      'CONTRACT_VIOLATION',
      /already has private/,
    );
    const other = folioAlloc(mem, 0, 0);
    expectMisuse(mem, () => folioAttachPrivate(mem, other, null), 'INVALID_ARGUMENT');
    expect(folioDetachPrivate(mem, f)).toBe(buffers);
    expect(folioTestFlag(mem, f, PG_private)).toBe(false);
    expect(folioRefCount(mem, f)).toBe(1);
    expect(folioGetPrivate(mem, f)).toBeNull();
    expect(folioDetachPrivate(mem, f)).toBeNull();
    expect(folioRefCount(mem, f)).toBe(1);
  });

  test('detaching the last reference frees the folio, unless the folio is in a bad state', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 1024 }] });
    const free = nodeFreePages(mem, 0);
    const f = folioAlloc(mem, 0, 0);
    folioAttachPrivate(mem, f, 'data');
    folioPut(mem, f); // the caller's reference; the private data still holds one
    folioSetFlag(mem, f, PG_locked);
    expectMisuse(
      mem,
      () => folioDetachPrivate(mem, f),
      'CONTRACT_VIOLATION',
      /bad page state.*locked/,
    );
    expect(folioTestFlag(mem, f, PG_private)).toBe(true);
    const g = folioAlloc(mem, 0, 0);
    folioAttachPrivate(mem, g, 'data');
    folioPut(mem, g);
    expect(folioDetachPrivate(mem, g)).toBe('data');
    expect(pfnFolio(mem, g)).toBe(-1);
    expect(nodeFreePages(mem, 0)).toBe(free - 1);
  });

  test('per-page private values', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 1024 }] });
    const f = folioAlloc(mem, 2, 0);
    setPagePrivate(mem, f + 3, 1003);
    expect(pagePrivate(mem, f + 3)).toBe(1003);
    expect(pagePrivate(mem, f + 2)).toBeNull();
  });
});
