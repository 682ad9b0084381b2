import { runAll, spawn } from '@mmsim/lru/test';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { MIGRATE_ASYNC, MR_SYSCALL, type VariantName } from '../src/index.js';
import {
  anonIsolated,
  createMigrateMachine,
  assertQuiescent as expectQuiescent,
  migrateToNode,
} from '../src/testing/index.js';

/**
 * `migrate_pages()` takes the first batch of a list that fits one (at most
 * NR_MAX_BATCHED_MIGRATION pages, no hugetlb folio, as the call's argument check counted
 * it) without the carve's pass. The batches must be the kernel's either way: one
 * `try_to_unmap_flush` per batch tells them apart (512 small folios: one batch; 513: two).
 */
function machineCountingFlushes(variant: VariantName) {
  const flushes = { n: 0 };
  const m = createMigrateMachine({
    variant,
    wrapTlb: (vm) => ({
      tryToUnmapFlush: () => {
        flushes.n++;
        vm.tryToUnmapFlush();
      },
      tryToUnmapFlushDirty: () => vm.tryToUnmapFlushDirty(),
      flushTlbBatchedPending: (mm) => vm.flushTlbBatchedPending(mm),
    }),
  });
  return { m, flushes };
}

describe('migrate_pages(): the first batch of a list the call counted', () => {
  // [variant (its carving rule), small folios, batches]
  const cases: Array<[VariantName, number, number]> = [
    ['v6.3', 512, 1], // at-limit: the 512th page ends the only batch
    ['v6.3', 513, 2],
    ['rfc-2022', 513, 2], // over-limit
  ];
  for (const [variant, folios, batches] of cases) {
    it(`${variant}: ${folios} small folios go in ${batches} batch(es)`, () => {
      const { m, flushes } = machineCountingFlushes(variant);
      spawn(m, 'migrate', 0, function* (): KernelGen {
        const { list } = yield* anonIsolated(m, folios);
        const { rc, stats } = yield* migrateToNode(m, list, 1, MIGRATE_ASYNC, MR_SYSCALL);
        expect(rc).toBe(0);
        expect(stats.nrSucceeded).toBe(folios);
      });
      runAll(m);
      expect(flushes.n).toBe(batches);
      expectQuiescent(m);
    });
  }

  it('a folio added between the call and its first resumption makes the list carved again', () => {
    const { m, flushes } = machineCountingFlushes('v6.3');
    spawn(m, 'migrate', 0, function* (): KernelGen {
      const { list } = yield* anonIsolated(m, 512);
      const { list: more } = yield* anonIsolated(m, 1);
      const gen = m.core.migratePages(
        list,
        m.core.allocMigrationTarget,
        null,
        { nid: 1, thisNode: true },
        MIGRATE_ASYNC,
        MR_SYSCALL,
      );
      // 513 pages now: the count the call made (512) no longer holds.
      more.spliceInit(list);
      const { rc, stats } = yield* gen;
      expect(rc).toBe(0);
      expect(stats.nrSucceeded).toBe(513);
    });
    runAll(m);
    expect(flushes.n).toBe(2);
    expectQuiescent(m);
  });
});
