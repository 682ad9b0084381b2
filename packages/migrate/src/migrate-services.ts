import type { PhysicalMemory } from '@mmsim/folio';
import type { PageLocks } from '@mmsim/page-lock';
import type { Runtime, VmStat } from '@mmsim/runtime';

/**
 * What a filesystem's or driver's migration callback may use (`AddressSpaceOperations`'
 * `migrateFolio` / `writepage` / `releaseFolio`, `MovableOperations`' members): the runtime
 * (current task, costs), physical memory, the page and buffer locks, the node counters,
 * `WARN_ON_ONCE`, and `invalidate_bh_lrus()` for the buffer-head helpers. Kernel callbacks
 * reach the same things through globals; what they never see is the migrate core's own
 * state (the batch lists, the variant, the rmap it unmaps through), and neither do these.
 * One object per core, built once: passing it costs nothing per folio.
 */
export interface MigrateServices {
  readonly rt: Runtime;
  readonly mem: PhysicalMemory;
  readonly locks: PageLocks;
  readonly vmstat: VmStat;
  /**
   * The kernel version's MIGRATE_SYNC_LIGHT rule for the buffer helpers (the variant's
   * `syncLightNeedsUptodate`): give up on a contended buffer that is not uptodate
   * (4bb6dc79d987, 6.5) instead of sleeping in `lock_buffer` (6.3 and before).
   */
  readonly syncLightNeedsUptodate: boolean;
  /**
   * The variant's `copyStrategy` is `'batch-precopy'`: `folio_migrate_copy` skips the copy
   * of a dst marked FOLIO_CONTENT_COPIED (absent or false: it never does).
   */
  readonly batchPrecopy?: boolean;
  /** `WARN_ON_ONCE` at `site`: records `message` in the core's warnings the first time only. */
  warnOnce(site: string, message: string): void;
  /** `invalidate_bh_lrus()`: drop the per-CPU buffer-head LRU references (a no-op by default). */
  invalidateBhLrus(): void;
}
