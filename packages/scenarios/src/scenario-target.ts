import {
  EXPLORE_OPTION_KEYS,
  type ExplorationTarget,
  type ExploreOptions,
  type ExploreResult,
  explore,
  type InstanceOptions,
} from '@mmsim/explore';
import type { VariantName } from '@mmsim/kernel';
import { MmsimError } from '@mmsim/runtime';
import { pageLockInversionCheck } from './page-lock-inversion.js';
import { instantiateScenario, type Scenario, type ScenarioOptions } from './scenario.js';

/**
 * How a scenario is instantiated for exploration: the variant to run (default: the
 * scenario's own, else v6.3) and any other overrides of its kernel configuration. The
 * explorer chooses the strategy, seed, step limit, meta and `onStep` hook, so those may
 * not be given here.
 */
export interface ScenarioTargetOptions
  extends Omit<ScenarioOptions, 'strategy' | 'seed' | 'onStep' | 'maxSteps' | 'meta' | 'variant'> {
  readonly variant?: VariantName;
}

const EXPLORER_OWNED = ['strategy', 'seed', 'onStep', 'maxSteps', 'meta'] as const;

/**
 * An exploration target for a scenario in one variant: each instance is a fresh kernel
 * built from the scenario's configuration with the overrides and the explorer's runtime
 * options; its invariants are the kernel's and the scenario's, and its one check is the
 * page-lock inversion check (`page-lock-inversion`, which finds something only when the
 * configuration turns the dependency checker on). The target is named
 * `<scenario>@<variant>`.
 */
export function scenarioTarget(
  scenario: Scenario,
  options: ScenarioTargetOptions = {},
): ExplorationTarget {
  for (const key of EXPLORER_OWNED) {
    if (key in options) {
      throw new MmsimError(
        'INVALID_CONFIG',
        `scenarioTarget: ${key} is chosen by the explorer; do not pass it`,
      );
    }
  }
  const variant = options.variant ?? scenario.config.variant ?? 'v6.3';
  return {
    name: `${scenario.name}@${variant}`,
    instantiate({ runtime }: InstanceOptions) {
      const instance = instantiateScenario(scenario, { ...options, variant, ...runtime });
      return {
        rt: instance.kernel.rt,
        invariants: instance.invariants,
        checks: [pageLockInversionCheck(instance.inversions)],
      };
    },
  };
}

/**
 * `explore` options plus the scenario's variant and configuration overrides (`faults` are
 * the explorer's: it applies them to every instance).
 */
export interface ExploreScenarioOptions
  extends ExploreOptions,
    Omit<ScenarioTargetOptions, 'faults'> {}

const EXPLORE_KEYS = new Set(EXPLORE_OPTION_KEYS);

/**
 * Explores a scenario in one variant: `explore(scenarioTarget(scenario, {variant,
 * ...overrides}), exploreOptions)`. The options are split by name: those of `explore`
 * go to the search, the rest to the scenario.
 *
 * ```ts
 * const r = exploreScenario(loopBhDeadlock(), { variant: 'v6.3-rc1', strategy: 'pct',
 *   schedules: 500, disable: ['page-lock-inversion'] });
 * r.kind; // 'deadlock'
 * ```
 */
export function exploreScenario(
  scenario: Scenario,
  options: ExploreScenarioOptions = {},
): ExploreResult {
  const exploreOptions: Record<string, unknown> = {};
  const targetOptions: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (EXPLORE_KEYS.has(key)) exploreOptions[key] = value;
    else targetOptions[key] = value;
  }
  return explore(
    scenarioTarget(scenario, targetOptions as ScenarioTargetOptions),
    exploreOptions as ExploreOptions,
  );
}
