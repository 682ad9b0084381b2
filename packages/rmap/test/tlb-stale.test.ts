import { folioGet, folioPut, pageContent } from '@mmsim/folio';
import { Completion, exploreExhaustively, type KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { MAP_ANONYMOUS, MAP_SHARED, TTU_BATCH_FLUSH } from '../src/index.js';
import { mutableMm } from '../src/internal.js';
import { createRmapMachine as machine, runAndCheck } from '../src/testing/index.js';
import { migrateFolio } from './helpers.js';

describe('stale TLB entries', () => {
  it('a CPU with a stale writable entry keeps writing the old frame until the flush', () => {
    const m = machine({ cpuNodes: [0, 0] });
    const { vm, mem, rt, locks } = m;
    const p = vm.createProcess();
    const addr = vm.mmap(p, { length: 4096 });
    const unmapped = new Completion(rt, 'unmapped');
    const wrote = new Completion(rt, 'wrote');
    const flushed = new Completion(rt, 'flushed');
    let src = -1;
    rt.spawn('migrator', 0, function* (): KernelGen {
      yield* wrote.wait();
      src = vm.followPage(p, addr);
      folioGet(mem, src);
      yield* locks.folioLock(src, 'test');
      yield* vm.tryToMigrate(src, TTU_BATCH_FLUSH);
      expect(vm.lookupPte(p, addr).kind).toBe('migration');
      unmapped.complete();
      yield* wrote.wait();
      // The store went to the old frame through CPU 1's stale TLB entry.
      expect(pageContent(mem, src)).toBe(2);
      expect(vm.check({ quiescent: true }).some((x) => x.includes('missing TLB flush'))).toBe(true);
      vm.tryToUnmapFlush();
      expect(vm.check({ quiescent: true })).toEqual([]);
      flushed.complete();
      yield* rt.sleepFor(100_000); // the writer faults and waits on the folio lock
      yield* vm.removeMigrationPtes(src, src, false);
      locks.folioUnlock(src);
      folioPut(mem, src);
    });
    rt.spawn('writer', 1, function* (): KernelGen {
      yield* vm.userWrite(p, addr, 1);
      wrote.complete();
      yield* unmapped.wait();
      expect(vm.userWriteFast(p, addr, 2)).toBe(true); // a TLB hit, no fault
      wrote.complete();
      yield* flushed.wait();
      expect(vm.userWriteFast(p, addr, 3)).toBe(false); // now it must fault...
      yield* vm.userWrite(p, addr, 3); // ...and waits for the migrator
      expect(yield* vm.userRead(p, addr)).toBe(3);
    });
    runAndCheck(m);
  });

  it('a store through a clean stale entry traps instead (clean->dirty re-walk)', () => {
    const m = machine({ cpuNodes: [0, 0] });
    const { vm, mem, rt, locks } = m;
    const p = vm.createProcess();
    // Shared anonymous memory is shmem: a read fault maps it writable but clean.
    const addr = vm.mmap(p, { length: 4096, flags: MAP_SHARED | MAP_ANONYMOUS });
    const ready = new Completion(rt, 'ready');
    const unmapped = new Completion(rt, 'unmapped');
    rt.spawn('migrator', 0, function* (): KernelGen {
      yield* ready.wait();
      const src = vm.followPage(p, addr);
      folioGet(mem, src);
      yield* locks.folioLock(src, 'test');
      yield* vm.tryToMigrate(src, TTU_BATCH_FLUSH);
      expect(vm.lookupPte(p, addr)).toMatchObject({
        kind: 'migration',
        migration: 'writable',
        dirty: false,
      });
      expect(vm.tlbBatch().writable).toBe(false); // no dirty PTE was deferred
      unmapped.complete();
      yield* rt.sleepFor(100_000);
      expect(pageContent(mem, src)).toBe(0); // the store did not reach the old frame
      vm.tryToUnmapFlushDirty(); // nothing dirty: does not flush
      expect(vm.tlbBatch().flushRequired).toBe(true);
      vm.tryToUnmapFlush();
      yield* vm.removeMigrationPtes(src, src, false);
      locks.folioUnlock(src);
      folioPut(mem, src);
    });
    rt.spawn('reader', 1, function* (): KernelGen {
      expect(yield* vm.userRead(p, addr)).toBe(0);
      expect(vm.lookupPte(p, addr)).toMatchObject({ write: true, dirty: false });
      expect(mutableMm(p).tlb[1]!.get(addr / 4096)! & 3).toBe(2); // cached writable, clean
      ready.complete();
      yield* unmapped.wait();
      expect(vm.userWriteFast(p, addr, 2)).toBe(false);
      yield* vm.userWrite(p, addr, 2);
      expect(yield* vm.userRead(p, addr)).toBe(2);
      yield* vm.exit(p);
    });
    runAndCheck(m);
  });

  it('exhaustively: copy-before-flush loses a write in some schedule, flush-before-copy in none', () => {
    const outcome = (copyBeforeFlush: boolean): { runs: number; lost: number } => {
      let runs = 0;
      let lost = 0;
      const r = exploreExhaustively((strategy) => {
        const mm = machine({ cpuNodes: [0, 0], nodes: [1024, 1024], strategy });
        const { vm, rt } = mm;
        const p = vm.createProcess();
        const addr = vm.mmap(p, { length: 4096 });
        const warm = new Completion(rt, 'warm');
        let last = -1;
        const writer = rt.spawn('writer', 1, function* (): KernelGen {
          yield* vm.userWrite(p, addr, 1);
          last = 1;
          warm.complete();
          yield;
          yield* vm.userWrite(p, addr, 2);
          last = 2;
        });
        let final = -1;
        rt.spawn('migrator', 0, function* (): KernelGen {
          yield* warm.wait();
          const src = vm.followPage(p, addr);
          yield* migrateFolio(mm, src, { flags: TTU_BATCH_FLUSH, copyBeforeFlush });
          yield* rt.join(writer);
          final = yield* vm.userRead(p, addr);
        });
        expect(rt.run().status).toBe('completed');
        runs++;
        if (final !== last) lost++;
      });
      expect(r.complete).toBe(true);
      return { runs, lost };
    };
    const good = outcome(false);
    expect(good.runs).toBeGreaterThan(1);
    expect(good.lost).toBe(0);
    const bad = outcome(true);
    expect(bad.lost).toBeGreaterThan(0);
  });
});
