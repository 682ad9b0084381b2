import { VmEvent, type VmStat } from '@mmsim/runtime';
import { MIGRATE_REASON_NAMES, type MigrateReason, MR_TYPES } from './reasons.js';
import type { MigratePagesStats } from './stats.js';

/** One row of `ReasonCosts.table()`: what the `migrate_pages()` calls of one reason cost. */
export interface ReasonCostRow {
  /** `migrate_reason_names[]` spelling (`numa_misplaced`, `demotion`, ...). */
  readonly reason: string;
  /** `migrate_pages()` calls. */
  readonly calls: number;
  /** Virtual time between entry and return of those calls, on the calling CPU, in ns. */
  readonly ns: number;
  /** Base pages migrated (`nr_succeeded`): each one's contents copied once. */
  readonly succeeded: number;
  /** Base pages that failed (`nr_failed_pages`). */
  readonly failed: number;
  /** Large folios split to be migrated (`nr_split`, or `nr_thp_split` where that is 0). */
  readonly split: number;
  /** TLB shootdown IPIs received while a call was running (`nr_tlb_remote_flush_received`). */
  readonly ipis: number;
  /**
   * Retries: each time a pass of `migrate_pages()` got -EAGAIN for a folio (the kernel's
   * `retry` / `large_retry` / `thp_retry` increments, hugetlb folios and the
   * MR_LONGTERM_PIN split retry included), counted whether or not a later pass follows.
   */
  readonly retries: number;
}

/** The columns of `ReasonCosts`, each one slot per reason. */
const REASON_COST_COLUMNS = 7;

/**
 * Cost attribution per `migrate_reason` (a model counter, no kernel equivalent): each
 * engine calls `begin` on entry to `migrate_pages()` and `end` before it returns, with the
 * call's `struct migrate_pages_stats`. Fixed arrays indexed by reason: nothing is allocated
 * per call or per folio. IPIs are the global `nr_tlb_remote_flush_received` delta over the
 * call, so calls that overlap in time (on other CPUs) are each charged the IPIs of both.
 */
export class ReasonCosts {
  readonly calls: Float64Array;
  readonly ns: Float64Array;
  readonly succeeded: Float64Array;
  readonly failed: Float64Array;
  readonly split: Float64Array;
  readonly ipis: Float64Array;
  /** Folio retries (-EAGAIN in a pass), incremented by the engines as they happen. */
  readonly retries: Float64Array;

  constructor() {
    // The seven columns are views of one buffer: a typed array of more than 64 bytes gets a
    // backing store of its own outside the heap (about a microsecond each to make, and one
    // more thing for the collector to sweep), and every machine an explorer builds has a
    // ReasonCosts.
    const buffer = new ArrayBuffer(REASON_COST_COLUMNS * MR_TYPES * 8);
    const column = (i: number) => new Float64Array(buffer, i * MR_TYPES * 8, MR_TYPES);
    this.calls = column(0);
    this.ns = column(1);
    this.succeeded = column(2);
    this.failed = column(3);
    this.split = column(4);
    this.ipis = column(5);
    this.retries = column(6);
  }

  /** The IPI counter a call starts from (pass it back to `end`). */
  ipiMark(vmstat: VmStat): number {
    return vmstat.vmEvent(VmEvent.NR_TLB_REMOTE_FLUSH_RECEIVED);
  }

  end(
    reason: MigrateReason,
    stats: MigratePagesStats,
    elapsedNs: number,
    ipisSince: number,
    vmstat: VmStat,
  ): void {
    this.calls[reason]!++;
    this.ns[reason]! += elapsedNs;
    this.succeeded[reason]! += stats.nrSucceeded;
    this.failed[reason]! += stats.nrFailedPages;
    this.split[reason]! += stats.nrSplit > 0 ? stats.nrSplit : stats.nrThpSplit;
    this.ipis[reason]! += vmstat.vmEvent(VmEvent.NR_TLB_REMOTE_FLUSH_RECEIVED) - ipisSince;
  }

  /** The reasons that had at least one call, in enum order. */
  table(): ReasonCostRow[] {
    const rows: ReasonCostRow[] = [];
    for (let r = 0; r < MR_TYPES; r++) {
      if (this.calls[r] === 0) continue;
      rows.push({
        reason: MIGRATE_REASON_NAMES[r] ?? String(r),
        calls: this.calls[r]!,
        ns: this.ns[r]!,
        succeeded: this.succeeded[r]!,
        failed: this.failed[r]!,
        split: this.split[r]!,
        ipis: this.ipis[r]!,
        retries: this.retries[r]!,
      });
    }
    return rows;
  }
}
