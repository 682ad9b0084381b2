import { builtinScenario, SCENARIO_NAMES, type Scenario } from '@mmsim/scenarios';
import { UsageError } from './usage-error.js';

/** The built-in scenarios' names, from `@mmsim/scenarios`' registry. */
export function builtInNames(): string[] {
  return [...SCENARIO_NAMES];
}

/**
 * Builds a built-in scenario from `@mmsim/scenarios`' registry, or throws a usage error
 * that lists the known names.
 */
export function builtInScenario(name: string, params?: Record<string, unknown>): Scenario {
  if (!(SCENARIO_NAMES as readonly string[]).includes(name)) {
    throw new UsageError(
      `unknown scenario "${name}"; built-in scenarios: ${builtInNames().join(', ')} (or give a .json/.yaml scenario file)`,
    );
  }
  return builtinScenario(name, params);
}
