/**
 * @mmsim/rmap/test: test fixtures for code that maps memory. Built on `@mmsim/lru/test`
 * (whose base machine and helpers it uses); `@mmsim/migrate/test` builds on it. No test
 * framework is imported: a fixture that finds a problem throws a plain Error.
 *
 * Contents:
 * - the machine: `createRmapMachine` (page locks and a VirtualMemory, optionally fed LRU);
 * - user memory: `mapAnon`, `writePages`, `foliosOf`;
 * - checks: `runAndCheck`, `freePages`, `lockedFolios`;
 * - competing tasks: `lockHolder`, `writebackIo`.
 */

export * from './check.js';
export * from './lock-tasks.js';
export * from './machine.js';
export * from './user-memory.js';
