import {
  EXPLORE_OPTION_KEYS,
  type ExplorationInstance,
  type ExplorationTarget,
  type ExploreOptions,
  type ExploreResult,
  explore,
  type InstanceOptions,
} from '@mmsim/explore';
import { BufferRecycler } from '@mmsim/folio';
import {
  Kernel,
  type ResolvedKernelConfig,
  resolveKernelConfig,
  type VariantName,
} from '@mmsim/kernel';
import { type MigrateVariant, resolveVariant, VARIANTS, variantContentHash } from '@mmsim/migrate';
import { MAX_SEED, MmsimError } from '@mmsim/runtime';
import { driverErrorCheck } from './driver-check.js';
import { expectationCheck } from './expectation-check.js';
import { checkerInversionCheck } from './page-lock-inversion.js';
import {
  instantiateScenario,
  instantiateScenarioOn,
  type Scenario,
  type ScenarioOptions,
  scenarioConfig,
} from './scenario.js';

/**
 * How a scenario is instantiated for exploration: the variant to run (default: the
 * scenario's own, else v6.3) and any other overrides of its kernel configuration. The
 * explorer chooses the strategy, seed, step limit, meta and `onStep` hook, so those may
 * not be given here.
 */
export interface ScenarioTargetOptions
  extends Omit<ScenarioOptions, 'strategy' | 'seed' | 'onStep' | 'maxSteps' | 'meta' | 'variant'> {
  /** A built-in variant's name or a variant value (`defineVariant`). */
  readonly variant?: VariantName | MigrateVariant;
  /**
   * The scenario file the scenario was read from, by the hash of its content: recorded in
   * replay tokens (the target's identity) so that a replay can say when the file changed.
   */
  readonly source?: ScenarioSource;
  /**
   * Build every instance with `instantiateScenario` (`createKernel`, which checks the whole
   * configuration again), instead of from the configuration the target resolved once.
   * Both give the same instances (same schedules, findings and replay tokens); this one is
   * slower and is there to test that. Default false.
   */
  readonly freshInstances?: boolean;
}

/** Where a scenario came from, when it was read from a file. */
export interface ScenarioSource {
  /** SHA-256 of the file's bytes, in hex. */
  readonly sha256: string;
}

/**
 * What a scenario target records in replay tokens besides its name `<scenario>@<variant>`:
 * the variant's identity and the scenario file's hash (null for a built-in scenario).
 */
export type ScenarioIdentity = {
  readonly variant: {
    /** The variant's name: a built-in one's, or the free-form name of a custom one. */
    readonly name: VariantName | (string & {});
    /**
     * `variantContentHash` of the variant's policy settings (SHA-256 hex), for built-in and
     * custom variants alike: a replay against a variant of the same name and other settings
     * is refused. Null only in tokens recorded before the hash was filled.
     */
    readonly contentHash: string | null;
  };
  readonly file: ScenarioSource | null;
};

/** An instance of a scenario target: the explorer's view, plus the scenario's kernel. */
export interface ScenarioExplorationInstance extends ExplorationInstance {
  readonly kernel: Kernel;
}

/** A scenario's exploration target; its instances carry their kernel. */
export interface ScenarioExplorationTarget extends ExplorationTarget {
  readonly identity: ScenarioIdentity;
  instantiate(options: InstanceOptions): ScenarioExplorationInstance;
}

const EXPLORER_OWNED = ['strategy', 'seed', 'onStep', 'maxSteps', 'meta'] as const;

/**
 * An exploration target for a scenario in one variant: each instance is a fresh kernel
 * built from the scenario's configuration with the overrides and the explorer's runtime
 * options; its invariants are the kernel's and the scenario's, and its checks are the
 * page-lock inversion check (`page-lock-inversion`, which finds something only when the
 * configuration turns the dependency checker on) and the driver-error check
 * (`driver-errors`: a `driver` finding for a movable-page driver's callback that threw or
 * broke its contract) and the expectation check (`program-expectations`: an `expectation`
 * finding for a program's step whose `expect` did not hold). The target is named
 * `<scenario>@<variant>`; its identity (see `ScenarioIdentity`) goes into replay tokens.
 */
export function scenarioTarget(
  scenario: Scenario,
  options: ScenarioTargetOptions = {},
): ScenarioExplorationTarget {
  for (const key of EXPLORER_OWNED) {
    if (key in options) {
      throw new MmsimError(
        'INVALID_CONFIG',
        `scenarioTarget: ${key} is chosen by the explorer; do not pass it`,
      );
    }
  }
  const { source, freshInstances = false, ...overrides } = options;
  if (typeof freshInstances !== 'boolean') {
    throw new MmsimError('INVALID_CONFIG', 'scenarioTarget: freshInstances must be a boolean');
  }
  if (
    source !== undefined &&
    (typeof source !== 'object' ||
      source === null ||
      typeof source.sha256 !== 'string' ||
      !/^[0-9a-f]{64}$/.test(source.sha256))
  ) {
    throw new MmsimError(
      'INVALID_CONFIG',
      'scenarioTarget: source must be { sha256: 64 lowercase hex digits }',
    );
  }
  let variant: MigrateVariant;
  try {
    variant = resolveVariant(overrides.variant ?? scenario.config.variant ?? 'v6.3');
  } catch (error) {
    throw error instanceof MmsimError
      ? new MmsimError('INVALID_CONFIG', `scenarioTarget: ${error.message}`)
      : error;
  }
  // A built-in variant goes to the kernel by name: resolving a name is a table look-up,
  // resolving a value checks every setting again (for each of the kernel's parts).
  const variantArg: VariantName | MigrateVariant =
    (VARIANTS as Record<string, MigrateVariant>)[variant.name] === variant
      ? (variant.name as VariantName)
      : variant;
  const resolved = new ResolvedScenarioConfig(scenario, { ...overrides, variant: variantArg });
  return {
    name: `${scenario.name}@${variant.name}`,
    identity: {
      variant: { name: variant.name, contentHash: variantContentHash(variant) },
      file: source === undefined ? null : { sha256: source.sha256 },
    },
    instantiate({ runtime }: InstanceOptions) {
      const instance = freshInstances
        ? instantiateScenario(scenario, { ...overrides, variant, ...runtime })
        : instantiateScenarioOn(scenario, resolved.kernel(runtime), overrides);
      const kernel = instance.kernel;
      return {
        kernel,
        // The explorer is done with the instance: its machine's per-frame arrays go back to
        // the target's recycler (a fresh instance has none: nothing to do).
        release: () => kernel.release(),
        rt: instance.kernel.rt,
        invariants: instance.invariants,
        checks: [
          // `pageLockInversionCheck(instance.inversions)`, read from the checker directly.
          checkerInversionCheck(kernel.checker),
          driverErrorCheck(instance.kernel),
          expectationCheck(instance.kernel),
        ],
      };
    },
  };
}

/**
 * A scenario target's kernel configuration, resolved (`resolveKernelConfig`: schema,
 * variant, costs, parts) once, on the first instance, and again only when the explorer's
 * step limit, meta or footprint log change (a second systematic search of the same target
 * brings its own log); each instance then differs only in its seed, strategy and
 * `onStep` hook, which are checked here as `resolveKernelConfig` checks them. Building an
 * instance from it gives the kernel `createKernel` gives for the same configuration.
 */
class ResolvedScenarioConfig {
  readonly #scenario: Scenario;
  readonly #options: ScenarioOptions;
  #base: ResolvedKernelConfig | null = null;
  /** The per-frame buffers released instances handed back, for the next instances. */
  readonly #recycler = new BufferRecycler();

  constructor(scenario: Scenario, options: ScenarioOptions) {
    this.#scenario = scenario;
    this.#options = options;
  }

  /** A fresh kernel for one instance, created with the explorer's runtime options. */
  kernel(runtime: InstanceOptions['runtime']): Kernel {
    const base = this.#base;
    const strategy = runtime.strategy as { choose?: unknown } | string;
    if (
      base !== null &&
      base.maxSteps === runtime.maxSteps &&
      base.meta === runtime.meta &&
      base.footprints === (runtime.footprints ?? null) &&
      Number.isInteger(runtime.seed) &&
      runtime.seed >= 0 &&
      runtime.seed <= MAX_SEED &&
      typeof strategy === 'object' &&
      strategy !== null &&
      typeof strategy.choose === 'function' &&
      typeof runtime.onStep === 'function'
    ) {
      return new Kernel(
        {
          ...base,
          seed: runtime.seed,
          strategy: runtime.strategy,
          onStep: runtime.onStep,
        },
        this.#recycler,
      );
    }
    const config = resolveKernelConfig({
      ...scenarioConfig(this.#scenario, this.#options),
      ...runtime,
    });
    this.#base = config;
    return new Kernel(config, this.#recycler);
  }
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
