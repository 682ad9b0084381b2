import type { KernelConfig } from '@mmsim/kernel';
import {
  COST_PROFILE_NAMES,
  type CostProfile,
  costProfile,
  isCostProfileName,
} from '@mmsim/runtime';
import { UsageError } from './usage-error.js';

/** The help text of `--costs`. */
export const COSTS_HELP = `cost profile of a machine: ${COST_PROFILE_NAMES.join(' or ')} (docs/calibration.md); default the built-in costs`;

/** `--costs NAME`: the named cost profile, or a usage error naming the known profiles. */
export function costsOption(text: string | undefined): CostProfile | undefined {
  if (text === undefined) return undefined;
  if (!isCostProfileName(text)) {
    throw new UsageError(`--costs must be one of ${COST_PROFILE_NAMES.join(', ')}; got "${text}"`);
  }
  return costProfile(text);
}

/**
 * `config` with the profile's costs under it: the profile replaces the default costs, and a
 * cost the scenario file sets itself (`config.costs`) still wins over the profile's value.
 */
export function withCostProfile<C extends Partial<KernelConfig>>(
  config: C,
  profile: CostProfile | undefined,
): C {
  if (profile === undefined) return config;
  return { ...config, costs: { ...profile.costs, ...config.costs } };
}
