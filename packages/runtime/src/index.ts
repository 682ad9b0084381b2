// biome-ignore-all assist/source/organizeImports: this file is the package's table of contents, kept in reading order by section
/**
 * @mmsim/runtime: the deterministic kernel runtime every other mmsim package runs on.
 *
 * This is the public surface: the runtime and its tasks, the schedule strategies, the
 * blocking primitives, deadlock reports, invariants, tracepoints, vmstat, errno values and
 * errors, and the argument checks other packages (and extensions) share. The runtime's
 * own working parts (the deadlock finder, the replay log, the seeded streams' constructor)
 * are in `@mmsim/runtime/internal`, which may change in any release.
 */

// The runtime: tasks on simulated CPUs, a run, its result.
export * from './runtime.js';
export * from './task.js';
export { type CostModel, DEFAULT_COSTS, resolveCosts } from './costs.js';
export {
  COST_PROFILE_NAMES,
  type CostProfile,
  type CostProfileHeadline,
  type CostProfileMachine,
  type CostProfileName,
  costProfile,
  isCostProfileName,
} from './cost-profiles.js';
export * from './might-sleep.js';

// Schedule strategies, replay tokens, and exhaustive enumeration.
export type { Strategy } from './strategies/strategy.js';
export * from './strategies/create.js';
export * from './strategies/in-order.js';
export * from './strategies/lowest-clock.js';
export * from './strategies/random.js';
export * from './strategies/pct.js';
export * from './strategies/replay.js';
export * from './strategies/depth-first.js';
export * from './strategies/exhaustive.js';
export * from './strategies/dpor.js';
export * from './footprint.js';
export { decodeReplayToken, encodeReplayToken, type ReplayData } from './replay-token.js';
export { MAX_SEED, RandomStream, type RandomStreams } from './random.js';

// Blocking primitives: wait queues and locks.
export type { Resource } from './resource.js';
export * from './wait-queue.js';
export * from './locks/owned-lock.js';
export * from './locks/spinlock.js';
export * from './locks/mutex.js';
export * from './locks/rwsem.js';
export * from './locks/completion.js';
export * from './locks/srcu.js';
export { heldLocksEpoch } from './locks/held-epoch.js';

// Deadlocks and invariants: what a run reports.
export { type DeadlockReport, formatDeadlock, type TaskRef, type WaitEdge } from './deadlock.js';
export * from './invariant.js';

// Fault injection, tracepoints, function slices, vmstat.
export * from './fault-points.js';
export * from './fatal-signal.js';
export {
  formatFieldsGeneric,
  type TimelineRole,
  type TraceContext,
  type TraceEvent,
  type TraceEventDefinition,
  type TraceEventDefinitions,
  type TraceEventFields,
  type TraceListener,
  TraceBus,
  Tracepoint,
  type TracepointSet,
  type TracepointSetClass,
  traceEvent,
  tracepointSet,
} from './tracepoint.js';
export * from './function-tracer.js';
export * from './vmstat.js';

// Kernel errno values and the model's errors.
export * from './errno.js';
export { checkInt, MmsimError, type MmsimErrorCode } from './errors.js';
