import { type Folio, FolioList, folioGet, folioNrPages, folioPut, pfnFolio } from '@mmsim/folio';
import {
  ISOLATE_LRU_DONE,
  ISOLATE_LRU_FAILED,
  ISOLATE_LRU_GENERAL,
  type LruVecs,
} from '@mmsim/lru';
import { lruUncontended } from '@mmsim/lru/internal';
import { runAll, spawn } from '@mmsim/lru/test';
import { PAGE_SIZE } from '@mmsim/rmap';
import { mapAnon } from '@mmsim/rmap/test';
import type { KernelGen } from '@mmsim/runtime';
import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATE_ASYNC, MR_SYSCALL, type VariantName } from '../src/index.js';
import { createMigrateMachine, migrateToNode } from '../src/testing/index.js';

const PAGES = 40;

type Machine = ReturnType<typeof createMigrateMachine>;

/** folio_isolate_lru as the bench and move_pages(2) run it: the plain start, then the rest. */
function* isolatePlain(lru: LruVecs, folio: Folio): KernelGen<boolean> {
  const state = lru.folioIsolateLruStart(folio);
  if (state === ISOLATE_LRU_DONE) return true;
  if (state === ISOLATE_LRU_FAILED) return false;
  if (state === ISOLATE_LRU_GENERAL) return yield* lru.folioIsolateLru(folio);
  return yield* lru.folioIsolateLruFinish(folio, state);
}

/**
 * A migrator first-touches PAGES anon pages, isolates them with the plain start of
 * folio_isolate_lru and migrates them to node 1 (MIGRATE_ASYNC) and back, while a second
 * task on CPU 1 first-touches pages of its own (folio_add_lru: its batch fills and moves
 * under lru_lock) and reads the migrator's pages (faults on migration entries). What must
 * not depend on whether the uncontended LRU paths take their locks or only their cost.
 */
function outcome(variant: VariantName, seed: number) {
  const m: Machine = createMigrateMachine({ variant, strategy: 'random', seed });
  const rcs: number[] = [];
  const values: number[] = [];
  let target: { mm: Parameters<typeof m.vm.userRead>[0]; addr: number } | null = null;
  spawn(m, 'migrator', 0, function* (): KernelGen {
    const mm = m.vm.createProcess('migrator');
    const addr = mapAnon(m, mm, PAGES);
    for (let i = 0; i < PAGES; i++) yield* m.vm.userWrite(mm, addr + i * PAGE_SIZE, 100 + i);
    yield* m.lru.lruAddDrainAll();
    target = { mm, addr };
    for (const nid of [1, 0]) {
      const list = new FolioList(m.mem);
      for (let i = 0; i < PAGES; i++) {
        const folio = pfnFolio(m.mem, m.vm.followPage(mm, addr + i * PAGE_SIZE));
        folioGet(m.mem, folio);
        if (yield* isolatePlain(m.lru, folio)) {
          list.addTail(folio);
          m.lru.nodeStatModFolio(folio, m.lru.folioIsolatedItem(folio), folioNrPages(m.mem, folio));
        }
        folioPut(m.mem, folio);
      }
      const { rc } = yield* migrateToNode(m, list, nid, MIGRATE_ASYNC, MR_SYSCALL);
      rcs.push(rc);
      if (rc !== 0) yield* m.core.putbackMovablePages(list);
    }
  });
  spawn(m, 'toucher', 1, function* (): KernelGen {
    const mm = m.vm.createProcess('toucher');
    const addr = mapAnon(m, mm, PAGES);
    for (let i = 0; i < PAGES; i++) yield* m.vm.userWrite(mm, addr + i * PAGE_SIZE, i);
    while (target === null) yield;
    for (let i = 0; i < PAGES; i++) {
      values.push(yield* m.vm.userRead(target.mm, target.addr + i * PAGE_SIZE));
    }
  });
  const result = runAll(m);
  return {
    token: result.replayToken,
    steps: result.steps,
    clocks: result.cpuClocks,
    vmstat: m.vmstat.entries(),
    lru: m.lru.view.check(),
    rcs,
    values,
  };
}

const READ = Array.from({ length: PAGES }, (_, i) => 100 + i);

describe('the uncontended LRU paths take a free lru_lock and batch lock as their cost', () => {
  afterEach(() => {
    lruUncontended.lockAsCost = true;
  });

  // v6.3 fuses folio_add_lru + lru_add_drain for dst; v6.10 (drainOnlyMlocked) queues dst
  // and moves the batch every 15 folios; v6.2 goes through unmap_and_move.
  it.each(['v6.3', 'v6.10', 'v6.2'] as const)(
    '%s: same schedule, clocks, counters, LRU state and data as with the locks taken',
    (variant) => {
      for (const seed of [1, 2, 3, 4, 5]) {
        lruUncontended.lockAsCost = false;
        const locked = outcome(variant, seed);
        lruUncontended.lockAsCost = true;
        const before = lruUncontended.isolations + lruUncontended.adds;
        const asCost = outcome(variant, seed);
        expect(lruUncontended.isolations + lruUncontended.adds - before).toBeGreaterThan(0);
        expect(asCost).toEqual(locked);
        expect(asCost.values).toEqual(READ);
      }
    },
  );
});
