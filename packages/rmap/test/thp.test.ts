import {
  folioEntireMapcount,
  folioMapcount,
  folioOrder,
  folioRefCount,
  HPAGE_PMD_ORDER,
  PG_anon_exclusive,
  pageMapcount,
  pageTestFlag,
} from '@mmsim/folio';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { PMD_SIZE, TTU_BATCH_FLUSH, TTU_SPLIT_HUGE_PMD } from '../src/index.js';
import { freePages, createRmapMachine as machine, runAndCheck } from '../src/testing/index.js';
import { migrateFolio } from './helpers.js';

describe('PMD-mapped THPs', () => {
  it('migrate through a PMD migration entry, flushed at once even with TTU_BATCH_FLUSH', () => {
    const m = machine({ nodes: [8192, 8192] });
    const { vm, mem, rt } = m;
    const p = vm.createProcess();
    const addr = vm.mmap(p, { length: PMD_SIZE, hugepage: true });
    expect(addr % PMD_SIZE).toBe(0);
    const before = freePages(mem);
    rt.spawn('user', 1, function* (): KernelGen {
      for (let i = 0; i < 512; i += 64) yield* vm.userWrite(p, addr + i * 4096, i);
    });
    rt.spawn('migrator', 0, function* (): KernelGen {
      yield;
      const thp = vm.lookupPte(p, addr).pfn;
      expect(vm.lookupPte(p, addr).level).toBe('pmd');
      expect(folioOrder(mem, thp)).toBe(HPAGE_PMD_ORDER);
      expect(folioEntireMapcount(mem, thp)).toBe(1);
      expect(folioRefCount(mem, thp)).toBe(1);
      vm.tlbStats.reset();
      const dst = yield* migrateFolio(m, thp, {
        node: 1,
        flags: TTU_BATCH_FLUSH,
        whileUnmapped: () => {
          expect(vm.lookupPte(p, addr)).toMatchObject({
            kind: 'migration',
            level: 'pmd',
            migration: 'writable',
          });
          // Not batched: the PMD was flushed when it was invalidated.
          expect(vm.tlbStats.shootdowns).toBe(1);
          expect(vm.tlbBatch().flushRequired).toBe(false);
        },
      });
      expect(vm.lookupPte(p, addr)).toMatchObject({
        kind: 'present',
        level: 'pmd',
        pfn: dst,
        write: true,
      });
      expect(folioEntireMapcount(mem, dst)).toBe(1);
      expect(folioRefCount(mem, dst)).toBe(1);
      expect(pageTestFlag(mem, dst, PG_anon_exclusive)).toBe(true);
      for (let i = 0; i < 512; i += 64) expect(yield* vm.userRead(p, addr + i * 4096)).toBe(i);
      yield* vm.exit(p);
    });
    runAndCheck(m);
    expect(freePages(mem)).toEqual(before);
  });

  it('TTU_SPLIT_HUGE_PMD freezes the PMD into 512 PTE migration entries', () => {
    const m = machine({ nodes: [8192, 8192] });
    const { vm, mem, rt } = m;
    const p = vm.createProcess();
    const addr = vm.mmap(p, { length: PMD_SIZE, hugepage: true });
    rt.spawn('main', 0, function* (): KernelGen {
      yield* vm.userWrite(p, addr + 3 * 4096, 33);
      const thp = vm.lookupPte(p, addr).pfn;
      const dst = yield* migrateFolio(m, thp, {
        flags: TTU_SPLIT_HUGE_PMD,
        whileUnmapped: () => {
          const v = vm.lookupPte(p, addr + 7 * 4096);
          expect(v).toMatchObject({
            kind: 'migration',
            level: 'pte',
            pfn: thp + 7,
            migration: 'writable',
          });
        },
      });
      expect(vm.lookupPte(p, addr + 3 * 4096)).toMatchObject({
        kind: 'present',
        level: 'pte',
        pfn: dst + 3,
      });
      expect(folioMapcount(mem, dst)).toBe(512);
      expect(folioEntireMapcount(mem, dst)).toBe(0);
      expect(pageMapcount(mem, dst + 100)).toBe(1);
      expect(folioRefCount(mem, dst)).toBe(512);
      expect(pageTestFlag(mem, dst + 100, PG_anon_exclusive)).toBe(true);
      expect(yield* vm.userRead(p, addr + 3 * 4096)).toBe(33);
      yield* vm.exit(p);
    });
    runAndCheck(m);
  });

  it('fork shares the THP by PMD; a write splits the PMD and copies one page', () => {
    const m = machine({ nodes: [8192, 8192] });
    const { vm, mem, rt } = m;
    const parent = vm.createProcess('parent');
    const addr = vm.mmap(parent, { length: PMD_SIZE, hugepage: true });
    const before = freePages(mem);
    rt.spawn('main', 0, function* (): KernelGen {
      yield* vm.userWrite(parent, addr, 1);
      yield* vm.userWrite(parent, addr + 4096, 2);
      const thp = vm.lookupPte(parent, addr).pfn;
      const child = yield* vm.fork(parent, 'child');
      expect(vm.lookupPte(child, addr)).toMatchObject({ level: 'pmd', pfn: thp, write: false });
      expect(vm.lookupPte(parent, addr)).toMatchObject({ level: 'pmd', pfn: thp, write: false });
      expect(folioEntireMapcount(mem, thp)).toBe(2);
      expect(folioRefCount(mem, thp)).toBe(2);
      yield* vm.userWrite(child, addr, 10);
      expect(vm.lookupPte(child, addr).level).toBe('pte');
      expect(vm.followPage(child, addr)).not.toBe(thp);
      expect(vm.followPage(child, addr + 4096)).toBe(thp + 1);
      expect(vm.lookupPte(parent, addr)).toMatchObject({ level: 'pmd', pfn: thp });
      expect(yield* vm.userRead(parent, addr)).toBe(1);
      expect(yield* vm.userRead(child, addr + 4096)).toBe(2);
      // The THP: the parent's PMD plus 511 of the child's PTEs.
      expect(folioEntireMapcount(mem, thp)).toBe(1);
      expect(folioMapcount(mem, thp)).toBe(1 + 511);
      expect(folioRefCount(mem, thp)).toBe(1 + 511);
      // And it still migrates, found by rmap at both levels.
      const dst = yield* migrateFolio(m, thp, { flags: TTU_BATCH_FLUSH });
      expect(dst).toBeGreaterThanOrEqual(0);
      expect(vm.lookupPte(parent, addr)).toMatchObject({ level: 'pmd', pfn: dst });
      expect(vm.followPage(child, addr + 4096)).toBe(dst + 1);
      expect(yield* vm.userRead(parent, addr + 4096)).toBe(2);
      yield* vm.exit(child);
      yield* vm.exit(parent);
    });
    runAndCheck(m);
    expect(freePages(mem)).toEqual(before);
  });
});
