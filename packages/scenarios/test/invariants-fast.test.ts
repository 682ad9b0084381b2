import { describe, expect, it } from 'vitest';
import { builtinScenario, runScenario } from '../src/index.js';
import { type Comparison, comparing } from './invariants-fast.js';

/*
 * memmap-consistent, frames-conserved and lru-consistent check a sound state in one walk
 * (`physicalMemoryLooksSound`, `folioPagesByNode`, `lruLooksSound`) and report check by
 * check only when that walk finds something. Here both forms run after every step of
 * random schedules of scenarios that reach many kinds of state (buddy splits and merges,
 * THPs, hugetlb pools and temporary pages, isolation, offline blocks, CMA, the LRU
 * windows): they must agree at every one. So must the incremental memory-map pass (what
 * changed since the previous step) and the full one, and frames-conserved's step check,
 * which jumps over unchanged free blocks (or takes the counts of the memory-map pass that
 * just found the map sound), and the walk through the public accessors.
 */
const CASES: ReadonlyArray<readonly [string, Record<string, unknown>, number]> = [
  ['pmbench-migrate', { threads: 2, pages: 16, roundTrips: 2 }, 4],
  ['migrate-under-writes', { accesses: 8, migrations: 2 }, 5],
  ['compaction-under-load', {}, 5],
  ['hotplug-offline', {}, 8],
  ['hugetlb-mapped-migrate', {}, 5],
  ['cma-under-load', {}, 6],
  // Two 64-page nodes 1,024 frames apart: holes between them.
  ['loop-bh-deadlock', {}, 6],
];

describe('the fast invariant checks agree with the reports at every step', () => {
  for (const [name, params, seeds] of CASES) {
    it(`${name}: ${seeds} random schedules, every step and the end`, { timeout: 300_000 }, () => {
      const seen: Comparison = { states: 0, unsound: 0, mismatches: [] };
      const scenario = comparing(builtinScenario(name, params), seen);
      for (let seed = 1; seed <= seeds; seed++) {
        for (const variant of ['v6.3', 'v6.11'] as const) {
          runScenario(scenario, { variant, strategy: 'random', seed });
        }
      }
      expect(seen.mismatches).toEqual([]);
      expect(seen.states).toBeGreaterThan(seeds * 20);
    });
  }
});
