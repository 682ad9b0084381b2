/**
 * @mmsim/migrate: `migrate_pages()` of Linux 6.3 (the 2022–2023 batch TLB flushing series
 * and its 6.3-rc3 deadlock fixes) and its historical variants, as an executable model.
 *
 * Contents:
 * - the engine: `MigrateCore` (built from `MigrateDeps`), `MigratePagesResult`;
 * - kernel constants, modes and reasons: constants.ts, modes.ts, reasons.ts;
 * - statistics and tracepoints: stats.ts, tracepoints.ts;
 * - variants: `VARIANTS`, `MigrateVariant`, `resolveVariant`;
 * - the interfaces drivers and filesystems implement: `MovableOperations`,
 *   `AddressSpaceOperations` (with the built-in tables), `PageCacheMapping`;
 * - the steps, for prototypes and tests (they take `core.ctx`): `migratePagesBatch`,
 *   `migratePagesSync`, `migrateHugetlbs`, `unmapAndMoveHugePage`, `migrateFolioUnmap`,
 *   `migrateFolioMove`, `moveToNewFolio`, `migrateFolio`, `filemapMigrateFolio`,
 *   `bufferMigrateFolio(Norefs)`, `fallbackMigrateFolio`, `folioMigrateMapping`,
 *   `folioMigrateFlags`, `migrateFolioDone`, the undo helpers, `trySplitFolio`,
 *   `isolateMovablePage`, `putbackMovablePages`, `allocMigrationTarget`, and the 6.2
 *   `unmapAndMove`.
 */

// Driver and filesystem interfaces.
export {
  type AddressSpaceOperations,
  BLOCKDEV_AOPS,
  BUFFER_AOPS,
  FILEMAP_AOPS,
  HUGETLBFS_AOPS,
  type MigrateFolioFn,
  type PageCacheMapping,
  type ReleaseFolioFn,
  SHMEM_AOPS,
  type WritebackControl,
  type WritepageFn,
} from './address-space-operations.js';
// Allocation.
export { allocMigrationTarget, type MigrationTargetControl } from './alloc-migration-target.js';
export {
  bufferMigrateFolio,
  bufferMigrateFolioNorefs,
  tryToFreeBuffers,
} from './buffer-migrate-folio.js';
export type { FreeFolioFn, MigrateCallbacks, NewFolioFn } from './callbacks.js';
// Kernel constants, modes, reasons.
export * from './constants.js';
export { DriverCallbackError } from './errors.js';
export {
  fallbackMigrateFolio,
  filemapReleaseFolio,
  folioClearDirtyForIo,
  writeout,
} from './fallback-migrate-folio.js';
export { folioMigrateCopy, folioMigrateFlags } from './folio-migrate-flags.js';
export {
  folioExpectedRefs,
  folioMigrateMapping,
  migrateHugePageMoveMapping,
} from './folio-migrate-mapping.js';
// Hugetlb.
export {
  folioPutbackActiveHugetlb,
  hugetlbAllocActive,
  hugetlbfsMigrateFolio,
  isolateHugetlb,
} from './hugetlb-state.js';
// The engine.
export { MigrateCore, type MigratePagesResult } from './migrate-core.js';
export { MigrateContext, type MigrateDeps } from './migrate-env.js';
export { filemapMigrateFolio, migrateFolio, migrateFolioExtra } from './migrate-folio.js';
export { migrateFolioMove } from './migrate-folio-move.js';
export { migrateFolioExtract, migrateFolioRecord } from './migrate-folio-record.js';
export {
  migrateFolioDone,
  migrateFolioUndoDst,
  migrateFolioUndoSrc,
} from './migrate-folio-undo.js';
export { migrateFolioUnmap, unmapTtuFlags } from './migrate-folio-unmap.js';
export { migrateHugetlbs, unmapAndMoveHugePage } from './migrate-hugetlbs.js';
export { migratePagesBatch } from './migrate-pages-batch.js';
export { migratePagesSync } from './migrate-pages-sync.js';
export { migratePagesV62, unmapAndMove, unmapAndMoveInner } from './migrate-pages-v6.2.js';
// The steps of migrate_pages().
export { migratePagesV63 } from './migrate-pages-v6.3.js';
export * from './modes.js';
export {
  clearPageMovable,
  folioMovableOps,
  isolateMovablePage,
  type MovableOperations,
  pageMovable,
  putbackMovablePages,
  setPageMovable,
} from './movable.js';
export { moveToNewFolio } from './move-to-new-folio.js';
export * from './reasons.js';
// Statistics and tracepoints.
export { countMigrateVmEvents, type MigratePagesStats, MigrateStats } from './stats.js';
export {
  formatMigrateEvent,
  MigrateTracepoints,
  type MmMigratePages,
  type MmMigratePagesStart,
} from './tracepoints.js';
export { splitFolioToList, trySplitFolio } from './try-split-folio.js';
// Variants.
export {
  DEFAULT_VARIANT,
  type MigrateVariant,
  resolveVariant,
  VARIANTS,
  type VariantName,
} from './variants.js';
