import type { PhysicalMemory } from '@mmsim/folio';
import type { PageLocks } from '@mmsim/page-lock';
import type { FaultPoint, Runtime, Tracepoint, VmStat } from '@mmsim/runtime';
import type { MmsimFolioCopiedEvent } from './tracepoints.js';
import type { FolioCopyStep } from './variant-steps.js';

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
   * The variant's replacement of `folio_copy()` (`steps.folioCopy`), which
   * `folio_migrate_copy()` calls instead of copying the pages itself; absent for the
   * built-in copy.
   */
  readonly folioCopy?: FolioCopyStep;
  /**
   * The variant's `norefsLockCoversCopy`: `buffer_migrate_folio_norefs` holds the
   * mapping's `i_private_lock` through the copy (5.0 to 6.15-rc3). Absent means true.
   */
  readonly norefsLockCoversCopy?: boolean;
  /**
   * The kernel version's `__migrate_folio` order (the variant's `copyBeforeFreeze`): copy
   * with `folio_mc_copy` before the reference freeze (6.12) instead of after the mapping
   * moved (6.3).
   */
  readonly copyBeforeFreeze: boolean;
  /**
   * The variant's `migrateMovesShmemThps`: `folio_migrate_mapping` moves NR_SHMEM_THPS of a
   * PMD-size shmem folio to the new node (6.5). Absent means false (6.3).
   */
  readonly migrateMovesShmemThps?: boolean;
  /** The `mmsim_folio_copied` model event, emitted by every copy of a move. */
  readonly folioCopied: Tracepoint<MmsimFolioCopiedEvent>;
  /**
   * The variant's `copyStrategy` is `'batch-precopy'`: `folio_migrate_copy` skips the copy
   * of a dst marked FOLIO_CONTENT_COPIED (absent or false: it never does).
   */
  readonly batchPrecopy?: boolean;
  /**
   * Fault site `migrate.extra_ref`: when it fires, a speculative user (GUP-fast, a page-cache
   * lookup's `folio_try_get`) holds a transient reference to src across the refcount check
   * of `folio_migrate_mapping`, which then fails with -EAGAIN. Absent: never.
   */
  readonly extraRefFault?: FaultPoint;
  /** `WARN_ON_ONCE` at `site`: records `message` in the core's warnings the first time only. */
  warnOnce(site: string, message: string): void;
  /** `invalidate_bh_lrus()`: drop the per-CPU buffer-head LRU references (a no-op by default). */
  invalidateBhLrus(): void;
}
