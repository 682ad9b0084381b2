import type { KernelGen, MmsimError } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  CLEAR_REFS_SOFT_DIRTY,
  MAP_ANONYMOUS,
  MAP_SHARED,
  PM_SOFT_DIRTY,
  PMD_SIZE,
} from '../src/index.js';
import { createRmapMachine as machine, runAndCheck } from '../src/testing/index.js';
import { migrateFolio } from './helpers.js';

/*
 * Soft-dirty (x86, Linux 6.3): pte_mkdirty sets _PAGE_SOFT_DIRTY, new VMAs carry
 * VM_SOFTDIRTY, clear_refs (4) clears both and write-protects, and pagemap reports it.
 */
describe('soft-dirty and pagemap', () => {
  it('a write fault maps the page soft-dirty; clear_refs clears it; the next write sets it again', () => {
    const m = machine();
    const { vm } = m;
    const mm = vm.createProcess('p');
    const addr = vm.mmap(mm, { length: 4096 });
    m.rt.spawn('main', 0, function* (): KernelGen {
      yield* vm.userWrite(mm, addr, 1);
      expect(vm.lookupPte(mm, addr)).toMatchObject({
        kind: 'present',
        dirty: true,
        softDirty: true,
      });
      expect(vm.pagemap(mm, addr)).toMatchObject({
        present: true,
        softDirty: true,
        exclusive: true,
      });

      yield* vm.clearRefs(mm, CLEAR_REFS_SOFT_DIRTY);
      expect(vm.lookupPte(mm, addr)).toMatchObject({ softDirty: false, write: false, dirty: true });
      const cleared = vm.pagemap(mm, addr);
      expect(cleared.softDirty).toBe(false);
      expect(cleared.raw & PM_SOFT_DIRTY).toBe(0n);
      expect(cleared.present).toBe(true);
      expect(cleared.pfn).toBe(vm.followPage(mm, addr));

      // The page is write-protected: this write faults, wp_page_reuse makes it soft-dirty.
      yield* vm.userWrite(mm, addr, 2);
      expect(vm.lookupPte(mm, addr)).toMatchObject({ write: true, softDirty: true });
      expect(vm.pagemap(mm, addr).softDirty).toBe(true);
      expect(yield* vm.userRead(mm, addr)).toBe(2);
    });
    runAndCheck(m);
  });

  it('a read fault on a new VMA reports soft-dirty through VM_SOFTDIRTY, not through the PTE', () => {
    const m = machine();
    const { vm } = m;
    const mm = vm.createProcess('p');
    const addr = vm.mmap(mm, { length: 2 * 4096 });
    m.rt.spawn('main', 0, function* (): KernelGen {
      expect(yield* vm.userRead(mm, addr)).toBe(0); // the zero page, read-only and clean
      expect(vm.lookupPte(mm, addr).softDirty).toBe(false);
      expect(vm.pagemap(mm, addr)).toMatchObject({ present: true, softDirty: true });
      // Not even mapped: the hole of a VM_SOFTDIRTY VMA is soft-dirty too.
      expect(vm.pagemap(mm, addr + 4096)).toMatchObject({ present: false, softDirty: true });
      yield* vm.clearRefs(mm, CLEAR_REFS_SOFT_DIRTY);
      expect(vm.pagemap(mm, addr).softDirty).toBe(false);
      expect(vm.pagemap(mm, addr + 4096).softDirty).toBe(false);
      // A new mapping is soft-dirty again.
      const fresh = vm.mmap(mm, { length: 4096 });
      yield* vm.userRead(mm, fresh);
      expect(vm.pagemap(mm, fresh).softDirty).toBe(true);
      // Outside every VMA: an empty entry.
      expect(vm.pagemap(mm, 0x1000)).toMatchObject({ raw: 0n, softDirty: false, present: false });
    });
    runAndCheck(m);
  });

  it('soft-dirty survives migration: the migration entry carries it and remove_migration_pte restores it', () => {
    const m = machine();
    const { vm } = m;
    const mm = vm.createProcess('p');
    const addr = vm.mmap(mm, { length: 4096 });
    m.rt.spawn('main', 0, function* (): KernelGen {
      yield* vm.userWrite(mm, addr, 7);
      yield* vm.clearRefs(mm, CLEAR_REFS_SOFT_DIRTY);
      yield* vm.userWrite(mm, addr, 8); // soft-dirty again, through the wp fault
      const src = vm.followPage(mm, addr);
      let during: ReturnType<typeof vm.pagemap> | null = null;
      const dst = yield* migrateFolio(m, src, {
        whileUnmapped: () => {
          during = vm.pagemap(mm, addr);
        },
      });
      expect(dst).toBeGreaterThanOrEqual(0);
      expect(during).toMatchObject({
        present: false,
        swap: true,
        softDirty: true,
        exclusive: false,
      });
      expect(during!.pfn).toBe(src);
      expect(vm.pagemap(mm, addr)).toMatchObject({ present: true, pfn: dst, softDirty: true });
      expect(yield* vm.userRead(mm, addr)).toBe(8);
    });
    runAndCheck(m);
  });

  it('clear_refs clears soft-dirty in a migration entry', () => {
    const m = machine();
    const { vm } = m;
    const mm = vm.createProcess('p');
    const w = vm.mmap(mm, { length: 4096 });
    m.rt.spawn('main', 0, function* (): KernelGen {
      yield* vm.userWrite(mm, w, 3);
      const src = vm.followPage(mm, w);
      let during: boolean | null = null;
      yield* migrateFolio(m, src, {
        pause: function* (): KernelGen {
          yield* vm.clearRefs(mm, CLEAR_REFS_SOFT_DIRTY);
          during = vm.pagemap(mm, w).softDirty;
        },
      });
      expect(during).toBe(false);
      // The entry was dirty and the folio is dirty: remove_migration_pte's pte_mkdirty sets
      // soft-dirty again (x86 6.3), a false positive the kernel has too.
      expect(vm.lookupPte(mm, w)).toMatchObject({ dirty: true, softDirty: true });
    });
    runAndCheck(m);
  });

  it('pagemap reports a page mapped twice as not exclusive, and a shared file page as file', () => {
    const m = machine();
    const { vm } = m;
    const parent = vm.createProcess('parent');
    const anon = vm.mmap(parent, { length: 4096 });
    const shm = vm.mmap(parent, { length: 4096, flags: MAP_SHARED | MAP_ANONYMOUS });
    m.rt.spawn('main', 0, function* (): KernelGen {
      yield* vm.userWrite(parent, anon, 1);
      yield* vm.userWrite(parent, shm, 2);
      expect(vm.pagemap(parent, anon)).toMatchObject({ exclusive: true, file: false });
      expect(vm.pagemap(parent, shm)).toMatchObject({ exclusive: true, file: true });
      const child = yield* vm.fork(parent, 'child');
      expect(vm.pagemap(parent, anon).exclusive).toBe(false);
      expect(vm.pagemap(child, anon)).toMatchObject({ exclusive: false, present: true });
      yield* vm.exit(child);
    });
    runAndCheck(m);
  });

  it('after clear_refs a shared writable shmem page is mapped read-only on a read fault, so the first write is seen', () => {
    const m = machine();
    const { vm } = m;
    const mm = vm.createProcess('p');
    const shm = vm.mmap(mm, { length: 2 * 4096, flags: MAP_SHARED | MAP_ANONYMOUS });
    m.rt.spawn('main', 0, function* (): KernelGen {
      yield* vm.userRead(mm, shm);
      expect(vm.lookupPte(mm, shm).write).toBe(true); // no write notify while VM_SOFTDIRTY
      yield* vm.clearRefs(mm, CLEAR_REFS_SOFT_DIRTY);
      yield* vm.userRead(mm, shm + 4096);
      expect(vm.lookupPte(mm, shm + 4096)).toMatchObject({ write: false, softDirty: false });
      yield* vm.userWrite(mm, shm + 4096, 5);
      expect(vm.pagemap(mm, shm + 4096).softDirty).toBe(true);
    });
    runAndCheck(m);
  });

  it('a PMD-mapped THP: the write fault makes the PMD soft-dirty, clear_refs clears and write-protects it, pagemap reads each page', () => {
    const m = machine();
    const { vm } = m;
    const mm = vm.createProcess('p');
    const addr = vm.mmap(mm, { length: PMD_SIZE, hugepage: true });
    m.rt.spawn('main', 0, function* (): KernelGen {
      yield* vm.userWrite(mm, addr + 5 * 4096, 1);
      const head = vm.lookupPte(mm, addr).pfn;
      expect(vm.lookupPte(mm, addr)).toMatchObject({ level: 'pmd', softDirty: true });
      expect(vm.pagemap(mm, addr + 7 * 4096)).toMatchObject({
        present: true,
        pfn: head + 7,
        frame: head + 7,
        exclusive: true,
        softDirty: true,
        file: false,
      });
      yield* vm.clearRefs(mm, CLEAR_REFS_SOFT_DIRTY);
      expect(vm.lookupPte(mm, addr)).toMatchObject({
        level: 'pmd',
        softDirty: false,
        write: false,
      });
      expect(vm.pagemap(mm, addr).softDirty).toBe(false);
      // do_huge_pmd_wp_page reuses the exclusive THP: pmd_mkdirty sets soft-dirty again.
      yield* vm.userWrite(mm, addr, 2);
      expect(vm.lookupPte(mm, addr)).toMatchObject({ level: 'pmd', softDirty: true, write: true });
      expect(vm.pagemap(mm, addr + 511 * 4096).softDirty).toBe(true);
    });
    runAndCheck(m);
  });

  it('clear_refs refuses the types it does not model', () => {
    const m = machine();
    const { vm } = m;
    const mm = vm.createProcess('p');
    let error: MmsimError | null = null;
    m.rt.spawn('main', 0, function* (): KernelGen {
      try {
        yield* vm.clearRefs(mm, 1);
      } catch (e) {
        error = e as MmsimError;
      }
    });
    runAndCheck(m);
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(() => vm.pagemap(mm, -1)).toThrow(/pagemap/);
  });
});
