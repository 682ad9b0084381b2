import { describe, expect, it } from 'vitest';
import { exploreScenario, migrateUnderWrites, runScenario } from '../src/index.js';
import { concurrentOpsScenario } from './concurrent-ops.js';

/*
 * Every kernel invariant, checked after every step (stride 1), while the operations that
 * run concurrently with migration run too: fork (COW), munmap (VMA and PMD splits), exit,
 * truncate, a THP split by compaction, LRU isolation and putback, the migrations
 * themselves. None of the states they pass through is reported.
 */

describe('the invariants hold in the intermediate states of fork, munmap, exit, truncate and THP splits', () => {
  it('the fixture forks, unmaps, truncates and migrates', () => {
    const run = runScenario(concurrentOpsScenario(), {
      variant: 'v6.3',
      strategy: 'random',
      seed: 1,
      invariantStride: 1,
    });
    expect(run.result?.status).toBe('completed');
    expect(run.violations).toEqual([]);
    expect(run.kernel.vm.processes.map((mm) => mm.name)).toEqual(['parent']);
    expect(run.kernel.files.find((f) => f.name === 'scratch')?.nrPages).toBe(0);
  });

  // About 3 s on an idle 2-core machine; the limit leaves room for a loaded one.
  it('v6.2, v6.3 and v6.11: 15 random schedules each, every invariant after every step: no finding', {
    timeout: 120_000,
  }, () => {
    for (const variant of ['v6.2', 'v6.3', 'v6.11'] as const) {
      const r = exploreScenario(concurrentOpsScenario(), {
        variant,
        schedules: 15,
        invariantStride: 1,
        shrink: false, // a finding is reported as found, not minimised (that takes minutes)
      });
      expect(`${variant}: ${r.message}`).toMatch(/^[^:]+: no finding/);
    }
  });
});

describe('the invariants hold in the intermediate states of writeback, readahead, hugetlb and LRU isolation', () => {
  // migrate-under-writes (buffer-head writeback, readahead, hugetlbfs, balloon pages, DIO
  // pins, compaction), its own tests check every 16th step; here every step.
  it('every variant: 3 random schedules each, every invariant after every step: no finding', {
    timeout: 120_000,
  }, () => {
    for (const variant of ['v6.2', 'rfc-2022', 'v6.3-rc1', 'v6.3', 'v6.11'] as const) {
      const r = exploreScenario(migrateUnderWrites({ accesses: 8, migrations: 2 }), {
        variant,
        schedules: 3,
        invariantStride: 1,
        shrink: false,
      });
      expect(`${variant}: ${r.message}`).toMatch(/^[^:]+: no finding/);
    }
  });
});
