import { MmsimError } from '@mmsim/runtime';

/**
 * `enum migrate_mode` (include/linux/migrate_mode.h, Linux 6.3), in its order. The code
 * compares modes only for equality; "sync" means any mode other than MIGRATE_ASYNC.
 */

/** Never block. */
export const MIGRATE_ASYNC = 0;
/** May block on most things, but not on writeback or long I/O. */
export const MIGRATE_SYNC_LIGHT = 1;
/** May block. */
export const MIGRATE_SYNC = 2;
/**
 * Like MIGRATE_SYNC, but the callbacks do not copy the data (device DMA migration copies
 * it). Present in 6.3; removed in 6.10 ("mm/migrate: remove MIGRATE_SYNC_NO_COPY mode").
 */
export const MIGRATE_SYNC_NO_COPY = 3;

export type MigrateMode =
  | typeof MIGRATE_ASYNC
  | typeof MIGRATE_SYNC_LIGHT
  | typeof MIGRATE_SYNC
  | typeof MIGRATE_SYNC_NO_COPY;

/** The enum names, by value. */
export const MIGRATE_MODE_NAMES = [
  'MIGRATE_ASYNC',
  'MIGRATE_SYNC_LIGHT',
  'MIGRATE_SYNC',
  'MIGRATE_SYNC_NO_COPY',
] as const;

/** `MIGRATE_ASYNC` for 0, ...: the enum name of a mode. */
export function migrateModeName(mode: MigrateMode): string {
  return MIGRATE_MODE_NAMES[mode] ?? String(mode);
}

/**
 * How the migrate tracepoints print a mode: `__print_symbolic(mode, MIGRATE_MODE)` of
 * include/trace/events/migrate.h (6.3), whose table lists MIGRATE_ASYNC,
 * MIGRATE_SYNC_LIGHT and MIGRATE_SYNC only; any other value prints as hex (`0x3`).
 */
export function migrateModeTraceString(mode: number): string {
  if (mode === MIGRATE_ASYNC || mode === MIGRATE_SYNC_LIGHT || mode === MIGRATE_SYNC) {
    return MIGRATE_MODE_NAMES[mode];
  }
  return `0x${mode.toString(16)}`;
}

/** Throws INVALID_ARGUMENT unless `mode` is a `MigrateMode`. */
export function checkMigrateMode(mode: unknown): asserts mode is MigrateMode {
  if (mode !== 0 && mode !== 1 && mode !== 2 && mode !== 3) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `mode must be MIGRATE_ASYNC (0), MIGRATE_SYNC_LIGHT (1), MIGRATE_SYNC (2) or MIGRATE_SYNC_NO_COPY (3), got ${String(mode)}`,
    );
  }
}
