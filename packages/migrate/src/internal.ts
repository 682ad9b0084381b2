// biome-ignore-all assist/source/organizeImports: this file is a table of contents, kept in the order of migrate_pages()
/**
 * @mmsim/migrate/internal: may change in any release. The migrate core's step functions
 * and state, for prototypes of new policies and for tests; users of the model need only
 * `@mmsim/migrate`.
 *
 * The steps take the core's `MigrateEnv` first (`core.env`); the filesystem helpers take
 * its `MigrateServices` (`core.env.services`).
 */

// The core's environment and state.
export { MigrateEnv } from './migrate-env.js';
export {
  folioPutbackActiveHugetlb,
  HugetlbState,
  hugetlbAllocActive,
  hugetlbAllocMigrationTarget,
  isolateHugetlb,
  moveHugetlbState,
} from './hugetlb-state.js';
export { mappingAops } from './mapping-aops.js';
export { mappingCanWriteback } from './mapping-can-writeback.js';
export type { MigrateCallbacks } from './callbacks.js';
export { MigrateStats, countMigrateVmEvents, migratePagesEnd } from './stats.js';
export { MigrateTracepoints } from './tracepoints.js';

// migrate_pages() of 6.3 (the batch engine, also rfc-2022, v6.3-rc1, v6.10 and v6.11) and its steps.
export { migratePagesV63 } from './migrate-pages-v6.3.js';
export { migrateHugetlbs, unmapAndMoveHugePage } from './migrate-hugetlbs.js';
export { migratePagesSync } from './migrate-pages-sync.js';
export { migratePagesBatch } from './migrate-pages-batch.js';
export { type DstFolioRef, migrateFolioUnmap, unmapTtuFlags } from './migrate-folio-unmap.js';
export {
  migrateFolioExtract,
  migrateFolioRecord,
  recordedAnonVma,
  recordedPageWasMapped,
} from './migrate-folio-record.js';
export { migrateFolioMove, movePlainStats } from './migrate-folio-move.js';
export { moveToNewFolioStats } from './move-to-new-folio.js';
export {
  folioPutMaybeLru,
  migrateFolioDone,
  migrateFolioUndoDst,
  migrateFolioUndoSrc,
  migrateFolioUndoSrcPlain,
  undoSrcPlainPath,
} from './migrate-folio-undo.js';
export { splitFolioToList, trySplitFolio } from './try-split-folio.js';

// What a replacement batch loop (`VariantSteps.migratePagesBatch`) needs besides the steps:
// the list operations of mm/migrate.c and the folio's size.
export { listHead, listMoveTail } from './lists.js';
export { folioNrPages } from '@mmsim/folio';

// migrate_pages() of 6.2: unmap_and_move, one folio at a time.
export { migratePagesV62, unmapAndMove, unmapAndMoveInner } from './migrate-pages-v6.2.js';
export { unmapAndMovePlainStats } from './migrate-pages-v6.2.js';

// Moving one folio: move_to_new_folio and the migrate_folio family.
export { moveToNewFolio } from './move-to-new-folio.js';
export { filemapMigrateFolio, migrateFolio, migrateFolioExtra } from './migrate-folio.js';
export {
  bufferMigrateFolio,
  bufferMigrateFolioNorefs,
  tryToFreeBuffers,
} from './buffer-migrate-folio.js';
export { hugetlbfsMigrateFolio } from './hugetlbfs-migrate-folio.js';
export {
  fallbackMigrateFolio,
  filemapReleaseFolio,
  folioClearDirtyForIo,
  writeout,
} from './fallback-migrate-folio.js';
export {
  folioExpectedRefs,
  folioMigrateMapping,
  migrateHugePageMoveMapping,
} from './folio-migrate-mapping.js';
export { folioMigrateCopy, folioMigrateFlags } from './folio-migrate-flags.js';

// Isolation, putback and allocation around migrate_pages().
export { isolateMovablePage, putbackMovablePages } from './movable.js';
export { allocMigrationTarget } from './alloc-migration-target.js';
