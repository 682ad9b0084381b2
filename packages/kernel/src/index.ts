/**
 * @mmsim/kernel: the composition root of mmsim. `createKernel(config)` wires runtime,
 * folio, page-lock, lru, rmap and migrate into one machine; scenario actors are kernel
 * activities written as tasks; scenarios are data plus actors, checked by named
 * invariants (in the explorer's shape: `@mmsim/explore` runs them).
 *
 * Contents:
 * - the machine: `createKernel`, `Kernel`, its configuration (validated; JSON Schema of
 *   the data half) and replaceable parts;
 * - page-cache paths, set-up helpers and the shadow memory the actors use;
 * - the actors and the folio selectors of the migrator;
 * - the invariants;
 * - scenarios: `Scenario`, `instantiateScenario`, `runScenario`, and the built-in ones.
 */

export type { VariantName } from '@mmsim/migrate';
export * from './actor.js';
export * from './actors/access-pattern.js';
export * from './actors/balloon.js';
export * from './actors/block-device.js';
export * from './actors/buffer-writer.js';
export * from './actors/direct-io.js';
export * from './actors/erofs-reader.js';
export * from './actors/file-io.js';
export * from './actors/loop-device.js';
export * from './actors/migrator.js';
export * from './actors/range-locker.js';
export * from './actors/readahead.js';
export * from './actors/selectors.js';
export * from './actors/user-task.js';
export * from './actors/work-queue.js';
export * from './actors/writeback-worker.js';
export * from './config.js';
export * from './config-schema.js';
export * from './invariants/invariant.js';
export * from './invariants/kernel-invariants.js';
export * from './kernel.js';
export * from './lock-classes.js';
export * from './page-cache.js';
export * from './parts.js';
export * from './scenario.js';
export * from './scenarios/builtin.js';
export * from './scenarios/loop-bh-deadlock.js';
export * from './scenarios/loop-writeback-deadlock.js';
export * from './scenarios/migrate-under-writes.js';
export * from './scenarios/pmbench-migrate.js';
export * from './scenarios/rfc-lock-order.js';
export * from './scenarios/split-lock-deadlock.js';
export * from './setup.js';
export * from './shadow.js';
