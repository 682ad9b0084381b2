/**
 * Warning: `@mmsim/explore/internal` may change in any release; depend on `@mmsim/explore`.
 *
 * The explorer's working parts, for tests and for tools built on it: one run of a target
 * under a schedule source, the schedule tracker and the strategies that feed it, the
 * replay token's meta, the check and option validation.
 */

export type { CheckViolationShape } from './check.js';
export { type ActiveChecks, activeChecks, validateCheckOptions } from './checks.js';
export { runClassHash } from './dpor-shards.js';
export {
  checksOfToken,
  decodeRunMeta,
  encodeRunMeta,
  identityDifferences,
  RUN_META_VERSION,
  type RunMeta,
} from './run-meta.js';
export {
  findingOf,
  fromPairs,
  type RunOutcome,
  type RunSetup,
  runSchedule,
  type ScheduleSource,
  toPairs,
  type Verdict,
} from './run-schedule.js';
export { ScheduleTracker } from './schedule-tracker.js';
export { shrinkFinding } from './shrink.js';
export { StepRecorder } from './step-recorder.js';
export { DEFAULT_CHOICE, type GuidedMode, GuidedStrategy } from './strategies/guided.js';
export { TrackedStrategy } from './strategies/tracked.js';
export {
  checkFaults,
  checkInteger,
  checkKeys,
  checkObject,
  checkTarget,
  invalid,
} from './validate.js';
