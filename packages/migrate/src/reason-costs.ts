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
/** Where each column starts in `ReasonCosts`'s one view (in slots). */
const CALLS = 0;
const NS = MR_TYPES;
const SUCCEEDED = 2 * MR_TYPES;
const FAILED = 3 * MR_TYPES;
const SPLIT = 4 * MR_TYPES;
const IPIS = 5 * MR_TYPES;
const RETRIES = 6 * MR_TYPES;

/**
 * Cost attribution per `migrate_reason` (a model counter, no kernel equivalent): each
 * engine calls `begin` on entry to `migrate_pages()` and `end` before it returns, with the
 * call's `struct migrate_pages_stats`. Fixed arrays indexed by reason: nothing is allocated
 * per call or per folio. IPIs are the global `nr_tlb_remote_flush_received` delta over the
 * call, so calls that overlap in time (on other CPUs) are each charged the IPIs of both.
 */
export class ReasonCosts {
  /** The seven columns in one view of the buffer: column `c` of reason `r` at `c * MR_TYPES + r`. */
  readonly #all: Float64Array;
  /** The columns' own views, made when a column is first read (`#column`); null until then. */
  #views: (Float64Array | undefined)[] | null = null;

  /** `migrate_pages()` calls per reason. */
  get calls(): Float64Array {
    return this.#column(CALLS);
  }
  /** Virtual ns inside those calls per reason. */
  get ns(): Float64Array {
    return this.#column(NS);
  }
  /** Base pages migrated per reason. */
  get succeeded(): Float64Array {
    return this.#column(SUCCEEDED);
  }
  /** Base pages that failed per reason. */
  get failed(): Float64Array {
    return this.#column(FAILED);
  }
  /** Large folios split per reason. */
  get split(): Float64Array {
    return this.#column(SPLIT);
  }
  /** TLB shootdown IPIs received during the calls, per reason. */
  get ipis(): Float64Array {
    return this.#column(IPIS);
  }
  /** Folio retries (-EAGAIN in a pass), incremented by the engines as they happen (`retry`). */
  get retries(): Float64Array {
    return this.#column(RETRIES);
  }

  /** Bytes of the buffer a `ReasonCosts` keeps its columns in. */
  static readonly BYTES = REASON_COST_COLUMNS * MR_TYPES * 8;

  /**
   * All zero. With `buffer` (zeroed, at least `ReasonCosts.BYTES` bytes: the machine's
   * recycled buffer, say) the columns live in it; else in a buffer of their own. One view
   * of one buffer either way: a typed array of more than 64 bytes with a buffer of its own
   * gets a backing store outside the heap (about a microsecond to make, and one more thing
   * for the collector to sweep), and every machine an explorer builds has a ReasonCosts.
   * The engines write through that one view; a column's own view (`calls`, `retries`...)
   * is made only when something reads it (a table, a test), not for every machine.
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
    this.#all = new Float64Array(b, 0, REASON_COST_COLUMNS * MR_TYPES);
  }

  /** The IPI counter a call starts from (pass it back to `end`). */
  ipiMark(vmstat: VmStat): number {
    return vmstat.vmEvent(VmEvent.NR_TLB_REMOTE_FLUSH_RECEIVED);
  }

  /** One more folio retry (-EAGAIN in a pass) of a call for `reason`. */
  retry(reason: MigrateReason): void {
    this.#all[RETRIES + reason]!++;
  }

  /**
   * Adds one finished call: `elapsedNs` of virtual time, the call's statistics, and the
   * IPIs received since `ipisSince` (`ipiMark`).
   */
  end(
    reason: MigrateReason,
    stats: MigratePagesStats,
    elapsedNs: number,
    ipisSince: number,
    vmstat: VmStat,
  ): void {
    const a = this.#all;
    a[CALLS + reason]!++;
    a[NS + reason]! += elapsedNs;
    a[SUCCEEDED + reason]! += stats.nrSucceeded;
    a[FAILED + reason]! += stats.nrFailedPages;
    a[SPLIT + reason]! += stats.nrSplit > 0 ? stats.nrSplit : stats.nrThpSplit;
    a[IPIS + reason]! += vmstat.vmEvent(VmEvent.NR_TLB_REMOTE_FLUSH_RECEIVED) - ipisSince;
  }

  /** The reasons that had at least one call, in enum order. */
  table(): ReasonCostRow[] {
    const a = this.#all;
    const rows: ReasonCostRow[] = [];
    for (let r = 0; r < MR_TYPES; r++) {
      if (a[CALLS + r] === 0) continue;
      rows.push({
        reason: MIGRATE_REASON_NAMES[r] ?? String(r),
        calls: a[CALLS + r]!,
        ns: a[NS + r]!,
        succeeded: a[SUCCEEDED + r]!,
        failed: a[FAILED + r]!,
        split: a[SPLIT + r]!,
        ipis: a[IPIS + r]!,
        retries: a[RETRIES + r]!,
      });
    }
    return rows;
  }

  /** The view of the column that starts at `offset` of `#all`, made on its first read. */
  #column(offset: number): Float64Array {
    const c = offset / MR_TYPES;
    if (this.#views === null) this.#views = [];
    let view = this.#views[c];
    if (view === undefined) {
      const all = this.#all;
      view = new Float64Array(all.buffer, all.byteOffset + offset * 8, MR_TYPES);
      this.#views[c] = view;
    }
    return view;
  }
}
