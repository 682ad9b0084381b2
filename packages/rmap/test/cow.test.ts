import {
  folioAlloc,
  folioMapcount,
  folioPut,
  folioRefCount,
  PG_anon_exclusive,
  pageTestFlag,
} from '@mmsim/folio';
import { type KernelGen, type MmsimError, NodeStat } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { freePages, createRmapMachine as machine, runAndCheck } from '../src/testing/index.js';

describe('fork and copy-on-write', () => {
  it('a write in the child copies; the parent keeps its content, then reuses its page', () => {
    const m = machine();
    const { vm, mem } = m;
    const parent = vm.createProcess('parent');
    const addr = vm.mmap(parent, { length: 2 * 4096 });
    const before = freePages(mem);
    m.rt.spawn('main', 0, function* (): KernelGen {
      yield* vm.userWrite(parent, addr, 1);
      yield* vm.userWrite(parent, addr + 4096, 2);
      const page = vm.followPage(parent, addr);
      const child = yield* vm.fork(parent, 'child');
      // Both sides write-protected, the page shared.
      expect(vm.lookupPte(parent, addr)).toMatchObject({
        kind: 'present',
        pfn: page,
        write: false,
      });
      expect(vm.lookupPte(child, addr)).toMatchObject({
        kind: 'present',
        pfn: page,
        write: false,
        young: false,
      });
      expect(folioMapcount(mem, page)).toBe(2);
      expect(folioRefCount(mem, page)).toBe(2);
      expect(pageTestFlag(mem, page, PG_anon_exclusive)).toBe(false);

      yield* vm.userWrite(child, addr, 10);
      const copy = vm.followPage(child, addr);
      expect(copy).not.toBe(page);
      expect(yield* vm.userRead(child, addr)).toBe(10);
      expect(yield* vm.userRead(parent, addr)).toBe(1);
      expect(pageTestFlag(mem, copy, PG_anon_exclusive)).toBe(true);
      // The copy is filed under the child's own anon_vma, a child of the parent's.
      const childVma = child.vmas[0]!;
      const parentVma = parent.vmas[0]!;
      expect(vm.folioAnonVma(copy)).toBe(childVma.anonVma);
      expect(childVma.anonVma!.parent).toBe(parentVma.anonVma);
      expect(childVma.anonVma!.root).toBe(parentVma.anonVma);
      expect(parentVma.anonVma!.numChildren).toBe(2); // itself and the child's
      expect(childVma.anonVmaChain).toHaveLength(2);

      // The parent is now the only mapper: do_wp_page reuses the page (no copy).
      expect(folioMapcount(mem, page)).toBe(1);
      expect(folioRefCount(mem, page)).toBe(1);
      yield* vm.userWrite(parent, addr, 3);
      expect(vm.followPage(parent, addr)).toBe(page);
      expect(pageTestFlag(mem, page, PG_anon_exclusive)).toBe(true);
      expect(vm.lookupPte(parent, addr).write).toBe(true);
      // The second page is still shared and untouched by anyone.
      expect(yield* vm.userRead(child, addr + 4096)).toBe(2);
      expect(vm.followPage(child, addr + 4096)).toBe(vm.followPage(parent, addr + 4096));

      yield* vm.exit(parent);
      expect(yield* vm.userRead(child, addr + 4096)).toBe(2);
      yield* vm.exit(child);
    });
    runAndCheck(m);
    expect(freePages(mem)).toEqual(before);
    expect(vm.liveAnonVmas).toBe(0);
    expect(m.vmstat.globalNodePageState(NodeStat.NR_ANON_PAGES)).toBe(0);
  });

  it('a read of untouched anonymous memory maps the zero page; a write then allocates', () => {
    const m = machine();
    const { vm, mem } = m;
    const p = vm.createProcess();
    const addr = vm.mmap(p, { length: 4096 });
    m.rt.spawn('main', 0, function* (): KernelGen {
      expect(yield* vm.userRead(p, addr)).toBe(0);
      expect(vm.followPage(p, addr)).toBe(mem.zeroPfn);
      expect(p.vmas[0]!.anonVma).toBeNull();
      yield* vm.userWrite(p, addr, 9);
      expect(vm.followPage(p, addr)).not.toBe(mem.zeroPfn);
      expect(yield* vm.userRead(p, addr)).toBe(9);
      yield* vm.exit(p);
    });
    runAndCheck(m);
  });

  it('reuses an anon_vma with no active VMA and fewer than two children (anon_vma_clone)', () => {
    const m = machine();
    const { vm } = m;
    const p = vm.createProcess('p');
    const addr = vm.mmap(p, { length: 4096 });
    m.rt.spawn('main', 0, function* (): KernelGen {
      yield* vm.userWrite(p, addr, 1);
      const c = yield* vm.fork(p, 'c');
      yield* vm.userWrite(c, addr, 2); // COW into c's own anon_vma
      const avC = c.vmas[0]!.anonVma!;
      const g = yield* vm.fork(c, 'g');
      const avG = g.vmas[0]!.anonVma!;
      expect(avG).not.toBe(avC); // avC is still c's active anon_vma
      expect(avG.parent).toBe(avC);
      expect(avC.numChildren).toBe(1);
      yield* vm.exit(c);
      // c's anon_vma lives on (g's VMA is chained to it) with no active VMA.
      expect(avC.freed).toBe(false);
      expect(avC.numActiveVmas).toBe(0);
      expect(yield* vm.userRead(g, addr)).toBe(2);
      const h = yield* vm.fork(g, 'h');
      const hVma = h.vmas[0]!;
      expect(hVma.anonVma).toBe(avC); // reused, not a new one
      expect(avC.numActiveVmas).toBe(1);
      expect(hVma.anonVmaChain.map((avc) => avc.anonVma)).toEqual([avG, avC, p.vmas[0]!.anonVma]);
      // The root is never reused: a fork of p gets a new anon_vma.
      const q = yield* vm.fork(p, 'q');
      expect(q.vmas[0]!.anonVma).not.toBe(p.vmas[0]!.anonVma);
      expect(q.vmas[0]!.anonVma!.parent).toBe(p.vmas[0]!.anonVma);
      for (const x of [h, g, q, p]) yield* vm.exit(x);
    });
    runAndCheck(m);
    expect(vm.liveAnonVmas).toBe(0);
  });

  it('fork copies a page the parent has pinned instead of sharing it', () => {
    const m = machine();
    const { vm, mem } = m;
    const parent = vm.createProcess('parent');
    const addr = vm.mmap(parent, { length: 4096 });
    const before = freePages(mem);
    m.rt.spawn('main', 0, function* (): KernelGen {
      yield* vm.userWrite(parent, addr, 4);
      const pfn = yield* vm.pinUserPage(parent, addr, true);
      expect(vm.folioMaybeDmaPinned(pfn)).toBe(true);
      const child = yield* vm.fork(parent, 'child');
      expect(vm.followPage(child, addr)).not.toBe(pfn);
      expect(vm.lookupPte(parent, addr)).toMatchObject({ pfn, write: true });
      expect(pageTestFlag(mem, pfn, PG_anon_exclusive)).toBe(true);
      expect(yield* vm.userRead(child, addr)).toBe(4);
      yield* vm.unpinUserPage(parent, pfn);
      yield* vm.exit(child);
      yield* vm.exit(parent);
    });
    runAndCheck(m);
    expect(freePages(mem)).toEqual(before);
  });

  it('a fork that cannot copy a pinned page fails with the child torn down', () => {
    const m = machine({ nodes: [1024], cpuNodes: [0] });
    const { vm, mem } = m;
    const parent = vm.createProcess('parent');
    const addr = vm.mmap(parent, { length: 4096 });
    m.rt.spawn('main', 0, function* (): KernelGen {
      yield* vm.userWrite(parent, addr, 4);
      const pfn = yield* vm.pinUserPage(parent, addr, true);
      const hog: number[] = [];
      for (let f = folioAlloc(mem, 0, 0); f >= 0; f = folioAlloc(mem, 0, 0)) hog.push(f);
      let error: unknown = null;
      try {
        yield* vm.fork(parent, 'child');
      } catch (e) {
        error = e;
      }
      expect((error as MmsimError).code).toBe('INVALID_CONFIG');
      expect(vm.processes).toEqual([parent]);
      expect(vm.check()).toEqual([]);
      for (const f of hog) folioPut(mem, f);
      expect(yield* vm.userRead(parent, addr)).toBe(4);
      yield* vm.unpinUserPage(parent, pfn);
      yield* vm.exit(parent);
    });
    runAndCheck(m);
    expect(vm.liveAnonVmas).toBe(0);
  });
});
