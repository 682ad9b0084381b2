/**
 * @mmsim/explore: schedule exploration, a driver that knows no model. Random, PCT and
 * preemption-bounded DFS search over the interleavings of a target, named invariants and
 * the target's own checks run after every step, deadlock, check and crash findings, replay
 * tokens, counterexample shrinking, and a readable report. It depends on the runtime only:
 * models supply targets (see `@mmsim/scenarios`).
 *
 * Helpers and internal classes are in `@mmsim/explore/internal`, which may change in any
 * release. (Section comments stand alone so that import sorting keeps the sections.)
 */

// The seam a target implements: a fresh instance per schedule, its invariants and checks.

export type { Check, CheckKind, CheckKinds, CheckViolation } from './check.js';
export type {
  ExplorationInstance,
  ExplorationTarget,
  InstanceOptions,
  InstanceRuntimeOptions,
  TargetIdentity,
} from './target.js';

// Writing invariants (the runtime's type, re-exported), and those every instance gets.

export {
  endInvariant,
  type Invariant,
  type InvariantPhase,
  stepInvariant,
} from '@mmsim/runtime';
export {
  HELD_LOCKS_CONSISTENT,
  QUIESCENT_AT_END,
  RUNTIME_INVARIANT_NAMES,
  runtimeInvariants,
} from './runtime-invariants.js';

// The search, and which checks run (the same options for explore, replay and shrink).

export type { CheckOptions } from './checks.js';
export {
  type DporShardResult,
  type DporShardRun,
  type DporShardRunner,
  type DporSubtreeRecord,
  dporSubtreeSizes,
  exploreDporShards,
  mergeDporShards,
  runDporShard,
} from './dpor-shards.js';
export {
  EXPLORE_OPTION_KEYS,
  type ExploreOptions,
  type ExploreProgress,
  type ExploreResult,
  type ExploreShard,
  type ExploreStrategy,
  exhaustedLine,
  explore,
  type PctGuarantee,
  pctGuaranteeLine,
  type StepLimitRun,
  type StopReason,
} from './explore.js';
export {
  type BatchExploreOptions,
  type BatchResult,
  type BatchRunner,
  exploreInBatches,
  runBatch,
  type ScheduleBatch,
} from './parallel.js';
export { scheduleSeed } from './seeds.js';

// What a finding holds, and the report.

export {
  type CheckFindingDetail,
  type Finding,
  type FindingDetail,
  type FindingKind,
  type ScheduleShape,
  type StepRecord,
  sameKind,
} from './finding.js';
export { type FormatOptions, formatFinding, formatStep } from './format-finding.js';
export { StepRecordBuilder } from './step-record-builder.js';

// Replaying a token, shrinking a finding.

export { type ReplayOptions, type ReplayResult, replay } from './replay.js';
export { decodeRunMeta, RUN_META_VERSION, type RunMeta } from './run-meta.js';
export {
  DEFAULT_SHRINK_REPLAYS,
  type ShrinkOptions,
  type ShrinkResult,
  shrink,
} from './shrink.js';
