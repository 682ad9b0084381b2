/**
 * @mmsim/lru/test: test fixtures for code that uses the LRU. The bottom layer of mmsim's
 * fixtures; `@mmsim/rmap/test` and `@mmsim/migrate/test` build on it. No test framework
 * is imported: a fixture that finds a problem throws a plain Error.
 *
 * Contents:
 * - machines: `createBaseMachine` (runtime, memory, vmstat), `createLruMachine` (+ LRU);
 * - folios: `anonFolio`, `fileFolio`, `shmemFolio`, `refcounts`;
 * - isolation: `isolateFolios`, `newList`, `nrIsolated`;
 * - running: `spawn`, `onCpu`, `runAll`, `runScript`;
 * - parts: `countingFolioPuts` (a replaced LRU that counts the puts it sees).
 */

export * from './counting-puts.js';
export * from './folios.js';
export * from './isolate.js';
export * from './machine.js';
export * from './run.js';
