import { folioGet, folioPut, pfnFolio } from '@mmsim/folio';
import { EACCES, EINVAL, ENOMEM, type KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  PMD_SIZE,
  PROT_EXEC,
  PROT_GROWSDOWN,
  PROT_GROWSUP,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  VM_MAYWRITE,
  VM_READ,
  VM_WRITE,
} from '../src/index.js';
import { mutableVma } from '../src/internal.js';
import { runAndCheck } from '../src/testing/index.js';
import { mappedProcess, PAGE, runInTask, spans } from './vma-fixture.js';

/** mprotect(2) (mm/mprotect.c, Linux 6.3): errno cases, VMA split/merge, entries. */

describe('mprotect', () => {
  it('EINVAL: misaligned start, unknown prot bits, GROWSDOWN|GROWSUP, GROWSUP, GROWSDOWN without VM_GROWSDOWN; len 0 is 0 before the prot check', () => {
    const { m, vm, p, a } = mappedProcess();
    runInTask(m, function* (): KernelGen {
      expect(yield* vm.mprotect(p, a + 1, PAGE, PROT_READ)).toBe(-EINVAL);
      expect(yield* vm.mprotect(p, a, PAGE, 0x10)).toBe(-EINVAL);
      expect(yield* vm.mprotect(p, a, PAGE, PROT_READ | PROT_GROWSDOWN | PROT_GROWSUP)).toBe(
        -EINVAL,
      );
      expect(yield* vm.mprotect(p, a, PAGE, PROT_READ | PROT_GROWSUP)).toBe(-EINVAL);
      expect(yield* vm.mprotect(p, a, PAGE, PROT_READ | PROT_GROWSDOWN)).toBe(-EINVAL);
      expect(yield* vm.mprotect(p, a, 0, 0x10)).toBe(0);
      expect(p.vmas).toHaveLength(1);
      expect(p.vmas[0]!.flags & (VM_READ | VM_WRITE)).toBe(VM_READ | VM_WRITE);
    });
  });

  it('ENOMEM: no VMA, a VMA starting above start, a hole inside (the part before it is changed)', () => {
    const { m, vm, p, a } = mappedProcess();
    vm.mmap(p, { length: 2 * PAGE, addr: a + 6 * PAGE });
    runInTask(m, function* (): KernelGen {
      expect(yield* vm.mprotect(p, a + 16 * PAGE, PAGE, PROT_READ)).toBe(-ENOMEM);
      expect(yield* vm.mprotect(p, a - PAGE, 2 * PAGE, PROT_READ)).toBe(-ENOMEM);
      expect(p.vmas).toHaveLength(2); // nothing changed
      expect(yield* vm.mprotect(p, a + 2 * PAGE, 6 * PAGE, PROT_READ)).toBe(-ENOMEM);
      // [a+2, a+4) got PROT_READ before the hole at a+4 was found.
      expect(spans(p.vmas, a)).toEqual([
        [0, 2],
        [2, 4],
        [6, 8],
      ]);
      expect(p.vmas[1]!.flags & VM_WRITE).toBe(0);
      expect(p.vmas[2]!.flags & VM_WRITE).toBe(VM_WRITE);
      // Past the last VMA: ENOMEM after changing what is mapped.
      expect(yield* vm.mprotect(p, a + 6 * PAGE, 4 * PAGE, PROT_READ)).toBe(-ENOMEM);
      expect(p.vmas[2]!.flags & VM_WRITE).toBe(0);
    });
  });

  it('EACCES: asking for write where VM_MAYWRITE is missing; the VMAs before it keep their change', () => {
    const { m, vm, p, a } = mappedProcess({ length: 2 * PAGE, prot: PROT_READ });
    vm.mmap(p, { length: 2 * PAGE, addr: a + 2 * PAGE, prot: PROT_READ | PROT_EXEC });
    const second = mutableVma(p.vmas[1]!);
    second.flags &= ~VM_MAYWRITE;
    runInTask(m, function* (): KernelGen {
      expect(yield* vm.mprotect(p, a, 4 * PAGE, PROT_READ | PROT_WRITE)).toBe(-EACCES);
      expect(p.vmas[0]!.flags & VM_WRITE).toBe(VM_WRITE);
      expect(p.vmas[1]!.flags & VM_WRITE).toBe(0);
    });
  });

  it('splits at the edges, then merges back when the protection is restored', () => {
    const { m, vm, p, a } = mappedProcess(8);
    runInTask(m, function* (): KernelGen {
      for (let i = 0; i < 8; i++) yield* vm.userWrite(p, a + i * PAGE, i + 1);
      expect(yield* vm.mprotect(p, a + 2 * PAGE, 3 * PAGE, PROT_READ)).toBe(0);
      expect(spans(p.vmas, a)).toEqual([
        [0, 2],
        [2, 5],
        [5, 8],
      ]);
      expect(p.vmas[1]!.anonVma).toBe(p.vmas[0]!.anonVma);
      expect(vm.lookupPte(p, a + 3 * PAGE).write).toBe(false);
      expect(vm.lookupPte(p, a + 6 * PAGE).write).toBe(true);
      expect(yield* vm.userRead(p, a + 3 * PAGE)).toBe(4);
      expect(yield* vm.mprotect(p, a + 2 * PAGE, 3 * PAGE, PROT_READ | PROT_WRITE)).toBe(0);
      expect(spans(p.vmas, a)).toEqual([[0, 8]]);
      expect(p.vmas[0]!.anonVma!.numActiveVmas).toBe(1);
      // Exclusive anonymous pages are made writable again at once (MM_CP_TRY_CHANGE_WRITABLE).
      expect(vm.lookupPte(p, a + 3 * PAGE).write).toBe(true);
      // rmap still finds every page at its address.
      for (let i = 0; i < 8; i++) {
        const pfn = vm.followPage(p, a + i * PAGE);
        expect(vm.folioMappings(pfnFolio(m.mem, pfn)).map((x) => x.address)).toEqual([
          a + i * PAGE,
        ]);
      }
      yield* vm.exit(p);
    });
    expect(vm.liveAnonVmas).toBe(0);
  });

  it('PROT_NONE: a later access is SIGSEGV; PROT_READ makes it readable again with the same data', () => {
    const { m, vm, rt, p, a } = mappedProcess(2);
    rt.spawn('t', 1, function* (): KernelGen {
      yield* vm.userWrite(p, a, 7);
      expect(yield* vm.mprotect(p, a, PAGE, PROT_NONE)).toBe(0);
      expect(vm.lookupPte(p, a).kind).toBe('present');
      let err: unknown = null;
      try {
        yield* vm.userRead(p, a);
      } catch (e) {
        err = e;
      }
      expect(String(err)).toMatch(/SIGSEGV/);
      expect(yield* vm.mprotect(p, a, PAGE, PROT_READ)).toBe(0);
      expect(yield* vm.userRead(p, a)).toBe(7);
      let werr: unknown = null;
      try {
        yield* vm.userWrite(p, a, 8);
      } catch (e) {
        werr = e;
      }
      expect(String(werr)).toMatch(/SIGSEGV/);
      // A read pin (check_vma_flags without FOLL_FORCE) of a PROT_NONE VMA fails too and
      // leaves the entry PROT_NONE.
      expect(yield* vm.mprotect(p, a, PAGE, PROT_NONE)).toBe(0);
      let perr: unknown = null;
      try {
        yield* vm.pinUserPage(p, a, false);
      } catch (e) {
        perr = e;
      }
      expect(String(perr)).toMatch(/SIGSEGV/);
      expect(vm.lookupPte(p, a).kind).toBe('present');
      expect(yield* vm.mprotect(p, a, PAGE, PROT_READ)).toBe(0);
      expect(yield* vm.userRead(p, a)).toBe(7);
    });
    runAndCheck(m);
  });

  it('a writable migration entry in the range becomes readable-exclusive (anon), and the page comes back read-only', () => {
    const { m, vm, mem, locks, p, a } = mappedProcess(2);
    runInTask(m, function* (): KernelGen {
      yield* vm.userWrite(p, a, 5);
      const folio = pfnFolio(mem, vm.followPage(p, a));
      folioGet(mem, folio);
      yield* locks.folioLock(folio, 'test');
      const av = vm.folioGetAnonVma(folio);
      yield* vm.tryToMigrate(folio, 0);
      expect(vm.lookupPte(p, a).migration).toBe('writable');
      expect(yield* vm.mprotect(p, a, 2 * PAGE, PROT_READ | PROT_WRITE | PROT_EXEC)).toBe(0);
      expect(vm.lookupPte(p, a).migration).toBe('readable-exclusive');
      yield* vm.removeMigrationPtes(folio, folio, false);
      locks.folioUnlock(folio);
      if (av !== null) vm.putAnonVma(av);
      folioPut(mem, folio);
      expect(vm.lookupPte(p, a).write).toBe(false);
      // Still exclusive: the write fault reuses the page.
      yield* vm.userWrite(p, a, 6);
      expect(vm.followPage(p, a)).toBe(folio);
      expect(yield* vm.userRead(p, a)).toBe(6);
    });
  });

  it('a PMD-mapped THP: a whole-PMD mprotect changes the PMD, a partial one splits it first', () => {
    const { m, vm, p, a } = mappedProcess(
      { length: PMD_SIZE, hugepage: true },
      { nodes: [8192, 8192] },
    );
    runInTask(m, function* (): KernelGen {
      yield* vm.userWrite(p, a, 1);
      expect(vm.lookupPte(p, a).level).toBe('pmd');
      expect(yield* vm.mprotect(p, a, PMD_SIZE, PROT_READ)).toBe(0);
      expect(vm.lookupPte(p, a)).toMatchObject({ level: 'pmd', write: false });
      expect(yield* vm.mprotect(p, a, PMD_SIZE, PROT_READ | PROT_WRITE)).toBe(0);
      expect(vm.lookupPte(p, a)).toMatchObject({ level: 'pmd', write: true });
      expect(yield* vm.mprotect(p, a + PAGE, PAGE, PROT_READ)).toBe(0);
      expect(vm.lookupPte(p, a + PAGE)).toMatchObject({ level: 'pte', write: false });
      expect(vm.lookupPte(p, a)).toMatchObject({ level: 'pte', write: true });
      expect(yield* vm.userRead(p, a)).toBe(1);
      yield* vm.exit(p);
    });
  });
});
