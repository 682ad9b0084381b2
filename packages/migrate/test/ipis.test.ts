import type { Folio } from '@mmsim/folio';
import { isolateFolios, newList, runAll, spawn } from '@mmsim/lru/test';
import { type MmView, PAGE_SIZE } from '@mmsim/rmap';
import { foliosOf, mapAnon } from '@mmsim/rmap/test';
import { Completion, type KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  MIGRATE_ASYNC,
  MIGRATE_SYNC,
  type MigrateMode,
  MR_SYSCALL,
  type VariantName,
} from '../src/index.js';
import {
  createMigrateMachine as buildMachine,
  assertQuiescent as expectQuiescent,
  type MigrateMachine as Machine,
  migrateToNode,
} from '../src/testing/index.js';

/**
 * A process whose threads ran on all 8 CPUs: thread i wrote pages i, i + 8, ... so every
 * CPU is in mm_cpumask and caches translations. Resolves once every thread is done.
 */
function processOn8Cpus(m: Machine, done: Completion, N: number): { mm: MmView; addr: number } {
  const mm = m.vm.createProcess('app');
  const addr = mapAnon(m, mm, N);
  for (let cpu = 0; cpu < 8; cpu++) {
    spawn(m, `app/${cpu}`, cpu, function* (): KernelGen {
      for (let i = cpu; i < N; i += 8) yield* m.vm.userWrite(mm, addr + i * PAGE_SIZE, 1000 + i);
      for (let i = 0; i < N; i += 37) yield* m.vm.userRead(mm, addr + i * PAGE_SIZE);
      done.complete();
    });
  }
  return { mm, addr };
}

describe('TLB shootdowns of migrating the order-0 pages of a process on 8 CPUs', () => {
  /** [variant, mode, pages, folios locked elsewhere (retried alone in sync), shootdowns]. */
  const cases: Array<[VariantName, MigrateMode, number, number, number]> = [
    ['v6.2', MIGRATE_ASYNC, 512, 0, 512], // try_to_migrate(src, 0): a shootdown per PTE
    ['v6.2', MIGRATE_SYNC, 512, 0, 512],
    ['v6.3', MIGRATE_ASYNC, 512, 0, 1], // one try_to_unmap_flush for the batch
    ['v6.3', MIGRATE_SYNC, 512, 0, 1], // the async batch
    ['v6.3', MIGRATE_SYNC, 512, 3, 1 + 3], // plus one per folio retried alone (no TTU_BATCH_FLUSH)
    ['v6.3', MIGRATE_SYNC, 1100, 0, 3], // one per async batch: 512 + 512 + 76 pages
    ['v6.3-rc1', MIGRATE_SYNC, 512, 0, 1],
    ['v6.11', MIGRATE_ASYNC, 512, 0, 1],
  ];
  for (const [variant, mode, N, contended, shootdowns] of cases) {
    it(`${variant} mode ${mode}, ${N} pages${contended > 0 ? `, ${contended} retried alone` : ''}: ${shootdowns} shootdown(s)`, () => {
      const m = buildMachine({ variant, nodes: [4096, 4096] });
      const done = new Completion(m.rt, 'app done');
      const { mm, addr } = processOn8Cpus(m, done, N);
      const ready = new Completion(m.rt, 'ready');
      const locked = new Completion(m.rt, 'locked');
      let busy: Folio[] = [];
      spawn(m, 'migrate', 0, function* (): KernelGen {
        for (let i = 0; i < 8; i++) yield* done.wait();
        const folios = foliosOf(m, mm, addr, N);
        busy = folios.slice(100, 100 + contended);
        ready.complete();
        if (contended > 0) yield* locked.wait();
        const list = newList(m);
        yield* isolateFolios(m, folios, list);
        m.vm.tlbStats.reset();
        const { rc, stats } = yield* migrateToNode(m, list, 1, mode, MR_SYSCALL);
        expect(rc).toBe(0);
        expect(stats.nrSucceeded).toBe(N);
        expect(m.vm.tlbStats.shootdowns).toBe(shootdowns);
        // Every round goes to the 7 other CPUs of mm_cpumask, but not as an IPI to those in
        // lazy TLB mode (native_flush_tlb_multi, 6.3): with contention, the kernel threads
        // `holder` (CPU 1, every round) and `check` (CPU 2, from the second round on) have
        // left their CPUs lazy on the app's mm.
        const lazy = contended > 0 ? shootdowns + (shootdowns - 1) : 0;
        expect(m.vm.tlbStats.lazySkipped).toBe(lazy);
        expect(m.vm.tlbStats.ipisSent).toBe(7 * shootdowns - lazy);
      });
      spawn(m, 'holder', 1, function* (): KernelGen {
        yield* ready.wait();
        if (contended === 0) return;
        for (const f of busy) yield* m.locks.folioLock(f, 'holder');
        locked.complete();
        yield* m.rt.sleepFor(50_000_000);
        for (const f of busy) m.locks.folioUnlock(f);
      });
      spawn(m, 'check', 2, function* (): KernelGen {
        yield* m.rt.sleepFor(1_000_000_000);
        for (let i = 0; i < N; i++)
          expect(yield* m.vm.userRead(mm, addr + i * PAGE_SIZE)).toBe(1000 + i);
      });
      runAll(m);
      expectQuiescent(m);
    });
  }
});
