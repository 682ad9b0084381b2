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
  /**
   * `nr_split`: large folios (THPs included) split before migrating. The kernel has it
   * from 6.7 ("mm/migrate: correct nr_failed in migrate_pages_sync()"); the batch engine
   * counts it in every variant, the v6.2 engine leaves it 0. Only variants with
   * `countsNrSplit` count it as failures and print it in `mm_migrate_pages`.
   */
  readonly nrSplit: number;
}

/** The mutable form the engine fills in. */
export class MigrateStats implements MigratePagesStats {
  nrSucceeded = 0;
  nrFailedPages = 0;
  nrThpSucceeded = 0;
  nrThpFailed = 0;
  nrThpSplit = 0;
  nrSplit = 0;

  /** A frozen copy. */
  snapshot(): MigratePagesStats {
    return Object.freeze({
      nrSucceeded: this.nrSucceeded,
      nrFailedPages: this.nrFailedPages,
      nrThpSucceeded: this.nrThpSucceeded,
      nrThpFailed: this.nrThpFailed,
      nrThpSplit: this.nrThpSplit,
      nrSplit: this.nrSplit,
    });
  }
}

/**
 * A MigrateStats that lives as long as the module, never used. V8 keeps the hidden class of
 * MigrateStats instances (one per migrate_pages call) only while one of them is alive: a
 * full collection between two calls would free it and discard the optimised code of every
 * function that updates the counters, which the next call (on the next machine) would run
 * in the interpreter until it is hot again.
 */
export const STATS_SHAPE_HOLDER: object = new MigrateStats();

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
    if (env.variant.countsNrSplit) {
      // 6.7+: the event carries large_folio_split, printed as nr_split.
      tp.emit({
        succeeded: stats.nrSucceeded,
        failed: stats.nrFailedPages,
        thp_succeeded: stats.nrThpSucceeded,
        thp_failed: stats.nrThpFailed,
        thp_split: stats.nrThpSplit,
        large_folio_split: stats.nrSplit,
        mode,
        reason,
      });
    } else {
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
}
