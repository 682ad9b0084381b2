/**
 * @mmsim/migrate/test: test fixtures for code that migrates pages (a driver, a variant, a
 * new caller of migrate_pages()). The top layer of mmsim's fixtures, built on
 * `@mmsim/rmap/test` and `@mmsim/lru/test` (import their helpers from there). No test
 * framework is imported: a fixture that finds a problem throws a plain Error.
 *
 * Contents:
 * - the machine: `createMigrateMachine` (a MigrateCore on the rmap machine with its LRU);
 * - set-ups: `anonIsolated`, `pageCacheIsolated`, `hugetlbfsFolio`;
 * - calls: `migrateToNode`, `countingAlloc`;
 * - observing: `assertQuiescent`, `spyingRmap` / `newSpy` / `RmapSpy`, `traceLines`.
 */

export * from './hugetlbfs-folio.js';
export * from './isolated.js';
export * from './machine.js';
export * from './migrate-to-node.js';
export * from './quiescent.js';
export * from './rmap-spy.js';
export * from './trace-lines.js';
