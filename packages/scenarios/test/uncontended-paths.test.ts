import type { VariantName } from '@mmsim/kernel';
import { lruUncontended } from '@mmsim/lru/internal';
import { rmapUncontended } from '@mmsim/rmap/internal';
import { afterEach, describe, expect, it } from 'vitest';
import { builtinScenario, runScenario, type ScenarioName } from '../src/index.js';

/** One run, with what must not depend on the fast paths: schedule, clocks, counters, findings. */
function outcome(
  name: ScenarioName,
  variant: VariantName,
  strategy: 'random' | 'pct' | undefined,
  seed: number,
) {
  const run = runScenario(builtinScenario(name), {
    variant,
    seed,
    ...(strategy === undefined ? {} : { strategy }),
    checkSteps: false,
  });
  const tlb = run.kernel.vm.tlbStats;
  return {
    token: run.result?.replayToken,
    status: run.result?.status,
    steps: run.result?.steps,
    cpuClocks: run.result?.cpuClocks,
    vmstat: run.kernel.vmstat.entries(),
    ipis: tlb.ipisSent,
    shootdowns: tlb.shootdowns,
    figures: run.figures,
    error: run.error?.message ?? null,
    violations: run.violations,
    inversions: run.inversions.length,
  };
}

function setFastPaths(enabled: boolean): void {
  rmapUncontended.enabled = enabled;
  lruUncontended.enabled = enabled;
}

const RUNS: readonly (readonly [
  ScenarioName,
  VariantName,
  'random' | 'pct' | undefined,
  number,
])[] = [
  ['pmbench-migrate', 'v6.2', undefined, 1],
  ['pmbench-migrate', 'v6.3', undefined, 1],
  ['pmbench-migrate', 'v6.3', 'random', 3],
  ['migrate-under-writes', 'v6.3', 'random', 1],
  ['migrate-under-writes', 'v6.2', 'random', 2],
  ['migrate-under-writes', 'v6.3', 'pct', 7],
  ['rfc-lock-order', 'rfc-2022', 'random', 1],
  ['loop-bh-deadlock', 'v6.3-rc1', 'random', 1],
  ['ksm-migrate', 'v6.3', 'random', 1],
  ['compaction-under-load', 'v6.3', 'random', 2],
];

describe('the uncontended rmap and LRU paths and the plain-call isolation (plain calls) against the general path (generators)', () => {
  afterEach(() => setFastPaths(true));

  it('take the plain-call walk for singly-mapped anon folios and the plain-call LRU add and drain', () => {
    const walks = rmapUncontended.walks;
    const adds = lruUncontended.adds;
    const drains = lruUncontended.drains;
    const isolations = lruUncontended.isolations;
    outcome('pmbench-migrate', 'v6.3', undefined, 1);
    // 1024 folios migrated: one try_to_migrate and one remove_migration_ptes walk each.
    expect(rmapUncontended.walks - walks).toBeGreaterThanOrEqual(2048);
    expect(lruUncontended.adds - adds).toBeGreaterThanOrEqual(1024);
    expect(lruUncontended.drains - drains).toBeGreaterThanOrEqual(1024);
    // The migrator isolates each folio with plain calls (isolateForMigrationStart).
    expect(lruUncontended.isolations - isolations).toBeGreaterThanOrEqual(1024);
  });

  it('never take them when switched off', () => {
    setFastPaths(false);
    const walks = rmapUncontended.walks;
    const adds = lruUncontended.adds;
    const isolations = lruUncontended.isolations;
    outcome('pmbench-migrate', 'v6.3', undefined, 1);
    expect(rmapUncontended.walks).toBe(walks);
    expect(lruUncontended.adds).toBe(adds);
    expect(lruUncontended.isolations).toBe(isolations);
  });

  for (const [name, variant, strategy, seed] of RUNS) {
    it(`give the same schedule, clocks, vmstat, IPIs and findings: ${name}@${variant} ${strategy ?? 'default'} seed ${seed}`, () => {
      setFastPaths(false);
      const general = outcome(name, variant, strategy, seed);
      setFastPaths(true);
      const fast = outcome(name, variant, strategy, seed);
      expect(fast).toEqual(general);
    }, 120_000);
  }
});
