import { folioRefCount, pfnFolio } from '@mmsim/folio';
import { EINVAL, ENOMEM, type KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  MADV_DONTNEED,
  MADV_DONTNEED_LOCKED,
  MADV_HUGEPAGE,
  MADV_MERGEABLE,
  MADV_NOHUGEPAGE,
  MADV_SOFT_OFFLINE,
  MAP_LOCKED,
  MAP_PRIVATE,
  MAP_SHARED,
  PMD_SIZE,
  VM_HUGEPAGE,
  VM_MERGEABLE,
  VM_NOHUGEPAGE,
} from '../src/index.js';
import { freePages, createRmapMachine as machine } from '../src/testing/index.js';
import { mappedProcess, PAGE, runInTask, spans } from './vma-fixture.js';

/** madvise(2) (mm/madvise.c, Linux 6.3): errno cases, MADV_DONTNEED, MADV_(NO)HUGEPAGE. */

describe('madvise', () => {
  it('EINVAL: unknown advice (first), misaligned start; len 0 is 0; an unknown advice with len 0 is still EINVAL', () => {
    const { m, vm, p, a } = mappedProcess();
    runInTask(m, function* (): KernelGen {
      expect(yield* vm.madvise(p, a, PAGE, 5)).toBe(-EINVAL);
      expect(yield* vm.madvise(p, a, 0, 99)).toBe(-EINVAL);
      expect(yield* vm.madvise(p, a + 1, PAGE, MADV_DONTNEED)).toBe(-EINVAL);
      expect(yield* vm.madvise(p, a, 0, MADV_DONTNEED)).toBe(0);
      expect(yield* vm.madvise(p, a + 1, 0, MADV_DONTNEED)).toBe(-EINVAL);
    });
  });

  it('ENOMEM for a hole, after advising the mapped parts on both sides of it', () => {
    const { m, vm, p, a } = mappedProcess(2);
    vm.mmap(p, { length: 2 * PAGE, addr: a + 4 * PAGE });
    runInTask(m, function* (): KernelGen {
      expect(yield* vm.madvise(p, a, 6 * PAGE, MADV_HUGEPAGE)).toBe(-ENOMEM);
      expect(p.vmas.map((v) => v.flags & VM_HUGEPAGE)).toEqual([VM_HUGEPAGE, VM_HUGEPAGE]);
      // No VMA at all above the start: ENOMEM at once.
      expect(yield* vm.madvise(p, a + 8 * PAGE, PAGE, MADV_NOHUGEPAGE)).toBe(-ENOMEM);
      // The range runs past the last VMA: the VMA is advised, then ENOMEM.
      expect(yield* vm.madvise(p, a + 4 * PAGE, 4 * PAGE, MADV_NOHUGEPAGE)).toBe(-ENOMEM);
      expect(p.vmas[1]!.flags & (VM_HUGEPAGE | VM_NOHUGEPAGE)).toBe(VM_NOHUGEPAGE);
    });
  });

  it('MADV_DONTNEED frees anonymous pages; later reads see zero, and unshared frames go back to the buddy', () => {
    const { m, vm, mem, p, a } = mappedProcess();
    const before = freePages(mem);
    runInTask(m, function* (): KernelGen {
      for (let i = 0; i < 4; i++) yield* vm.userWrite(p, a + i * PAGE, 10 + i);
      expect(yield* vm.madvise(p, a + PAGE, 2 * PAGE, MADV_DONTNEED)).toBe(0);
      expect(vm.lookupPte(p, a + PAGE).kind).toBe('none');
      expect(vm.lookupPte(p, a + 2 * PAGE).kind).toBe('none');
      expect(yield* vm.userRead(p, a)).toBe(10);
      expect(yield* vm.userRead(p, a + PAGE)).toBe(0);
      expect(yield* vm.userRead(p, a + 3 * PAGE)).toBe(13);
      // DONTNEED does not split the VMA.
      expect(p.vmas).toHaveLength(1);
      yield* vm.exit(p);
    });
    expect(freePages(mem)).toEqual(before);
  });

  it('MADV_DONTNEED of a private file mapping drops the COW copy: the file content is read again', () => {
    const m = machine();
    const { vm } = m;
    const p = vm.createProcess();
    const file = vm.createFile('f', { content: [100, 101] });
    const a = vm.mmap(p, { length: 2 * PAGE, file, flags: MAP_PRIVATE });
    const s = vm.mmap(p, { length: 2 * PAGE, file, flags: MAP_SHARED });
    runInTask(m, function* (): KernelGen {
      yield* vm.userWrite(p, a, 7);
      expect(yield* vm.userRead(p, s + PAGE)).toBe(101);
      const cached = pfnFolio(m.mem, vm.followPage(p, s + PAGE));
      expect(yield* vm.madvise(p, a, PAGE, MADV_DONTNEED)).toBe(0);
      expect(yield* vm.userRead(p, a)).toBe(100);
      expect(yield* vm.madvise(p, s + PAGE, PAGE, MADV_DONTNEED)).toBe(0);
      // The page-cache page stays (only the mapping went).
      expect(folioRefCount(m.mem, cached)).toBe(1);
      expect(yield* vm.userRead(p, s + PAGE)).toBe(101);
      yield* vm.exit(p);
    });
  });

  it('MADV_DONTNEED on a VM_LOCKED VMA is EINVAL; MADV_DONTNEED_LOCKED zaps it', () => {
    const { m, vm, p, a } = mappedProcess({
      length: 2 * PAGE,
      flags: MAP_PRIVATE | 0x20 | MAP_LOCKED,
    });
    runInTask(m, function* (): KernelGen {
      yield* vm.userWrite(p, a, 3);
      expect(yield* vm.madvise(p, a, PAGE, MADV_DONTNEED)).toBe(-EINVAL);
      expect(yield* vm.userRead(p, a)).toBe(3);
      expect(yield* vm.madvise(p, a, PAGE, MADV_DONTNEED_LOCKED)).toBe(0);
      expect(yield* vm.userRead(p, a)).toBe(0);
      yield* vm.exit(p);
    });
  });

  it('MADV_DONTNEED of part of a THP splits the PMD and zaps only that part', () => {
    const { m, vm, p, a } = mappedProcess(
      { length: PMD_SIZE, hugepage: true },
      { nodes: [8192, 8192] },
    );
    runInTask(m, function* (): KernelGen {
      yield* vm.userWrite(p, a, 1);
      yield* vm.userWrite(p, a + PAGE, 2);
      expect(yield* vm.madvise(p, a + PAGE, PAGE, MADV_DONTNEED)).toBe(0);
      expect(vm.lookupPte(p, a).level).toBe('pte');
      expect(yield* vm.userRead(p, a)).toBe(1);
      expect(yield* vm.userRead(p, a + PAGE)).toBe(0);
      yield* vm.exit(p);
    });
  });

  it('MADV_HUGEPAGE on part of a VMA splits it; the next fault of an aligned 2 MiB range maps a THP; MADV_NOHUGEPAGE stops that and merges back', () => {
    // 3 PMDs, the first one aligned.
    const { m, vm, p, a } = mappedProcess(
      { length: 3 * PMD_SIZE, addr: 0x4000_0000 },
      { nodes: [8192, 8192] },
    );
    runInTask(m, function* (): KernelGen {
      yield* vm.userWrite(p, a, 1);
      expect(vm.lookupPte(p, a).level).toBe('pte');
      expect(yield* vm.madvise(p, a + PMD_SIZE, PMD_SIZE, MADV_HUGEPAGE)).toBe(0);
      expect(spans(p.vmas, a)).toEqual([
        [0, 512],
        [512, 1024],
        [1024, 1536],
      ]);
      yield* vm.userWrite(p, a + PMD_SIZE, 2);
      expect(vm.lookupPte(p, a + PMD_SIZE).level).toBe('pmd');
      expect(yield* vm.madvise(p, a + PMD_SIZE, PMD_SIZE, MADV_NOHUGEPAGE)).toBe(0);
      expect(p.vmas[1]!.flags & (VM_HUGEPAGE | VM_NOHUGEPAGE)).toBe(VM_NOHUGEPAGE);
      yield* vm.userWrite(p, a + 2 * PMD_SIZE, 3);
      expect(vm.lookupPte(p, a + 2 * PMD_SIZE).level).toBe('pte');
      // Back to no hint on either side: MADV_NORMAL does not clear VM_NOHUGEPAGE, so the
      // middle stays a VMA of its own; MADV_HUGEPAGE on everything merges the three.
      expect(yield* vm.madvise(p, a, 3 * PMD_SIZE, MADV_HUGEPAGE)).toBe(0);
      expect(spans(p.vmas, a)).toEqual([[0, 1536]]);
      expect(yield* vm.userRead(p, a + PMD_SIZE)).toBe(2);
      yield* vm.exit(p);
    });
  });

  it('MADV_SOFT_OFFLINE is a valid advice the rmap layer does not carry out (INVALID_ARGUMENT); MADV_MERGEABLE goes to ksm_madvise', () => {
    const { m, vm, p, a } = mappedProcess(1);
    const errors: string[] = [];
    let merge = -1;
    runInTask(m, function* (): KernelGen {
      try {
        yield* vm.madvise(p, a, PAGE, MADV_SOFT_OFFLINE);
      } catch (e) {
        errors.push((e as { code: string }).code);
      }
      merge = yield* vm.madvise(p, a, PAGE, MADV_MERGEABLE);
    });
    expect(errors).toEqual(['INVALID_ARGUMENT']);
    expect(merge).toBe(0);
    expect((p.vmaLookup(a)?.flags ?? 0) & VM_MERGEABLE).not.toBe(0);
  });
});
