/**
 * @mmsim/page-lock: PG_locked and PG_writeback waits on the hashed folio wait queues of
 * Linux 6.3 with the fair lock hand-off, buffer-head locks, and a page-lock dependency
 * checker (what lockdep cannot do for PG_locked).
 */

// Buffer heads.
export type { BufferHead } from './buffer-head.js';
// Kernel constants.
export {
  BH_Dirty,
  BH_Lock,
  BH_Mapped,
  BH_Req,
  BH_Uptodate,
  DEFAULT_PAGE_LOCK_UNFAIRNESS,
  PAGE_WAIT_TABLE_BITS,
  PAGE_WAIT_TABLE_SIZE,
  WAIT_TABLE_BITS,
  WAIT_TABLE_SIZE,
  WQ_FLAG_CUSTOM,
  WQ_FLAG_DONE,
  WQ_FLAG_EXCLUSIVE,
  WQ_FLAG_WOKEN,
} from './constants.js';
// The dependency checker and its reports.
export {
  DependencyChecker,
  type DependencyCheckerOptions,
  type DependencyEdge,
  type HeldKind,
  type HeldLock,
  type InversionReport,
} from './dependency-checker.js';

// The folio wait table: hashing, waiters.
export type { FolioWaiter, WaitBehavior } from './folio-wait-table.js';
export { formatInversion } from './format-inversion.js';
export { bitWaitTableIndex, folioWaitTableIndex } from './hash.js';
export { PageLockTable } from './page-lock-table.js';
// The interface the rest of mmsim imports (as a type), and its default implementation.
export type { PageLockOptions, PageLocks } from './page-locks.js';
