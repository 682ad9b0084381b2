import {
  type Folio,
  folioAlloc,
  folioCopyContents,
  folioGet,
  folioNid,
  folioPut,
  folioRefCount,
  folioTestFlag,
  folioTestMovable,
  PG_isolated,
  PG_lru,
  pageContent,
  setPageContent,
} from '@mmsim/folio';
import { newList, nrIsolated, runAll, spawn } from '@mmsim/lru/test';
import { lockHolder } from '@mmsim/rmap/test';
import { Completion, EAGAIN, type KernelGen, MmsimError } from '@mmsim/runtime';
import { describe, expect, it, vi } from 'vitest';
import {
  clearPageMovable,
  DriverCallbackError,
  folioMovableOps,
  ISOLATE_ASYNC_MIGRATE,
  MIGRATE_ASYNC,
  MIGRATE_SYNC,
  type MigrateMode,
  type MovableOperations,
  MR_COMPACTION,
  pageMovable,
  setPageMovable,
  type VariantName,
} from '../src/index.js';
import {
  createMigrateMachine as buildMachine,
  assertQuiescent as expectQuiescent,
  type MigrateMachine as Machine,
  migrateToNode,
  newSpy,
  spyingRmap,
} from '../src/testing/index.js';

/** A balloon-like driver: its pages hold one driver reference; migration moves them. */
class Balloon {
  readonly pages = new Set<Folio>();
  readonly log: string[] = [];
  refuse = false;
  eagain = 0;
  throws = false;
  readonly mops: MovableOperations;

  constructor(readonly m: Machine) {
    const self = this;
    this.mops = {
      name: 'balloon',
      isolatePage(folio) {
        self.log.push(`isolate ${folio}`);
        return !self.refuse;
      },
      migratePage(dst, src, mode) {
        self.log.push(`migrate ${src} mode ${mode}`);
        if (self.throws) throw new Error('balloon lost its page list');
        if (self.eagain > 0) {
          self.eagain--;
          return -EAGAIN;
        }
        const mem = self.m.mem;
        folioCopyContents(mem, dst, src);
        folioGet(mem, dst);
        setPageMovable(mem, dst, self.mops);
        self.pages.delete(src);
        self.pages.add(dst);
        clearPageMovable(mem, src);
        folioPut(mem, src);
        return 0;
      },
      putbackPage(folio) {
        self.log.push(`putback ${folio}`);
      },
    };
  }

  /** A new balloon page on node 0 with content `word`. */
  page(word: number): Folio {
    const f = folioAlloc(this.m.mem, 0, 0);
    setPageContent(this.m.mem, f, word);
    setPageMovable(this.m.mem, f, this.mops);
    this.pages.add(f);
    return f;
  }

  /** The driver lets go of its pages (balloon deflation). */
  releaseAll(): void {
    for (const f of this.pages) {
      clearPageMovable(this.m.mem, f);
      folioPut(this.m.mem, f);
    }
    this.pages.clear();
  }
}

describe('non-LRU movable pages (movable_operations, include/linux/migrate.h)', () => {
  it('isolate_movable_page: reference and PG_isolated on success; every refusal drops the reference', () => {
    const m = buildMachine();
    const b = new Balloon(m);
    const ready = new Completion(m.rt, 'ready');
    const locked = new Completion(m.rt, 'locked');
    let busy: Folio = -1;
    spawn(m, 'compact', 0, function* (): KernelGen {
      const f = b.page(1);
      expect(m.core.isolateMovablePage(f, ISOLATE_ASYNC_MIGRATE)).toBe(true);
      expect(folioRefCount(m.mem, f)).toBe(2);
      expect(folioTestFlag(m.mem, f, PG_isolated)).toBe(true);
      expect(b.log).toEqual([`isolate ${f}`]);
      // Already isolated.
      expect(m.core.isolateMovablePage(f, ISOLATE_ASYNC_MIGRATE)).toBe(false);
      expect(folioRefCount(m.mem, f)).toBe(2);
      // The driver refuses.
      const g = b.page(2);
      b.refuse = true;
      expect(m.core.isolateMovablePage(g, ISOLATE_ASYNC_MIGRATE)).toBe(false);
      expect(folioRefCount(m.mem, g)).toBe(1);
      b.refuse = false;
      // Not a movable page; a free frame; a tail page.
      const plain = folioAlloc(m.mem, 0, 0);
      expect(m.core.isolateMovablePage(plain, ISOLATE_ASYNC_MIGRATE)).toBe(false);
      folioPut(m.mem, plain);
      expect(m.core.isolateMovablePage(plain, ISOLATE_ASYNC_MIGRATE)).toBe(false);
      const big = folioAlloc(m.mem, 2, 0);
      expect(m.core.isolateMovablePage(big + 1, ISOLATE_ASYNC_MIGRATE)).toBe(false);
      folioPut(m.mem, big);
      // Locked by someone else: the trylock fails.
      busy = b.page(3);
      ready.complete();
      yield* locked.wait();
      expect(m.core.isolateMovablePage(busy, ISOLATE_ASYNC_MIGRATE)).toBe(false);
      expect(folioRefCount(m.mem, busy)).toBe(1);
      // Give f back.
      const list = newList(m);
      list.addTail(f);
      yield* m.core.putbackMovablePages(list);
      expect(b.log.at(-1)).toBe(`putback ${f}`);
      expect(folioTestFlag(m.mem, f, PG_isolated)).toBe(false);
      expect(folioRefCount(m.mem, f)).toBe(1);
      yield* m.rt.sleepFor(2_000_000);
      b.releaseAll();
    });
    lockHolder(m, 1, () => busy, ready, locked, 1_000_000);
    runAll(m);
    expectQuiescent(m);
  });

  for (const variant of ['v6.3', 'v6.2', 'v6.3-rc1'] as VariantName[]) {
    for (const mode of [MIGRATE_ASYNC, MIGRATE_SYNC] as MigrateMode[]) {
      it(`${variant} mode ${mode}: migrate_page moves it; no rmap work, no LRU, no NR_ISOLATED`, () => {
        const spy = newSpy();
        const m = buildMachine({ variant, wrapRmap: (vm) => spyingRmap(vm, spy) });
        const b = new Balloon(m);
        spawn(m, 'compact', 0, function* (): KernelGen {
          const src = b.page(77);
          const list = newList(m);
          expect(m.core.isolateMovablePage(src, ISOLATE_ASYNC_MIGRATE)).toBe(true);
          list.addTail(src);
          const { rc, stats } = yield* migrateToNode(m, list, 1, mode, MR_COMPACTION);
          expect(rc).toBe(0);
          expect(stats.nrSucceeded).toBe(1);
          expect(nrIsolated(m)).toBe(0);
          expect(spy.tryToMigrate.size).toBe(0);
          expect(spy.removeMigrationPtes).toEqual([]);
          const [dst] = [...b.pages];
          expect(folioNid(m.mem, dst!)).toBe(1);
          expect(pageContent(m.mem, dst!)).toBe(77);
          expect(folioRefCount(m.mem, dst!)).toBe(1); // the driver's
          expect(folioTestFlag(m.mem, dst!, PG_lru)).toBe(false);
          expect(folioMovableOps(m.mem, dst!)).toBe(b.mops);
          expect(() => folioRefCount(m.mem, src)).toThrow(/free/);
          const expectedMode = variant === 'v6.3' ? MIGRATE_ASYNC : mode;
          expect(b.log).toEqual([`isolate ${src}`, `migrate ${src} mode ${expectedMode}`]);
          b.releaseAll();
        });
        runAll(m);
        expectQuiescent(m);
      });
    }
  }

  it('-EAGAIN from migrate_page is retried in every move pass, then the page is put back', () => {
    const m = buildMachine();
    const b = new Balloon(m);
    spawn(m, 'compact', 0, function* (): KernelGen {
      const src = b.page(5);
      const list = newList(m);
      m.core.isolateMovablePage(src, ISOLATE_ASYNC_MIGRATE);
      list.addTail(src);
      b.eagain = 100;
      const { rc } = yield* migrateToNode(m, list, 1, MIGRATE_ASYNC, MR_COMPACTION);
      expect(rc).toBe(1);
      expect(b.log.filter((l) => l.startsWith('migrate'))).toHaveLength(10);
      expect(list.toArray()).toEqual([src]);
      yield* m.core.putbackMovablePages(list);
      expect(b.log.at(-1)).toBe(`putback ${src}`);
      expect(folioRefCount(m.mem, src)).toBe(1);
      expect(folioTestFlag(m.mem, src, PG_isolated)).toBe(false);
      b.releaseAll();
    });
    runAll(m);
    expectQuiescent(m);
  });

  it('a page its driver released after isolation migrates as a success without migrate_page', () => {
    const m = buildMachine();
    const b = new Balloon(m);
    spawn(m, 'compact', 0, function* (): KernelGen {
      const kept = b.page(1);
      const dropped = b.page(2);
      const list = newList(m);
      for (const f of [kept, dropped]) {
        m.core.isolateMovablePage(f, ISOLATE_ASYNC_MIGRATE);
        list.addTail(f);
      }
      // The driver lets both go; it still holds `kept` for a while, `dropped` not at all.
      clearPageMovable(m.mem, kept);
      clearPageMovable(m.mem, dropped);
      folioPut(m.mem, dropped);
      b.pages.clear();
      expect(pageMovable(m.mem, kept)).toBe(false);
      expect(folioTestMovable(m.mem, kept)).toBe(true);
      const { rc, stats } = yield* migrateToNode(m, list, 1, MIGRATE_SYNC, MR_COMPACTION);
      expect(rc).toBe(0);
      expect(stats.nrSucceeded).toBe(2);
      expect(b.log.filter((l) => l.startsWith('migrate'))).toEqual([]);
      expect(folioTestFlag(m.mem, kept, PG_isolated)).toBe(false);
      expect(folioRefCount(m.mem, kept)).toBe(1);
      expect(() => folioRefCount(m.mem, dropped)).toThrow(/free/);
      folioPut(m.mem, kept);
    });
    runAll(m);
    expectQuiescent(m);
  });

  for (const variant of ['v6.2', 'v6.3'] as VariantName[]) {
    it(`${variant}: a page its driver freed after isolation is done without taking its lock`, () => {
      // 6.0+ (160088b3b6d7) unmap_and_move, like 6.3's migrate_folio_unmap, only clears
      // PG_active / PG_unevictable on a folio whose last other reference went away; the
      // page a driver still holds is locked as usual.
      const m = buildMachine({ variant });
      const b = new Balloon(m);
      const lockedBy: string[] = [];
      spawn(m, 'compact', 0, function* (): KernelGen {
        const kept = b.page(1);
        const dropped = b.page(2);
        const list = newList(m);
        for (const f of [kept, dropped]) {
          m.core.isolateMovablePage(f, ISOLATE_ASYNC_MIGRATE);
          list.addTail(f);
        }
        clearPageMovable(m.mem, dropped);
        folioPut(m.mem, dropped);
        b.pages.delete(dropped);
        const locks = m.locks;
        const trylock = locks.folioTrylock.bind(locks);
        const lockFast = locks.folioLockFast.bind(locks);
        vi.spyOn(locks, 'folioTrylock').mockImplementation((f, caller) => {
          if (f === kept || f === dropped)
            lockedBy.push(`${f === kept ? 'kept' : 'dropped'} ${caller}`);
          return trylock(f, caller);
        });
        vi.spyOn(locks, 'folioLockFast').mockImplementation((f, caller) => {
          if (f === kept || f === dropped)
            lockedBy.push(`${f === kept ? 'kept' : 'dropped'} ${caller}`);
          return lockFast(f, caller);
        });
        const { rc, stats } = yield* migrateToNode(m, list, 1, MIGRATE_SYNC, MR_COMPACTION);
        vi.restoreAllMocks();
        expect(rc).toBe(0);
        expect(stats.nrSucceeded).toBe(2);
        expect(() => folioRefCount(m.mem, dropped)).toThrow(/free/);
        expect(lockedBy.filter((l) => l.startsWith('dropped'))).toEqual([]);
        expect(lockedBy.filter((l) => l.startsWith('kept')).length).toBeGreaterThan(0);
        b.releaseAll();
      });
      runAll(m);
      expectQuiescent(m);
    });
  }

  it('a driver callback that throws becomes a DriverCallbackError naming the driver and the callback', () => {
    const m = buildMachine();
    const b = new Balloon(m);
    spawn(m, 'compact', 0, function* (): KernelGen {
      const src = b.page(5);
      const list = newList(m);
      m.core.isolateMovablePage(src, ISOLATE_ASYNC_MIGRATE);
      list.addTail(src);
      b.throws = true;
      yield* migrateToNode(m, list, 1, MIGRATE_ASYNC, MR_COMPACTION);
    });
    let error: unknown = null;
    try {
      m.rt.run();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DriverCallbackError);
    expect(error).toBeInstanceOf(MmsimError);
    expect((error as DriverCallbackError).driver).toBe('balloon');
    expect((error as DriverCallbackError).callback).toBe('migrate_page');
    expect((error as Error).message).toMatch(
      /balloon\.migrate_page threw: Error: balloon lost its page list/,
    );
  });
});
