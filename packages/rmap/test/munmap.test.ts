import { type Folio, folioMapcount, folioPut, folioRefCount } from '@mmsim/folio';
import { Completion, type KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  type FolioLifecycle,
  MAP_PRIVATE,
  PMD_SIZE,
  PROT_READ,
  PROT_WRITE,
  VirtualMemory,
} from '../src/index.js';
import { anonVmaLockRead, mutableAddressSpace, mutableAnonVma } from '../src/internal.js';
import { freePages, createRmapMachine as machine, runAndCheck } from '../src/testing/index.js';

describe('munmap', () => {
  it('splits VMAs, zaps the range, and keeps the rest reachable by rmap', () => {
    const m = machine();
    const { vm, mem, rt } = m;
    const p = vm.createProcess();
    const addr = vm.mmap(p, { length: 8 * 4096 });
    const before = freePages(mem);
    rt.spawn('main', 0, function* (): KernelGen {
      for (let i = 0; i < 8; i++) yield* vm.userWrite(p, addr + i * 4096, i);
      const child = yield* vm.fork(p);
      const shared = vm.followPage(p, addr + 6 * 4096);
      yield* vm.munmap(p, addr + 2 * 4096, 3 * 4096);
      expect(p.vmas.map((v) => [(v.start - addr) / 4096, (v.end - addr) / 4096])).toEqual([
        [0, 2],
        [5, 8],
      ]);
      // The upper part shares the anon_vma of the original VMA.
      expect(p.vmas[1]!.anonVma).toBe(p.vmas[0]!.anonVma);
      expect(p.vmas[0]!.anonVma!.numActiveVmas).toBe(2);
      expect(() => vm.lookupPte(p, addr + 3 * 4096)).toThrow();
      expect(yield* vm.userRead(child, addr + 3 * 4096)).toBe(3);
      expect(
        vm
          .folioMappings(shared)
          .map((x) => x.mm.name)
          .sort(),
      ).toEqual([p.name, child.name].sort());
      expect(yield* vm.userRead(p, addr + 6 * 4096)).toBe(6);
      yield* vm.munmap(p, addr, 8 * 4096);
      expect(p.vmas).toHaveLength(0);
      expect(p.pageTables.size).toBe(0);
      yield* vm.exit(child);
      yield* vm.exit(p);
    });
    runAndCheck(m);
    expect(freePages(mem)).toEqual(before);
    expect(vm.liveAnonVmas).toBe(0);
  });

  it('a split moves the boundary under the anon_vma lock, not only under i_mmap_rwsem (vma_prepare)', () => {
    // A private file mapping with COW pages has both a file and an anon_vma. The unmapper
    // clones the anon_vma chain, then sleeps on i_mmap_rwsem (a file walker holds it);
    // meanwhile an anon walker takes the anon_vma lock. The cut must wait for it.
    const m = machine();
    const { vm, rt } = m;
    const file = vm.createFile('lib', { content: [1, 2, 3, 4] });
    const p = vm.createProcess();
    const addr = vm.mmap(p, {
      length: 4 * 4096,
      flags: MAP_PRIVATE,
      prot: PROT_READ | PROT_WRITE,
      file,
    });
    const fileLocked = new Completion(rt, 'file walker holds i_mmap_rwsem');
    const anonLocked = new Completion(rt, 'anon walker holds the anon_vma lock');
    const vmaEnds: number[] = [];
    let unmapped = false;
    rt.spawn('file-walker', 0, function* (): KernelGen {
      for (let i = 0; i < 4; i++) yield* vm.userWrite(p, addr + i * 4096, 10 + i);
      const iMmap = mutableAddressSpace(file).iMmapRwsem;
      if (!iMmap.downReadTrylock()) throw new Error('i_mmap_rwsem is free here');
      fileLocked.completeAll();
      yield* anonLocked.wait();
      iMmap.upRead();
    });
    rt.spawn('unmapper', 1, function* (): KernelGen {
      yield* fileLocked.wait();
      yield* vm.munmap(p, addr + 2 * 4096, 4096);
      unmapped = true;
    });
    rt.spawn('anon-walker', 1, function* (): KernelGen {
      yield* fileLocked.wait();
      yield* rt.sleepFor(10_000); // the unmapper is asleep on i_mmap_rwsem by now
      const av = mutableAnonVma(p.vmas[0]!.anonVma!);
      yield* anonVmaLockRead(av, 'rmap_walk_anon');
      anonLocked.complete();
      yield* rt.sleepFor(50_000); // the unmapper gets i_mmap_rwsem meanwhile
      vmaEnds.push(p.vmas[0]!.end);
      expect(unmapped).toBe(false);
      av.rwsem.upRead();
    });
    runAndCheck(m);
    // The anon walker saw the VMA whole: the cut waited for its read lock.
    expect(vmaEnds).toEqual([addr + 4 * 4096]);
    expect(unmapped).toBe(true);
    expect(p.vmas.map((v) => [(v.start - addr) / 4096, (v.end - addr) / 4096])).toEqual([
      [0, 2],
      [3, 4],
    ]);
  });

  it('a partial munmap of a THP splits the PMD first', () => {
    const m = machine({ nodes: [8192, 8192] });
    const { vm, mem, rt } = m;
    const p = vm.createProcess();
    const addr = vm.mmap(p, { length: PMD_SIZE, hugepage: true });
    const before = freePages(mem);
    rt.spawn('main', 0, function* (): KernelGen {
      yield* vm.userWrite(p, addr, 1);
      const thp = vm.lookupPte(p, addr).pfn;
      yield* vm.munmap(p, addr + 4096, 4096);
      expect(vm.lookupPte(p, addr)).toMatchObject({ level: 'pte', pfn: thp });
      expect(folioMapcount(mem, thp)).toBe(511);
      expect(folioRefCount(mem, thp)).toBe(511);
      expect(yield* vm.userRead(p, addr)).toBe(1);
      yield* vm.exit(p);
    });
    runAndCheck(m);
    expect(freePages(mem)).toEqual(before);
  });
});

describe('LRU hooks', () => {
  it('new folios go to the LRU hook, last puts through it', () => {
    const m = machine();
    const added: Folio[] = [];
    const put: Folio[] = [];
    let drains = 0;
    const lru: FolioLifecycle = {
      *folioAddLru(folio) {
        added.push(folio);
      },
      *folioPut(folio) {
        put.push(folio);
        folioPut(m.mem, folio);
      },
      *lruAddDrain() {
        drains++;
      },
    };
    const vm = new VirtualMemory(m.rt, m.mem, m.locks, m.vmstat, { lru });
    const p = vm.createProcess();
    const addr = vm.mmap(p, { length: 4096 });
    m.rt.spawn('main', 0, function* (): KernelGen {
      yield* vm.userWrite(p, addr, 1);
      const page = vm.followPage(p, addr);
      const child = yield* vm.fork(p);
      yield* vm.exit(child); // exit_mmap drains this CPU's LRU batch first
      yield* vm.userWrite(p, addr, 2); // do_wp_page: not on an LRU, so it drains first
      expect(vm.followPage(p, addr)).toBe(page);
      yield* vm.exit(p);
      expect(added).toEqual([page]);
      expect(put).toEqual([page]);
      expect(drains).toBe(3); // both exit_mmap calls and do_wp_page
    });
    expect(m.rt.run().status).toBe('completed');
    expect(vm.check()).toEqual([]);
  });
});
