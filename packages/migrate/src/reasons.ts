import { MmsimError } from '@mmsim/runtime';

/**
 * `enum migrate_reason` (include/linux/migrate_mode.h, Linux 6.3) and the strings of
 * `migrate_reason_names[]` (mm/debug.c), which the tracepoints print
 * (`MIGRATE_REASON` in include/trace/events/migrate.h).
 */

export const MR_COMPACTION = 0;
export const MR_MEMORY_FAILURE = 1;
export const MR_MEMORY_HOTPLUG = 2;
/** move_pages(2), migrate_pages(2) and cpuset. */
export const MR_SYSCALL = 3;
export const MR_MEMPOLICY_MBIND = 4;
/** NUMA balancing: a large folio is never split for it. */
export const MR_NUMA_MISPLACED = 5;
export const MR_CONTIG_RANGE = 6;
/** Long-term GUP pins: a split that fails with -EAGAIN is retried. */
export const MR_LONGTERM_PIN = 7;
export const MR_DEMOTION = 8;
/** `MR_TYPES`: the number of reasons. */
export const MR_TYPES = 9;

export type MigrateReason =
  | typeof MR_COMPACTION
  | typeof MR_MEMORY_FAILURE
  | typeof MR_MEMORY_HOTPLUG
  | typeof MR_SYSCALL
  | typeof MR_MEMPOLICY_MBIND
  | typeof MR_NUMA_MISPLACED
  | typeof MR_CONTIG_RANGE
  | typeof MR_LONGTERM_PIN
  | typeof MR_DEMOTION;

/** `migrate_reason_names[]`, by value. */
export const MIGRATE_REASON_NAMES = [
  'compaction',
  'memory_failure',
  'memory_hotplug',
  'syscall_or_cpuset',
  'mempolicy_mbind',
  'numa_misplaced',
  'contig_range',
  'longterm_pin',
  'demotion',
] as const;

/** The enum names, by value (`MR_COMPACTION`, ...). */
export const MIGRATE_REASON_ENUM_NAMES = [
  'MR_COMPACTION',
  'MR_MEMORY_FAILURE',
  'MR_MEMORY_HOTPLUG',
  'MR_SYSCALL',
  'MR_MEMPOLICY_MBIND',
  'MR_NUMA_MISPLACED',
  'MR_CONTIG_RANGE',
  'MR_LONGTERM_PIN',
  'MR_DEMOTION',
] as const;

/** The trace and debug string of a reason: `'syscall_or_cpuset'` for MR_SYSCALL. */
export function migrateReasonName(reason: MigrateReason): string {
  return MIGRATE_REASON_NAMES[reason] ?? String(reason);
}

/** Throws INVALID_ARGUMENT unless `reason` is a `MigrateReason`. */
export function checkMigrateReason(reason: unknown): asserts reason is MigrateReason {
  if (typeof reason !== 'number' || !Number.isInteger(reason) || reason < 0 || reason >= MR_TYPES) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `reason must be an MR_* value in [0, ${MR_TYPES - 1}] (MR_COMPACTION .. MR_DEMOTION), got ${String(reason)}`,
    );
  }
}
