import {
  folioMapcount,
  folioRefCount,
  folioTestAnon,
  folioTestFlag,
  PG_dirty,
  pfnFolio,
} from '@mmsim/folio';
import { type KernelGen, NodeStat } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { MAP_PRIVATE, MAP_SHARED, type MmView, PROT_READ, PROT_WRITE } from '../src/index.js';
import { freePages, createRmapMachine as machine, runAndCheck } from '../src/testing/index.js';
import { migrateFolio } from './helpers.js';

describe('file-backed memory', () => {
  it('a shared file page mapped by 21 processes migrates and is found by all of them', () => {
    const m = machine();
    const { vm, mem } = m;
    const file = vm.createFile('data', { content: [100, 101, 102] });
    const procs: MmView[] = [];
    const addrs: number[] = [];
    for (let i = 0; i < 21; i++) {
      const p = vm.createProcess(`p${i}`);
      procs.push(p);
      addrs.push(vm.mmap(p, { length: 3 * 4096, flags: MAP_SHARED, file, pgoff: 0 }));
    }
    const before = freePages(mem);
    m.rt.spawn('main', 0, function* (): KernelGen {
      for (let i = 0; i < 21; i++)
        expect(yield* vm.userRead(procs[i]!, addrs[i]! + 4096)).toBe(101);
      const src = vm.followPage(procs[0]!, addrs[0]! + 4096);
      expect(file.lookup(1)).toBe(src);
      expect(folioMapcount(mem, src)).toBe(21);
      expect(folioRefCount(mem, src)).toBe(22); // 21 PTEs + the page cache
      yield* vm.userWrite(procs[5]!, addrs[5]! + 4096, 555);

      const dst = yield* migrateFolio(m, src, {
        whileUnmapped: (folio) => {
          expect(vm.folioMappings(folio).every((x) => x.entry.kind === 'migration')).toBe(true);
          expect(vm.folioMappings(folio)).toHaveLength(21);
          expect(folioRefCount(mem, folio)).toBe(2); // isolation + page cache
          expect(folioTestFlag(mem, folio, PG_dirty)).toBe(true); // from the dirty PTE
        },
      });
      expect(dst).toBeGreaterThanOrEqual(0);
      expect(file.lookup(1)).toBe(dst);
      for (let i = 0; i < 21; i++) {
        expect(yield* vm.userRead(procs[i]!, addrs[i]! + 4096)).toBe(555);
        expect(vm.followPage(procs[i]!, addrs[i]! + 4096)).toBe(dst);
      }
      expect(folioMapcount(mem, dst)).toBe(21);
      expect(folioRefCount(mem, dst)).toBe(22);
      expect(folioTestAnon(mem, dst)).toBe(false);
      // Only the writer's entry was dirty: the others come back clean.
      expect(vm.lookupPte(procs[5]!, addrs[5]! + 4096).dirty).toBe(true);
      expect(vm.lookupPte(procs[6]!, addrs[6]! + 4096).dirty).toBe(false);
      for (const p of procs) yield* vm.exit(p);
      // The page cache keeps the pages after the exits; writing back and dropping frees them.
      expect(file.nrPages).toBe(1);
      expect(yield* vm.invalidateMappingPages(file)).toBe(1);
      expect(file.backing.get(1)).toBe(555);
    });
    runAndCheck(m);
    expect(freePages(mem)).toEqual(before);
    expect(m.vmstat.globalNodePageState(NodeStat.NR_FILE_PAGES)).toBe(0);
    expect(m.vmstat.globalNodePageState(NodeStat.NR_MAPPED)).toBe(0);
    expect(m.vmstat.globalNodePageState(NodeStat.NR_DIRTY)).toBe(0);
  });

  it('a private file mapping reads the page cache and COWs into an anonymous page on write', () => {
    const m = machine();
    const { vm, mem } = m;
    const file = vm.createFile('lib', { content: [1, 2] });
    const a = vm.createProcess('a');
    const b = vm.createProcess('b');
    const flags = MAP_PRIVATE;
    const prot = PROT_READ | PROT_WRITE;
    const addrA = vm.mmap(a, { length: 2 * 4096, flags, prot, file });
    const addrB = vm.mmap(b, { length: 2 * 4096, flags, prot, file });
    m.rt.spawn('main', 0, function* (): KernelGen {
      expect(yield* vm.userRead(a, addrA)).toBe(1);
      expect(yield* vm.userRead(b, addrB)).toBe(1);
      const cached = file.lookup(0)!;
      expect(vm.followPage(a, addrA)).toBe(cached);
      yield* vm.userWrite(a, addrA, 10);
      const copy = vm.followPage(a, addrA);
      expect(copy).not.toBe(cached);
      expect(folioTestAnon(mem, pfnFolio(mem, copy))).toBe(true);
      expect(yield* vm.userRead(b, addrB)).toBe(1); // the file page is untouched
      expect(folioMapcount(mem, cached)).toBe(1);
      // A write with no PTE yet: do_cow_fault.
      yield* vm.userWrite(b, addrB + 4096, 20);
      expect(folioTestAnon(mem, vm.followPage(b, addrB + 4096))).toBe(true);
      expect(file.lookup(1)).toBeDefined();
      expect(folioMapcount(mem, file.lookup(1)!)).toBe(0);
      yield* vm.exit(a);
      yield* vm.exit(b);
      expect(file.backing.get(0)).toBe(1);
    });
    runAndCheck(m);
  });

  it('shared anonymous memory is a shmem file shared across fork, freed with its last mapping', () => {
    const m = machine();
    const { vm, mem } = m;
    const parent = vm.createProcess('parent');
    const addr = vm.mmap(parent, { length: 4096, flags: MAP_SHARED | 0x20 });
    const before = freePages(mem);
    m.rt.spawn('main', 0, function* (): KernelGen {
      yield* vm.userWrite(parent, addr, 5);
      const child = yield* vm.fork(parent, 'child');
      expect(yield* vm.userRead(child, addr)).toBe(5);
      yield* vm.userWrite(child, addr, 6);
      expect(yield* vm.userRead(parent, addr)).toBe(6);
      expect(vm.followPage(child, addr)).toBe(vm.followPage(parent, addr));
      yield* vm.exit(parent);
      expect(yield* vm.userRead(child, addr)).toBe(6);
      yield* vm.exit(child);
    });
    runAndCheck(m);
    expect(freePages(mem)).toEqual(before);
    expect(m.vmstat.globalNodePageState(NodeStat.NR_SHMEM)).toBe(0);
  });
});
