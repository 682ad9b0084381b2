/**
 * @mmsim/driver-kit: the conformance kit for movable-page drivers written with
 * `@mmsim/driver`. `checkDriver(definition)` runs the driver under the model's migration
 * callers, explored schedules and injected faults, checks the `movable_operations`
 * protocol rule by rule, and returns a report with the explorer's findings and replay
 * tokens.
 */
export type { DriverDefinition } from '@mmsim/driver';
export {
  type CheckDriverOptions,
  checkDriver,
  checkDriverSync,
  type DriverCheckResult,
  type DriverFinding,
  type DriverReplay,
  type DriverReport,
  formatDriverReport,
  replayDriver,
} from './check-driver.js';
export {
  DRIVER_CHECK_NAMES,
  DRIVER_CHECKS,
  type DriverCheckName,
  isDriverCheckName,
} from './checks.js';
export { KIT_FAULTS, type KitCalls, KitRun, type KitViolation, kitCalls } from './kit-run.js';
export { DriverLockWatch, PAGE_LOCK_CLASS } from './lock-order.js';
export {
  type DriverTarget,
  defaultPlans,
  driverTarget,
  type KitPlan,
  planLine,
  TARGET_PREFIX,
} from './target.js';
