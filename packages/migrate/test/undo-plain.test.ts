import { folioGet, folioPut } from '@mmsim/folio';
import { runAll, spawn } from '@mmsim/lru/test';
import { PAGE_SIZE } from '@mmsim/rmap';
import { rmapUncontended } from '@mmsim/rmap/internal';
import type { KernelGen } from '@mmsim/runtime';
import { afterEach, describe, expect, it } from 'vitest';
import {
  MIGRATE_ASYNC,
  MIGRATE_SYNC,
  type MigrateMode,
  MR_SYSCALL,
  type VariantName,
} from '../src/index.js';
import { undoSrcPlainPath } from '../src/internal.js';
import {
  anonIsolated,
  createMigrateMachine,
  migrateToNode,
  pageCacheIsolated,
} from '../src/testing/index.js';

const PAGES = 12;

type Machine = ReturnType<typeof createMigrateMachine>;

/** What must not depend on whether `migrate_folio_undo_src` ran as plain calls. */
function finish(m: Machine) {
  const result = runAll(m);
  return {
    token: result.replayToken,
    steps: result.steps,
    clocks: result.cpuClocks,
    vmstat: m.vmstat.entries(),
  };
}

/**
 * Page-cache folios of a file mapped shared, migrated to node 1 on a random schedule while
 * another task gets in the way: it holds the page lock of folios 0-2 for a while (async:
 * the trylock fails, `out:` undoes a src that was never unmapped), keeps folio 3 under
 * writeback (async: -EBUSY with src locked, undone onto `ret_folios`), and holds an extra
 * reference on folio 4 for the whole call (-EAGAIN on every move pass: the batch's cleanup
 * undoes an unmapped src, restoring its mappings). A user reads every page afterwards.
 */
function contended(seed: number, mode: MigrateMode, variant: VariantName) {
  const m = createMigrateMachine({ variant, strategy: 'random', seed });
  let rc = -1;
  let folios: number[] | null = null;
  let target: { mm: Parameters<typeof m.vm.userRead>[0]; addr: number } | null = null;
  let ready = false;
  let done = false;
  const values: number[] = [];
  spawn(m, 'migrator', 0, function* (): KernelGen {
    const isolated = yield* pageCacheIsolated(m, PAGES, { dirty: true, keepMapped: true });
    folios = isolated.folios;
    target = { mm: isolated.mm, addr: isolated.addr };
    while (!ready) yield;
    folioGet(m.mem, folios[4]!);
    ({ rc } = yield* migrateToNode(m, isolated.list, 1, mode, MR_SYSCALL));
    folioPut(m.mem, folios[4]!);
    done = true;
  });
  spawn(m, 'locker', 1, function* (): KernelGen {
    while (folios === null) yield;
    const held = folios.slice(0, 3);
    for (const f of held) yield* m.locks.folioLock(f);
    yield* m.locks.folioLock(folios[3]!);
    m.locks.folioStartWriteback(folios[3]!);
    m.locks.folioUnlock(folios[3]!);
    ready = true;
    for (let i = 0; i < 8; i++) yield;
    for (const f of held) m.locks.folioUnlock(f);
    for (let i = 0; i < 8; i++) yield;
    m.locks.folioEndWriteback(folios[3]!);
    while (!done) yield;
    for (let i = 0; i < PAGES; i++) {
      values.push(yield* m.vm.userRead(target!.mm, target!.addr + i * PAGE_SIZE));
    }
  });
  return { ...finish(m), rc, values };
}

/** Anon folios migrated on a random schedule while a writer on the other CPU writes them. */
function anonUnderWrites(seed: number, mode: MigrateMode, variant: VariantName) {
  const m = createMigrateMachine({ variant, strategy: 'random', seed });
  let rc = -1;
  const values: number[] = [];
  let target: { mm: Parameters<typeof m.vm.userRead>[0]; addr: number } | null = null;
  spawn(m, 'migrator', 0, function* (): KernelGen {
    const { mm, addr, list } = yield* anonIsolated(m, PAGES);
    target = { mm, addr };
    ({ rc } = yield* migrateToNode(m, list, 1, mode, MR_SYSCALL));
  });
  spawn(m, 'writer', 1, function* (): KernelGen {
    while (target === null) yield;
    for (let i = 0; i < PAGES; i++) {
      yield* m.vm.userWrite(target.mm, target.addr + i * PAGE_SIZE, 100 + i);
    }
    for (let i = 0; i < PAGES; i++) {
      values.push(yield* m.vm.userRead(target.mm, target.addr + i * PAGE_SIZE));
    }
  });
  return { ...finish(m), rc, values };
}

/** Runs `run` with the plain undo on and off; returns both outcomes and the plain undos counted. */
function both<T>(run: () => T) {
  const taken0 = undoSrcPlainPath.taken;
  const restored0 = undoSrcPlainPath.restored;
  undoSrcPlainPath.enabled = true;
  const plain = run();
  const taken = undoSrcPlainPath.taken - taken0;
  const restored = undoSrcPlainPath.restored - restored0;
  undoSrcPlainPath.enabled = false;
  const generator = run();
  expect(undoSrcPlainPath.taken - taken0).toBe(taken); // none while disabled
  undoSrcPlainPath.enabled = true;
  return { plain, generator, taken, restored };
}

describe('migrate_folio_undo_src as plain calls against its generator', () => {
  afterEach(() => {
    undoSrcPlainPath.enabled = true;
    rmapUncontended.enabled = true;
  });

  it.each([
    ['v6.3', MIGRATE_ASYNC],
    ['v6.3', MIGRATE_SYNC],
    ['v6.3-rc1', MIGRATE_SYNC],
    ['v6.11', MIGRATE_SYNC],
  ] as const)(
    '%s, mode %i, locked, under writeback and pinned page-cache folios: same schedule, clocks, counters, result and data',
    (variant, mode) => {
      let taken = 0;
      let restored = 0;
      for (const seed of [1, 2, 3, 4, 5, 6]) {
        const r = both(() => contended(seed, mode, variant));
        expect(r.plain).toEqual(r.generator);
        // The pinned folio is never migrated.
        expect(r.plain.rc).toBeGreaterThanOrEqual(1);
        expect(r.plain.values).toEqual(Array.from({ length: PAGES }, (_, i) => 500 + i));
        taken += r.taken;
        restored += r.restored;
      }
      // The plain undo ran, and restored the mappings of an unmapped src.
      expect(taken).toBeGreaterThan(0);
      expect(restored).toBeGreaterThan(0);
    },
  );

  it('v6.3: without the uncontended rmap walk, an unmapped src is undone by the generator', () => {
    rmapUncontended.enabled = false;
    for (const seed of [1, 2, 3]) {
      const r = both(() => contended(seed, MIGRATE_SYNC, 'v6.3'));
      expect(r.plain).toEqual(r.generator);
      expect(r.restored).toBe(0);
    }
  });

  it.each([MIGRATE_ASYNC, MIGRATE_SYNC] as const)(
    'v6.3, mode %i, anon folios under a writer: same schedule, clocks, counters, result and data',
    (mode) => {
      for (const seed of [1, 2, 3, 4]) {
        const r = both(() => anonUnderWrites(seed, mode, 'v6.3'));
        expect(r.plain).toEqual(r.generator);
        expect(r.plain.values).toEqual(Array.from({ length: PAGES }, (_, i) => 100 + i));
      }
    },
  );
});
