import { type Runtime, type TraceEvent, type Tracepoint, traceEvent } from '@mmsim/runtime';
import { migrateModeTraceString } from './modes.js';
import { MIGRATE_REASON_NAMES } from './reasons.js';

/**
 * The migrate tracepoints (include/trace/events/migrate.h, Linux 6.3), each declared with
 * its TP_printk as TRACE_EVENT does. Fields keep the kernel's names and
 * `TP_STRUCT__entry` order.
 */

/** `mm_migrate_pages_start(mode, reason)`: fired on entry to `migrate_pages()`. */
export interface MmMigratePagesStart {
  readonly mode: number;
  readonly reason: number;
}

/**
 * `mm_migrate_pages(succeeded, failed, thp_succeeded, thp_failed, thp_split, mode,
 * reason)`: fired on every return of `migrate_pages()`. `failed` is `nr_failed_pages`.
 * 6.7+ adds `large_folio_split` after `thp_split`.
 */
export interface MmMigratePages {
  readonly succeeded: number;
  readonly failed: number;
  readonly thp_succeeded: number;
  readonly thp_failed: number;
  readonly thp_split: number;
  /**
   * `large_folio_split` (printed `nr_split`): in the event from 6.7 ("mm/migrate: add
   * nr_split to trace_mm_migrate_pages stats."); absent for the variants before.
   */
  readonly large_folio_split?: number;
  readonly mode: number;
  readonly reason: number;
}

/** `__print_symbolic(reason, MIGRATE_REASON)`; an unknown value prints in hex. */
function reasonString(reason: number): string {
  return MIGRATE_REASON_NAMES[reason] ?? `0x${reason.toString(16)}`;
}

/**
 * `mode=MIGRATE_SYNC reason=syscall_or_cpuset`. With `mm_migrate_pages` it brackets one
 * `migrate_pages()` call: a slice on a timeline.
 */
export const MM_MIGRATE_PAGES_START = traceEvent<MmMigratePagesStart>(
  'mm_migrate_pages_start',
  (f) => `mode=${migrateModeTraceString(f.mode)} reason=${reasonString(f.reason)}`,
  { slice: 'migrate_pages', phase: 'begin' },
);

/**
 * `nr_succeeded=512 nr_failed=0 nr_thp_succeeded=2 nr_thp_failed=0 nr_thp_split=0
 * mode=MIGRATE_SYNC reason=syscall_or_cpuset`; from 6.7 `nr_split=N` follows
 * `nr_thp_split`.
 */
export const MM_MIGRATE_PAGES = traceEvent<MmMigratePages>(
  'mm_migrate_pages',
  (f) =>
    `nr_succeeded=${f.succeeded} nr_failed=${f.failed} nr_thp_succeeded=${f.thp_succeeded} ` +
    `nr_thp_failed=${f.thp_failed} nr_thp_split=${f.thp_split} ` +
    (f.large_folio_split === undefined ? '' : `nr_split=${f.large_folio_split} `) +
    `mode=${migrateModeTraceString(f.mode)} reason=${reasonString(f.reason)}`,
  { slice: 'migrate_pages', phase: 'end' },
);

/** The tracepoints of one runtime's migrate core. */
export class MigrateTracepoints {
  readonly start: Tracepoint<MmMigratePagesStart>;
  readonly end: Tracepoint<MmMigratePages>;

  constructor(rt: Runtime) {
    this.start = rt.trace.define(MM_MIGRATE_PAGES_START);
    this.end = rt.trace.define(MM_MIGRATE_PAGES);
  }
}

/**
 * The TP_printk text of a migrate tracepoint event, or null for other events. Sinks need
 * not call it: `rt.trace.formatFields(event)` prints any defined event.
 */
export function formatMigrateEvent(event: TraceEvent): string | null {
  if (event.name === MM_MIGRATE_PAGES.name) {
    return MM_MIGRATE_PAGES.printk?.(event.fields as unknown as MmMigratePages) ?? null;
  }
  if (event.name === MM_MIGRATE_PAGES_START.name) {
    return MM_MIGRATE_PAGES_START.printk?.(event.fields as unknown as MmMigratePagesStart) ?? null;
  }
  return null;
}
