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
import { anonIsolated, createMigrateMachine, migrateToNode } from '../src/testing/index.js';

const PAGES = 24;

/**
 * A migrator moves PAGES anon folios to node 1 while a writer on the other CPU writes
 * them (random schedule). `traced` listens to the function slices, which makes
 * migrate_pages_batch call the traced generators `migrate_folio_unmap` and
 * `migrate_folio_move`; otherwise it runs `migrateFolioUnmapPlain` / `migrateFolioMovePlain`
 * and goes to their `...Slow` generators only where a part may sleep.
 */
function outcome(traced: boolean, seed: number, mode: MigrateMode, variant: VariantName = 'v6.3') {
  const m = createMigrateMachine({ variant, strategy: 'random', seed });
  let slices = 0;
  if (traced) m.rt.trace.on('funcgraph_entry', () => slices++);
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
  const result = runAll(m);
  return {
    slicesSeen: slices > 0,
    rc,
    values,
    token: result.replayToken,
    steps: result.steps,
    clocks: result.cpuClocks,
    vmstat: m.vmstat.entries(),
  };
}

/**
 * v6.2 under contention: a locker on CPU 1 holds the page lock of folios 0-3 and keeps
 * folios 4-5 under writeback for a while, so that `__unmap_and_move` sleeps on the lock
 * (MIGRATE_SYNC, from the fourth pass) and waits for the writeback in the generator.
 */
function contendedV62(traced: boolean, seed: number) {
  const m = createMigrateMachine({ variant: 'v6.2', strategy: 'random', seed });
  let slices = 0;
  if (traced) m.rt.trace.on('funcgraph_entry', () => slices++);
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
  const result = runAll(m);
  return {
    slicesSeen: slices > 0,
    slowPath: unmapAndMovePlainStats.slow > slowBefore,
    rc,
    token: result.replayToken,
    steps: result.steps,
    clocks: result.cpuClocks,
    vmstat: m.vmstat.entries(),
  };
}

function setFastPaths(enabled: boolean): void {
  rmapUncontended.enabled = enabled;
  lruUncontended.enabled = enabled;
}

describe('migrate_folio_unmap and migrate_folio_move as plain calls against the traced generators', () => {
  afterEach(() => setFastPaths(true));

  it.each([
    [MIGRATE_ASYNC, true],
    [MIGRATE_ASYNC, false],
    [MIGRATE_SYNC, true],
    [MIGRATE_SYNC, false],
  ] as const)(
    'mode %i, uncontended paths %s: same schedule, clocks, counters and data',
    (mode, fast) => {
      setFastPaths(fast);
      for (const seed of [1, 2, 3, 4]) {
        const plain = outcome(false, seed, mode);
        const traced = outcome(true, seed, mode);
        expect(traced.slicesSeen).toBe(true);
        expect(plain.slicesSeen).toBe(false);
        expect({ ...plain, slicesSeen: null }).toEqual({ ...traced, slicesSeen: null });
        expect(plain.values).toEqual(Array.from({ length: PAGES }, (_, i) => i));
      }
    },
  );

  it.each([
    [MIGRATE_ASYNC, true],
    [MIGRATE_SYNC, false],
  ] as const)(
    'v6.12 (copy before freeze), mode %i, uncontended paths %s: same schedule, clocks, counters and data',
    (mode, fast) => {
      setFastPaths(fast);
      for (const seed of [1, 2, 3, 4]) {
        const plain = outcome(false, seed, mode, 'v6.12');
        const traced = outcome(true, seed, mode, 'v6.12');
        expect(traced.slicesSeen).toBe(true);
        expect(plain.slicesSeen).toBe(false);
        expect({ ...plain, slicesSeen: null }).toEqual({ ...traced, slicesSeen: null });
        expect(plain.values).toEqual(Array.from({ length: PAGES }, (_, i) => i));
      }
    },
  );

  it.each([
    [MIGRATE_ASYNC, true],
    [MIGRATE_SYNC, true],
    [MIGRATE_SYNC, false],
  ] as const)(
    'v6.2 (unmap and move), mode %i, uncontended paths %s: same schedule, clocks, counters and data',
    (mode, fast) => {
      setFastPaths(fast);
      for (const seed of [1, 2, 3, 4]) {
        const plain = outcome(false, seed, mode, 'v6.2');
        const traced = outcome(true, seed, mode, 'v6.2');
        expect(traced.slicesSeen).toBe(true);
        expect(plain.slicesSeen).toBe(false);
        expect({ ...plain, slicesSeen: null }).toEqual({ ...traced, slicesSeen: null });
        expect(plain.values).toEqual(Array.from({ length: PAGES }, (_, i) => i));
      }
    },
  );

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
