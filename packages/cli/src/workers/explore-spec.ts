import type {
  BatchExploreOptions,
  ExplorationTarget,
  ExploreShard,
  ExploreStrategy,
} from '@mmsim/explore';
import type { VariantName } from '@mmsim/kernel';
import type { MigrateVariant } from '@mmsim/migrate';
import { scenarioTarget } from '@mmsim/scenarios';
import { checkVariant } from '../commands/run.js';
import { costsOption, withCostProfile } from '../costs-option.js';
import {
  chooseVariant,
  fileMachineConfig,
  type ResolvedScenario,
  resolveScenario,
} from '../resolve-scenario.js';

/**
 * What a worker thread needs to build the same exploration as the command: plain data (a
 * scenario name or file path, the `--variant` text as given), never a closure. Variant
 * modules and scenario files are read again by the worker, from the same paths.
 */
export interface ExploreSpec {
  readonly scenario: string;
  readonly variant: string | undefined;
  readonly strategy: ExploreStrategy;
  readonly schedules: number;
  readonly seed: number;
  readonly maxSteps: number | undefined;
  readonly disable: readonly string[] | undefined;
  readonly shard: ExploreShard | undefined;
  /** False: run every schedule, not only up to the first finding (campaigns). */
  readonly stopOnFirst?: boolean;
  /** True: step-limit runs neither stop the search nor hide a later finding (campaigns). */
  readonly stepLimitApart?: boolean;
  /** Fault specs applied to every schedule (campaigns turn fault injection on). */
  readonly faults?: BatchExploreOptions['faults'];
  /** `--costs NAME`: the cost profile under the scenario's costs. */
  readonly costs?: string;
}

/** The exploration a spec names: its target and the options of `explore` (no callbacks). */
export interface BuiltExploration {
  readonly resolved: ResolvedScenario;
  readonly variant: VariantName | MigrateVariant;
  readonly target: ExplorationTarget;
  readonly options: BatchExploreOptions;
}

/**
 * Builds the target and the explore options of a spec, the one way the command and its
 * worker threads both use (so schedule i is the same schedule on every thread).
 */
export function buildExploration(spec: ExploreSpec): BuiltExploration {
  const resolved = resolveScenario(spec.scenario);
  const variant = chooseVariant(resolved, checkVariant(spec.variant));
  const config = withCostProfile(fileMachineConfig(resolved.overrides), costsOption(spec.costs));
  const target = scenarioTarget(resolved.scenario, {
    ...config,
    variant,
    ...(resolved.source === undefined ? {} : { source: { sha256: resolved.source.sha256 } }),
  } as Parameters<typeof scenarioTarget>[1]);
  const options: BatchExploreOptions = {
    strategy: spec.strategy,
    schedules: spec.schedules,
    seed: spec.seed,
    ...(spec.maxSteps === undefined ? {} : { maxSteps: spec.maxSteps }),
    ...(spec.disable === undefined ? {} : { disable: [...spec.disable] }),
    ...(spec.shard === undefined ? {} : { shard: spec.shard }),
    ...(spec.faults === undefined ? {} : { faults: spec.faults }),
    ...(spec.stopOnFirst === undefined ? {} : { stopOnFirst: spec.stopOnFirst }),
    ...(spec.stepLimitApart === undefined ? {} : { stepLimitApart: spec.stepLimitApart }),
  };
  return { resolved, variant, target, options };
}
