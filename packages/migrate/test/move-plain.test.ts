import { folioGet, folioPut } from '@mmsim/folio';
import { lruUncontended } from '@mmsim/lru/internal';
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
import { movePlainStats, moveToNewFolioStats, unmapAndMovePlainStats } from '../src/internal.js';
import {
  anonIsolated,
  createMigrateMachine,
  migrateToNode,
  pageCacheIsolated,
} from '../src/testing/index.js';

const PAGES = 24;

type Machine = ReturnType<typeof createMigrateMachine>;

/**
 * A machine of `variant` on a random schedule of `seed`; with `traced`, something listens to
 * the function slices (`funcgraph_entry`), which makes the core take the traced generators.
 */
function machine(variant: VariantName, seed: number, traced: boolean) {
  const m = createMigrateMachine({ variant, strategy: 'random', seed });
  let slices = 0;
  if (traced) m.rt.trace.on('funcgraph_entry', () => slices++);
  return { m, slicesSeen: () => slices > 0 };
}

/** Runs the machine's actors; what must not depend on the path taken, and whether slices were seen. */
function finish(m: Machine, slicesSeen: () => boolean) {
  const result = runAll(m);
  return {
    slicesSeen: slicesSeen(),
    token: result.replayToken,
    steps: result.steps,
    clocks: result.cpuClocks,
    vmstat: m.vmstat.entries(),
  };
}

/**
 * A migrator moves PAGES anon folios to node 1 while a writer on the other CPU writes
 * them (random schedule). `traced` listens to the function slices, which makes
 * migrate_pages_batch call the traced generators `migrate_folio_unmap` and
 * `migrate_folio_move`; otherwise it runs `migrateFolioUnmapPlain` / `migrateFolioMovePlain`
 * and goes to their `...Slow` generators only where a part may sleep.
 */
function outcome(traced: boolean, seed: number, mode: MigrateMode, variant: VariantName = 'v6.3') {
  const { m, slicesSeen } = machine(variant, seed, traced);
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
    for (let i = 0; i < PAGES; i++)
      yield* m.vm.userWrite(target.mm, target.addr + i * PAGE_SIZE, i);
    for (let i = 0; i < PAGES; i++) {
      values.push(yield* m.vm.userRead(target.mm, target.addr + i * PAGE_SIZE));
    }
  });
  return { ...finish(m, slicesSeen), rc, values };
}

/**
 * A migrator moves PAGES page-cache folios of a file mapped shared (`shmem`: of a
 * MAP_SHARED | MAP_ANONYMOUS mapping) to node 1 while a user on the other CPU reads and
 * writes them (random schedule); with `pinned`, a third task holds an extra reference on
 * folio 0 for the whole migration, so that `folio_migrate_mapping` gives -EAGAIN on every
 * pass. The plain path runs the built-in `migrate_folio` / `filemap_migrate_folio` in
 * `move_to_new_folio` as plain calls; `traced` makes the core take the generators.
 */
function pageCacheOutcome(
  traced: boolean,
  seed: number,
  mode: MigrateMode,
  variant: VariantName,
  shmem: boolean,
  pinned = false,
) {
  const { m, slicesSeen } = machine(variant, seed, traced);
  let rc = -1;
  const values: number[] = [];
  let target: { mm: Parameters<typeof m.vm.userRead>[0]; addr: number } | null = null;
  let done = false;
  spawn(m, 'migrator', 0, function* (): KernelGen {
    const { mm, addr, list, folios } = yield* pageCacheIsolated(m, PAGES, {
      dirty: true,
      keepMapped: true,
      shmem,
    });
    if (pinned) folioGet(m.mem, folios[0]!);
    target = { mm, addr };
    ({ rc } = yield* migrateToNode(m, list, 1, mode, MR_SYSCALL));
    if (pinned) folioPut(m.mem, folios[0]!);
    done = true;
  });
  spawn(m, 'user', 1, function* (): KernelGen {
    while (target === null) yield;
    for (let i = 0; i < PAGES; i++) {
      yield* m.vm.userWrite(target.mm, target.addr + i * PAGE_SIZE, 7000 + i);
    }
    while (!done) yield;
    for (let i = 0; i < PAGES; i++) {
      values.push(yield* m.vm.userRead(target.mm, target.addr + i * PAGE_SIZE));
    }
  });
  const slowBefore = movePlainStats.slow;
  const generatorsBefore = moveToNewFolioStats.generators;
  const out = finish(m, slicesSeen);
  return {
    ...out,
    rc,
    values,
    slow: movePlainStats.slow - slowBefore,
    generators: moveToNewFolioStats.generators - generatorsBefore,
  };
}

/**
 * v6.2 under contention: a locker on CPU 1 holds the page lock of folios 0-3 and keeps
 * folios 4-5 under writeback for a while, so that `__unmap_and_move` sleeps on the lock
 * (MIGRATE_SYNC, from the fourth pass) and waits for the writeback in the generator.
 */
function contendedV62(traced: boolean, seed: number) {
  const { m, slicesSeen } = machine('v6.2', seed, traced);
  let rc = -1;
  let folios: number[] | null = null;
  let ready = false;
  const slowBefore = unmapAndMovePlainStats.slow;
  spawn(m, 'migrator', 0, function* (): KernelGen {
    const isolated = yield* anonIsolated(m, PAGES);
    folios = isolated.folios;
    while (!ready) yield;
    ({ rc } = yield* migrateToNode(m, isolated.list, 1, MIGRATE_SYNC, MR_SYSCALL));
  });
  spawn(m, 'locker', 1, function* (): KernelGen {
    while (folios === null) yield;
    const held = folios.slice(0, 4);
    for (const f of held) yield* m.locks.folioLock(f);
    for (const f of folios.slice(4, 6)) {
      yield* m.locks.folioLock(f);
      m.locks.folioStartWriteback(f);
      m.locks.folioUnlock(f);
    }
    ready = true;
    for (let i = 0; i < 60; i++) yield;
    for (const f of held) m.locks.folioUnlock(f);
    for (let i = 0; i < 20; i++) yield;
    for (const f of folios.slice(4, 6)) m.locks.folioEndWriteback(f);
  });
  return { ...finish(m, slicesSeen), slowPath: unmapAndMovePlainStats.slow > slowBefore, rc };
}

function setFastPaths(enabled: boolean): void {
  rmapUncontended.enabled = enabled;
  lruUncontended.enabled = enabled;
  lruUncontended.addDrain = true;
}

const WRITTEN = Array.from({ length: PAGES }, (_, i) => i);

/**
 * The plain steps against the traced generators, with the uncontended rmap and LRU paths
 * on or off (`fast`): on each seed the same schedule, clocks, counters and data, and every
 * value the writer wrote read back.
 */
function expectPlainAsTraced(variant: VariantName, mode: MigrateMode, fast: boolean): void {
  setFastPaths(fast);
  for (const seed of [1, 2, 3, 4]) {
    const plain = outcome(false, seed, mode, variant);
    const traced = outcome(true, seed, mode, variant);
    expect(traced.slicesSeen).toBe(true);
    expect(plain.slicesSeen).toBe(false);
    expect({ ...plain, slicesSeen: null }).toEqual({ ...traced, slicesSeen: null });
    expect(plain.values).toEqual(WRITTEN);
  }
}

/**
 * A page-cache outcome without what only tells the two paths apart (whether the slices were
 * seen, generators made, the slow path taken): what must be the same in both.
 */
function sameAside(o: ReturnType<typeof pageCacheOutcome>) {
  return { ...o, slicesSeen: null, generators: null, slow: null };
}

describe('migrate_folio_unmap and migrate_folio_move as plain calls against the traced generators', () => {
  afterEach(() => setFastPaths(true));

  it.each([
    ['v6.3', MIGRATE_ASYNC, true],
    ['v6.3', MIGRATE_ASYNC, false],
    ['v6.3', MIGRATE_SYNC, true],
    ['v6.3', MIGRATE_SYNC, false],
    // 6.12: copy before freeze.
    ['v6.12', MIGRATE_ASYNC, true],
    ['v6.12', MIGRATE_SYNC, false],
    // 6.2: unmap and move.
    ['v6.2', MIGRATE_ASYNC, true],
    ['v6.2', MIGRATE_SYNC, true],
    ['v6.2', MIGRATE_SYNC, false],
  ] as const)(
    '%s, mode %i, uncontended paths %s: same schedule, clocks, counters and data',
    (variant, mode, fast) => expectPlainAsTraced(variant, mode, fast),
  );

  it.each(['v6.3', 'v6.2'] as const)(
    '%s: folio_add_lru and lru_add_drain fused in one plain call give the same schedule, clocks, counters and data as the two calls',
    (variant) => {
      for (const seed of [1, 2, 3, 4]) {
        lruUncontended.addDrain = false;
        const twoCalls = outcome(false, seed, MIGRATE_ASYNC, variant);
        lruUncontended.addDrain = true;
        const before = lruUncontended.addDrains;
        const fused = outcome(false, seed, MIGRATE_ASYNC, variant);
        expect(lruUncontended.addDrains - before).toBeGreaterThan(0);
        expect(fused).toEqual(twoCalls);
        expect(fused.values).toEqual(WRITTEN);
      }
    },
  );

  it.each([
    ['v6.3', MIGRATE_ASYNC, false],
    ['v6.3', MIGRATE_SYNC, false],
    ['v6.3', MIGRATE_SYNC, true],
    ['v6.2', MIGRATE_SYNC, false],
    ['v6.2', MIGRATE_ASYNC, true],
    ['v6.11', MIGRATE_SYNC, false],
  ] as const)(
    '%s, mode %i, page-cache folios (shmem %s): filemap_migrate_folio / migrate_folio as plain calls give the same schedule, clocks, counters and data',
    (variant, mode, shmem) => {
      for (const seed of [1, 2, 3, 4]) {
        const plain = pageCacheOutcome(false, seed, mode, variant, shmem);
        const traced = pageCacheOutcome(true, seed, mode, variant, shmem);
        expect(traced.slicesSeen).toBe(true);
        expect(plain.slicesSeen).toBe(false);
        // The traced core goes through the move_to_new_folio generator; the plain one not.
        expect(traced.generators).toBeGreaterThan(0);
        expect(plain.generators).toBe(0);
        expect(sameAside(plain)).toEqual(sameAside(traced));
        expect(plain.rc).toBe(0);
        expect(plain.values).toEqual(Array.from({ length: PAGES }, (_, i) => 7000 + i));
      }
    },
  );

  it.each([
    ['v6.3', MIGRATE_SYNC],
    ['v6.2', MIGRATE_SYNC],
  ] as const)(
    '%s, mode %i: a page-cache folio with an extra reference fails with -EAGAIN on every pass the same way in the plain and traced paths',
    (variant, mode) => {
      for (const seed of [1, 2, 3]) {
        const plain = pageCacheOutcome(false, seed, mode, variant, false, true);
        const traced = pageCacheOutcome(true, seed, mode, variant, false, true);
        expect(plain.generators).toBe(0);
        expect(sameAside(plain)).toEqual(sameAside(traced));
        // The pinned folio is not migrated (-EAGAIN until the passes run out); the rest are.
        expect(plain.rc).toBe(1);
        expect(new Map(plain.vmstat).get('pgmigrate_fail')).toBe(1);
      }
    },
  );

  it.each([MIGRATE_ASYNC, MIGRATE_SYNC] as const)(
    'v6.2, mode %i, a writer on the other CPU: the scheduling point after each unmap is taken in the loop of migrate_pages and the folio goes on as plain calls, with no unmap_and_move generator, as the traced generators do',
    (mode) => {
      let afterSched = 0;
      for (const seed of [1, 2, 3, 4]) {
        const slowBefore = unmapAndMovePlainStats.slow;
        const schedBefore = unmapAndMovePlainStats.afterSched;
        const plain = outcome(false, seed, mode, 'v6.2');
        expect(unmapAndMovePlainStats.slow - slowBefore).toBe(0);
        afterSched += unmapAndMovePlainStats.afterSched - schedBefore;
        const traced = outcome(true, seed, mode, 'v6.2');
        expect({ ...plain, slicesSeen: null }).toEqual({ ...traced, slicesSeen: null });
        expect(plain.rc).toBe(0);
        expect(plain.values).toEqual(WRITTEN);
      }
      // The writer is runnable: some scheduling points needed a real round.
      expect(afterSched).toBeGreaterThan(0);
    },
  );

  it('v6.2, a page-cache folio with an extra reference: after the scheduling point in the loop, -EAGAIN on every pass as in the traced generators', () => {
    let afterSched = 0;
    for (const seed of [1, 2, 3, 4]) {
      const schedBefore = unmapAndMovePlainStats.afterSched;
      const plain = pageCacheOutcome(false, seed, MIGRATE_SYNC, 'v6.2', false, true);
      afterSched += unmapAndMovePlainStats.afterSched - schedBefore;
      const traced = pageCacheOutcome(true, seed, MIGRATE_SYNC, 'v6.2', false, true);
      expect(sameAside(plain)).toEqual(sameAside(traced));
      expect(plain.rc).toBe(1);
      expect(new Map(plain.vmstat).get('pgmigrate_fail')).toBe(1);
    }
    expect(afterSched).toBeGreaterThan(0);
  });

  it('v6.2 with contended page locks and writeback: the plain steps resume in the generator, with the same schedule, clocks and counters', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const plain = contendedV62(false, seed);
      const traced = contendedV62(true, seed);
      expect(traced.slicesSeen).toBe(true);
      expect(plain.slicesSeen).toBe(false);
      expect(plain.slowPath).toBe(true);
      expect(traced.slowPath).toBe(false);
      expect({ ...plain, slicesSeen: null, slowPath: null }).toEqual({
        ...traced,
        slicesSeen: null,
        slowPath: null,
      });
    }
  });

  it('an uncontended v6.2 migration moves every folio as plain calls (no unmap_and_move or move_to_new_folio generator)', () => {
    const m = createMigrateMachine({ variant: 'v6.2' });
    let rc = -1;
    let generators = -1;
    let slow = -1;
    spawn(m, 'migrator', 0, function* (): KernelGen {
      const { list } = yield* anonIsolated(m, PAGES);
      const before = moveToNewFolioStats.generators;
      const slowBefore = unmapAndMovePlainStats.slow;
      ({ rc } = yield* migrateToNode(m, list, 1, MIGRATE_SYNC, MR_SYSCALL));
      generators = moveToNewFolioStats.generators - before;
      slow = unmapAndMovePlainStats.slow - slowBefore;
    });
    runAll(m);
    expect(rc).toBe(0);
    expect(generators).toBe(0);
    // unmap_and_move and __unmap_and_move ran as plain calls for every folio too.
    expect(slow).toBe(0);
  });

  it.each(['v6.3', 'v6.12'] as const)(
    'an uncontended %s batch moves every folio as plain calls (no slow generator)',
    (variant) => {
      const m = createMigrateMachine({ variant });
      let rc = -1;
      spawn(m, 'migrator', 0, function* (): KernelGen {
        const { list } = yield* anonIsolated(m, PAGES);
        const before = movePlainStats.slow;
        ({ rc } = yield* migrateToNode(m, list, 1, MIGRATE_ASYNC, MR_SYSCALL));
        expect(movePlainStats.slow - before).toBe(0);
      });
      runAll(m);
      expect(rc).toBe(0);
    },
  );
});
