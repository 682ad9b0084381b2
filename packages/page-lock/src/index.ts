// biome-ignore-all assist/source/organizeImports: this file is the package's table of contents, kept in reading order by section
/**
 * @mmsim/page-lock: PG_locked and PG_writeback waits on the hashed folio wait queues of
 * Linux 6.3 with the fair lock hand-off, buffer-head locks, and a page-lock dependency
 * checker (what lockdep cannot do for PG_locked).
 *
 * This is the public surface: the `PageLocks` interface and its default implementation,
 * the kernel constants, buffer heads, and the dependency checker with its reports. The
 * step functions behind `PageLockTable` and its shared state are in
 * `@mmsim/page-lock/internal`, which may change in any release.
 */

// The interface the rest of mmsim imports (as a type), and its default implementation.
export type { PageLockOptions, PageLocks } from './page-locks.js';
export { PageLockTable } from './page-lock-table.js';

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

// Buffer heads.
export type { BufferHead } from './buffer-head.js';

// Who waits on a folio (`PageLocks.folioWaiters`).
export type { FolioWaiter, WaitBehavior } from './folio-wait-table.js';

// The dependency checker and its reports.
export {
  DependencyChecker,
  type DependencyCheckerOptions,
  type DependencyEdge,
  type HeldKind,
  type HeldLock,
  type InversionReport,
} from './dependency-checker.js';
export { formatInversion } from './format-inversion.js';
