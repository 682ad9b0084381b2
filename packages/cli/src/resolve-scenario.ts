import type { KernelConfig, Scenario } from '@mmsim/kernel';
import { builtInScenario } from './catalog.js';
import { loadScenarioFile } from './scenario-file.js';

/** A scenario named on the command line (a built-in name, or a .json/.yaml file) and its overrides. */
export interface ResolvedScenario {
  readonly scenario: Scenario;
  readonly overrides: Partial<KernelConfig>;
}

export function resolveScenario(nameOrFile: string): ResolvedScenario {
  if (/\.(json|ya?ml)$/i.test(nameOrFile)) {
    const { scenario, file } = loadScenarioFile(nameOrFile);
    return { scenario, overrides: (file.config ?? {}) as Partial<KernelConfig> };
  }
  return { scenario: builtInScenario(nameOrFile), overrides: {} };
}
