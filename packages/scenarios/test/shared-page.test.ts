import { type Rmap, withRmapOverrides } from '@mmsim/rmap';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { exploreScenario, runScenario } from '../src/index.js';
import { sharedPageScenario } from './shared-page.js';

/*
 * A shared file page and a shmem page, mapped by a parent and 3 forked children, migrate
 * back and forth while every process loads and stores them. The kernel passes through
 * states in which remove_migration_ptes(src, dst) has restored some VMAs and not yet the
 * others, after move_to_new_folio cleared src->mapping: the invariants must accept them.
 */

const STRIDE = 4; // the expensive invariants every 4th step (at stride 4, the old check failed in every schedule)

describe('shared-page exploration: the invariants accept every state of a shared page-cache folio migration', () => {
  it('the fixture really migrates both folios, with 4 processes mapping each, and checks what it reads', () => {
    const run = runScenario(sharedPageScenario(), {
      variant: 'v6.3',
      strategy: 'random',
      seed: 1,
      invariantStride: 1,
    });
    expect(run.result?.status).toBe('completed');
    expect(run.violations).toEqual([]);
    expect(run.figures.pagesMigrated).toBeGreaterThanOrEqual(4);
    expect(run.figures.readsChecked).toBeGreaterThan(0);
  });

  // About 13 s on an idle 2-core machine; the limit leaves room for a loaded one.
  it('2,000 schedules (1,000 random, 1,000 PCT), step invariants on: no finding', {
    timeout: 120_000,
  }, () => {
    for (const strategy of ['random', { kind: 'pct', depth: 3 }] as const) {
      const r = exploreScenario(sharedPageScenario(), {
        variant: 'v6.3',
        strategy,
        schedules: 1000,
        invariantStride: STRIDE,
        shrink: false,
      });
      expect(r.message).toMatch(/^no finding/);
      expect(r.schedules).toBe(1000);
    }
  });

  it('with buffer_migrate_folio (ext4) and in every variant, 50 schedules each: no finding', () => {
    for (const variant of ['v6.2', 'rfc-2022', 'v6.3-rc1', 'v6.3', 'v6.11'] as const) {
      const r = exploreScenario(sharedPageScenario({ aops: 'buffer' }), {
        variant,
        schedules: 50,
        invariantStride: STRIDE,
        shrink: false,
      });
      expect(`${variant}: ${r.message}`).toMatch(/^[^:]+: no finding/);
    }
  });
});

/** An `Rmap` that does not restore the PTEs when a migration is undone. */
function noUndoRmap(vm: Rmap): Rmap {
  return withRmapOverrides(vm, {
    *removeMigrationPtes(src, dst, locked): KernelGen {
      if (src === dst) return;
      yield* vm.removeMigrationPtes(src, dst, locked);
    },
  });
}

/** An `Rmap` that leaves the migration entries in place when a migration succeeded. */
function noRemapRmap(vm: Rmap): Rmap {
  return withRmapOverrides(vm, {
    *removeMigrationPtes(src, dst, locked): KernelGen {
      if (src !== dst) return;
      yield* vm.removeMigrationPtes(src, dst, locked);
    },
  });
}

describe('shared-page exploration still reports real corruption', () => {
  it('a skipped undo (remove_migration_ptes(src, src) forgotten) is reported', () => {
    const r = exploreScenario(sharedPageScenario(), {
      variant: 'v6.3',
      schedules: 200,
      invariantStride: STRIDE,
      // A reader holding a reference makes the migration fail and be undone.
      parts: { rmap: noUndoRmap },
    });
    expect(r.found).toBe(true);
    // Found as the entries left behind, or as the faults that wait on them forever.
    expect(r.message).toMatch(/migration entry|faulted \d+ times without progress/);
  });

  it('a skipped remove_migration_ptes(src, dst): entries to a src without mapping, dst unlocked', () => {
    const r = exploreScenario(sharedPageScenario(), {
      variant: 'v6.3',
      schedules: 20,
      invariantStride: STRIDE,
      parts: { rmap: noRemapRmap },
    });
    expect(r.found).toBe(true);
    expect(r.invariant).toBe('rmap-consistent');
    expect(r.message).toMatch(/page-cache folio of null|not locked|not a live folio/);
  });
});
