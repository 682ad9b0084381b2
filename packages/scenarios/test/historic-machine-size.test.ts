import { scheduleSeed } from '@mmsim/explore';
import { type RunSetup, runSchedule } from '@mmsim/explore/internal';
import { RandomStrategy } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  builtinScenario,
  type Scenario,
  type ScenarioTargetOptions,
  scenarioTarget,
} from '../src/index.js';

/** Verdict kind and replay token of each of `n` random schedules (seeds as `explore` gives them). */
function schedules(scenario: Scenario, options: ScenarioTargetOptions, n: number): string[] {
  const setup: RunSetup = {
    target: scenarioTarget(scenario, options),
    checks: {},
    faults: {},
    maxSteps: 100_000,
  };
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const outcome = runSchedule(
      setup,
      { kind: 'strategy', strategy: new RandomStrategy() },
      scheduleSeed(1, i),
      false,
    );
    out.push(`${outcome.verdict?.kind ?? 'none'} ${outcome.token}`);
  }
  return out;
}

const SMALL_MACHINES = ['rfc-lock-order', 'loop-bh-deadlock', 'loop-writeback-deadlock'];
const HISTORIC: ReadonlyArray<readonly [string, string, string]> = [
  ['rfc-lock-order', 'rfc-2022', 'v6.3-rc1'],
  ['loop-bh-deadlock', 'v6.3-rc1', 'v6.3'],
  ['loop-writeback-deadlock', 'v6.3-rc1', 'v6.3'],
  ['split-lock-deadlock', 'v6.10', 'v6.11'],
];
const SEEDS = 24;

describe('historic scenarios run on machines sized to what they use', () => {
  it.each(SMALL_MACHINES)(
    '%s has 64 pages per node by default, 4 per scenario page with more',
    (name) => {
      expect(builtinScenario(name).config.nodes.map((n) => n.pages)).toEqual([64, 64]);
      expect(builtinScenario(name, { pages: 100 }).config.nodes.map((n) => n.pages)).toEqual([
        400, 400,
      ]);
    },
  );

  it.each(
    HISTORIC.flatMap(([name, buggy, fixed]) => [
      [name, buggy],
      [name, fixed],
    ]),
  )(
    '%s in %s: the same schedules, findings and tokens as fresh instances of the 1,024-page machine',
    (name, variant) => {
      const scenario = builtinScenario(name);
      const old = SMALL_MACHINES.includes(name)
        ? { nodes: [{ pages: 1024 }, { pages: 1024 }] }
        : {};
      const fresh = schedules(
        scenario,
        { variant, freshInstances: true, ...old } as ScenarioTargetOptions,
        SEEDS,
      );
      const reused = schedules(scenario, { variant } as ScenarioTargetOptions, SEEDS);
      expect(reused).toEqual(fresh);
      // The comparison means something: the buggy variants find something in these seeds.
      if (variant === HISTORIC.find(([n]) => n === name)?.[1]) {
        expect(fresh.some((s) => !s.startsWith('none'))).toBe(true);
      }
    },
  );

  it('freshInstances must be a boolean', () => {
    expect(() =>
      scenarioTarget(builtinScenario('rfc-lock-order'), {
        freshInstances: 'yes',
      } as unknown as ScenarioTargetOptions),
    ).toThrow(/freshInstances must be a boolean/);
  });
});
