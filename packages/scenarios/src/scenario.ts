import { type Actor, createKernel, type Kernel, type KernelConfig } from '@mmsim/kernel';
import { VARIANTS, type VariantName } from '@mmsim/migrate';
import type { InversionReport } from '@mmsim/page-lock';
import type { Invariant, InvariantPhase } from '@mmsim/runtime';
import { type KernelGen, MmsimError, type RunResult, type Task } from '@mmsim/runtime';
import { programLedgerIfAny } from '@mmsim/syscalls';
import { type KernelInvariantName, kernelInvariants } from './invariants/kernel-invariants.js';

/**
 * What a scenario builds on a fresh kernel: an optional set-up (run first, in an `init`
 * task, before any actor exists: first touches, page-cache population), the actors
 * (spawned when the set-up ends), and invariants of its own on top of the kernel's.
 */
export interface ScenarioWorld {
  readonly setup?: (task: Task) => KernelGen<unknown>;
  /** CPU of the `init` task; default 0 (so first touches land on node 0). */
  readonly setupCpu?: number;
  readonly actors: readonly Actor[];
  readonly invariants?: readonly Invariant[];
  /** Figures the scenario reports after a run (IPIs, pages migrated per second...). */
  readonly figures?: () => Readonly<Record<string, number>>;
}

/** Which variants had the bug a historic scenario reproduces, and which fixed it. */
export interface ScenarioHistory {
  /** Variants in which exploration finds the deadlock. */
  readonly deadlocksIn: readonly VariantName[];
  /** Variants in which exploration finds nothing. */
  readonly fixedIn: readonly VariantName[];
  /**
   * Variants in which exploration finds a finding other than a deadlock: a failed
   * invariant or a kernel BUG (a crash), for the regressions that were not hangs. Absent
   * means none; a variant is in at most one of `deadlocksIn`, `failsIn` and `fixedIn`.
   */
  readonly failsIn?: readonly VariantName[];
}

/**
 * A built-in scenario's history from the variants that have the bug: `fixedIn` is every
 * other built-in variant (in `VARIANTS` order), so a new variant counts as fixed until the
 * check-matrix test (packages/cli/test/check-command.test.ts) shows otherwise.
 */
export function bugHistory(bugs: {
  readonly deadlocksIn?: readonly VariantName[];
  readonly failsIn?: readonly VariantName[];
}): ScenarioHistory {
  const deadlocksIn = bugs.deadlocksIn ?? [];
  const failsIn = bugs.failsIn;
  const buggy = new Set<string>([...deadlocksIn, ...(failsIn ?? [])]);
  const fixedIn = (Object.keys(VARIANTS) as VariantName[]).filter((v) => !buggy.has(v));
  return Object.freeze({
    deadlocksIn,
    fixedIn,
    ...(failsIn === undefined ? {} : { failsIn }),
  });
}

/**
 * The variants a history says have the bug, deadlock or other finding (`deadlocksIn`
 * then `failsIn`).
 */
export function historyBugVariants(history: ScenarioHistory): readonly VariantName[] {
  return history.failsIn === undefined
    ? history.deadlocksIn
    : [...history.deadlocksIn, ...history.failsIn];
}

/**
 * A scenario: data (name, description with its history and sources, a kernel
 * configuration, the expected outcome per variant) plus actors, built on a fresh kernel by
 * `build`. `build` must be deterministic: everything random comes from the kernel's seeded
 * streams, so a schedule replays.
 */
export interface Scenario {
  readonly name: string;
  /** One line. */
  readonly title: string;
  /** What it reproduces, where it came from, what it shows. */
  readonly description: string;
  readonly sources: readonly string[];
  /** The machine (a variant given here is the default; explorations override it). */
  readonly config: KernelConfig;
  readonly history?: ScenarioHistory;
  build(kernel: Kernel): ScenarioWorld;
}

/** Overrides of a scenario's configuration, and how its invariants are checked. */
export interface ScenarioOptions extends Partial<KernelConfig> {
  /** Expensive invariants run every `invariantStride`-th step; default 16. */
  readonly invariantStride?: number;
  /** Only these kernel invariants (default all). */
  readonly kernelInvariants?: readonly KernelInvariantName[];
}

/** A scenario built on a kernel, ready to run once. */
export interface ScenarioInstance {
  readonly scenario: Scenario;
  readonly kernel: Kernel;
  readonly world: ScenarioWorld;
  /** The kernel's invariants and the scenario's own, in checking order. */
  readonly invariants: readonly Invariant[];
  /** The page-lock dependency checker's reports so far (empty when it is off). */
  inversions(): readonly InversionReport[];
}

/** The configuration of a scenario with overrides applied (`parts` merged by name). */
export function scenarioConfig(scenario: Scenario, options: ScenarioOptions = {}): KernelConfig {
  const { invariantStride: _s, kernelInvariants: _k, ...overrides } = options;
  const parts =
    scenario.config.parts === undefined && overrides.parts === undefined
      ? undefined
      : { ...scenario.config.parts, ...overrides.parts };
  return {
    ...scenario.config,
    ...overrides,
    ...(parts === undefined ? {} : { parts }),
  } as KernelConfig;
}

/**
 * Builds a scenario on a fresh kernel (its configuration with `options` applied): the
 * set-up task and the actors are spawned, nothing has run. Bad configuration throws
 * INVALID_CONFIG; an actor on a CPU the machine does not have throws INVALID_ARGUMENT.
 */
export function instantiateScenario(
  scenario: Scenario,
  options: ScenarioOptions = {},
): ScenarioInstance {
  if (typeof scenario !== 'object' || scenario === null || typeof scenario.build !== 'function') {
    throw new MmsimError('INVALID_ARGUMENT', 'a scenario must be { name, config, build(kernel) }');
  }
  return instantiateScenarioOn(scenario, createKernel(scenarioConfig(scenario, options)), options);
}

/**
 * `instantiateScenario` on a kernel already built from the scenario's configuration with
 * `options` applied (an exploration target builds it from a configuration it resolved once,
 * see scenario-target.ts); `options` supply only the invariant settings here.
 * @internal
 */
export function instantiateScenarioOn(
  scenario: Scenario,
  kernel: Kernel,
  options: ScenarioOptions,
): ScenarioInstance {
  const world = scenario.build(kernel);
  const cpus = kernel.rt.cpus.length;
  for (const actor of world.actors) {
    if (!Number.isInteger(actor.cpu) || actor.cpu < 0 || actor.cpu >= cpus) {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        `scenario ${scenario.name}: actor ${actor.name} is on CPU ${String(actor.cpu)}, but the machine has CPUs 0..${cpus - 1}`,
      );
    }
  }
  const setup = world.setup;
  if (setup === undefined) {
    for (const actor of world.actors) kernel.spawn(actor);
  } else {
    kernel.rt.spawn('init', world.setupCpu ?? 0, (task) => initTask(kernel, world, setup, task));
  }
  const invariants: Invariant[] = kernelInvariants(kernel, {
    stride: options.invariantStride,
    only: options.kernelInvariants,
  });
  const own = world.invariants;
  if (own !== undefined) for (const inv of own) invariants.push(inv);
  // Names are unique: a scenario has a few dozen invariants, so a pairwise scan (no set to
  // build for each instance an explorer makes).
  for (let i = 1; i < invariants.length; i++) {
    const name = invariants[i]!.name;
    for (let j = 0; j < i; j++) {
      if (invariants[j]!.name === name) {
        throw new MmsimError(
          'INVALID_CONFIG',
          `scenario ${scenario.name}: two invariants named ${name}`,
        );
      }
    }
  }
  return {
    scenario,
    kernel,
    world,
    invariants,
    inversions: () => kernel.checker?.reports ?? NO_REPORTS,
  };
}

/** What `inversions()` answers with the checker off: one empty list, not one per call. */
const NO_REPORTS: readonly InversionReport[] = Object.freeze([]);

/**
 * The `init` task of a scenario with a set-up: the set-up, then the actors. A module-level
 * generator called from an arrow, not a generator closure: on Node 20 the first call of a
 * generator closure gives it an initial map in the old generation, which keeps the closure's
 * context (here the kernel, so the whole machine) alive through every young-generation
 * collection until a full one (docs/exploration.md, speed).
 */
function* initTask(
  kernel: Kernel,
  world: ScenarioWorld,
  setup: (task: Task) => KernelGen<unknown>,
  task: Task,
): KernelGen {
  yield* setup(task);
  for (const actor of world.actors) kernel.spawn(actor);
}

/** An invariant that failed in a run. */
export interface Violation {
  readonly invariant: string;
  readonly phase: InvariantPhase;
  /** The step after which it failed (the last step for end checks). */
  readonly step: number;
  readonly message: string;
}

/** Errors that mean the caller misused the API rather than the model going wrong. */
const MISUSE: ReadonlySet<string> = new Set([
  'REPLAY_DIVERGED',
  'INVALID_REPLAY_TOKEN',
  'INVALID_STATE',
]);

/** What `runScenario` returns. */
export interface ScenarioRun {
  /** The runtime's result; null when a task crashed (see `error`). */
  readonly result: RunResult | null;
  /**
   * The error a task threw (a contract violation, a use after free, a count underflow...:
   * the model caught a bug), or null.
   */
  readonly error: MmsimError | null;
  readonly kernel: Kernel;
  /** The first failure of each invariant, in the order they happened. */
  readonly violations: readonly Violation[];
  /** Page-lock inversions the dependency checker reported (if it was on). */
  readonly inversions: readonly InversionReport[];
  /** The scenario's figures (`ScenarioWorld.figures`), or an empty object. */
  readonly figures: Readonly<Record<string, number>>;
}

/**
 * Runs a scenario once, with the configured strategy and seed: invariants are checked
 * after each step (the expensive ones every `invariantStride` steps) and at the end of a
 * completed run; the first failure of each is recorded and the run goes on. A task that
 * throws an `MmsimError` ends the run (`error`). For many
 * schedules, shrinking and replay, use `exploreScenario` (on `@mmsim/explore`).
 */
export function runScenario(
  scenario: Scenario,
  options: ScenarioOptions & { readonly checkSteps?: boolean } = {},
): ScenarioRun {
  const { checkSteps = true, ...rest } = options;
  const violations: Violation[] = [];
  const failed = new Set<string>();
  let invariants: readonly Invariant[] = [];
  const check = (phase: InvariantPhase, step: number, result?: RunResult): void => {
    for (const inv of invariants) {
      if (failed.has(inv.name)) continue;
      let message: string | null;
      try {
        message = inv.check(phase, result);
      } catch (error) {
        message = `threw ${error instanceof Error ? error.message : String(error)}`;
      }
      if (message !== null) {
        failed.add(inv.name);
        violations.push({ invariant: inv.name, phase, step, message });
      }
    }
  };
  const userStep = rest.onStep ?? scenario.config.onStep;
  // No hook when it would do nothing: a hook is called at every step, virtual ones included,
  // so an unchecked run without one saves that call per step (the same steps and decisions).
  const onStep =
    !checkSteps && userStep === undefined
      ? undefined
      : (task: Task, step: number): void => {
          userStep?.(task, step);
          if (checkSteps) check('step', step);
        };
  const instance = instantiateScenario(scenario, { ...rest, onStep });
  invariants = instance.invariants;
  let result: RunResult | null = null;
  let error: MmsimError | null = null;
  try {
    result = instance.kernel.run();
  } catch (caught) {
    if (!(caught instanceof MmsimError) || MISUSE.has(caught.code)) throw caught;
    // An assertion a program's body threw (vitest's expect): the test's failure, as it was.
    const ledger = programLedgerIfAny(instance.kernel);
    if (ledger?.isAssertion(caught.cause) === true) throw caught.cause;
    error = caught;
  }
  if (result?.status === 'completed') check('end', result.steps, result);
  return {
    result,
    error,
    kernel: instance.kernel,
    violations,
    inversions: instance.inversions(),
    figures: instance.world.figures?.() ?? {},
  };
}
