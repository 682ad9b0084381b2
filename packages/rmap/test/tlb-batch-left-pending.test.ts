import { folioGet, folioPut } from '@mmsim/folio';
import { Completion, type KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { TTU_BATCH_FLUSH } from '../src/index.js';
import { createRmapMachine as machine, runAndCheck } from '../src/testing/index.js';

const PENDING = /deferred TLB flush pending/;

/**
 * The quiescent check of the task's `tlbflush_unmap_batch`: a batch left pending is a
 * missing `try_to_unmap_flush()`, except where the kernel itself returns without it
 * (`leaveTlbBatchPending`: migrate_pages_batch's -ENOMEM exit with nothing unmapped).
 */
describe('a deferred TLB flush left pending at rest', () => {
  function run(
    body: (vm: ReturnType<typeof machine>['vm'], src: number, addr: number) => void,
    undo = true,
  ): void {
    const m = machine({ cpuNodes: [0, 0] });
    const { vm, mem, rt, locks } = m;
    const p = vm.createProcess();
    const addr = vm.mmap(p, { length: 4096 });
    const ready = new Completion(rt, 'ready');
    const done = new Completion(rt, 'done');
    rt.spawn('migrator', 0, function* (): KernelGen {
      yield* ready.wait();
      const src = vm.followPage(p, addr);
      folioGet(mem, src);
      yield* locks.folioLock(src, 'test');
      yield* vm.tryToMigrate(src, TTU_BATCH_FLUSH);
      expect(vm.tlbBatch().flushRequired).toBe(true); // CPU 1 has the mm: deferred
      if (undo) yield* vm.removeMigrationPtes(src, src, false); // the unmap is undone
      body(vm, src, addr);
      if (!undo) {
        vm.tryToUnmapFlush();
        yield* vm.removeMigrationPtes(src, src, false);
      }
      locks.folioUnlock(src);
      folioPut(mem, src);
      vm.tryToUnmapFlush();
      done.complete();
    });
    rt.spawn('user', 1, function* (): KernelGen {
      yield* vm.userWrite(p, addr, 1); // CPU 1 caches the entry
      ready.complete();
      yield* done.wait();
    });
    runAndCheck(m);
  }

  it('a batch no kernel path leaves pending is reported (a missing try_to_unmap_flush)', () => {
    run((vm) => {
      expect(vm.check({ quiescent: true }).some((x) => PENDING.test(x))).toBe(true);
    });
  });

  it('a batch migrate_pages_batch leaves pending on its -ENOMEM exit is legal once the PTEs are restored', () => {
    run((vm) => {
      vm.leaveTlbBatchPending('migrate_pages_batch');
      expect(vm.check({ quiescent: true })).toEqual([]);
    });
  });

  it('left pending, a stale TLB entry of a PTE not restored is still reported', () => {
    run((vm) => {
      vm.leaveTlbBatchPending('migrate_pages_batch');
      const problems = vm.check({ quiescent: true });
      expect(problems.some((x) => PENDING.test(x))).toBe(false);
      expect(problems.some((x) => /missing TLB flush/.test(x))).toBe(true);
    }, false);
  });

  it('a new deferral after the batch was left pending makes it a missing flush again', () => {
    const m = machine({ cpuNodes: [0, 0] });
    const { vm, mem, rt, locks } = m;
    const p = vm.createProcess();
    const addr = vm.mmap(p, { length: 2 * 4096 });
    const ready = new Completion(rt, 'ready');
    const done = new Completion(rt, 'done');
    rt.spawn('migrator', 0, function* (): KernelGen {
      yield* ready.wait();
      for (const [i, leave] of [
        [0, true],
        [1, false],
      ] as const) {
        const src = vm.followPage(p, addr + i * 4096);
        folioGet(mem, src);
        yield* locks.folioLock(src, 'test');
        yield* vm.tryToMigrate(src, TTU_BATCH_FLUSH);
        yield* vm.removeMigrationPtes(src, src, false);
        locks.folioUnlock(src);
        folioPut(mem, src);
        if (leave) vm.leaveTlbBatchPending('migrate_pages_batch');
      }
      expect(vm.check({ quiescent: true }).some((x) => PENDING.test(x))).toBe(true);
      vm.tryToUnmapFlush();
      expect(vm.tlbBatch().leftPendingBy).toBeNull();
      done.complete();
    });
    rt.spawn('user', 1, function* (): KernelGen {
      yield* vm.userWrite(p, addr, 1);
      yield* vm.userWrite(p, addr + 4096, 2);
      ready.complete();
      yield* done.wait();
    });
    runAndCheck(m);
  });
});
