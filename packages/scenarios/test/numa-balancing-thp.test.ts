import { MmsimError } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { builtinScenario, exploreScenario, runScenario } from '../src/index.js';

describe('numa-balancing with thp: true (change_huge_pmd, do_huge_pmd_numa_page; 6.3)', () => {
  it('runs clean and moves the THP to node 1 in one piece', () => {
    const run = runScenario(builtinScenario('numa-balancing', { thp: true }), {
      variant: 'v6.3',
      invariantStride: 1,
    });
    expect(run.error).toBeNull();
    expect(run.violations).toEqual([]);
    const f = run.figures!;
    expect(f.pages_on_node1).toBe(512);
    expect(f.pages_on_node0).toBe(0);
    expect(f.numa_pages_migrated).toBe(512);
    expect(f.numa_huge_pte_updates).toBeGreaterThanOrEqual(1);
    expect(f.numa_pte_updates).toBe(512 * (f.numa_huge_pte_updates as number));
    expect(f.thp_migration_success).toBe(1);
    expect(f.thp_split_page).toBe(0);
  });

  it('keeps the default run as it was: no THP figures', () => {
    const run = runScenario(builtinScenario('numa-balancing'), { variant: 'v6.3' });
    expect(run.figures).not.toHaveProperty('numa_huge_pte_updates');
    expect(run.figures!.pages_on_node1).toBe(16);
  });

  it('rejects a thp that is not a boolean with a typed error', () => {
    expect(() => builtinScenario('numa-balancing', { thp: 'yes' } as never)).toThrow(MmsimError);
  });

  it('explored (random schedules, invariants on): no lost write, no finding', {
    timeout: 600_000,
  }, () => {
    const r = exploreScenario(builtinScenario('numa-balancing', { thp: true, accesses: 16 }), {
      variant: 'v6.3',
      schedules: 200,
      invariantStride: 1,
      shrink: false,
    });
    expect(r.message).toMatch(/no finding/);
  });
});
