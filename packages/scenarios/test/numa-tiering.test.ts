import { describe, expect, it } from 'vitest';
import { builtinScenario, exploreScenario, runScenario } from '../src/index.js';

describe('numa-balancing', () => {
  it('runs clean in v6.3 and brings every page home to node 1', () => {
    const run = runScenario(builtinScenario('numa-balancing'), {
      variant: 'v6.3',
      invariantStride: 1,
    });
    expect(run.error).toBeNull();
    expect(run.violations).toEqual([]);
    const f = run.figures!;
    expect(f.pages_on_node1).toBe(16);
    expect(f.pages_on_node0).toBe(0);
    expect(f.numa_pages_migrated).toBe(16);
    expect(f.numa_pte_updates).toBeGreaterThanOrEqual(16);
    expect(f.numa_hint_faults).toBeGreaterThanOrEqual(16);
  });

  it('explored (random schedules): no finding', { timeout: 120_000 }, () => {
    const r = exploreScenario(builtinScenario('numa-balancing', { accesses: 16 }), {
      variant: 'v6.3',
      schedules: 8,
      invariantStride: 1,
      shrink: false,
    });
    expect(r.message).toMatch(/no finding/);
  });
});

describe('tiering', () => {
  it('demotes both sets to the CPU-less node and promotes the hot one back', () => {
    const run = runScenario(builtinScenario('tiering'), { variant: 'v6.3', invariantStride: 1 });
    expect(run.error).toBeNull();
    expect(run.violations).toEqual([]);
    const f = run.figures!;
    expect(f.pgdemote_kswapd).toBe(24);
    expect(f.pgpromote_success).toBe(8);
    expect(f.pgpromote_candidate).toBe(8);
    expect(f.hot_on_fast).toBe(8);
    expect(f.cold_on_slow).toBe(16);
  });

  it('explored (random schedules): no finding', { timeout: 120_000 }, () => {
    const r = exploreScenario(builtinScenario('tiering'), {
      variant: 'v6.3',
      schedules: 8,
      invariantStride: 1,
      shrink: false,
    });
    expect(r.message).toMatch(/no finding/);
  });
});
