import { describe, expect, it } from 'vitest';
import { builtinScenario, exploreScenario, runScenario } from '../src/index.js';

const scenario = () => builtinScenario('dept-writeback-cycle');

describe('dept-writeback-cycle (the 2025 DEPT report)', () => {
  it.each(['rfc-2022', 'v6.3-rc1'] as const)(
    '%s: a per-folio cycle: the batch holds the bdev folio and waits for the data folio writeback; a real deadlock',
    (variant) => {
      const inversion = exploreScenario(scenario(), { variant, schedules: 40, seed: 1 });
      expect(inversion.kind).toBe('inversion');
      expect(inversion.finding?.message).toMatch(/ext4-bdev\[0\]/);
      expect(inversion.finding?.message).toMatch(/writeback of ext4-data\[\d\]/);
      const deadlock = exploreScenario(scenario(), {
        variant,
        schedules: 40,
        seed: 1,
        disable: ['page-lock-inversion'],
      });
      expect(deadlock.kind).toBe('deadlock');
    },
  );

  it.each(['v6.2', 'v6.3', 'v6.10', 'v6.11'] as const)(
    '%s: no deadlock and no per-folio inversion (DEPT class-wide cycle is a false positive)',
    (variant) => {
      for (const strategy of ['random', 'pct', { kind: 'dfs', preemptionBound: 1 }] as const) {
        const r = exploreScenario(scenario(), { variant, strategy, schedules: 30, seed: 1 });
        expect({ variant, strategy, found: r.found }).toEqual({ variant, strategy, found: false });
      }
    },
  );

  it('v6.11: the conversions run (each locks the bdev folio before ending a writeback), compaction migrates pages, no violation', () => {
    const run = runScenario(scenario(), { variant: 'v6.11' });
    expect(run.error).toBeNull();
    expect(run.violations).toEqual([]);
    expect(run.result?.status).toBe('completed');
    expect(run.figures.conversions).toBeGreaterThan(0);
    expect(run.figures.compactionMigrated).toBeGreaterThan(0);
  });
});
