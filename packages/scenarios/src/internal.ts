/**
 * Warning: `@mmsim/scenarios/internal` may change in any release; depend on
 * `@mmsim/scenarios`.
 *
 * Helpers the actors and invariants share: step functions of the migrator, word-level
 * file I/O, the page picker of access patterns, and the pieces invariants are built from.
 */

export { pagePicker } from './actors/access-pattern.js';
export { filemapReadWord, filemapWriteWord } from './actors/file-io.js';
export { compactionAlloc, compactionFree, isolateForMigration } from './actors/migrator.js';
export type { MigratorFootprint } from './actors/migrator-footprint.js';
export { firstProblem, strided } from './invariants/invariant.js';
