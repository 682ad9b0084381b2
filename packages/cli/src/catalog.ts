import {
  loopBhDeadlock,
  loopWritebackDeadlock,
  migrateUnderWrites,
  pmbenchMigrate,
  rfcLockOrder,
  SCENARIO_NAMES,
  type Scenario,
  splitLockDeadlock,
} from '@mmsim/kernel';
import { UsageError } from './usage-error.js';

/** A built-in scenario by name: its factory takes the scenario's parameters. */
export type ScenarioFactory = (params?: Record<string, unknown>) => Scenario;

/**
 * The built-in scenarios of `@mmsim/kernel` (in its `SCENARIO_NAMES` order), with their
 * parameterised factories so that a scenario file can set `params`.
 */
export const BUILT_IN: Readonly<Record<(typeof SCENARIO_NAMES)[number], ScenarioFactory>> = {
  'pmbench-migrate': (p) => pmbenchMigrate(p),
  'rfc-lock-order': (p) => rfcLockOrder(p),
  'loop-bh-deadlock': (p) => loopBhDeadlock(p),
  'loop-writeback-deadlock': (p) => loopWritebackDeadlock(p),
  'split-lock-deadlock': (p) => splitLockDeadlock(p),
  'migrate-under-writes': (p) => migrateUnderWrites(p),
};

export function builtInNames(): string[] {
  return [...SCENARIO_NAMES];
}

/** Builds a built-in scenario, or throws a usage error that lists the known names. */
export function builtInScenario(name: string, params?: Record<string, unknown>): Scenario {
  const factory = (BUILT_IN as Record<string, ScenarioFactory | undefined>)[name];
  if (factory === undefined) {
    throw new UsageError(
      `unknown scenario "${name}"; built-in scenarios: ${builtInNames().join(', ')} (or give a .json/.yaml scenario file)`,
    );
  }
  return factory(params);
}
