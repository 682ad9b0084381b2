import { scheduleSeed } from '@mmsim/explore';
import { type RunSetup, runSchedule } from '@mmsim/explore/internal';
import type { FaultSpec } from '@mmsim/runtime';
import { RandomStrategy } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  builtinScenario,
  type ScenarioExplorationInstance,
  type ScenarioTargetOptions,
  scenarioTarget,
} from '../src/index.js';

/** The machine migrate-under-writes had before it was sized to what it uses. */
const OLD_NODES = [
  { pages: 2048, hugetlbPages: 1 },
  { pages: 2048, hugetlbPages: 1 },
];

/** Every fault site of the scenario's machine, failing often (THP allocations fail and split). */
const FAULTS: Readonly<Record<string, FaultSpec>> = Object.fromEntries(
  [
    'migrate.alloc_migration_target',
    'migrate.copy_offload',
    'migrate.extra_ref',
    'migrate.folio_trylock',
    'signal.fatal_signal_pending',
  ].map((site) => [site, { probability: 0.3 }]),
);

/**
 * Verdict, token, steps, virtual time and every vmstat item but nr_free_pages (which counts
 * the frames the machine has) of `n` random schedules (seeds as `explore` gives them).
 */
function schedules(
  options: ScenarioTargetOptions,
  faults: Readonly<Record<string, FaultSpec>>,
  n: number,
): { runs: string[]; thpSplits: number } {
  const base = scenarioTarget(builtinScenario('migrate-under-writes'), options);
  let last: ScenarioExplorationInstance | null = null;
  const setup: RunSetup = {
    target: {
      name: base.name,
      identity: base.identity,
      instantiate(o) {
        last = base.instantiate(o);
        return last;
      },
    },
    checks: {},
    faults,
    maxSteps: 100_000,
  };
  const runs: string[] = [];
  let thpSplits = 0;
  for (let i = 0; i < n; i++) {
    const o = runSchedule(
      setup,
      { kind: 'strategy', strategy: new RandomStrategy() },
      scheduleSeed(1, i),
      false,
    );
    const k = (last as ScenarioExplorationInstance | null)?.kernel;
    if (k === undefined) throw new Error('no instance');
    const vmstat = k.vmstat.entries().filter(([name]) => name !== 'nr_free_pages');
    thpSplits += vmstat.find(([name]) => name === 'thp_migration_split')?.[1] ?? 0;
    runs.push(
      JSON.stringify([
        o.verdict?.kind ?? 'none',
        o.token,
        o.result?.status ?? null,
        o.result?.steps ?? null,
        o.result?.virtualTimeNs ?? null,
        vmstat,
      ]),
    );
  }
  return { runs, thpSplits };
}

describe('migrate-under-writes runs on a machine sized to what it uses', () => {
  it('has 1,536 pages on node 0 and 1,088 on node 1', () => {
    expect(builtinScenario('migrate-under-writes').config.nodes.map((n) => n.pages)).toEqual([
      1536, 1088,
    ]);
  });

  it.each([
    ['v6.3', false],
    ['v6.2', false],
    ['v6.3', true],
  ] as const)(
    'in %s (faults: %s): the same schedules, tokens and vmstat as on 2,048-page nodes',
    (variant, withFaults) => {
      const faults = withFaults ? FAULTS : {};
      const sized = schedules({ variant } as ScenarioTargetOptions, faults, 10);
      const old = schedules({ variant, nodes: OLD_NODES } as ScenarioTargetOptions, faults, 10);
      expect(sized.runs).toEqual(old.runs);
      // With faults the comparison covers THPs split after a failed allocation (their 512
      // base pages then need order-0 frames on the destination node).
      if (withFaults) expect(sized.thpSplits).toBeGreaterThan(0);
    },
  );
});
