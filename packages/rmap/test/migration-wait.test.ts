import { folioRefCount } from '@mmsim/folio';
import { Completion, type KernelGen, type Task } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { createRmapMachine as machine, runAndCheck } from '../src/testing/index.js';
import { migrateFolio } from './helpers.js';

describe('a task faulting on a migration entry', () => {
  for (const hugepage of [false, true]) {
    it(`waits on the source folio's lock without a reference, then reads the last value (${hugepage ? 'PMD' : 'PTE'})`, () => {
      const m = machine();
      const { vm, mem, rt } = m;
      const p = vm.createProcess();
      const addr = vm.mmap(p, { length: 2 * 1024 * 1024, hugepage });
      const target = addr + 5 * 4096;
      const unmapped = new Completion(rt, 'unmapped');
      let reader: Task | null = null;
      let sleptWithRefs = -1;
      let dst = -1;

      rt.spawn('migrator', 0, function* (): KernelGen {
        yield* vm.userWrite(p, target, 5);
        yield* vm.userWrite(p, target, 6);
        const src = hugepage ? vm.lookupPte(p, addr).pfn : vm.followPage(p, target);
        expect(vm.lookupPte(p, target).level).toBe(hugepage ? 'pmd' : 'pte');
        dst = yield* migrateFolio(m, src, {
          node: 1,
          pause: function* (folio) {
            unmapped.complete();
            yield* rt.sleepFor(50_000); // the reader runs meanwhile
            expect(reader!.state).toBe('sleeping');
            expect(reader!.waiting!.waitsIn).toBe(
              hugepage ? 'pmd_migration_entry_wait' : 'migration_entry_wait',
            );
            sleptWithRefs = folioRefCount(mem, folio);
          },
        });
      });
      reader = rt.spawn('reader', 1, function* (): KernelGen {
        yield* unmapped.wait();
        expect(yield* vm.userRead(p, target)).toBe(6);
        expect(vm.lookupPte(p, target).kind).toBe('present');
      });
      runAndCheck(m);
      expect(sleptWithRefs).toBe(1); // only the migrator's isolation reference
      expect(dst).toBeGreaterThanOrEqual(0);
      expect(vm.lookupPte(p, target).pfn).toBe(dst + (hugepage ? 5 : 0));
    });
  }

  it('never loses the value or adds a reference, over many random schedules', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const m = machine({ strategy: 'random', seed });
      const { vm, rt } = m;
      const p = vm.createProcess();
      const addr = vm.mmap(p, { length: 4096 });
      let migrated = 0;
      rt.spawn('migrator', 0, function* (): KernelGen {
        yield* vm.userWrite(p, addr, 1);
        for (let i = 0; i < 3; i++) {
          const src = vm.followPage(p, addr);
          if ((yield* migrateFolio(m, src, { flags: 0 })) >= 0) migrated++;
        }
      });
      rt.spawn('reader', 1, function* (): KernelGen {
        for (let i = 0; i < 6; i++) {
          const v = yield* vm.userRead(p, addr);
          expect(v === 0 || v === 1).toBe(true);
          yield;
        }
      });
      runAndCheck(m);
      expect(migrated).toBe(3); // a waiting reader never makes the migration fail
    }
  });
});
