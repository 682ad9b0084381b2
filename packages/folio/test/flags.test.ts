import { describe, expect, test } from 'vitest';
import {
  createPhysicalMemory,
  folioAlloc,
  folioClearFlag,
  folioFlags,
  folioSetFlag,
  folioTestClearFlag,
  folioTestFlag,
  folioTestSetFlag,
  folioTestSwapcache,
  formatFlags,
  NR_PAGEFLAGS,
  PG_active,
  PG_anon_exclusive,
  PG_arch_1,
  PG_checked,
  PG_dirty,
  PG_error,
  PG_fscache,
  PG_has_hwpoisoned,
  PG_head,
  PG_hwpoison,
  PG_idle,
  PG_isolated,
  PG_locked,
  PG_lru,
  PG_mappedtodisk,
  PG_mlocked,
  PG_owner_priv_1,
  PG_private,
  PG_private_2,
  PG_readahead,
  PG_reclaim,
  PG_referenced,
  PG_reported,
  PG_reserved,
  PG_slab,
  PG_swapbacked,
  PG_swapcache,
  PG_uncached,
  PG_unevictable,
  PG_uptodate,
  PG_waiters,
  PG_workingset,
  PG_writeback,
  PG_young,
  pageClearFlag,
  pageFlagMask,
  pageSetFlag,
  pageTestFlag,
} from '../src/index.js';
import { expectMisuse } from './helpers.js';

describe('page flag numbers (enum pageflags, Linux 6.3, x86-64)', () => {
  test('bits follow the kernel enum order', () => {
    const order = [
      PG_locked,
      PG_referenced,
      PG_uptodate,
      PG_dirty,
      PG_lru,
      PG_active,
      PG_workingset,
      PG_waiters,
      PG_error,
      PG_slab,
      PG_owner_priv_1,
      PG_arch_1,
      PG_reserved,
      PG_private,
      PG_private_2,
      PG_writeback,
      PG_head,
      PG_mappedtodisk,
      PG_reclaim,
      PG_swapbacked,
      PG_unevictable,
      PG_mlocked,
      PG_uncached,
      PG_hwpoison,
      PG_young,
      PG_idle,
    ];
    expect(order).toEqual(order.map((_, i) => i));
    expect(PG_waiters).toBe(7);
    expect(NR_PAGEFLAGS).toBe(order.length);
  });

  test('aliases share their base bit', () => {
    expect(PG_checked).toBe(PG_owner_priv_1);
    expect(PG_swapcache).toBe(PG_owner_priv_1);
    expect(PG_readahead).toBe(PG_reclaim);
    expect(PG_isolated).toBe(PG_reclaim);
    expect(PG_anon_exclusive).toBe(PG_mappedtodisk);
    expect(PG_fscache).toBe(PG_private_2);
    expect(PG_has_hwpoisoned).toBe(PG_error);
    expect(PG_reported).toBe(PG_uptodate);
  });

  test('formatFlags prints %pGp names in the kernel table order', () => {
    expect(
      formatFlags(pageFlagMask(PG_lru) | pageFlagMask(PG_locked) | pageFlagMask(PG_uptodate)),
    ).toBe('locked|uptodate|lru');
    // waiters prints right after locked, as __def_pageflag_names lists it.
    expect(
      formatFlags(pageFlagMask(PG_referenced) | pageFlagMask(PG_waiters) | pageFlagMask(PG_locked)),
    ).toBe('locked|waiters|referenced');
    expect(formatFlags(pageFlagMask(PG_swapcache))).toBe('owner_priv_1');
    expect(
      formatFlags(pageFlagMask(PG_head) | pageFlagMask(PG_young) | pageFlagMask(PG_idle)),
    ).toBe('head|young|idle');
    expect(formatFlags(0)).toBe('');
    expect(formatFlags(pageFlagMask(PG_dirty) | (1 << 30))).toBe('dirty|0x40000000');
  });
});

describe('folio flag operations', () => {
  const mem = createPhysicalMemory({ nodes: [{ pages: 1024 }] });

  test('set, clear, test-and-set and test-and-clear act on the head', () => {
    const f = folioAlloc(mem, 2, 0);
    expect(folioTestSetFlag(mem, f, PG_locked)).toBe(false);
    expect(folioTestSetFlag(mem, f, PG_locked)).toBe(true);
    expect(folioTestFlag(mem, f, PG_locked)).toBe(true);
    folioSetFlag(mem, f, PG_dirty);
    expect(formatFlags(folioFlags(mem, f))).toBe('locked|dirty|head');
    expect(folioTestClearFlag(mem, f, PG_dirty)).toBe(true);
    expect(folioTestClearFlag(mem, f, PG_dirty)).toBe(false);
    folioClearFlag(mem, f, PG_locked);
    expect(folioFlags(mem, f)).toBe(pageFlagMask(PG_head));
  });

  test('PG_swapcache means the swap cache only on a swap-backed folio', () => {
    const f = folioAlloc(mem, 0, 0);
    folioSetFlag(mem, f, PG_checked);
    expect(folioTestSwapcache(mem, f)).toBe(false);
    folioSetFlag(mem, f, PG_swapbacked);
    expect(folioTestSwapcache(mem, f)).toBe(true);
  });

  test('per-page flags live on each page, tails included', () => {
    const f = folioAlloc(mem, 1, 0);
    pageSetFlag(mem, f + 1, PG_anon_exclusive);
    expect(pageTestFlag(mem, f + 1, PG_anon_exclusive)).toBe(true);
    expect(pageTestFlag(mem, f, PG_anon_exclusive)).toBe(false);
    pageSetFlag(mem, f + 1, PG_hwpoison);
    pageClearFlag(mem, f + 1, PG_anon_exclusive);
    expect(pageTestFlag(mem, f + 1, PG_anon_exclusive)).toBe(false);
    expect(pageTestFlag(mem, f + 1, PG_hwpoison)).toBe(true);
    expectMisuse(mem, () => pageSetFlag(mem, f + 1, PG_dirty), 'INVALID_ARGUMENT', /per-page/);
  });

  test('bad flag numbers and PG_head are refused without a change', () => {
    const f = folioAlloc(mem, 1, 0);
    for (const bad of [-1, NR_PAGEFLAGS, 31, 2.5]) {
      expectMisuse(mem, () => folioSetFlag(mem, f, bad), 'INVALID_ARGUMENT', /PG_\* bit/);
      expectMisuse(mem, () => folioTestFlag(mem, f, bad), 'INVALID_ARGUMENT');
    }
    expectMisuse(mem, () => folioClearFlag(mem, f, PG_head), 'INVALID_ARGUMENT', /allocator/);
    expectMisuse(mem, () => folioTestSetFlag(mem, f, PG_head), 'INVALID_ARGUMENT');
    expect(folioTestFlag(mem, f, PG_head)).toBe(true);
    expect(folioTestFlag(mem, f, PG_active)).toBe(false);
    expect(folioTestFlag(mem, f, PG_writeback)).toBe(false);
    expect(folioTestFlag(mem, f, PG_mlocked)).toBe(false);
    expect(folioTestFlag(mem, f, PG_unevictable)).toBe(false);
    expect(folioTestFlag(mem, f, PG_workingset)).toBe(false);
    expect(folioTestFlag(mem, f, PG_uncached)).toBe(false);
    expect(folioTestFlag(mem, f, PG_slab)).toBe(false);
    expect(folioTestFlag(mem, f, PG_private)).toBe(false);
  });
});
