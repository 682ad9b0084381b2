import { folioGet, folioIndex, folioPut, pfnFolio } from '@mmsim/folio';
import { Completion, EFAULT, EINVAL, ENOMEM, type KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  MAP_SHARED,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  PMD_SIZE,
  VM_LOCKED,
} from '../src/index.js';
import { freePages, runAndCheck } from '../src/testing/index.js';
import { mappedProcess, PAGE, runInTask } from './vma-fixture.js';

/** mremap(2) (mm/mremap.c, Linux 6.3). */

describe('mremap', () => {
  it('EINVAL and EFAULT cases, in the kernel order', () => {
    const { m, vm, p, a } = mappedProcess();
    vm.mmap(p, { length: PAGE, addr: a + 4 * PAGE });
    runInTask(m, function* (): KernelGen {
      expect(yield* vm.mremap(p, a, PAGE, PAGE, 8)).toBe(-EINVAL);
      expect(yield* vm.mremap(p, a, PAGE, PAGE, MREMAP_FIXED, a + 64 * PAGE)).toBe(-EINVAL);
      expect(yield* vm.mremap(p, a, PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP)).toBe(
        -EINVAL,
      );
      expect(yield* vm.mremap(p, a, PAGE, PAGE, MREMAP_DONTUNMAP)).toBe(-EINVAL);
      expect(yield* vm.mremap(p, a + 1, PAGE, PAGE, 0)).toBe(-EINVAL);
      expect(yield* vm.mremap(p, a, PAGE, 0, 0)).toBe(-EINVAL);
      expect(yield* vm.mremap(p, a + 64 * PAGE, PAGE, 2 * PAGE, MREMAP_MAYMOVE)).toBe(-EFAULT);
      // The old range runs past its VMA.
      expect(yield* vm.mremap(p, a + 2 * PAGE, 3 * PAGE, 4 * PAGE, MREMAP_MAYMOVE)).toBe(-EFAULT);
      // FIXED: a misaligned or overlapping new address.
      const fixed = MREMAP_MAYMOVE | MREMAP_FIXED;
      expect(yield* vm.mremap(p, a, PAGE, PAGE, fixed, a + 64 * PAGE + 1)).toBe(-EINVAL);
      expect(yield* vm.mremap(p, a, 2 * PAGE, 2 * PAGE, fixed, a + PAGE)).toBe(-EINVAL);
      // old_len 0 duplicates only shared mappings.
      expect(yield* vm.mremap(p, a, 0, PAGE, MREMAP_MAYMOVE)).toBe(-EINVAL);
      // Must grow, the next VMA is in the way, and no MREMAP_MAYMOVE.
      expect(yield* vm.mremap(p, a, 4 * PAGE, 8 * PAGE, 0)).toBe(-ENOMEM);
      expect(p.vmas).toHaveLength(2);
    });
  });

  it('shrinking unmaps the tail and frees its pages; growing in place extends the VMA', () => {
    const { m, vm, mem, p, a } = mappedProcess();
    const before = freePages(mem);
    runInTask(m, function* (): KernelGen {
      for (let i = 0; i < 4; i++) yield* vm.userWrite(p, a + i * PAGE, i + 1);
      expect(yield* vm.mremap(p, a, 4 * PAGE, 2 * PAGE, 0)).toBe(a);
      expect(p.vmas.map((v) => (v.end - v.start) / PAGE)).toEqual([2]);
      expect(yield* vm.mremap(p, a, 2 * PAGE, 6 * PAGE, 0)).toBe(a);
      expect(p.vmas.map((v) => (v.end - v.start) / PAGE)).toEqual([6]);
      expect(yield* vm.userRead(p, a + PAGE)).toBe(2);
      // The tail came back empty: the old contents were freed.
      expect(yield* vm.userRead(p, a + 3 * PAGE)).toBe(0);
      yield* vm.exit(p);
    });
    expect(freePages(mem)).toEqual(before);
  });

  it('MREMAP_MAYMOVE moves the page tables: same frames at the new address, anon indexes and vm_pgoff kept, rmap finds them there', () => {
    const { m, vm, mem, p, a } = mappedProcess();
    vm.mmap(p, { length: PAGE, addr: a + 4 * PAGE }); // blocks growing in place
    const before = freePages(mem);
    runInTask(m, function* (): KernelGen {
      for (let i = 0; i < 4; i++) yield* vm.userWrite(p, a + i * PAGE, 10 + i);
      const frames = [0, 1, 2, 3].map((i) => vm.followPage(p, a + i * PAGE));
      const indexes = frames.map((f) => folioIndex(mem, f));
      const oldPgoff = p.vmas[0]!.pgoff;
      const b = yield* vm.mremap(p, a, 4 * PAGE, 8 * PAGE, MREMAP_MAYMOVE);
      expect(b).not.toBe(a);
      expect(b).toBeGreaterThan(0);
      expect(() => vm.lookupPte(p, a)).toThrow();
      const moved = p.vmas.find((v) => v.start === b)!;
      expect(moved.pgoff).toBe(oldPgoff);
      for (let i = 0; i < 4; i++) {
        expect(vm.followPage(p, b + i * PAGE)).toBe(frames[i]);
        expect(folioIndex(mem, frames[i]!)).toBe(indexes[i]);
        expect(vm.folioMappings(frames[i]!).map((x) => x.address)).toEqual([b + i * PAGE]);
        expect(vm.lookupPte(p, b + i * PAGE).softDirty).toBe(true);
        expect(yield* vm.userRead(p, b + i * PAGE)).toBe(10 + i);
      }
      // COW after a fork still finds both mappings.
      const child = yield* vm.fork(p);
      yield* vm.userWrite(child, b, 99);
      expect(yield* vm.userRead(p, b)).toBe(10);
      expect(
        vm
          .folioMappings(frames[1]!)
          .map((x) => x.mm.name)
          .sort(),
      ).toEqual([p.name, child.name].sort());
      yield* vm.exit(child);
      yield* vm.exit(p);
    });
    expect(freePages(mem)).toEqual(before);
    expect(vm.liveAnonVmas).toBe(0);
  });

  it('a migration entry moves with its PTE, and remove_migration_ptes restores it at the new address', () => {
    const { m, vm, rt, mem, locks, p, a } = mappedProcess(2, { cpuNodes: [0, 0] });
    vm.mmap(p, { length: PAGE, addr: a + 2 * PAGE });
    const unmapped = new Completion(rt, 'unmapped');
    const moved = new Completion(rt, 'moved');
    let b = 0;
    rt.spawn('migrate', 0, function* (): KernelGen {
      yield* vm.userWrite(p, a + PAGE, 42);
      const folio = pfnFolio(mem, vm.followPage(p, a + PAGE));
      folioGet(mem, folio);
      yield* locks.folioLock(folio, 'test');
      const av = vm.folioGetAnonVma(folio);
      yield* vm.tryToMigrate(folio, 0);
      unmapped.complete();
      yield* moved.wait();
      expect(vm.lookupPte(p, b + PAGE).migration).toBe('writable');
      yield* vm.removeMigrationPtes(folio, folio, false);
      locks.folioUnlock(folio);
      if (av !== null) vm.putAnonVma(av);
      folioPut(mem, folio);
      expect(vm.lookupPte(p, b + PAGE)).toMatchObject({ kind: 'present', pfn: folio });
      expect(yield* vm.userRead(p, b + PAGE)).toBe(42);
      yield* vm.exit(p);
    });
    rt.spawn('mremap', 1, function* (): KernelGen {
      yield* unmapped.wait();
      b = yield* vm.mremap(p, a, 2 * PAGE, 4 * PAGE, MREMAP_MAYMOVE);
      moved.complete();
    });
    runAndCheck(m);
  });

  it('a PMD-mapped THP moves as one PMD to an aligned place; to a misaligned one it is split first', () => {
    const { m, vm, p, a } = mappedProcess(
      { length: PMD_SIZE, hugepage: true },
      { nodes: [8192, 8192] },
    );
    runInTask(m, function* (): KernelGen {
      yield* vm.userWrite(p, a + PAGE, 5);
      const thp = vm.lookupPte(p, a).pfn;
      const fixed = MREMAP_MAYMOVE | MREMAP_FIXED;
      const b = 0x6000_0000;
      expect(yield* vm.mremap(p, a, PMD_SIZE, PMD_SIZE, fixed, b)).toBe(b);
      expect(vm.lookupPte(p, b)).toMatchObject({ level: 'pmd', pfn: thp });
      expect(yield* vm.userRead(p, b + PAGE)).toBe(5);
      const c = b + 2 * PMD_SIZE + PAGE;
      expect(yield* vm.mremap(p, b, PMD_SIZE, PMD_SIZE, fixed, c)).toBe(c);
      expect(vm.lookupPte(p, c)).toMatchObject({ level: 'pte', pfn: thp });
      expect(yield* vm.userRead(p, c + PAGE)).toBe(5);
      yield* vm.exit(p);
    });
  });

  it('MREMAP_DONTUNMAP keeps the old VMA empty (VM_LOCKED cleared); a shared file mapping moves in i_mmap', () => {
    const { m, vm, p, a } = mappedProcess({ length: 2 * PAGE, flags: 0x22 | 0x2000 });
    const file = vm.createFile('f', { content: [7, 8] });
    const s = vm.mmap(p, { length: 2 * PAGE, file, flags: MAP_SHARED });
    runInTask(m, function* (): KernelGen {
      yield* vm.userWrite(p, a, 3);
      const b = yield* vm.mremap(p, a, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
      expect(b).not.toBe(a);
      const old = p.vmas.find((v) => v.start === a)!;
      expect(old.flags & VM_LOCKED).toBe(0);
      expect(old.anonVma).toBeNull();
      expect(yield* vm.userRead(p, b)).toBe(3);
      expect(yield* vm.userRead(p, a)).toBe(0);
      expect(yield* vm.userRead(p, s + PAGE)).toBe(8);
      const cached = vm.followPage(p, s + PAGE);
      const t = yield* vm.mremap(
        p,
        s,
        2 * PAGE,
        2 * PAGE,
        MREMAP_MAYMOVE | MREMAP_FIXED,
        s + 64 * PAGE,
      );
      expect(t).toBe(s + 64 * PAGE);
      expect(vm.folioMappings(cached).map((x) => x.address)).toEqual([t + PAGE]);
      expect(yield* vm.userRead(p, t + PAGE)).toBe(8);
      yield* vm.exit(p);
    });
  });
});
