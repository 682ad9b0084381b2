import { HPAGE_PMD_NR } from '@mmsim/folio';

/**
 * Constants of mm/migrate.c, include/linux/migrate.h, include/linux/fs.h and
 * include/linux/mmzone.h with their Linux 6.3 values (x86-64, 4 KiB pages,
 * CONFIG_TRANSPARENT_HUGEPAGE=y).
 */

/**
 * `NR_MAX_BATCHED_MIGRATION` (mm/migrate.c, 6.3): the most base pages `migrate_pages()`
 * unmaps at once in one batch. It is `HPAGE_PMD_NR` with CONFIG_TRANSPARENT_HUGEPAGE (512
 * with 4 KiB pages), else 512, so that tasks faulting on migration entries wait about as
 * long as for the migration of one THP (cover letter of the series, 42012e0436d4).
 */
export const NR_MAX_BATCHED_MIGRATION = HPAGE_PMD_NR;

/** `NR_MAX_MIGRATE_PAGES_RETRY`: passes for hugetlb folios and for MIGRATE_ASYNC callers. */
export const NR_MAX_MIGRATE_PAGES_RETRY = 10;

/**
 * `NR_MAX_MIGRATE_ASYNC_RETRY` (6.3-rc3, 2ef7dbb26990): passes of the asynchronous batched
 * first attempt that `migrate_pages_sync()` makes for a synchronous caller.
 */
export const NR_MAX_MIGRATE_ASYNC_RETRY = 3;

/**
 * `NR_MAX_MIGRATE_SYNC_RETRY` = NR_MAX_MIGRATE_PAGES_RETRY - NR_MAX_MIGRATE_ASYNC_RETRY:
 * passes of each one-folio synchronous retry, so that a folio still gets 10 passes in all
 * (Hugh Dickins asked that the total stay 10).
 */
export const NR_MAX_MIGRATE_SYNC_RETRY = NR_MAX_MIGRATE_PAGES_RETRY - NR_MAX_MIGRATE_ASYNC_RETRY;

/** `MIGRATEPAGE_SUCCESS` (include/linux/migrate.h). */
export const MIGRATEPAGE_SUCCESS = 0;

/**
 * `MIGRATEPAGE_UNMAP` (mm/migrate.c, 6.3-rc1 and later, internal): `migrate_folio_unmap`
 * unmapped the folio; it now waits, locked, for the move phase.
 */
export const MIGRATEPAGE_UNMAP = 1;

/**
 * `AOP_WRITEPAGE_ACTIVATE` (include/linux/fs.h): a `->writepage` that returns it has not
 * written the folio and has left it locked.
 */
export const AOP_WRITEPAGE_ACTIVATE = 0x80000;

/* isolate_mode_t (include/linux/mmzone.h, 6.3), passed to movable_operations.isolate_page. */

/** `ISOLATE_UNMAPPED`: isolate unmapped pages only. */
export const ISOLATE_UNMAPPED = 0x2;
/** `ISOLATE_ASYNC_MIGRATE`: isolate for asynchronous migration. */
export const ISOLATE_ASYNC_MIGRATE = 0x4;
/** `ISOLATE_UNEVICTABLE`: isolate unevictable pages too. */
export const ISOLATE_UNEVICTABLE = 0x8;
