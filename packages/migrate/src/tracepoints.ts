import type { Runtime, TraceEvent, Tracepoint } from '@mmsim/runtime';
import { migrateModeTraceString } from './modes.js';
import { MIGRATE_REASON_NAMES } from './reasons.js';

/**
 * The migrate tracepoints (include/trace/events/migrate.h, Linux 6.3). Fields keep the
 * kernel's names and `TP_STRUCT__entry` order; `formatMigrateEvent` prints `TP_printk`.
 */

/** `mm_migrate_pages_start(mode, reason)`: fired on entry to `migrate_pages()`. */
export interface MmMigratePagesStart {
  readonly mode: number;
  readonly reason: number;
}

/**
 * `mm_migrate_pages(succeeded, failed, thp_succeeded, thp_failed, thp_split, mode,
 * reason)`: fired on every return of `migrate_pages()`. `failed` is `nr_failed_pages`.
 */
export interface MmMigratePages {
  readonly succeeded: number;
  readonly failed: number;
  readonly thp_succeeded: number;
  readonly thp_failed: number;
  readonly thp_split: number;
  readonly mode: number;
  readonly reason: number;
}

/** The tracepoints of one runtime's migrate core. */
export class MigrateTracepoints {
  readonly start: Tracepoint<MmMigratePagesStart>;
  readonly end: Tracepoint<MmMigratePages>;

  constructor(rt: Runtime) {
    this.start = rt.trace.define<MmMigratePagesStart>('mm_migrate_pages_start');
    this.end = rt.trace.define<MmMigratePages>('mm_migrate_pages');
  }
}

function reasonString(reason: number): string {
  return MIGRATE_REASON_NAMES[reason] ?? `0x${reason.toString(16)}`;
}

/**
 * The `TP_printk` text of a migrate tracepoint event, as ftrace prints it after the
 * `name:` prefix; null for other events.
 *
 * - mm_migrate_pages: `nr_succeeded=512 nr_failed=0 nr_thp_succeeded=2 nr_thp_failed=0
 *   nr_thp_split=0 mode=MIGRATE_SYNC reason=syscall_or_cpuset`
 * - mm_migrate_pages_start: `mode=MIGRATE_SYNC reason=syscall_or_cpuset`
 */
export function formatMigrateEvent(event: TraceEvent): string | null {
  const f = event.fields as Record<string, number>;
  if (event.name === 'mm_migrate_pages') {
    return (
      `nr_succeeded=${f.succeeded} nr_failed=${f.failed} nr_thp_succeeded=${f.thp_succeeded} ` +
      `nr_thp_failed=${f.thp_failed} nr_thp_split=${f.thp_split} ` +
      `mode=${migrateModeTraceString(f.mode ?? 0)} reason=${reasonString(f.reason ?? 0)}`
    );
  }
  if (event.name === 'mm_migrate_pages_start') {
    return `mode=${migrateModeTraceString(f.mode ?? 0)} reason=${reasonString(f.reason ?? 0)}`;
  }
  return null;
}
