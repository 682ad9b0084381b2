import { MmsimError, VmEvent, type VmStat } from '@mmsim/runtime';
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

  /** Bytes of the buffer a `ReasonCosts` keeps its columns in. */
  static readonly BYTES = REASON_COST_COLUMNS * MR_TYPES * 8;

  /**
   * All zero. With `buffer` (zeroed, at least `ReasonCosts.BYTES` bytes: the machine's
   * recycled buffer, say) the columns live in it; else in a buffer of their own. The seven
   * columns are views of one buffer either way: a typed array of more than 64 bytes with a
   * buffer of its own gets a backing store outside the heap (about a microsecond to make,
   * and one more thing for the collector to sweep), and every machine an explorer builds
   * has a ReasonCosts.
   */
  constructor(buffer?: ArrayBuffer) {
    if (
      buffer !== undefined &&
      !(buffer instanceof ArrayBuffer && buffer.byteLength >= ReasonCosts.BYTES)
    ) {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        `ReasonCosts: buffer must be an ArrayBuffer of at least ${ReasonCosts.BYTES} bytes`,
      );
    }
    const b = buffer ?? new ArrayBuffer(ReasonCosts.BYTES);
    const bytes = MR_TYPES * 8;
    this.calls = new Float64Array(b, 0, MR_TYPES);
    this.ns = new Float64Array(b, bytes, MR_TYPES);
    this.succeeded = new Float64Array(b, 2 * bytes, MR_TYPES);
    this.failed = new Float64Array(b, 3 * bytes, MR_TYPES);
    this.split = new Float64Array(b, 4 * bytes, MR_TYPES);
    this.ipis = new Float64Array(b, 5 * bytes, MR_TYPES);
    this.retries = new Float64Array(b, 6 * bytes, MR_TYPES);
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
