import { MmsimError } from '@mmsim/runtime';
import type { Scenario } from '../scenario.js';
import { loopBhDeadlock } from './loop-bh-deadlock.js';
import { loopWritebackDeadlock } from './loop-writeback-deadlock.js';
import { migrateUnderWrites } from './migrate-under-writes.js';
import { pmbenchMigrate } from './pmbench-migrate.js';
import { rfcLockOrder } from './rfc-lock-order.js';
import { splitLockDeadlock } from './split-lock-deadlock.js';

/** The built-in scenarios' names. */
export const SCENARIO_NAMES = [
  'pmbench-migrate',
  'rfc-lock-order',
  'loop-bh-deadlock',
  'loop-writeback-deadlock',
  'split-lock-deadlock',
  'migrate-under-writes',
] as const;

export type ScenarioName = (typeof SCENARIO_NAMES)[number];

const FACTORIES: Readonly<Record<ScenarioName, () => Scenario>> = {
  'pmbench-migrate': () => pmbenchMigrate(),
  'rfc-lock-order': () => rfcLockOrder(),
  'loop-bh-deadlock': () => loopBhDeadlock(),
  'loop-writeback-deadlock': () => loopWritebackDeadlock(),
  'split-lock-deadlock': () => splitLockDeadlock(),
  'migrate-under-writes': () => migrateUnderWrites(),
};

/** A built-in scenario with its default parameters, by name. */
export function builtinScenario(name: string): Scenario {
  const make = (FACTORIES as Record<string, (() => Scenario) | undefined>)[name];
  if (make === undefined) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `no built-in scenario ${JSON.stringify(name)}; known: ${SCENARIO_NAMES.join(', ')}`,
    );
  }
  return make();
}

/** Every built-in scenario with its default parameters, in `SCENARIO_NAMES` order. */
export function builtinScenarios(): Scenario[] {
  return SCENARIO_NAMES.map((name) => FACTORIES[name]());
}
