import { VmEvent, type VmStat } from '@mmsim/runtime';
import type { MigrateEnv } from './migrate-env.js';
import type { MigrateMode } from './modes.js';
import type { MigrateReason } from './reasons.js';

/**
 * `struct migrate_pages_stats` (mm/migrate.c, Linux 6.3): what one `migrate_pages()` call
 * did. Units: base pages for the first two, folios for the THP counters.
 */
export interface MigratePagesStats {
  /** `nr_succeeded`: base pages migrated (small, large and hugetlb folios). */
  readonly nrSucceeded: number;
  /** `nr_failed_pages`: base pages that failed; folios never tried are not counted. */
  readonly nrFailedPages: number;
  /** `nr_thp_succeeded`: PMD-mappable large folios (THPs) migrated. */
  readonly nrThpSucceeded: number;
  /** `nr_thp_failed`: THPs that failed (a split THP counts as one failure). */
  readonly nrThpFailed: number;
  /** `nr_thp_split`: THPs split before migrating. */
  readonly nrThpSplit: number;
}

/** The mutable form the engine fills in. */
export class MigrateStats implements MigratePagesStats {
  nrSucceeded = 0;
  nrFailedPages = 0;
  nrThpSucceeded = 0;
  nrThpFailed = 0;
  nrThpSplit = 0;

  /** A frozen copy. */
  snapshot(): MigratePagesStats {
    return Object.freeze({
      nrSucceeded: this.nrSucceeded,
      nrFailedPages: this.nrFailedPages,
      nrThpSucceeded: this.nrThpSucceeded,
      nrThpFailed: this.nrThpFailed,
      nrThpSplit: this.nrThpSplit,
    });
  }
}

/**
 * The `count_vm_events` at the end of `migrate_pages()` (6.3), made on every return path:
 * pgmigrate_success and pgmigrate_fail in base pages, thp_migration_success,
 * thp_migration_fail and thp_migration_split in THPs.
 */
export function countMigrateVmEvents(vmstat: VmStat, stats: MigratePagesStats): void {
  vmstat.countVmEvents(VmEvent.PGMIGRATE_SUCCESS, stats.nrSucceeded);
  vmstat.countVmEvents(VmEvent.PGMIGRATE_FAIL, stats.nrFailedPages);
  vmstat.countVmEvents(VmEvent.THP_MIGRATION_SUCCESS, stats.nrThpSucceeded);
  vmstat.countVmEvents(VmEvent.THP_MIGRATION_FAIL, stats.nrThpFailed);
  vmstat.countVmEvents(VmEvent.THP_MIGRATION_SPLIT, stats.nrThpSplit);
}

/**
 * What every return path of `migrate_pages()` (6.3) does last, in either engine: the vm
 * events (`countMigrateVmEvents`), then the `mm_migrate_pages` tracepoint.
 */
export function migratePagesEnd(
  env: MigrateEnv,
  stats: MigratePagesStats,
  mode: MigrateMode,
  reason: MigrateReason,
): void {
  countMigrateVmEvents(env.vmstat, stats);
  const tp = env.tp.end;
  if (tp.enabled) {
    tp.emit({
      succeeded: stats.nrSucceeded,
      failed: stats.nrFailedPages,
      thp_succeeded: stats.nrThpSucceeded,
      thp_failed: stats.nrThpFailed,
      thp_split: stats.nrThpSplit,
      mode,
      reason,
    });
  }
}
