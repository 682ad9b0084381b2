import {
  folioAlloc,
  folioIndex,
  folioOrder,
  folioPut,
  folioRefCount,
  HPAGE_PMD_NR,
  HPAGE_PMD_ORDER,
  pfnFolio,
} from '@mmsim/folio';
import { type KernelGen, NodeStat, VmEvent } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  MAP_ANONYMOUS,
  MAP_SHARED,
  type MmView,
  PAGE_SIZE,
  PMD_SIZE,
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
  it('shmem_enabled=always: the first touch brings a PMD-size folio, in a slot per page, PTE-mapped', () => {
    const { m, p, addr, file } = sharedAnon('always', PMD_SIZE);
    expect(addr % PMD_SIZE).toBe(0); // shmem_get_unmapped_area aligns
    const { vm, mem, vmstat } = m;
    m.rt.spawn('user', 0, function* (): KernelGen {
      const folio = yield* touch(m, p, addr + 5 * PAGE_SIZE, 55);
      expect(folioOrder(mem, folio)).toBe(HPAGE_PMD_ORDER);
      expect(folioIndex(mem, folio)).toBe(0);
      expect(vm.followPage(p, addr + 5 * PAGE_SIZE)).toBe(folio + 5);
      expect(file.nrPages).toBe(HPAGE_PMD_NR);
      for (const i of [0, 5, 511]) expect(file.lookup(i)).toBe(folio);
      expect(vmstat.nodePageState(0, NodeStat.NR_SHMEM_HUGEPAGES)).toBe(HPAGE_PMD_NR);
      expect(vmstat.nodePageState(0, NodeStat.NR_SHMEM)).toBe(HPAGE_PMD_NR);
      expect(vmstat.vmEvent(VmEvent.THP_FILE_ALLOC)).toBe(1);
      // Another page of the range is a page-cache hit on the same folio.
      expect(yield* touch(m, p, addr + 300 * PAGE_SIZE, 300)).toBe(folio);
      expect(yield* vm.userRead(p, addr + 5 * PAGE_SIZE)).toBe(55);
      expect(vmstat.vmEvent(VmEvent.THP_FILE_ALLOC)).toBe(1);
      // cache (512) + two PTEs
      expect(folioRefCount(mem, folio)).toBe(HPAGE_PMD_NR + 2);
      const child = yield* vm.fork(p, 'child');
      expect(yield* vm.userRead(child, addr + 300 * PAGE_SIZE)).toBe(300);
      expect(vm.followPage(child, addr + 300 * PAGE_SIZE)).toBe(folio + 300);
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
