import { describe, expect, it } from 'vitest';
import { builtinScenario, compactionUnderLoad, runScenario } from '../src/index.js';
import { searchSchedules } from './helpers.js';

describe('compaction-under-load: kcompactd migrates pages two writers use', () => {
  it("one run: the failed order-2 allocations wake kcompactd, it migrates the writers' pages, a retry succeeds", () => {
    const run = runScenario(compactionUnderLoad(), { variant: 'v6.3', seed: 1 });
    expect(run.error).toBeNull();
    expect(run.result?.status).toBe('completed');
    expect(run.violations).toEqual([]);
    expect(run.figures.compactDaemonWake).toBeGreaterThanOrEqual(1);
    expect(run.figures.kcompactdRuns).toBe(run.figures.compactDaemonWake);
    expect(run.figures.pagesMigrated).toBeGreaterThan(0);
    expect(run.figures.allocations).toBeGreaterThan(0);
  });

  // A few hundred schedules in all, random and PCT.
  const plans = [
    ['v6.3', 'random', 120],
    ['v6.3', 'pct', 120],
    ['v6.10', 'random', 60],
  ] as const;
  for (const [variant, strategy, schedules] of plans) {
    it(`${variant}, ${strategy}: ${schedules} schedules, no invariant violation, no lost write, no deadlock`, () => {
      const found = searchSchedules(compactionUnderLoad(), variant, { strategy, schedules });
      expect(found.first?.what ?? null).toBeNull();
      expect(found.deadlocks).toBe(0);
    });
  }

  it('is a built-in scenario with checked parameters', () => {
    expect(builtinScenario('compaction-under-load', { pages: 8 }).name).toBe(
      'compaction-under-load',
    );
    expect(() => builtinScenario('compaction-under-load', { pages: 0 })).toThrow(/params\.pages/);
  });
});
