import {
  allocHugetlbFolio,
  folioAlloc,
  folioMapping,
  folioOrder,
  folioPut,
  folioRefCount,
  folioTestFlag,
  HPAGE_PMD_NR,
  HPAGE_PMD_ORDER,
  PG_locked,
  splitFolio,
} from '@mmsim/folio';
import { EEXIST, type KernelGen, MmsimError, NodeStat } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  filemapGetEntry,
  filemapGetFolio,
  MAP_ANONYMOUS,
  MAP_SHARED,
  PAGE_SIZE,
} from '../src/index.js';
import { mutableAddressSpace } from '../src/internal.js';
import { createRmapMachine } from '../src/testing/index.js';

function machine() {
  return createRmapMachine({ nodes: [4096], hugetlbPages: [1], cpuNodes: [0] });
}

describe('the page cache (i_pages)', () => {
  it('adds a large folio as a multi-index entry: a slot per page holds it; nrpages counts pages', () => {
    const { rt, mem, vmstat, vm } = machine();
    const file = vm.createFile('data');
    rt.spawn('t', 0, function* (): KernelGen {
      const folio = folioAlloc(mem, 2, 0);
      expect(yield* vm.filemapAddFolio(file, folio, 4)).toBe(0);
      expect(folioTestFlag(mem, folio, PG_locked)).toBe(true);
      expect(folioRefCount(mem, folio)).toBe(5); // ours + one per page
      expect([...file.pages.entries()]).toEqual([
        [4, folio],
        [5, folio],
        [6, folio],
        [7, folio],
      ]);
      expect(file.nrPages).toBe(4);
      for (let index = 4; index < 8; index++) expect(filemapGetEntry(mem, file, index)).toBe(folio);
      expect(filemapGetEntry(mem, file, 8)).toBeUndefined();
      expect(vmstat.nodePageState(0, NodeStat.NR_FILE_PAGES)).toBe(4);
      expect(yield* filemapGetFolio(mem, file, 6)).toBe(folio);
      expect(folioRefCount(mem, folio)).toBe(6);
      vm.filemapRemoveFolio(file, folio);
      expect(file.nrPages).toBe(0);
      expect(file.pages.size).toBe(0);
      expect(folioMapping(mem, folio)).toBeNull();
      expect(vmstat.nodePageState(0, NodeStat.NR_FILE_PAGES)).toBe(0);
      expect(yield* filemapGetFolio(mem, file, 4)).toBe(-1);
      vm.locks.folioUnlock(folio);
      for (let i = 0; i < 6; i++) folioPut(mem, folio);
    });
    expect(rt.run().status).toBe('completed');
  });

  it('filemap_add_folio: -EEXIST when any index of the range is cached, a misaligned index is refused', () => {
    const { rt, mem, vm } = machine();
    const file = vm.createFile('data');
    rt.spawn('t', 0, function* (): KernelGen {
      const small = folioAlloc(mem, 0, 0);
      expect(yield* vm.filemapAddFolio(file, small, 6)).toBe(0);
      const big = folioAlloc(mem, 2, 0);
      expect(yield* vm.filemapAddFolio(file, big, 4)).toBe(-EEXIST);
      expect(folioRefCount(mem, big)).toBe(1);
      expect(folioMapping(mem, big)).toBeNull();
      expect(folioTestFlag(mem, big, PG_locked)).toBe(false);
      expect(file.nrPages).toBe(1);
      expect(() => vm.filemapAddFolio(file, big, 2).next()).toThrow(
        /index 2 of a 4-page folio must be a non-negative multiple of 4/,
      );
      expect(file.nrPages).toBe(1);
      expect(yield* vm.filemapAddFolio(file, big, 8)).toBe(0);
      expect(file.nrPages).toBe(5);
    });
    expect(rt.run().status).toBe('completed');
  });

  it('a PMD-size folio counts in nr_shmem_hugepages (shmem) or nr_file_hugepages (a file) until removed', () => {
    const { rt, mem, vmstat, vm } = machine();
    const file = vm.createFile('data');
    const proc = vm.createProcess('p');
    const addr = vm.mmap(proc, { length: PAGE_SIZE, flags: MAP_SHARED | MAP_ANONYMOUS });
    const shmem = proc.vmaLookup(addr)!.file!;
    rt.spawn('t', 0, function* (): KernelGen {
      const a = folioAlloc(mem, HPAGE_PMD_ORDER, 0);
      const b = folioAlloc(mem, HPAGE_PMD_ORDER, 0);
      const small = folioAlloc(mem, 2, 0);
      expect(yield* vm.filemapAddFolio(file, a, 0)).toBe(0);
      expect(yield* vm.filemapAddFolio(shmem, b, HPAGE_PMD_NR)).toBe(0);
      expect(yield* vm.filemapAddFolio(file, small, 2 * HPAGE_PMD_NR)).toBe(0);
      expect(vmstat.nodePageState(0, NodeStat.NR_FILE_HUGEPAGES)).toBe(HPAGE_PMD_NR);
      expect(vmstat.nodePageState(0, NodeStat.NR_SHMEM_HUGEPAGES)).toBe(HPAGE_PMD_NR);
      expect(vmstat.nodePageState(0, NodeStat.NR_SHMEM)).toBe(HPAGE_PMD_NR);
      expect(vmstat.nodePageState(0, NodeStat.NR_FILE_PAGES)).toBe(2 * HPAGE_PMD_NR + 4);
      vm.filemapRemoveFolio(file, a);
      vm.filemapRemoveFolio(shmem, b);
      expect(vmstat.nodePageState(0, NodeStat.NR_FILE_HUGEPAGES)).toBe(0);
      expect(vmstat.nodePageState(0, NodeStat.NR_SHMEM_HUGEPAGES)).toBe(0);
      expect(vmstat.nodePageState(0, NodeStat.NR_FILE_PAGES)).toBe(4);
    });
    expect(rt.run().status).toBe('completed');
  });

  it('a hugetlb folio takes over the caller reference and is not counted in nr_file_pages', () => {
    const { mem, vmstat, vm } = machine();
    const file = vm.createFile('hugetlbfs');
    const plain = folioAlloc(mem, 0, 0);
    expect(() => vm.hugetlbAddToPageCache(file, plain, 0)).toThrow(/not a hugetlb folio/);
    const huge = allocHugetlbFolio(mem, 0);
    vm.hugetlbAddToPageCache(file, huge, 0);
    expect(file.lookup(0)).toBe(huge);
    expect(folioRefCount(mem, huge)).toBe(1);
    expect(vmstat.nodePageState(0, NodeStat.NR_FILE_PAGES)).toBe(0);
    vm.filemapRemoveFolio(file, huge);
    expect(file.lookup(0)).toBeUndefined();
    expect(vmstat.nodePageState(0, NodeStat.NR_FILE_PAGES)).toBe(0);
  });

  it('a split order-2 folio is cached at every index by its own piece; nr_file_pages stays', () => {
    const { rt, mem, vmstat, vm } = machine();
    const file = vm.createFile('data');
    const cache = mutableAddressSpace(file);
    rt.spawn('t', 0, function* (): KernelGen {
      const folio = folioAlloc(mem, 2, 0);
      yield* vm.filemapAddFolio(file, folio, 4);
      const slots = () => [...file.pages.entries()];
      const whole = slots();
      expect(whole).toEqual([
        [4, folio],
        [5, folio],
        [6, folio],
        [7, folio],
      ]);
      // Before the folio-level split the pieces do not exist: misuse, nothing changes.
      expect(() => cache.splitEntry(mem, folio, 4, 4)).toThrow(MmsimError);
      expect(slots()).toEqual(whole);
      expect(splitFolio(mem, folio)).toBe(0);
      // A wrong index or size is refused and changes nothing.
      expect(() => cache.splitEntry(mem, folio, 0, 4)).toThrow(/does not cache folio/);
      expect(() => cache.splitEntry(mem, folio, 4, 5)).toThrow(MmsimError); // page 8 is free
      expect(slots()).toEqual(whole);
      cache.splitEntry(mem, folio, 4, 4);
      expect(file.nrPages).toBe(4);
      for (let i = 0; i < 4; i++) {
        expect(folioOrder(mem, folio + i)).toBe(0);
        expect(file.lookup(4 + i)).toBe(folio + i);
        expect(filemapGetEntry(mem, file, 4 + i)).toBe(folio + i);
      }
      expect(vmstat.nodePageState(0, NodeStat.NR_FILE_PAGES)).toBe(4);
      // Storing the pieces twice would overwrite live slots: refused.
      const split = slots();
      expect(() => cache.splitEntry(mem, folio, 4, 4)).toThrow(
        /does not cache folio \d+ at index 5/,
      );
      expect(slots()).toEqual(split);
      vm.locks.folioUnlock(folio);
      for (let i = 3; i >= 0; i--) {
        vm.locks.folioTrylock(folio + i, 'test');
        vm.filemapRemoveFolio(file, folio + i);
        vm.locks.folioUnlock(folio + i);
      }
      expect(vmstat.nodePageState(0, NodeStat.NR_FILE_PAGES)).toBe(0);
      expect(file.nrPages).toBe(0);
      folioPut(mem, folio);
      for (let i = 0; i < 4; i++) folioPut(mem, folio + i);
    });
    expect(rt.run().status).toBe('completed');
  });
});
