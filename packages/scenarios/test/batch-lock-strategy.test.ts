import { defineVariant } from '@mmsim/migrate';
import { describe, expect, it } from 'vitest';
import { exploreScenario, rfcLockOrder } from '../src/index.js';

/** 6.3 with the RFC's batching of sync callers, and one lock strategy inside a batch. */
const batchedSync = (batchLockStrategy: 'sleep' | 'deadlock-avoid' | 'trylock') =>
  defineVariant({
    name: `v6.3-batched-${batchLockStrategy}`,
    extends: 'v6.3',
    syncBatching: 'batch-all-modes',
    batchLockStrategy,
  });

const search = {
  strategy: 'pct',
  seed: 1,
  disable: ['page-lock-inversion'],
} as const;

describe('batchLockStrategy in rfc-lock-order, sync callers batched', () => {
  it("'sleep' (the RFC): the batch sleeps on a folio lock while holding others, and deadlocks", () => {
    const r = exploreScenario(rfcLockOrder(), {
      ...search,
      schedules: 1000,
      variant: batchedSync('sleep'),
    });
    expect(r.kind).toBe('deadlock');
    expect(r.finding?.message).toMatch(/migrate_folio_unmap/);
  });

  for (const strategy of ['deadlock-avoid', 'trylock'] as const) {
    it(`'${strategy}': no deadlock in the same search`, () => {
      const r = exploreScenario(rfcLockOrder(), {
        ...search,
        schedules: 300,
        variant: batchedSync(strategy),
      });
      expect(r.found).toBe(false);
    });
  }
});
