import type { FootprintLog, Invariant, Runtime, StrategySpec, Task } from '@mmsim/runtime';
import type { Check } from './check.js';

/**
 * The runtime options an explorer hands to a target. Spread them into the `RuntimeConfig`
 * (`new Runtime({ cpus: 2, ...options.runtime })`): the explorer chooses the schedule,
 * the seed, the step limit and the token's meta, and watches every step through `onStep`.
 * The explorer checks that the instance's runtime got them.
 */
export interface InstanceRuntimeOptions {
  readonly strategy: StrategySpec;
  readonly seed: number;
  readonly onStep: (task: Task, step: number) => void;
  readonly maxSteps: number;
  readonly meta: string;
  /** Set by the systematic strategies (dfs, dpor): where the runtime records step footprints. */
  readonly footprints?: FootprintLog;
}

/** What `ExplorationTarget.instantiate` receives. */
export interface InstanceOptions {
  /** Merge these into the runtime's config, unchanged. */
  readonly runtime: InstanceRuntimeOptions;
}

/**
 * One fresh, not yet run, instance of a target: its runtime with every task spawned, the
 * invariants that hold over it, and any checks of its own. Fault specs are applied by the
 * explorer after `instantiate` returns (`rt.faults.configure`), once the target has
 * registered its sites.
 */
export interface ExplorationInstance {
  readonly rt: Runtime;
  /** The target's own invariants (the explorer adds the runtime's, see `runtimeInvariants`). */
  readonly invariants: readonly Invariant[];
  /** Checks run after every step, before the invariants (a lock-order checker, say). */
  readonly checks?: readonly Check[];
  /**
   * Called by the explorer when it is done with the instance (its run judged, nothing of it
   * kept), so that the target can recycle what the instance holds (a scenario's machine
   * hands its per-frame arrays back for the next instance); the instance is not used
   * afterwards. Optional; replays do not call it.
   */
  release?(): void;
}

/**
 * What a target was built from, beyond its name, as JSON data: for a scenario its variant
 * (`{ name, contentHash }`) and the scenario file's hash. Replay tokens record it; a replay
 * reports where the target's identity differs from the recorded one.
 */
export type TargetIdentity = Readonly<Record<string, unknown>>;

/**
 * Something the explorer can run many times under different schedules (a scenario, say). It
 * must be deterministic apart from the schedule and the seeded random streams: the same
 * options give the same run.
 */
export interface ExplorationTarget {
  /** Names the target in replay tokens and reports. */
  readonly name: string;
  /** What the target was built from (recorded in replay tokens, compared on replay); optional. */
  readonly identity?: TargetIdentity;
  /** Builds a fresh instance whose runtime was created with `options.runtime`. */
  instantiate(options: InstanceOptions): ExplorationInstance;
}
