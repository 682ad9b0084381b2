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
  nodeFreePages,
  PG_isolated,
  PG_locked,
  PG_lru,
  pageContent,
  setPageContent,
} from '@mmsim/folio';
import { newList, nrIsolated, runAll, spawn } from '@mmsim/lru/test';
import { lockHolder } from '@mmsim/rmap/test';
import { Completion, EAGAIN, EBUSY, type KernelGen, MmsimError } from '@mmsim/runtime';
import { describe, expect, it, vi } from 'vitest';
import {
  clearPageMovable,
  DriverCallbackError,
  DriverContractError,
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
  /** What isolate_page / migrate_page return instead of their usual answer, when set. */
  isolateReturns: { value: unknown } | null = null;
  migrateReturns: { value: unknown } | null = null;
  isolateThrows = false;
  putbackThrows = false;
  readonly mops: MovableOperations;

  constructor(readonly m: Machine) {
    const self = this;
    this.mops = {
      name: 'balloon',
      isolatePage(folio) {
        self.log.push(`isolate ${folio}`);
        if (self.isolateThrows) throw new Error('balloon isolate failed');
        if (self.isolateReturns !== null) return self.isolateReturns.value as boolean;
        return !self.refuse;
      },
      migratePage(dst, src, mode) {
        self.log.push(`migrate ${src} mode ${mode}`);
        if (self.throws) throw new Error('balloon lost its page list');
        if (self.migrateReturns !== null) return self.migrateReturns.value as number;
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
        if (self.putbackThrows) throw new Error('balloon putback failed');
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

  for (const variant of ['v6.3', 'v6.2'] as VariantName[]) {
    it(`${variant}: a migrate_page that throws is a recorded DriverCallbackError, undone: the page is back with its driver`, () => {
      const m = buildMachine({ variant });
      const b = new Balloon(m);
      let src: Folio = -1;
      spawn(m, 'compact', 0, function* (): KernelGen {
        src = b.page(5);
        const other = b.page(6);
        const list = newList(m);
        for (const f of [src, other]) {
          m.core.isolateMovablePage(f, ISOLATE_ASYNC_MIGRATE);
          list.addTail(f);
        }
        b.throws = true;
        const free1 = nodeFreePages(m.mem, 1);
        const { rc, stats } = yield* migrateToNode(m, list, 1, MIGRATE_ASYNC, MR_COMPACTION);
        // Failed, but nothing is left on the list (the driver has them back): rc is 0, as
        // for any call that leaves `from` empty; the statistics count the failures.
        expect(rc).toBe(0);
        expect(stats.nrFailedPages).toBe(2);
        expect(stats.nrSucceeded).toBe(0);
        // Both given back to the driver at once: off the list, putback_page called, not
        // isolated, unlocked, only the driver's reference; no dst kept.
        expect(list.toArray()).toEqual([]);
        expect(b.log.filter((l) => l.startsWith('putback'))).toEqual([
          `putback ${src}`,
          `putback ${other}`,
        ]);
        for (const f of [src, other]) {
          expect(folioTestFlag(m.mem, f, PG_isolated)).toBe(false);
          expect(folioTestFlag(m.mem, f, PG_locked)).toBe(false);
          expect(folioRefCount(m.mem, f)).toBe(1);
          expect(folioMovableOps(m.mem, f)).toBe(b.mops);
        }
        expect(nodeFreePages(m.mem, 1)).toBe(free1);
        // The run goes on: the driver works again.
        b.throws = false;
        for (const f of [src, other]) {
          expect(m.core.isolateMovablePage(f, ISOLATE_ASYNC_MIGRATE)).toBe(true);
          list.addTail(f);
        }
        const again = yield* migrateToNode(m, list, 1, MIGRATE_ASYNC, MR_COMPACTION);
        expect(again.stats.nrSucceeded).toBe(2);
        b.releaseAll();
      });
      runAll(m);
      expectQuiescent(m);
      const errors = m.core.driverErrors;
      expect(errors.map((e) => [e.driver, e.callback, e.folio, e.task])).toEqual([
        ['balloon', 'migrate_page', src, 'compact'],
        ['balloon', 'migrate_page', src + 1, 'compact'],
      ]);
      const error = errors[0]?.error;
      expect(error).toBeInstanceOf(DriverCallbackError);
      expect(error).toBeInstanceOf(MmsimError);
      expect(error?.message).toMatch(
        /balloon\.migrate_page threw: Error: balloon lost its page list/,
      );
    });
  }

  const badMigrateReturns: Array<[string, unknown]> = [
    ['undefined', undefined],
    ['1', 1],
    ['42', 42],
    ['0.5', 0.5],
    ['"0"', '0'],
    ['null', null],
    ['true', true],
  ];
  for (const [label, value] of badMigrateReturns) {
    it(`migrate_page returning ${label} is a DriverContractError naming driver, callback and value; the page is given back`, () => {
      const m = buildMachine();
      const b = new Balloon(m);
      spawn(m, 'compact', 0, function* (): KernelGen {
        const src = b.page(5);
        const list = newList(m);
        m.core.isolateMovablePage(src, ISOLATE_ASYNC_MIGRATE);
        list.addTail(src);
        b.migrateReturns = { value };
        const { rc, stats } = yield* migrateToNode(m, list, 1, MIGRATE_ASYNC, MR_COMPACTION);
        expect(rc).toBe(0);
        expect(stats.nrFailedPages).toBe(1);
        expect(list.size).toBe(0);
        expect(folioRefCount(m.mem, src)).toBe(1);
        expect(folioTestFlag(m.mem, src, PG_isolated)).toBe(false);
        b.releaseAll();
      });
      runAll(m);
      expectQuiescent(m);
      const [record, ...more] = m.core.driverErrors;
      expect(more).toEqual([]);
      expect(record?.error).toBeInstanceOf(DriverContractError);
      const error = record?.error as DriverContractError;
      expect([error.driver, error.callback, error.returned]).toEqual([
        'balloon',
        'migrate_page',
        value,
      ]);
      expect(error.message).toBe(
        `balloon.migrate_page returned ${label}; it must return MIGRATEPAGE_SUCCESS (0), -EAGAIN or another negative errno`,
      );
    });
  }

  it('migrate_page returning another negative errno is a permanent failure, not a driver error', () => {
    const m = buildMachine();
    const b = new Balloon(m);
    spawn(m, 'compact', 0, function* (): KernelGen {
      const src = b.page(5);
      const list = newList(m);
      m.core.isolateMovablePage(src, ISOLATE_ASYNC_MIGRATE);
      list.addTail(src);
      b.migrateReturns = { value: -EBUSY };
      const { rc } = yield* migrateToNode(m, list, 1, MIGRATE_ASYNC, MR_COMPACTION);
      expect(rc).toBe(1);
      expect(b.log.filter((l) => l.startsWith('migrate'))).toHaveLength(1);
      expect(list.toArray()).toEqual([src]);
      yield* m.core.putbackMovablePages(list);
      b.releaseAll();
    });
    runAll(m);
    expectQuiescent(m);
    expect(m.core.driverErrors).toEqual([]);
  });

  for (const [label, value] of [
    ['1', 1],
    ['undefined', undefined],
    ['"yes"', 'yes'],
  ] as Array<[string, unknown]>) {
    it(`isolate_page returning ${label} is a DriverContractError and a refusal`, () => {
      const m = buildMachine();
      const b = new Balloon(m);
      spawn(m, 'compact', 0, function* (): KernelGen {
        const f = b.page(1);
        b.isolateReturns = { value };
        expect(m.core.isolateMovablePage(f, ISOLATE_ASYNC_MIGRATE)).toBe(false);
        expect(folioRefCount(m.mem, f)).toBe(1);
        expect(folioTestFlag(m.mem, f, PG_isolated)).toBe(false);
        b.releaseAll();
        yield;
      });
      runAll(m);
      expectQuiescent(m);
      const error = m.core.driverErrors[0]?.error as DriverContractError;
      expect(error).toBeInstanceOf(DriverContractError);
      expect(error.message).toBe(
        `balloon.isolate_page returned ${label}; it must return a boolean (true: isolated)`,
      );
    });
  }

  it('isolate_page and putback_page that throw: recorded; a refusal, and a putback that completes', () => {
    const m = buildMachine();
    const b = new Balloon(m);
    spawn(m, 'compact', 0, function* (): KernelGen {
      const f = b.page(1);
      b.isolateThrows = true;
      expect(m.core.isolateMovablePage(f, ISOLATE_ASYNC_MIGRATE)).toBe(false);
      expect(folioRefCount(m.mem, f)).toBe(1);
      b.isolateThrows = false;
      expect(m.core.isolateMovablePage(f, ISOLATE_ASYNC_MIGRATE)).toBe(true);
      const list = newList(m);
      list.addTail(f);
      b.putbackThrows = true;
      yield* m.core.putbackMovablePages(list);
      expect(folioRefCount(m.mem, f)).toBe(1);
      expect(folioTestFlag(m.mem, f, PG_isolated)).toBe(false);
      b.releaseAll();
    });
    runAll(m);
    expectQuiescent(m);
    expect(m.core.driverErrors.map((e) => `${e.driver}.${e.callback}: ${e.error.message}`)).toEqual(
      [
        'balloon.isolate_page: balloon.isolate_page threw: Error: balloon isolate failed',
        'balloon.putback_page: balloon.putback_page threw: Error: balloon putback failed',
      ],
    );
  });
});
