import type { Kernel } from '@mmsim/kernel';
import { describe, expect, it } from 'vitest';
import {
  batchCopyPartialFailure,
  batchCopyStaleCopy,
  batchCopyUnregister,
  copyOffloadOf,
  deferredSplitChain,
  runScenario,
  type Scenario,
} from '../src/index.js';
import { searchSchedules } from './helpers.js';

/**
 * The batch-copy scenarios (RFC v6 of "Accelerate page migration with batch copying and
 * hardware offload"): the faithful variant passes each, and a deliberately broken step (a
 * test seam of `CopyOffload`, not a variant) is caught by the invariant the scenario is for.
 */

/** `scenario` with `breakIt` applied to the copy-offload state of its kernel. */
function broken(scenario: Scenario, breakIt: (k: Kernel) => void): Scenario {
  return {
    ...scenario,
    build(k) {
      breakIt(k);
      return scenario.build(k);
    },
  };
}

describe('batch-copy-stale-copy', () => {
  it('batch-copy: nothing in 40 schedules; pinned folios are not pre-copied, the rest are', () => {
    const found = searchSchedules(batchCopyStaleCopy(), 'batch-copy', {
      strategy: 'mixed',
      schedules: 40,
    });
    expect(found.first?.what ?? null).toBeNull();
    const run = runScenario(batchCopyStaleCopy(), { variant: 'batch-copy', strategy: 'random' });
    expect(run.figures.foliosOffloaded).toBeGreaterThan(0);
    expect(run.figures.pagesMigrated).toBeGreaterThan(0);
  });

  it('a pre-copy without the "refcount equals expected" check publishes a stale copy: no-lost-write finds it', () => {
    const scenario = broken(batchCopyStaleCopy(), (k) => {
      copyOffloadOf(k).precopyChecksRefs = false;
    });
    const found = searchSchedules(scenario, 'batch-copy', { strategy: 'mixed', schedules: 200 });
    expect(found.first?.what).toMatch(/invariant no-lost-write/);
  });
});

describe('batch-copy-unregister', () => {
  it('batch-copy: nothing in 40 schedules, and the unload happens with a copy in flight', () => {
    const found = searchSchedules(batchCopyUnregister(), 'batch-copy', {
      strategy: 'mixed',
      schedules: 40,
    });
    expect(found.first?.what ?? null).toBeNull();
    const run = runScenario(batchCopyUnregister(), { variant: 'batch-copy', strategy: 'random' });
    expect(run.figures.providerReleased).toBe(1);
    expect(run.figures.unloadedDuringCopy).toBe(1);
  });

  it('an unregister without synchronize_srcu frees the channels under a running copy', () => {
    const scenario = broken(batchCopyUnregister(), (k) => {
      copyOffloadOf(k).unregisterSynchronizes = false;
    });
    const found = searchSchedules(scenario, 'batch-copy', { strategy: 'mixed', schedules: 100 });
    expect(found.first?.what).toMatch(/use after free/);
  });
});

describe('batch-copy-partial-failure', () => {
  it('two failed folio copies fall back to the CPU copy; every page arrives, no write lost', () => {
    const run = runScenario(batchCopyPartialFailure(), { variant: 'batch-copy' });
    expect(run.error).toBeNull();
    expect(run.violations).toEqual([]);
    expect(run.figures.offloadFailures).toBe(2);
    expect(run.figures.foliosOffloaded).toBeGreaterThan(0);
    expect(run.figures.pagesFailed).toBe(0);
    expect(run.figures.pagesMigrated).toBe(8 * 3);
    const found = searchSchedules(batchCopyPartialFailure(), 'batch-copy', {
      strategy: 'mixed',
      schedules: 30,
    });
    expect(found.first?.what ?? null).toBeNull();
  });

  it('in v6.11 the provider is never called', () => {
    const run = runScenario(batchCopyPartialFailure(), { variant: 'v6.11' });
    expect(run.violations).toEqual([]);
    expect(run.figures.foliosOffloaded).toBe(0);
    expect(run.figures.pagesMigrated).toBe(8 * 3);
  });
});

describe('deferred-split-chain under batch-copy (the variant is v6.11 plus the pre-copy)', () => {
  for (const strategy of ['random', 'pct'] as const) {
    it(`batch-copy: the NUMA fault puts back every split piece; nothing in 15 ${strategy} schedules`, () => {
      const found = searchSchedules(deferredSplitChain(), 'batch-copy', {
        strategy,
        schedules: 15,
      });
      expect(found.first?.what ?? null).toBeNull();
    });
  }
});
