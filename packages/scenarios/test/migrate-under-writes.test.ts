import { KERNEL_VARIANT_NAMES } from '@mmsim/kernel';
import { type Rmap, type TlbBatch, withRmapOverrides } from '@mmsim/rmap';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { migrateUnderWrites, runScenario } from '../src/index.js';
import { searchSchedules } from './helpers.js';

const SCHEDULES = 8;

describe('migrate-under-writes: no deadlock and no lost write in any variant', () => {
  for (const variant of KERNEL_VARIANT_NAMES) {
    it(`${variant}: ${SCHEDULES} random and ${SCHEDULES} PCT schedules, every invariant holds`, () => {
      for (const strategy of ['random', 'pct'] as const) {
        const found = searchSchedules(migrateUnderWrites(), variant, {
          strategy,
          schedules: SCHEDULES,
        });
        expect(found.first?.what ?? null).toBeNull();
        expect(found.inversionsWithoutDeadlock).toBe(0);
      }
    });
  }

  it('really migrates every kind, and checks what it reads', () => {
    const run = runScenario(migrateUnderWrites(), { variant: 'v6.3', strategy: 'random', seed: 1 });
    expect(run.result?.status).toBe('completed');
    const f = run.figures;
    // Anon, THP, shmem, ext4 and xfs page cache, readahead, hugetlb and balloon pages.
    expect(f.movePagesMigrated).toBeGreaterThan(3 * (512 + 512));
    expect(f.compactionMigrated).toBeGreaterThan(0);
    expect(f.readsChecked).toBeGreaterThan(20);
  });
});

/** An `Rmap` that forwards to `vm`, but does not restore the PTEs when a migration is undone. */
function noUndoRmap(vm: Rmap): Rmap {
  return withRmapOverrides(vm, {
    *removeMigrationPtes(src, dst, locked): KernelGen {
      if (src === dst) return; // the bug: remove_migration_ptes(src, src) forgotten
      yield* vm.removeMigrationPtes(src, dst, locked);
    },
  });
}

/** A `TlbBatch` whose batched flush does nothing. */
function noFlushTlb(vm: TlbBatch): TlbBatch {
  return {
    tryToUnmapFlush: () => {},
    tryToUnmapFlushDirty: () => {},
    flushTlbBatchedPending: (mm) => vm.flushTlbBatchedPending(mm),
  };
}

describe('migrate-under-writes catches a deliberately broken step', () => {
  it('an rmap that does not restore PTEs on undo leaves migration entries behind', () => {
    const found = searchSchedules(migrateUnderWrites(), 'v6.3', {
      schedules: 20,
      scenarioOptions: { parts: { rmap: noUndoRmap } },
    });
    expect(found.first?.what).toMatch(/migration (entry|writable|readable)/);
  });

  it('a batched TLB flush that flushes nothing loses writes to stale translations', () => {
    const found = searchSchedules(migrateUnderWrites(), 'v6.3', {
      schedules: 20,
      scenarioOptions: { parts: { tlb: noFlushTlb } },
    });
    expect(found.first?.what).toMatch(/USE_AFTER_FREE|a missing TLB flush|lost/);
  });
});
