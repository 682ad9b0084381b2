import { folioTestFlag, PG_lru, pfnFolio, pfnToNid } from '@mmsim/folio';
import { createKernel } from '@mmsim/kernel';
import { PAGE_SIZE } from '@mmsim/rmap';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { migratorStats } from '../src/actors/migrator.js';
import {
  appMapping,
  movePagesToOtherNode,
  pageWriter,
  writePagesAndDrain,
  writerPair,
} from '../src/actors/written-pages.js';

/** The written-pages fixture of the caller scenarios (hotplug-offline, soft-offline, shmem...). */
describe('written-pages fixture', () => {
  it('writePagesAndDrain: page i holds 1 + i and every page is on an LRU list (no batch left)', () => {
    const k = createKernel({ nodes: [{ pages: 512 }], cpusPerNode: 2, strategy: 'in-order' });
    const mm = k.createProcess('app');
    const addr = k.vm.mmap(mm, { length: 4 * PAGE_SIZE });
    const seen: number[] = [];
    k.rt.spawn('setup', 1, function* (): KernelGen {
      yield* writePagesAndDrain(k, mm, addr, 4);
      for (let i = 0; i < 4; i++) seen.push(yield* k.vm.userRead(mm, addr + i * PAGE_SIZE));
    });
    expect(k.run().status).toBe('completed');
    expect(seen).toEqual([1, 2, 3, 4]);
    for (let i = 0; i < 4; i++) {
      const pfn = k.vm.followPage(mm, addr + i * PAGE_SIZE);
      expect(folioTestFlag(k.mem, pfnFolio(k.mem, pfn), PG_lru)).toBe(true);
    }
  });

  it('appMapping: a process app with the pages mapped, none faulted in yet', () => {
    const k = createKernel({ nodes: [{ pages: 512 }] });
    const { mm, addr } = appMapping(k, 3);
    expect(mm.vmas.map((v) => [v.start - addr, v.end - addr])).toEqual([[0, 3 * PAGE_SIZE]]);
    expect(k.vm.lookupPte(mm, addr).kind).toBe('none');
  });

  it('pageWriter: one writer thread on its CPU', () => {
    const k = createKernel({ nodes: [{ pages: 512 }], cpusPerNode: 2 });
    const { mm, addr } = appMapping(k, 2);
    const w = pageWriter(k, { cpu: 1, mm, addr, pages: 2, accesses: 4 });
    expect([w.name, w.cpu]).toEqual(['writer', 1]);
  });

  it('writerPair: writer-a at random pages and writer-b in sequence on their CPUs, three stores in four', () => {
    const k = createKernel({ nodes: [{ pages: 512 }], cpusPerNode: 3 });
    const mm = k.createProcess('app');
    const addr = k.vm.mmap(mm, { length: 4 * PAGE_SIZE });
    const [a, b, ...rest] = writerPair(k, { mm, addr, pages: 4, accesses: 8, cpuA: 1, cpuB: 2 });
    expect(rest).toEqual([]);
    expect([a!.name, a!.cpu, b!.name, b!.cpu]).toEqual(['writer-a', 1, 'writer-b', 2]);
  });

  it('movePagesToOtherNode: each call moves the page to the node it is not on', () => {
    const k = createKernel({ nodes: [{ pages: 512 }, { pages: 512 }], strategy: 'in-order' });
    const mm = k.createProcess('app');
    const addr = k.vm.mmap(mm, { length: PAGE_SIZE });
    const stats = migratorStats();
    const nodes: number[] = [];
    const move = movePagesToOtherNode(k, { mm, addr, rounds: 3, stats });
    expect([move.name, move.cpu]).toEqual(['move_pages', 0]);
    k.rt.spawn('setup', 0, function* (task): KernelGen {
      yield* writePagesAndDrain(k, mm, addr, 1);
      nodes.push(pfnToNid(k.mem, k.vm.followPage(mm, addr)));
      yield* move.body(task);
    });
    expect(k.run().status).toBe('completed');
    nodes.push(pfnToNid(k.mem, k.vm.followPage(mm, addr)));
    expect(nodes).toEqual([0, 1]); // 0 -> 1 -> 0 -> 1
    expect([stats.rounds, stats.pagesMigrated, stats.pagesFailed]).toEqual([3, 3, 0]);
  });
});
