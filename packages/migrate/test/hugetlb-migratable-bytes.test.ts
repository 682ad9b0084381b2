import { allocHugetlbFolio, FolioList } from '@mmsim/folio';
import { runAll, spawn } from '@mmsim/lru/test';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { createMigrateMachine } from '../src/testing/index.js';

/**
 * HPageMigratable's bytes are taken from the machine on the first mark, not when the core
 * is built: a machine without hugetlb folios (most of an explorer's, one per schedule)
 * never takes them, and one that marks a folio keeps the mark through isolation and
 * putback as before.
 */
describe('hugetlb: the HPageMigratable bytes, taken on the first mark', () => {
  it('none before a mark; a mark, an isolation and a putback read back', () => {
    const m = createMigrateMachine({ hugetlbPages: [2, 1] });
    const h = m.core.env.hstate;
    expect(h.migratable.length).toBe(0);
    const list = new FolioList(m.mem);
    spawn(m, 'iso', 0, function* (): KernelGen {
      const a = m.core.hugetlbAllocActive(0);
      const b = m.core.hugetlbAllocActive(0);
      expect(a).toBeGreaterThanOrEqual(0);
      expect(b).toBeGreaterThanOrEqual(0);
      // Marked on allocation: the bytes are the machine's size and hold both marks.
      expect(h.migratable.length).toBe(m.mem.maxPfn);
      expect([h.migratable[a], h.migratable[b]]).toEqual([1, 1]);
      // isolate_hugetlb takes the mark: a second isolation of the same folio fails.
      expect(m.core.isolateHugetlb(a, list)).toBe(true);
      expect(m.core.isolateHugetlb(a, list)).toBe(false);
      expect(h.migratable[a]).toBe(0);
      expect(h.migratable[b]).toBe(1);
      // Put back, it is marked again and may be isolated again.
      m.core.folioPutbackActiveHugetlb(a);
      expect(h.migratable[a]).toBe(1);
      expect(m.core.isolateHugetlb(a, list)).toBe(true);
      m.core.folioPutbackActiveHugetlb(a);
      yield;
    });
    runAll(m);
    expect(list.size).toBe(0);
  });

  it('a folio activated but not yet marked is not isolated and takes no bytes; the mark takes them', () => {
    const m = createMigrateMachine({ hugetlbPages: [2, 1] });
    const h = m.core.env.hstate;
    const life = m.core.hugetlbLifecycle;
    const list = new FolioList(m.mem);
    const folio = allocHugetlbFolio(m.mem, 0);
    expect(folio).toBeGreaterThanOrEqual(0);
    life.folioActivate(folio); // alloc_hugetlb_folio: on the active list, not migratable
    spawn(m, 'iso', 0, function* (): KernelGen {
      expect(m.core.isolateHugetlb(folio, list)).toBe(false);
      expect(h.migratable.length).toBe(0);
      life.folioSetMigratable(folio); // folio_set_hugetlb_migratable
      expect(h.migratable.length).toBe(m.mem.maxPfn);
      expect(m.core.isolateHugetlb(folio, list)).toBe(true);
      m.core.folioPutbackActiveHugetlb(folio);
      yield;
    });
    runAll(m);
    expect(list.size).toBe(0);
    expect(h.migratable[folio]).toBe(1);
  });
});
