import {
  type Folio,
  folioAlloc,
  folioClearFlag,
  folioDetachPrivate,
  folioGet,
  folioGetPrivate,
  folioNid,
  folioPut,
  folioRawMapping,
  folioRefCount,
  folioSetFlag,
  folioTestFlag,
  PG_active,
  PG_locked,
  PG_private,
  PG_uptodate,
} from '@mmsim/folio';
import { newList, nrIsolated, runAll, spawn } from '@mmsim/lru/test';
import type { AnonVmaView } from '@mmsim/rmap';
import { PAGE_SIZE } from '@mmsim/rmap';
import { lockHolder, writebackIo } from '@mmsim/rmap/test';
import { Completion, EAGAIN, ENOMEM, type KernelGen, PF_MEMALLOC, VmEvent } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  MIGRATE_ASYNC,
  MIGRATE_SYNC,
  MIGRATE_SYNC_LIGHT,
  MIGRATEPAGE_SUCCESS,
  MIGRATEPAGE_UNMAP,
  type MigrateMode,
  MR_COMPACTION,
  MR_MEMORY_FAILURE,
  MR_SYSCALL,
  type VariantName,
} from '../src/index.js';
import { type MigrateCallbacks, migrateFolioMove, migrateFolioUnmap } from '../src/internal.js';
import {
  anonIsolated,
  createMigrateMachine as buildMachine,
  countingAlloc,
  assertQuiescent as expectQuiescent,
  migrateToNode,
  newSpy,
  spyingRmap,
  traceLines,
} from '../src/testing/index.js';

describe('migrate_folio_unmap (mm/migrate.c, 6.3)', () => {
  it('1. a folio freed under us succeeds at once: PG_active cleared, freed, NR_ISOLATED back', () => {
    const m = buildMachine();
    const alloc = countingAlloc(m);
    spawn(m, 'migrate', 0, function* () {
      const { mm, addr, folios, list } = yield* anonIsolated(m, 2);
      folioSetFlag(m.mem, folios[0]!, PG_active); // it came from the active list
      yield* m.vm.munmap(mm, addr, PAGE_SIZE); // its only mapping goes: the isolation ref is left
      expect(folioRefCount(m.mem, folios[0]!)).toBe(1);
      const { rc, stats } = yield* m.core.migratePages(
        list,
        alloc.fn,
        null,
        { nid: 1, thisNode: true },
        MIGRATE_ASYNC,
        MR_SYSCALL,
      );
      expect(rc).toBe(0);
      expect(stats.nrSucceeded).toBe(2);
      // No destination was allocated for the freed folio, and it is free now.
      expect(alloc.calls).toEqual([folios[1]]);
      expect(() => folioRefCount(m.mem, folios[0]!)).toThrow(/free/);
      expect(nrIsolated(m)).toBe(0);
    });
    runAll(m);
    expectQuiescent(m);
  });

  it('1b. freed under us with MR_MEMORY_FAILURE: NR_ISOLATED drops, the reference stays', () => {
    const m = buildMachine();
    spawn(m, 'migrate', 0, function* () {
      const { mm, addr, folios, list } = yield* anonIsolated(m, 1);
      yield* m.vm.munmap(mm, addr, PAGE_SIZE);
      const { rc } = yield* migrateToNode(m, list, 1, MIGRATE_SYNC, MR_MEMORY_FAILURE);
      expect(rc).toBe(0);
      expect(list.isEmpty()).toBe(true);
      expect(nrIsolated(m)).toBe(0);
      // page_handle_poison drops it.
      expect(folioRefCount(m.mem, folios[0]!)).toBe(1);
      folioPut(m.mem, folios[0]!);
    });
    runAll(m);
    expectQuiescent(m);
  });

  for (const mode of [MIGRATE_ASYNC, MIGRATE_SYNC] as MigrateMode[]) {
    it(`2. -ENOMEM from the allocator (mode ${mode}): stays on from, untried folios not counted`, () => {
      const m = buildMachine();
      const lines = traceLines(m);
      spawn(m, 'migrate', 0, function* () {
        const { folios, list } = yield* anonIsolated(m, 3);
        const before = m.vmstat.vmEvent(VmEvent.PGMIGRATE_FAIL);
        let calls = 0;
        const { rc, stats } = yield* m.core.migratePages(
          list,
          () => {
            calls++;
            return null;
          },
          null,
          null,
          mode,
          MR_SYSCALL,
        );
        expect(rc).toBe(-ENOMEM);
        expect(calls).toBe(1);
        expect(stats.nrFailedPages).toBe(1);
        expect(m.vmstat.vmEvent(VmEvent.PGMIGRATE_FAIL) - before).toBe(1);
        expect(list.toArray()).toEqual(folios);
        expect(folios.some((f) => folioTestFlag(m.mem, f, PG_locked))).toBe(false);
        yield* m.core.putbackMovablePages(list);
      });
      runAll(m);
      // The tracepoints fire on the -ENOMEM path too.
      expect(lines).toHaveLength(2);
      expect(lines[1]).toMatch(/^mm_migrate_pages: nr_succeeded=0 nr_failed=1 /);
      expectQuiescent(m);
    });
  }

  it('2b. -ENOMEM after two folios were unmapped: those are moved, then -ENOMEM', () => {
    const m = buildMachine();
    spawn(m, 'migrate', 0, function* () {
      const { folios, list } = yield* anonIsolated(m, 4);
      let calls = 0;
      const { rc, stats } = yield* m.core.migratePages(
        list,
        (src) => (++calls <= 2 ? m.core.allocMigrationTarget(src, { nid: 1 }) : null),
        null,
        null,
        MIGRATE_ASYNC,
        MR_COMPACTION,
      );
      expect(rc).toBe(-ENOMEM);
      expect(stats.nrSucceeded).toBe(2);
      expect(stats.nrFailedPages).toBe(1);
      // The untried folio stays too, behind the failed one.
      expect(list.toArray()).toEqual([folios[2], folios[3]]);
      yield* m.core.putbackMovablePages(list);
    });
    runAll(m);
    expectQuiescent(m);
  });

  /**
   * Another task holds the src lock for a long time. [variant, mode, label, PF_MEMALLOC,
   * PG_uptodate cleared, expected rc, expected get_new_page calls].
   */
  const lockCases: Array<[VariantName, MigrateMode, string, boolean, boolean, number, number]> = [
    // ASYNC never sleeps: 10 trylocks.
    ['v6.3', MIGRATE_ASYNC, 'ASYNC', false, false, 1, 10],
    // Direct compaction (PF_MEMALLOC) never sleeps: 3 async + 7 sync trylocks.
    ['v6.3', MIGRATE_SYNC, 'SYNC under PF_MEMALLOC', true, false, 1, 10],
    // 6.3 SYNC_LIGHT sleeps whatever PG_uptodate says: 3 async attempts, then the one that
    // sleeps (this row said rc 1 after 10 before 4bb6dc79d987 was given to 6.5+ only).
    ['v6.3', MIGRATE_SYNC_LIGHT, 'SYNC_LIGHT, not uptodate', false, true, 0, 4],
    ['v6.3', MIGRATE_SYNC_LIGHT, 'SYNC_LIGHT, uptodate', false, false, 0, 4],
    // 6.5+ (4bb6dc79d987): SYNC_LIGHT does not wait for a folio under read I/O...
    ['v6.11', MIGRATE_SYNC_LIGHT, 'SYNC_LIGHT, not uptodate', false, true, 1, 10],
    // ...but still sleeps on an uptodate one.
    ['v6.11', MIGRATE_SYNC_LIGHT, 'SYNC_LIGHT, uptodate', false, false, 0, 4],
    ['v6.3', MIGRATE_SYNC, 'SYNC', false, false, 0, 4],
    ['v6.11', MIGRATE_SYNC, 'SYNC', false, false, 0, 4],
    // 6.2 and 6.3-rc1: sleep only from pass 3 (force), whatever PG_uptodate says.
    ['v6.2', MIGRATE_SYNC_LIGHT, 'SYNC_LIGHT, not uptodate', false, true, 0, 4],
    ['v6.2', MIGRATE_SYNC, 'SYNC', false, false, 0, 4],
    ['v6.2', MIGRATE_SYNC, 'SYNC under PF_MEMALLOC', true, false, 1, 10],
    ['v6.2', MIGRATE_ASYNC, 'ASYNC', false, false, 1, 10],
    ['v6.3-rc1', MIGRATE_SYNC, 'SYNC', false, false, 0, 4],
  ];
  for (const [variant, mode, what, memalloc, notUptodate, rcWant, allocs] of lockCases) {
    it(`3. src lock held elsewhere, ${variant} ${what}: rc ${rcWant} after ${allocs} attempts`, () => {
      const m = buildMachine({ variant });
      const alloc = countingAlloc(m);
      let target: Folio = -1;
      const ready = new Completion(m.rt, 'ready');
      const locked = new Completion(m.rt, 'locked');
      spawn(m, 'migrate', 0, function* () {
        const { folios, list } = yield* anonIsolated(m, 1);
        target = folios[0]!;
        if (notUptodate) folioClearFlag(m.mem, target, PG_uptodate);
        ready.complete();
        yield* locked.wait();
        if (memalloc) m.rt.current.flags |= PF_MEMALLOC;
        const { rc } = yield* m.core.migratePages(
          list,
          alloc.fn,
          null,
          { nid: 1, thisNode: true },
          mode,
          MR_COMPACTION,
        );
        m.rt.current.flags &= ~PF_MEMALLOC;
        expect(rc).toBe(rcWant);
        expect(alloc.calls).toHaveLength(allocs);
        if (rc !== 0) {
          // Never slept: the holder still has it.
          expect(list.toArray()).toEqual([target]);
          expect(m.locks.folioLockOwner(target)?.name).toBe('holder');
          if (notUptodate) folioSetFlag(m.mem, target, PG_uptodate);
          yield* m.core.putbackMovablePages(list);
        } else {
          expect(list.isEmpty()).toBe(true);
        }
      });
      lockHolder(m, 1, () => target, ready, locked, 10_000_000);
      runAll(m);
      expectQuiescent(m);
    });
  }

  /** src under writeback until an I/O task ends it. [variant, mode, label, rc, attempts]. */
  const wbCases: Array<[VariantName, MigrateMode, string, number, number]> = [
    // -EBUSY is permanent for the batch: one attempt.
    ['v6.3', MIGRATE_ASYNC, 'ASYNC', 1, 1],
    // Async phase -EBUSY, then SYNC_LIGHT alone: -EBUSY again.
    ['v6.3', MIGRATE_SYNC_LIGHT, 'SYNC_LIGHT', 1, 2],
    // Async phase -EBUSY, then alone in SYNC: waits for the writeback and succeeds.
    ['v6.3', MIGRATE_SYNC, 'SYNC', 0, 2],
    // 6.2: -EAGAIN until pass 3, then waits.
    ['v6.2', MIGRATE_SYNC, 'SYNC', 0, 4],
    ['v6.2', MIGRATE_ASYNC, 'ASYNC', 1, 1],
  ];
  for (const [variant, mode, what, rcWant, allocs] of wbCases) {
    it(`4. src under writeback, ${variant} ${what}: rc ${rcWant} after ${allocs} attempts`, () => {
      const m = buildMachine({ variant });
      const alloc = countingAlloc(m);
      let target: Folio = -1;
      const ready = new Completion(m.rt, 'ready');
      const started = new Completion(m.rt, 'started');
      spawn(m, 'migrate', 0, function* () {
        const { folios, list } = yield* anonIsolated(m, 2);
        target = folios[0]!;
        ready.complete();
        yield* started.wait();
        const { rc, stats } = yield* m.core.migratePages(
          list,
          alloc.fn,
          null,
          { nid: 1, thisNode: true },
          mode,
          MR_SYSCALL,
        );
        expect(rc).toBe(rcWant);
        expect(alloc.calls.filter((f) => f === target)).toHaveLength(allocs);
        expect(stats.nrSucceeded).toBe(rcWant === 0 ? 2 : 1);
        if (rc !== 0) {
          expect(list.toArray()).toEqual([target]);
          yield* m.core.putbackMovablePages(list);
        }
      });
      writebackIo(m, 1, () => target, ready, started, 10_000_000);
      runAll(m);
      expectQuiescent(m);
    });
  }

  it('5. the anon_vma is pinned across the window: the process may exit between unmap and move', () => {
    const m = buildMachine();
    spawn(m, 'migrate', 0, function* (): KernelGen {
      const { mm, folios, list } = yield* anonIsolated(m, 1);
      const src = folios[0]!;
      const env = m.core.env;
      const av = m.vm.folioAnonVma(src) as AnonVmaView;
      const refs = av.refcount;
      const cb: MigrateCallbacks = {
        getNewFolio: (s) => m.core.allocMigrationTarget(s, { nid: 1 }),
        putNewFolio: null,
        priv: null,
      };
      const ret = newList(m);
      const dstp = { dst: -1 };
      const rc = yield* migrateFolioUnmap(
        env,
        cb,
        src,
        dstp,
        MIGRATE_SYNC,
        MR_SYSCALL,
        ret,
        false,
        false,
      );
      expect(rc).toBe(MIGRATEPAGE_UNMAP);
      const dst = dstp.dst;
      // Both locked by us; src unmapped; the state is in dst (6.3 layout).
      expect(m.locks.folioLockOwner(src)).toBe(m.rt.current);
      expect(m.locks.folioLockOwner(dst)).toBe(m.rt.current);
      expect(m.vm.folioMapped(src)).toBe(false);
      expect(folioRawMapping(m.mem, dst)).toBe(av);
      expect(folioGetPrivate(m.mem, dst)).toBe(1);
      expect(av.refcount).toBe(refs + 1);
      // The process exits now: only the pin keeps the anon_vma.
      yield* m.vm.exit(mm);
      expect(av.freed).toBe(false);
      expect(m.vm.liveAnonVmas).toBe(1);
      const dstFolios = newList(m);
      dstFolios.addTail(dst);
      const unmapFolios = newList(m);
      list.moveToTail(src, unmapFolios);
      m.vm.tryToUnmapFlush();
      const rc2 = yield* migrateFolioMove(
        env,
        cb,
        src,
        dst,
        dstFolios,
        MIGRATE_SYNC,
        MR_SYSCALL,
        ret,
      );
      expect(rc2).toBe(MIGRATEPAGE_SUCCESS);
      expect(av.freed).toBe(true);
      expect(m.vm.liveAnonVmas).toBe(0);
      // Nobody maps dst: it was freed with its last reference (the LRU batch's).
      yield* m.lru.lruAddDrainAll();
    });
    runAll(m);
    expectQuiescent(m);
  });

  it('6. a destination locked by someone else is only trylocked: -EAGAIN, given back each pass', () => {
    const m = buildMachine();
    const ready = new Completion(m.rt, 'ready');
    const locked = new Completion(m.rt, 'locked');
    let busy: Folio = -1;
    const puts: Folio[] = [];
    spawn(m, 'migrate', 0, function* () {
      const { folios, list } = yield* anonIsolated(m, 1);
      busy = folioAlloc(m.mem, 0, 1);
      ready.complete();
      yield* locked.wait();
      const { rc } = yield* m.core.migratePages(
        list,
        () => busy,
        (dst) => puts.push(dst),
        null,
        MIGRATE_ASYNC,
        MR_COMPACTION,
      );
      expect(rc).toBe(1);
      expect(puts).toEqual(Array.from({ length: 10 }, () => busy));
      expect(list.toArray()).toEqual(folios);
      expect(m.vm.folioMapped(folios[0]!)).toBe(true);
      yield* m.core.putbackMovablePages(list);
    });
    lockHolder(m, 1, () => busy, ready, locked, 10_000_000);
    spawn(m, 'cleanup', 2, function* () {
      yield* m.rt.sleepFor(20_000_000);
      folioPut(m.mem, busy);
    });
    runAll(m);
    expectQuiescent(m);
  });

  it('7. an orphaned page-cache folio with buffers: buffers freed (-EAGAIN), then freed under us', () => {
    const m = buildMachine();
    const alloc = countingAlloc(m);
    spawn(m, 'migrate', 0, function* () {
      const folio = folioAlloc(m.mem, 0, 0); // our reference stands for the isolation one
      m.locks.createBuffers(folio, 4);
      expect(folioTestFlag(m.mem, folio, PG_private)).toBe(true);
      const list = newList(m);
      list.addTail(folio);
      m.lru.nodeStatModFolio(folio, m.lru.folioIsolatedItem(folio), 1);
      const { rc, stats } = yield* m.core.migratePages(
        list,
        alloc.fn,
        null,
        { nid: 1 },
        MIGRATE_ASYNC,
        MR_COMPACTION,
      );
      expect(rc).toBe(0);
      expect(stats.nrSucceeded).toBe(1);
      // One destination, for the pass that freed the buffers; the next pass found it free.
      expect(alloc.calls).toEqual([folio]);
      expect(() => folioRefCount(m.mem, folio)).toThrow(/free/);
    });
    runAll(m);
    expectQuiescent(m);
  });

  it('7b. an orphaned folio whose buffer is busy keeps failing with -EAGAIN', () => {
    const m = buildMachine();
    spawn(m, 'migrate', 0, function* () {
      const folio = folioAlloc(m.mem, 0, 0);
      const bh = m.locks.createBuffers(folio, 1);
      m.locks.getBh(bh);
      const list = newList(m);
      list.addTail(folio);
      m.lru.nodeStatModFolio(folio, m.lru.folioIsolatedItem(folio), 1);
      const { rc } = yield* migrateToNode(m, list, 1, MIGRATE_ASYNC, MR_COMPACTION);
      expect(rc).toBe(1);
      expect(list.toArray()).toEqual([folio]);
      list.del(folio);
      m.lru.nodeStatModFolio(folio, m.lru.folioIsolatedItem(folio), -1);
      // Give it back: release the buffer, free the buffers, drop the reference.
      m.locks.putBh(bh);
      folioDetachPrivate(m.mem, folio);
      folioPut(m.mem, folio);
    });
    runAll(m);
    expectQuiescent(m);
  });

  it('7c. a folio without a mapping and without buffers falls through: unmapped without rmap work', () => {
    const spy = newSpy();
    const m = buildMachine({ wrapRmap: (vm) => spyingRmap(vm, spy) });
    spawn(m, 'migrate', 0, function* () {
      const folio = folioAlloc(m.mem, 0, 0);
      folioGet(m.mem, folio); // someone else's reference: not freed under us
      const list = newList(m);
      list.addTail(folio);
      m.lru.nodeStatModFolio(folio, m.lru.folioIsolatedItem(folio), 1);
      const { rc } = yield* migrateToNode(m, list, 1, MIGRATE_ASYNC, MR_COMPACTION);
      // migrate_folio's anon check (refcount 1 expected) fails in every move pass.
      expect(rc).toBe(1);
      expect(spy.tryToMigrate.size).toBe(0);
      expect(spy.removeMigrationPtes).toEqual([]);
      list.del(folio);
      m.lru.nodeStatModFolio(folio, m.lru.folioIsolatedItem(folio), -1);
      folioPut(m.mem, folio);
      folioPut(m.mem, folio);
    });
    runAll(m);
    expectQuiescent(m);
  });

  it('8. try_to_migrate gets TTU_BATCH_FLUSH only in MIGRATE_ASYNC (6.3), always (6.3-rc1), never (6.2)', () => {
    const expectations: Array<[VariantName, MigrateMode, number[]]> = [
      ['v6.3', MIGRATE_ASYNC, [0x40]],
      ['v6.3', MIGRATE_SYNC, [0x40]], // the async batch of migrate_pages_sync
      ['v6.3', MIGRATE_SYNC_LIGHT, [0x40]],
      ['v6.3-rc1', MIGRATE_SYNC, [0x40]],
      ['rfc-2022', MIGRATE_SYNC, [0x40]],
      ['v6.2', MIGRATE_ASYNC, [0]],
    ];
    for (const [variant, mode, flags] of expectations) {
      const spy = newSpy();
      const m = buildMachine({ variant, wrapRmap: (vm) => spyingRmap(vm, spy) });
      spawn(m, 'migrate', 0, function* () {
        const { list } = yield* anonIsolated(m, 1);
        const { rc } = yield* migrateToNode(m, list, 1, mode, MR_SYSCALL);
        expect(rc).toBe(0);
      });
      runAll(m);
      expect(spy.tryToMigrateFlags).toEqual(flags);
    }
  });

  it('8b. a sync retry one folio at a time unmaps without TTU_BATCH_FLUSH (6.3)', () => {
    const spy = newSpy();
    const m = buildMachine({ wrapRmap: (vm) => spyingRmap(vm, spy) });
    const ready = new Completion(m.rt, 'ready');
    const locked = new Completion(m.rt, 'locked');
    let target: Folio = -1;
    spawn(m, 'migrate', 0, function* () {
      const { folios, list } = yield* anonIsolated(m, 1);
      target = folios[0]!;
      ready.complete();
      yield* locked.wait();
      const { rc } = yield* migrateToNode(m, list, 1, MIGRATE_SYNC, MR_SYSCALL);
      expect(rc).toBe(0);
      expect(folioNid(m.mem, m.vm.followPage(m.vm.processes[0]!, 0x7f00_0000_0000))).toBe(1);
    });
    lockHolder(m, 1, () => target, ready, locked, 1_000_000);
    runAll(m);
    // The three async passes never got the lock; the sync pass did, and unmapped with 0.
    expect(spy.tryToMigrateFlags).toEqual([0]);
    expectQuiescent(m);
  });

  it('9. -EAGAIN leaves src on from; -EBUSY moves it to the tail of ret (step level)', () => {
    const m = buildMachine();
    const ready = new Completion(m.rt, 'ready');
    const started = new Completion(m.rt, 'started');
    let target: Folio = -1;
    spawn(m, 'migrate', 0, function* () {
      const { folios, list } = yield* anonIsolated(m, 2);
      target = folios[1]!;
      ready.complete();
      yield* started.wait();
      const env = m.core.env;
      const cb: MigrateCallbacks = {
        getNewFolio: (s) => m.core.allocMigrationTarget(s, { nid: 1 }),
        putNewFolio: null,
        priv: null,
      };
      const ret = newList(m);
      // folios[0] locked by us: ASYNC trylock fails.
      yield* m.locks.folioLock(folios[0]!, 'test');
      // (Locked by ourselves: the trylock fails just the same.)
      expect(
        yield* migrateFolioUnmap(
          env,
          cb,
          folios[0]!,
          { dst: -1 },
          MIGRATE_ASYNC,
          MR_SYSCALL,
          ret,
          false,
          false,
        ),
      ).toBe(-EAGAIN);
      m.locks.folioUnlock(folios[0]!);
      expect(
        yield* migrateFolioUnmap(
          env,
          cb,
          target,
          { dst: -1 },
          MIGRATE_ASYNC,
          MR_SYSCALL,
          ret,
          false,
          false,
        ),
      ).toBe(-16);
      expect(list.toArray()).toEqual([folios[0]]);
      expect(ret.toArray()).toEqual([target]);
      ret.spliceInit(list);
      yield* m.core.putbackMovablePages(list);
    });
    writebackIo(m, 1, () => target, ready, started, 1_000);
    runAll(m);
    expectQuiescent(m);
  });
});
