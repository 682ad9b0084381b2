import {
  folioAlloc,
  folioEntireMapcount,
  folioIndex,
  folioOrder,
  folioPut,
  folioRefCount,
  HPAGE_PMD_NR,
  HPAGE_PMD_ORDER,
  pfnFolio,
  setPageContent,
} from '@mmsim/folio';
import { type KernelGen, NodeStat, VmEvent } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  type MmView,
  PAGE_SIZE,
  PMD_SIZE,
  PROT_READ,
  type ShmemHuge,
} from '../src/index.js';
import { mutableAddressSpace } from '../src/internal.js';
import { freePages, createRmapMachine as machine, runAndCheck } from '../src/testing/index.js';

/**
 * shmem THP (mm/shmem.c, 6.3): faults of MAP_SHARED | MAP_ANONYMOUS memory allocate a
 * PMD-size shmem folio when `shmem_is_huge` allows it, added to the page cache as a
 * multi-index entry and mapped page by page.
 */

const SHARED_ANON = MAP_SHARED | MAP_ANONYMOUS;

function sharedAnon(shmemEnabled: ShmemHuge, length: number, hugepage = false) {
  const m = machine({ nodes: [8192, 8192], shmemEnabled });
  const p = m.vm.createProcess('p');
  const addr = m.vm.mmap(p, { length, flags: SHARED_ANON, hugepage });
  const file = p.vmaLookup(addr)!.file!;
  return { m, p, addr, file };
}

/** The folio backing `addr` after a write of `value` there. */
function* touch(
  m: ReturnType<typeof machine>,
  p: MmView,
  addr: number,
  value: number,
): KernelGen<number> {
  yield* m.vm.userWrite(p, addr, value);
  return pfnFolio(m.mem, m.vm.followPage(p, addr));
}

describe('shmem THP faults (shmem_get_folio_gfp, 6.3)', () => {
  it('shmem_enabled=always: the first touch brings a PMD-size folio, in a slot per page, PMD-mapped (do_set_pmd)', () => {
    const { m, p, addr, file } = sharedAnon('always', PMD_SIZE);
    expect(addr % PMD_SIZE).toBe(0); // shmem_get_unmapped_area aligns
    const { vm, mem, vmstat } = m;
    m.rt.spawn('user', 0, function* (): KernelGen {
      const folio = yield* touch(m, p, addr + 5 * PAGE_SIZE, 55);
      expect(folioOrder(mem, folio)).toBe(HPAGE_PMD_ORDER);
      expect(folioIndex(mem, folio)).toBe(0);
      expect(vm.lookupPte(p, addr + 5 * PAGE_SIZE)).toMatchObject({
        kind: 'present',
        level: 'pmd',
      });
      expect(vm.followPage(p, addr + 5 * PAGE_SIZE)).toBe(folio + 5);
      expect(file.nrPages).toBe(HPAGE_PMD_NR);
      for (const i of [0, 5, 511]) expect(file.lookup(i)).toBe(folio);
      expect(vmstat.nodePageState(0, NodeStat.NR_SHMEM_HUGEPAGES)).toBe(HPAGE_PMD_NR);
      expect(vmstat.nodePageState(0, NodeStat.NR_SHMEM)).toBe(HPAGE_PMD_NR);
      expect(vmstat.vmEvent(VmEvent.THP_FILE_ALLOC)).toBe(1);
      expect(vmstat.vmEvent(VmEvent.THP_FILE_MAPPED)).toBe(1);
      expect(folioEntireMapcount(mem, folio)).toBe(1);
      // Another page of the range goes through the same PMD.
      expect(yield* touch(m, p, addr + 300 * PAGE_SIZE, 300)).toBe(folio);
      expect(yield* vm.userRead(p, addr + 5 * PAGE_SIZE)).toBe(55);
      expect(vmstat.vmEvent(VmEvent.THP_FILE_ALLOC)).toBe(1);
      // cache (512) + the PMD
      expect(folioRefCount(mem, folio)).toBe(HPAGE_PMD_NR + 1);
      // fork does not copy a file PMD (copy_huge_pmd skips it): the child faults it in.
      const child = yield* vm.fork(p, 'child');
      expect(vm.lookupPte(child, addr).kind).toBe('none');
      expect(yield* vm.userRead(child, addr + 300 * PAGE_SIZE)).toBe(300);
      expect(vm.lookupPte(child, addr + 300 * PAGE_SIZE)).toMatchObject({ level: 'pmd' });
      expect(folioEntireMapcount(mem, folio)).toBe(2);
      expect(vmstat.vmEvent(VmEvent.THP_FILE_MAPPED)).toBe(2);
    });
    runAndCheck(m);
  });

  it('a mapping whose PMD range is not all inside the VMA maps the shmem THP by PTEs', () => {
    const { m, p, addr, file } = sharedAnon('always', PMD_SIZE);
    const { vm, mem } = m;
    m.rt.spawn('user', 0, function* (): KernelGen {
      // Half of the THP's range mapped: transhuge_vma_suitable fails, do_set_pte maps one page.
      expect(yield* vm.munmap(p, addr + PMD_SIZE / 2, PMD_SIZE / 2)).toBe(0);
      const folio = yield* touch(m, p, addr + 5 * PAGE_SIZE, 55);
      expect(folioOrder(mem, folio)).toBe(HPAGE_PMD_ORDER);
      expect(vm.lookupPte(p, addr + 5 * PAGE_SIZE)).toMatchObject({
        kind: 'present',
        level: 'pte',
      });
      expect(vm.followPage(p, addr + 5 * PAGE_SIZE)).toBe(folio + 5);
      expect(yield* touch(m, p, addr + 6 * PAGE_SIZE, 66)).toBe(folio);
      expect(folioRefCount(mem, folio)).toBe(HPAGE_PMD_NR + 2); // cache + two PTEs
      expect(file.nrPages).toBe(HPAGE_PMD_NR);
    });
    runAndCheck(m);
  });

  it('splitting a file PMD (munmap of part of its range) drops it; the rest faults in by PTEs', () => {
    const m = machine({ nodes: [8192, 8192], shmemEnabled: 'always' });
    const p = m.vm.createProcess('p');
    const addr = m.vm.mmap(p, { length: PMD_SIZE, flags: SHARED_ANON, prot: PROT_READ });
    m.rt.spawn('user', 0, function* (): KernelGen {
      expect(yield* m.vm.userRead(p, addr)).toBe(0);
      const folio = pfnFolio(m.mem, m.vm.followPage(p, addr));
      expect(m.vm.lookupPte(p, addr)).toMatchObject({ level: 'pmd', write: false });
      // Splitting the PMD (munmap of part of it): a file PMD is dropped, not replaced.
      expect(yield* m.vm.munmap(p, addr + PMD_SIZE - PAGE_SIZE, PAGE_SIZE)).toBe(0);
      expect(m.vm.lookupPte(p, addr).kind).toBe('none');
      expect(folioEntireMapcount(m.mem, folio)).toBe(0);
      expect(yield* m.vm.userRead(p, addr + PAGE_SIZE)).toBe(0);
      expect(m.vm.lookupPte(p, addr + PAGE_SIZE)).toMatchObject({ level: 'pte' });
    });
    runAndCheck(m);
  });

  it('file THP: a read of a MAP_PRIVATE mapping PMD-maps a cached PMD-size folio; a write splits it (wp_huge_pmd) and copies one page', () => {
    const m = machine({ nodes: [8192, 8192] });
    const { vm, mem, vmstat } = m;
    const file = vm.createFile('lib.so');
    const p = vm.createProcess('p');
    m.rt.spawn('user', 0, function* (): KernelGen {
      const folio = folioAlloc(mem, HPAGE_PMD_ORDER, 0);
      for (let i = 0; i < HPAGE_PMD_NR; i++) setPageContent(mem, folio + i, 900 + i);
      expect(yield* vm.filemapAddFolio(file, folio, 0)).toBe(0);
      expect(vmstat.nodePageState(0, NodeStat.NR_FILE_HUGEPAGES)).toBe(HPAGE_PMD_NR);
      m.locks.folioUnlock(folio);
      folioPut(mem, folio);
      const addr = vm.mmap(p, { length: PMD_SIZE, flags: MAP_PRIVATE, file, addr: 64 * PMD_SIZE });
      expect(yield* vm.userRead(p, addr + 7 * PAGE_SIZE)).toBe(907);
      expect(vm.lookupPte(p, addr)).toMatchObject({ level: 'pmd', write: false });
      expect(folioEntireMapcount(mem, folio)).toBe(1);
      yield* vm.userWrite(p, addr + 7 * PAGE_SIZE, 1);
      expect(folioEntireMapcount(mem, folio)).toBe(0);
      const copy = vm.followPage(p, addr + 7 * PAGE_SIZE);
      expect(pfnFolio(mem, copy)).not.toBe(folio);
      expect(vm.lookupPte(p, addr + 7 * PAGE_SIZE)).toMatchObject({ level: 'pte', write: true });
      // The rest of the range comes back by PTEs (a page table exists now).
      expect(yield* vm.userRead(p, addr + 8 * PAGE_SIZE)).toBe(908);
      expect(vm.followPage(p, addr + 8 * PAGE_SIZE)).toBe(folio + 8);
      expect(yield* vm.munmap(p, addr, PMD_SIZE)).toBe(0);
    });
    runAndCheck(m);
  });

  it('shmem_enabled=never (the default): order-0 folios', () => {
    const { m, p, addr, file } = sharedAnon('never', PMD_SIZE);
    m.rt.spawn('user', 0, function* (): KernelGen {
      const folio = yield* touch(m, p, addr, 1);
      expect(folioOrder(m.mem, folio)).toBe(0);
      expect(file.nrPages).toBe(1);
      expect(m.vmstat.nodePageState(0, NodeStat.NR_SHMEM_HUGEPAGES)).toBe(0);
    });
    runAndCheck(m);
  });

  for (const [setting, length, hugepage, huge] of [
    ['advise', PMD_SIZE, false, false],
    ['advise', PMD_SIZE, true, true],
    ['within_size', PMD_SIZE, false, true],
    ['within_size', PMD_SIZE / 2, false, false],
    ['within_size', PMD_SIZE / 2, true, true],
  ] as const) {
    it(`${setting}, ${length / PAGE_SIZE} pages${hugepage ? ', MADV_HUGEPAGE' : ''}: ${huge ? 'huge' : 'order 0'}`, () => {
      const { m, p, addr } = sharedAnon(setting, length, hugepage);
      m.rt.spawn('user', 0, function* (): KernelGen {
        const folio = yield* touch(m, p, addr, 1);
        expect(folioOrder(m.mem, folio)).toBe(huge ? HPAGE_PMD_ORDER : 0);
      });
      runAndCheck(m);
    });
  }

  it('a range partly cached already falls back to order 0 (THP_FILE_FALLBACK)', () => {
    const { m, p, addr, file } = sharedAnon('always', PMD_SIZE);
    m.rt.spawn('user', 0, function* (): KernelGen {
      const small = folioAlloc(m.mem, 0, 0);
      expect(yield* m.vm.filemapAddFolio(file, small, 7)).toBe(0);
      m.locks.folioUnlock(small);
      folioPut(m.mem, small);
      const folio = yield* touch(m, p, addr, 1);
      expect(folioOrder(m.mem, folio)).toBe(0);
      expect(m.vmstat.vmEvent(VmEvent.THP_FILE_FALLBACK)).toBe(1);
      expect(file.nrPages).toBe(2);
    });
    runAndCheck(m);
  });

  it('munmap of the last mapping truncates the shmem file: the whole THP is freed', () => {
    const { m, p, addr } = sharedAnon('always', PMD_SIZE);
    const before = freePages(m.mem);
    m.rt.spawn('user', 0, function* (): KernelGen {
      yield* touch(m, p, addr, 1);
      expect(yield* m.vm.munmap(p, addr, PMD_SIZE)).toBe(0);
    });
    runAndCheck(m);
    expect(m.vmstat.nodePageState(0, NodeStat.NR_SHMEM_HUGEPAGES)).toBe(0);
    expect(m.vmstat.nodePageState(0, NodeStat.NR_FILE_PAGES)).toBe(0);
    expect(freePages(m.mem)).toEqual(before);
  });

  it('setShmemEnabled takes an allowed value only', () => {
    const m = machine();
    expect(m.vm.shmemEnabled).toBe('never');
    m.vm.setShmemEnabled('advise');
    expect(m.vm.shmemEnabled).toBe('advise');
    expect(() => m.vm.setShmemEnabled('sometimes' as ShmemHuge)).toThrow(
      /shmemEnabled must be one of 'never', 'always', 'within_size', 'advise'/,
    );
    expect(m.vm.shmemEnabled).toBe('advise');
  });
});

describe('truncating large page-cache folios (truncate_inode_pages, 6.3)', () => {
  it('truncate puts every cache reference of a large folio, which is freed', () => {
    const m = machine();
    const file = m.vm.createFile('data');
    const before = freePages(m.mem);
    m.rt.spawn('t', 0, function* (): KernelGen {
      const folio = folioAlloc(m.mem, 2, 0);
      yield* m.vm.filemapAddFolio(file, folio, 4);
      m.locks.folioUnlock(folio);
      folioPut(m.mem, folio);
      expect(folioRefCount(m.mem, folio)).toBe(4);
      yield* m.vm.truncate(file);
      expect(file.nrPages).toBe(0);
    });
    runAndCheck(m);
    expect(freePages(m.mem)).toEqual(before);
  });

  it('invalidate_mapping_pages drops an unused large folio whole, writing back each page', () => {
    const m = machine();
    const file = m.vm.createFile('data');
    const before = freePages(m.mem);
    m.rt.spawn('t', 0, function* (): KernelGen {
      const folio = folioAlloc(m.mem, 2, 0);
      yield* m.vm.filemapAddFolio(file, folio, 4);
      m.locks.folioUnlock(folio);
      folioPut(m.mem, folio);
      expect(yield* m.vm.invalidateMappingPages(file)).toBe(1);
      expect(file.nrPages).toBe(0);
    });
    runAndCheck(m);
    expect(freePages(m.mem)).toEqual(before);
  });
});

describe('the page-cache invariant of large folios (checkRmap)', () => {
  function cachedLarge() {
    const m = machine();
    const file = m.vm.createFile('data');
    let folio = -1;
    m.rt.spawn('t', 0, function* (): KernelGen {
      folio = folioAlloc(m.mem, 2, 0);
      yield* m.vm.filemapAddFolio(file, folio, 4);
      m.locks.folioUnlock(folio);
      folioPut(m.mem, folio);
    });
    m.rt.run();
    return { m, file, folio };
  }

  it('accepts one folio in each of its slots', () => {
    const { m } = cachedLarge();
    expect(m.vm.check()).toEqual([]);
  });

  it('reports a slot of the range that lost the folio', () => {
    const { m, file, folio } = cachedLarge();
    (mutableAddressSpace(file).pages as Map<number, number>).delete(6);
    expect(m.vm.check()).toEqual([
      `data: index 6 is inside folio 0x${folio.toString(16)} (indices 4..7) but its slot holds nothing`,
    ]);
  });

  it('reports a slot outside the folio that holds it', () => {
    const { m, file, folio } = cachedLarge();
    (mutableAddressSpace(file).pages as Map<number, number>).set(8, folio);
    expect(m.vm.check()).toEqual([
      `data: folio 0x${folio.toString(16)} at index 8 has another mapping or index`,
    ]);
  });

  it('reports a slot of the range that holds another folio', () => {
    const { m, file, folio } = cachedLarge();
    const other = folioAlloc(m.mem, 0, 0);
    (mutableAddressSpace(file).pages as Map<number, number>).set(5, other);
    const problems = m.vm.check();
    expect(problems).toContain(
      `data: index 5 is inside folio 0x${folio.toString(16)} (indices 4..7) but its slot holds 0x${other.toString(16)}`,
    );
    expect(problems).toContain(
      `data: folio 0x${other.toString(16)} at index 5 has another mapping or index`,
    );
  });
});
