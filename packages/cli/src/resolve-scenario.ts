import { readFileSync } from 'node:fs';
import type { KernelConfig, VariantName } from '@mmsim/kernel';
import { DEFAULT_VARIANT, type MigrateVariant } from '@mmsim/migrate';
import type { Scenario } from '@mmsim/scenarios';
import { builtInScenario } from './catalog.js';
import { sha256 } from './replay-line.js';
import { loadScenarioFile } from './scenario-file.js';

/** A scenario named on the command line (a built-in name, or a .json/.yaml file) and its overrides. */
export interface ResolvedScenario {
  readonly scenario: Scenario;
  readonly overrides: Partial<KernelConfig>;
  /** The scenario file, for a scenario read from one: its path and the SHA-256 of its bytes. */
  readonly source?: { readonly path: string; readonly sha256: string };
}

/**
 * The variant a command runs: the one asked for on the command line, else the file's,
 * else the scenario's own, else the kernel default.
 */
export function chooseVariant(
  resolved: ResolvedScenario,
  asked: VariantName | MigrateVariant | undefined,
): VariantName | MigrateVariant {
  return asked ?? resolved.overrides.variant ?? resolved.scenario.config.variant ?? DEFAULT_VARIANT;
}

export function resolveScenario(nameOrFile: string): ResolvedScenario {
  // A file by its extension, or any path (a directory included: reading it says EISDIR).
  if (/\.(json|ya?ml)$/i.test(nameOrFile) || /[\\/]/.test(nameOrFile)) {
    const { scenario, file } = loadScenarioFile(nameOrFile);
    // A data-driven scenario's config is its own; a built-in's file config overrides.
    const overrides = 'scenario' in file ? (file.config ?? {}) : {};
    // Replay tokens record the file's hash: a replay says when the file changed.
    const source = { path: nameOrFile, sha256: sha256(readFileSync(nameOrFile)) };
    return { scenario, overrides: overrides as Partial<KernelConfig>, source };
  }
  return { scenario: builtInScenario(nameOrFile), overrides: {} };
}

/**
 * The machine part of a scenario file's overrides: everything but the search settings the
 * command line decides (strategy, seed, variant, step hook, step limit, run metadata), so a
 * file's machine and checks apply while the command's search replaces the file's own.
 */
export function fileMachineConfig(overrides: Partial<KernelConfig>): Partial<KernelConfig> {
  const {
    strategy: _s,
    seed: _seed,
    variant: _v,
    onStep: _o,
    maxSteps: _m,
    meta: _meta,
    ...config
  } = overrides;
  return config;
}
