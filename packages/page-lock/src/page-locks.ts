import type { Folio } from '@mmsim/folio';
import type { KernelGen, Spinlock, Task } from '@mmsim/runtime';
import type { BufferHead } from './buffer-head.js';
import type { DependencyChecker, DependencyCheckerOptions } from './dependency-checker.js';
import type { FolioWaiter } from './folio-wait-table.js';

/** Options of `PageLockTable`. */
export interface PageLockOptions {
  /**
   * `sysctl_page_lock_unfairness` (mm/filemap.c): how many times a woken lock waiter may
   * find its lock stolen before the unlocker hands the lock over. Default 5; 0 hands over
   * on the first wake-up.
   */
  readonly pageLockUnfairness?: number;
  /** Turn the page-lock dependency checker on (`true`, or its options). Default off. */
  readonly dependencyChecking?: boolean | DependencyCheckerOptions;
}

/**
 * The page lock, writeback and buffer-lock primitives the rest of mmsim (the migrate core
 * in particular) uses, as an interface: import it as a type and get an implementation
 * (`PageLockTable`, or a fake in a unit test) from the composition root.
 *
 * Conventions: every function that may sleep is a generator, called with `yield*`, and
 * must run in a task; `caller` names the kernel function that calls it (the `waitsIn` of a
 * sleep, and the function the dependency checker reports). The uncontended path creates
 * no generator:
 *
 * ```ts
 * if (!locks.folioLockFast(folio, 'migrate_folio_unmap')) {
 *   yield* locks.folioLockContended(folio, 'migrate_folio_unmap');
 * }
 * ```
 *
 * Misuse (unlocking a lock you do not hold, sleeping on a lock you hold, starting
 * writeback without the folio lock...) throws an `MmsimError` that names the task and the
 * folio, and changes nothing.
 */
export interface PageLocks {
  /** `page_lock_unfairness` of this instance. */
  readonly pageLockUnfairness: number;
  /** The dependency checker, or null when it is off. */
  readonly checker: DependencyChecker | null;

  // PG_locked

  /** `folio_trylock`: take the lock if it is free. A trylock adds no dependency into it. */
  folioTrylock(folio: Folio, caller?: string): boolean;
  /**
   * The uncontended half of `folio_lock` (`might_sleep` + `folio_trylock`); if it returns
   * false, `yield* folioLockContended`. Counts as a sleeping lock attempt for the checker.
   */
  folioLockFast(folio: Folio, caller?: string): boolean;
  /** `__folio_lock`: sleep (TASK_UNINTERRUPTIBLE) until the lock is taken. */
  folioLockContended(folio: Folio, caller?: string): KernelGen;
  /** `folio_lock`: `folioLockFast`, then `folioLockContended` if needed. */
  folioLock(folio: Folio, caller?: string): KernelGen;
  /** `__folio_lock_killable`: like folioLockContended, but returns -EINTR on a fatal signal. */
  folioLockKillableContended(folio: Folio, caller?: string): KernelGen<number>;
  /** `folio_lock_killable`: 0 with the lock held, or -EINTR on a fatal signal. */
  folioLockKillable(folio: Folio, caller?: string): KernelGen<number>;
  /** `folio_unlock`: only the owner may; wakes waiters. */
  folioUnlock(folio: Folio): void;
  /** `folio_wait_locked`: wait until the folio is unlocked (SHARED; refcount untouched). */
  folioWaitLocked(folio: Folio, caller?: string): KernelGen;
  /** `folio_wait_locked_killable`: 0, or -EINTR on a fatal signal. */
  folioWaitLockedKillable(folio: Folio, caller?: string): KernelGen<number>;
  /** `folio_put_wait_locked`: drop the caller's reference, then wait for the unlock (DROP). */
  folioPutWaitLocked(folio: Folio, killable: boolean, caller?: string): KernelGen<number>;
  /**
   * `migration_entry_wait_on_locked`: queue for the unlock of `folio` without a reference,
   * release the page-table lock `ptl` (held by the caller), sleep until the unlock.
   */
  migrationEntryWaitOnLocked(folio: Folio, ptl: Spinlock | null, caller?: string): KernelGen;
  /** Hands the lock of `folio` to `task` (which will unlock it, as I/O completion does). */
  folioLockTransfer(folio: Folio, task: Task): void;
  /** Who holds the lock of `folio`, or null. */
  folioLockOwner(folio: Folio): Task | null;
  /** The tasks waiting on `folio` (PG_locked or PG_writeback), queue order. */
  folioWaiters(folio: Folio): readonly FolioWaiter[];
  /**
   * How many tasks wait on `folio`: `folioWaiters(folio).length` without the list (the end
   * check asks it of every folio after each explored schedule). Optional: where a
   * replacement leaves it out, callers take `folioWaiters(folio).length`.
   */
  folioWaiterCount?(folio: Folio): number;

  // PG_writeback

  /** `folio_start_writeback`: the caller must hold the folio lock; it owns the writeback. */
  folioStartWriteback(folio: Folio, caller?: string): void;
  /** `folio_end_writeback`: any task; clears PG_writeback and wakes its waiters. */
  folioEndWriteback(folio: Folio): void;
  /** `folio_wait_writeback`: sleep while PG_writeback is set. */
  folioWaitWriteback(folio: Folio, caller?: string): KernelGen;
  /** Hands the writeback of `folio` to `task`, the one that will end it. */
  folioWritebackTransfer(folio: Folio, task: Task): void;
  /** Who owns the writeback of `folio`, or null when none is in flight. */
  folioWritebackOwner(folio: Folio): Task | null;

  // Buffer heads

  /** `create_empty_buffers`: attach `count` buffers to `folio`; returns the first. */
  createBuffers(folio: Folio, count: number, state?: number): BufferHead;
  /** `folio_buffers`: the folio's first buffer, or null. */
  folioBuffers(folio: Folio): BufferHead | null;
  /** `set_bh_page`: point a buffer at another folio (buffer migration). */
  setBhPage(bh: BufferHead, folio: Folio): void;
  /** `trylock_buffer`. */
  trylockBuffer(bh: BufferHead, caller?: string): boolean;
  /** The uncontended half of `lock_buffer`; if false, `yield* lockBufferContended`. */
  lockBufferFast(bh: BufferHead, caller?: string): boolean;
  /** `__lock_buffer`: sleep until BH_Lock is taken. */
  lockBufferContended(bh: BufferHead, caller?: string): KernelGen;
  /** `lock_buffer`. */
  lockBuffer(bh: BufferHead, caller?: string): KernelGen;
  /** `unlock_buffer`: only the owner may; wakes a waiter. */
  unlockBuffer(bh: BufferHead): void;
  /** `buffer_locked`. */
  bufferLocked(bh: BufferHead): boolean;
  /** Hands a buffer lock to `task`, which will unlock it (I/O completion). */
  bufferLockTransfer(bh: BufferHead, task: Task): void;
  /** Who holds a buffer's lock, or null. */
  bufferLockOwner(bh: BufferHead): Task | null;
  /** `get_bh`. */
  getBh(bh: BufferHead): void;
  /** `put_bh`. */
  putBh(bh: BufferHead): void;
  /** `buffer_uptodate`. */
  bufferUptodate(bh: BufferHead): boolean;
  /** `set_buffer_uptodate`. */
  setBufferUptodate(bh: BufferHead): void;
  /** `clear_buffer_uptodate`. */
  clearBufferUptodate(bh: BufferHead): void;
}
