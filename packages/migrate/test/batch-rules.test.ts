import { type Folio, folioAlloc, folioNid, folioPut, HPAGE_PMD_NR } from '@mmsim/folio';
import { isolateFolios, newList, runAll, spawn } from '@mmsim/lru/test';
import type { TlbBatch, VirtualMemory } from '@mmsim/rmap';
import { foliosOf, lockHolder, mapAnon, writebackIo, writePages } from '@mmsim/rmap/test';
import { Completion, type KernelGen, MmsimError } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  MIGRATE_ASYNC,
  MIGRATE_SYNC,
  type MigrateMode,
  MR_COMPACTION,
  MR_SYSCALL,
  type VariantName,
} from '../src/index.js';
import {
  anonIsolated,
  createMigrateMachine as buildMachine,
  countingAlloc,
  assertQuiescent as expectQuiescent,
  migrateToNode,
  newSpy,
  type RmapSpy,
  spyingRmap,
} from '../src/testing/index.js';

/** A TlbBatch that logs each try_to_unmap_flush into `events` and forwards it. */
function loggingTlb(vm: VirtualMemory, events: string[]): TlbBatch {
  return {
    tryToUnmapFlush: () => {
      events.push('flush');
      vm.tryToUnmapFlush();
    },
    tryToUnmapFlushDirty: () => vm.tryToUnmapFlushDirty(),
    flushTlbBatchedPending: (mm) => vm.flushTlbBatchedPending(mm),
  };
}

/** An Rmap spy that also logs unmaps ('U') and remaps to a new folio ('R') into `events`. */
function loggingRmap(vm: VirtualMemory, spy: RmapSpy, events: string[]) {
  const inner = spyingRmap(vm, spy);
  return {
    ...inner,
    tryToMigrate(folio: Folio, flags: number) {
      events.push('U');
      return inner.tryToMigrate(folio, flags);
    },
    removeMigrationPtes(src: Folio, dst: Folio, locked: boolean) {
      events.push(src === dst ? 'undo' : 'R');
      return inner.removeMigrationPtes(src, dst, locked);
    },
  };
}

/** Unmaps per batch: the 'U' events between flushes. */
function unmapsPerFlush(events: string[]): number[] {
  const out: number[] = [];
  let n = 0;
  for (const e of events) {
    if (e === 'U') n++;
    if (e === 'flush') {
      out.push(n);
      n = 0;
    }
  }
  return out;
}

describe('migrate_pages() and migrate_pages_batch() (mm/migrate.c, 6.3)', () => {
  const carving: Array<[VariantName, MigrateMode, number[]]> = [
    ['v6.3', MIGRATE_ASYNC, [512, 512, 76]],
    ['v6.3', MIGRATE_SYNC, [512, 512, 76]], // the async batches of migrate_pages_sync
    ['v6.3-rc1', MIGRATE_SYNC, [512, 512, 76]],
    ['v6.2', MIGRATE_ASYNC, []], // no batches, no try_to_unmap_flush
  ];
  for (const [variant, mode, expected] of carving) {
    it(`${variant} mode ${mode}: 1100 folios go in batches of NR_MAX_BATCHED_MIGRATION pages, one flush each`, () => {
      const events: string[] = [];
      const spy = newSpy();
      const m = buildMachine({
        variant,
        wrapRmap: (vm) => loggingRmap(vm, spy, events),
        wrapTlb: (vm) => loggingTlb(vm, events),
      });
      spawn(m, 'migrate', 0, function* (): KernelGen {
        const { list } = yield* anonIsolated(m, 1100);
        const { rc, stats } = yield* migrateToNode(m, list, 1, mode, MR_SYSCALL);
        expect(rc).toBe(0);
        expect(stats.nrSucceeded).toBe(1100);
      });
      runAll(m);
      expect(unmapsPerFlush(events)).toEqual(expected);
      if (variant !== 'v6.2') {
        // Within a batch: every unmap, then the flush, then every remap.
        const firstFlush = events.indexOf('flush');
        expect(events.slice(0, firstFlush).every((e) => e === 'U')).toBe(true);
        expect(events.slice(firstFlush + 1, firstFlush + 513).every((e) => e === 'R')).toBe(true);
      }
      expectQuiescent(m);
    });
  }

  /**
   * Batch boundaries with a THP among small folios, both carving rules. `at-limit`
   * (fb3592c41a44, 6.3-rc3 on): the batch ends with the folio that brings it to
   * NR_MAX_BATCHED_MIGRATION pages, even past it. `over-limit` (the RFC, 6.3-rc1): the
   * folio that would take it past the limit starts the next batch. [variant, small folios
   * before the THP, unmaps per batch].
   */
  const boundaries: Array<[VariantName, number, number[]]> = [
    // 511 + 512 pages: one batch of 1023 pages...
    ['v6.3', 511, [512, 1]],
    ['v6.11', 511, [512, 1]],
    // ...or 511 pages, then the THP (512), then the last small folio.
    ['v6.3-rc1', 511, [511, 1, 1]],
    ['rfc-2022', 511, [511, 1, 1]],
    // 512 small pages reach the limit exactly, and so does the THP: both rules cut before
    // the THP and after it.
    ['v6.3', 512, [512, 1, 1]],
    ['v6.3-rc1', 512, [512, 1, 1]],
    ['rfc-2022', 512, [512, 1, 1]],
  ];
  for (const [variant, before, expected] of boundaries) {
    it(`${variant}: ${before} small folios, a THP, 1 small folio go in batches of ${expected.join(', ')} folios`, () => {
      const events: string[] = [];
      const spy = newSpy();
      const m = buildMachine({
        variant,
        wrapRmap: (vm) => loggingRmap(vm, spy, events),
        wrapTlb: (vm) => loggingTlb(vm, events),
      });
      spawn(m, 'migrate', 0, function* (): KernelGen {
        const mm = m.vm.createProcess('p');
        const small = mapAnon(m, mm, before + 1);
        const huge = mapAnon(m, mm, HPAGE_PMD_NR, true);
        yield* writePages(m, mm, small, before + 1, (i) => i);
        yield* writePages(m, mm, huge, HPAGE_PMD_NR, (i) => i);
        const s = foliosOf(m, mm, small, before + 1);
        const t = foliosOf(m, mm, huge, HPAGE_PMD_NR);
        const list = newList(m);
        yield* isolateFolios(m, [...s.slice(0, before), ...t, s[before]!], list);
        const { rc, stats } = yield* migrateToNode(m, list, 1, MIGRATE_ASYNC, MR_SYSCALL);
        expect(rc).toBe(0);
        expect(stats.nrSucceeded).toBe(before + 1 + HPAGE_PMD_NR);
        expect(stats.nrThpSucceeded).toBe(1);
      });
      runAll(m);
      expect(unmapsPerFlush(events)).toEqual(expected);
      expectQuiescent(m);
    });
  }

  it('v6.3-rc1: a folio larger than NR_MAX_BATCHED_MIGRATION alone would carve empty batches forever: a kernel BUG', () => {
    const m = buildMachine({ variant: 'v6.3-rc1' });
    let err: unknown = null;
    spawn(m, 'migrate', 0, function* (): KernelGen {
      const big = folioAlloc(m.mem, 10, 0); // no kernel migrates such a folio this way
      const list = newList(m);
      list.addTail(big);
      try {
        yield* migrateToNode(m, list, 1, MIGRATE_ASYNC, MR_SYSCALL);
      } catch (e) {
        err = e;
      }
      list.del(big);
      folioPut(m.mem, big);
    });
    runAll(m);
    expect(err).toBeInstanceOf(MmsimError);
    expect((err as MmsimError).code).toBe('INVARIANT_VIOLATED');
    expect((err as MmsimError).message).toMatch(/exceeds NR_MAX_BATCHED_MIGRATION/);
  });

  it('failures come back at the front of from: permanent ones in order, then the -EAGAIN leftovers', () => {
    const m = buildMachine();
    const ready = new Completion(m.rt, 'ready');
    const locked = new Completion(m.rt, 'locked');
    const wbReady = new Completion(m.rt, 'wb-ready');
    const wb2Ready = new Completion(m.rt, 'wb2-ready');
    const started = new Completion(m.rt, 'started');
    const started2 = new Completion(m.rt, 'started2');
    let f: Folio[] = [];
    spawn(m, 'migrate', 0, function* (): KernelGen {
      const r = yield* anonIsolated(m, 5);
      f = r.folios;
      ready.complete();
      wbReady.complete();
      wb2Ready.complete();
      yield* locked.wait();
      yield* started.wait();
      yield* started2.wait();
      const { rc, stats } = yield* migrateToNode(m, r.list, 1, MIGRATE_ASYNC, MR_COMPACTION);
      // a and d: -EBUSY (writeback), c: -EAGAIN through 10 passes.
      expect(rc).toBe(3);
      expect(stats).toMatchObject({ nrSucceeded: 2, nrFailedPages: 3 });
      expect(r.list.toArray()).toEqual([f[0], f[3], f[2]]);
      yield* m.core.putbackMovablePages(r.list);
    });
    lockHolder(m, 1, () => f[2]!, ready, locked, 50_000_000);
    writebackIo(m, 2, () => f[0]!, wbReady, started, 50_000_000);
    writebackIo(m, 3, () => f[3]!, wb2Ready, started2, 50_000_000);
    runAll(m);
    expectQuiescent(m);
  });

  it('6.3 sync: async batch first (3 passes), then each failure alone in the caller mode, -EAGAIN leftovers first', () => {
    const m = buildMachine();
    const alloc = countingAlloc(m);
    const ready = new Completion(m.rt, 'ready');
    const locked = new Completion(m.rt, 'locked');
    const wbReady = new Completion(m.rt, 'wb-ready');
    const started = new Completion(m.rt, 'started');
    let f: Folio[] = [];
    spawn(m, 'migrate', 0, function* (): KernelGen {
      const r = yield* anonIsolated(m, 3);
      f = r.folios;
      ready.complete();
      wbReady.complete();
      yield* locked.wait();
      yield* started.wait();
      const { rc, stats } = yield* m.core.migratePages(
        r.list,
        alloc.fn,
        null,
        { nid: 1, thisNode: true },
        MIGRATE_SYNC,
        MR_SYSCALL,
      );
      expect(rc).toBe(0);
      // The async phase's failures are not counted: both are retried and succeed.
      expect(stats).toEqual({
        nrSucceeded: 3,
        nrFailedPages: 0,
        nrThpSucceeded: 0,
        nrThpFailed: 0,
        nrThpSplit: 0,
        nrSplit: 0,
      });
    });
    // f[0] under writeback (-EBUSY in async), f[1] locked (-EAGAIN), f[2] fine.
    writebackIo(m, 2, () => f[0]!, wbReady, started, 5_000_000);
    lockHolder(m, 1, () => f[1]!, ready, locked, 5_000_000);
    runAll(m);
    const [a, b, c] = f;
    // Async pass 0: a (EBUSY), b (EAGAIN), c (unmapped); passes 1, 2: b. Then alone: b (the
    // -EAGAIN leftover), then a (the permanent async failure appended after it).
    expect(alloc.calls).toEqual([a, b, c, b, b, b, a]);
    expectQuiescent(m);
  });

  /** f1 locked by another task for a while; f0 first on the list. Attempts on f1. */
  const forceCases: Array<[VariantName, number]> = [
    ['v6.3', 4], // 3 async trylocks, then alone it sleeps
    ['rfc-2022', 4], // sleeps at pass 3 with f0 locked in the same batch
    ['v6.3-rc1', 8], // pass 3: -EDEADLOCK (f0 is held), move f0, start over: 3 more, sleep
    ['v6.2', 4],
  ];
  for (const [variant, attempts] of forceCases) {
    it(`${variant}: a contended src lock in a sync batch takes ${attempts} attempts`, () => {
      const m = buildMachine({ variant });
      const alloc = countingAlloc(m);
      const ready = new Completion(m.rt, 'ready');
      const locked = new Completion(m.rt, 'locked');
      let f: Folio[] = [];
      spawn(m, 'migrate', 0, function* (): KernelGen {
        const r = yield* anonIsolated(m, 2);
        f = r.folios;
        ready.complete();
        yield* locked.wait();
        const { rc } = yield* m.core.migratePages(
          r.list,
          alloc.fn,
          null,
          { nid: 1, thisNode: true },
          MIGRATE_SYNC,
          MR_SYSCALL,
        );
        expect(rc).toBe(0);
        expect(alloc.calls.filter((x) => x === f[1])).toHaveLength(attempts);
        expect(alloc.calls.filter((x) => x === f[0])).toHaveLength(1);
        expect(foliosOf(m, r.mm, r.addr, 2).map((x) => folioNid(m.mem, x))).toEqual([1, 1]);
      });
      lockHolder(m, 1, () => f[1]!, ready, locked, 5_000_000);
      runAll(m);
      expectQuiescent(m);
    });
  }
});
