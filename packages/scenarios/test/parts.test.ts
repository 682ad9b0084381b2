import type { Folio } from '@mmsim/folio';
import { type KernelParts, touchPages } from '@mmsim/kernel';
import type { LruIsolation, LruVecs } from '@mmsim/lru';
import { MIGRATE_SYNC, type MigrateCore, MR_SYSCALL } from '@mmsim/migrate';
import type { PageLocks, PageLockTable } from '@mmsim/page-lock';
import { PAGE_SIZE, withRmapOverrides } from '@mmsim/rmap';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  mappedFolios,
  migrator,
  migratorStats,
  runScenario,
  type Scenario,
  userTask,
} from '../src/index.js';

/** A process with `pages` anonymous pages, a user task, and move_pages to node 1 and back. */
function movePages(
  pages: number,
  parts: KernelParts,
): { scenario: Scenario; stats: ReturnType<typeof migratorStats> } {
  const stats = migratorStats();
  return {
    stats,
    scenario: {
      name: 'move-anon',
      title: 'move_pages of anonymous memory',
      description: 'a test scenario',
      sources: [],
      config: { nodes: [{ pages: 1024 }, { pages: 1024 }], parts },
      build(k) {
        const mm = k.createProcess('p');
        const addr = k.vm.mmap(mm, { length: pages * PAGE_SIZE });
        return {
          *setup() {
            yield* touchPages(k, mm, addr, pages, (i) => 10 + i);
          },
          actors: [
            userTask(k, { cpu: 1, mm, addr, pages, accesses: 20 }),
            migrator(k, {
              cpu: 0,
              mode: MIGRATE_SYNC,
              reason: MR_SYSCALL,
              rounds: 2,
              select: mappedFolios(k, mm, addr, pages),
              stats,
            }),
          ],
        };
      },
    },
  };
}

/** An LRU that records every isolation and refuses those `refuse` says no to. */
function recordingLru(
  base: LruVecs,
  log: Folio[],
  refuse: (folio: Folio) => boolean,
): LruIsolation {
  return {
    *folioIsolateLru(folio: Folio): KernelGen<boolean> {
      log.push(folio);
      if (refuse(folio)) return false;
      return yield* base.folioIsolateLru(folio);
    },
    folioPutbackLru: (f) => base.folioPutbackLru(f),
    folioAddLru: (f) => base.folioAddLru(f),
    folioPut: (f) => base.folioPut(f),
    lruAddDrain: () => base.lruAddDrain(),
    lruAddDrainAll: () => base.lruAddDrainAll(),
    lruCacheDisable: () => base.lruCacheDisable(),
    lruCacheEnable: () => base.lruCacheEnable(),
    lruCacheDisabled: () => base.lruCacheDisabled(),
    folioIsFileLru: (f) => base.folioIsFileLru(f),
    folioIsolatedItem: (f) => base.folioIsolatedItem(f),
    nodeStatModFolio: (f, item, nr) => base.nodeStatModFolio(f, item, nr),
  };
}

describe('createKernel: every part can be replaced through the configuration', () => {
  it('a wrapper LRU that records isolations sees every folio move_pages isolates', () => {
    const log: Folio[] = [];
    const { scenario, stats } = movePages(8, {
      lru: (base) => recordingLru(base, log, () => false),
    });
    const run = runScenario(scenario, { strategy: 'random', seed: 5 });
    expect(run.result?.status).toBe('completed');
    expect(run.violations).toEqual([]);
    expect(log.length).toBe(16); // 8 pages, 2 rounds
    expect(stats.isolated).toBe(16);
    expect(stats.pagesMigrated).toBe(16);
    expect(run.kernel.lru).not.toBe(run.kernel.lruVecs); // the part in use is the wrapper
  });

  it('a wrapper LRU that refuses isolations stops migration, and everything stays sound', () => {
    const log: Folio[] = [];
    const { scenario, stats } = movePages(8, {
      lru: (base) => recordingLru(base, log, (folio) => folio % 2 === 0),
    });
    const run = runScenario(scenario, { strategy: 'random', seed: 5 });
    expect(run.result?.status).toBe('completed');
    expect(run.violations).toEqual([]);
    const refused = log.filter((f) => f % 2 === 0).length;
    expect(refused).toBeGreaterThan(0);
    expect(stats.isolated).toBe(log.length - refused);
    expect(stats.pagesMigrated).toBe(stats.isolated);
  });

  it('page locks, rmap, TLB batch and migrate core can be wrapped too', () => {
    const calls = { lock: 0, tryToMigrate: 0, flush: 0, migratePages: 0 };
    const parts: KernelParts = {
      pageLocks: (base: PageLockTable): PageLocks =>
        new Proxy(base, {
          get(target, prop, receiver) {
            const value = Reflect.get(target, prop, receiver) as unknown;
            if (typeof value !== 'function') return value;
            return (...args: unknown[]) => {
              if (prop === 'folioTrylock' || prop === 'folioLockFast') calls.lock++;
              return (value as (...a: unknown[]) => unknown).apply(target, args);
            };
          },
        }),
      rmap: (vm) =>
        withRmapOverrides(vm, {
          tryToMigrate: (folio, flags) => {
            calls.tryToMigrate++;
            return vm.tryToMigrate(folio, flags);
          },
        }),
      tlb: (vm) => ({
        tryToUnmapFlush: () => {
          calls.flush++;
          vm.tryToUnmapFlush();
        },
        tryToUnmapFlushDirty: () => vm.tryToUnmapFlushDirty(),
        flushTlbBatchedPending: (mm) => vm.flushTlbBatchedPending(mm),
      }),
      migrate: (_deps, base: MigrateCore) =>
        new Proxy(base, {
          get(target, prop, receiver) {
            const value = Reflect.get(target, prop, receiver) as unknown;
            if (typeof value !== 'function') return value;
            return (...args: unknown[]) => {
              if (prop === 'migratePages') calls.migratePages++;
              return (value as (...a: unknown[]) => unknown).apply(target, args);
            };
          },
        }),
    };
    const { scenario, stats } = movePages(4, parts);
    const run = runScenario(scenario, { strategy: 'random', seed: 2 });
    expect(run.result?.status).toBe('completed');
    expect(run.violations).toEqual([]);
    expect(stats.pagesMigrated).toBe(8);
    expect(calls.lock).toBeGreaterThan(0);
    expect(calls.tryToMigrate).toBeGreaterThanOrEqual(8);
    expect(calls.flush).toBeGreaterThan(0);
    expect(calls.migratePages).toBe(2);
  });
});
