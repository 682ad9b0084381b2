/**
 * @mmsim/explore: schedule exploration for mmsim. Random, PCT and preemption-bounded DFS
 * search over the interleavings of a target, named invariants checked after every step,
 * deadlock, inversion and crash findings, replay tokens, counterexample shrinking, and a
 * readable report.
 */

// Which checks run (the same for explore, replay and shrink).
export { type CheckOptions, INVERSION_CHECK } from './checks.js';
// The search.
export {
  type ExploreOptions,
  type ExploreProgress,
  type ExploreResult,
  type ExploreStrategy,
  explore,
  type StopReason,
} from './explore.js';
// What a finding holds.
export type {
  Finding,
  FindingDetail,
  FindingKind,
  ScheduleShape,
  StepRecord,
} from './finding.js';
export { sameKind } from './finding.js';
// The report.
export { type FormatOptions, formatFinding, formatStep } from './format-finding.js';
// Writing invariants.
export { endInvariant, type Invariant, type InvariantPhase, stepInvariant } from './invariant.js';
// Replaying a token.
export { type ReplayOptions, type ReplayResult, replay } from './replay.js';
// The runtime's invariants, which every instance gets.
export {
  HELD_LOCKS_CONSISTENT,
  QUIESCENT_AT_END,
  RUNTIME_INVARIANT_NAMES,
  runtimeInvariants,
} from './runtime-invariants.js';
// Scenarios of @mmsim/kernel as targets.
export {
  type ExploreScenarioOptions,
  exploreScenario,
  type ScenarioTargetOptions,
  scenarioTarget,
} from './scenario-target.js';
// The seed of each schedule.
export { scheduleSeed } from './seeds.js';
// Shrinking a finding.
export {
  DEFAULT_SHRINK_REPLAYS,
  type ShrinkOptions,
  type ShrinkResult,
  shrink,
} from './shrink.js';
// The seam a scenario implements.
export type {
  ExplorationInstance,
  ExplorationTarget,
  InstanceOptions,
  InstanceRuntimeOptions,
} from './target.js';
