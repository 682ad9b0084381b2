import { type Folio, frameArrayI32, type PhysicalMemory } from '@mmsim/folio';
import {
  FP_FOLIO,
  type KernelGen,
  MmsimError,
  type Resource,
  type Runtime,
  type Spinlock,
  type Task,
  type WaitQueue,
} from '@mmsim/runtime';
import { BitWaitTable } from './bit-wait-table.js';
import { asBh, type BufferHead } from './buffer-head.js';
import * as bufferLock from './buffer-lock.js';
import * as buffers from './buffers.js';
import { BH_Lock, DEFAULT_PAGE_LOCK_UNFAIRNESS } from './constants.js';
import { DependencyChecker } from './dependency-checker.js';
import * as folioLock from './folio-lock.js';
import { type FolioWaiter, FolioWaitTable } from './folio-wait-table.js';
import type { PageLockState } from './page-lock-state.js';
import type { PageLockOptions, PageLocks } from './page-locks.js';
import * as writeback from './writeback.js';

function checkOptions(options: PageLockOptions): number {
  if (typeof options !== 'object' || options === null) {
    throw new MmsimError('INVALID_CONFIG', 'PageLockTable options must be an object');
  }
  const unfairness = options.pageLockUnfairness ?? DEFAULT_PAGE_LOCK_UNFAIRNESS;
  if (!Number.isInteger(unfairness) || unfairness < 0 || unfairness > 0x7fffffff) {
    throw new MmsimError(
      'INVALID_CONFIG',
      `pageLockUnfairness must be an integer in [0, 2^31 - 1], got ${String(unfairness)}`,
    );
  }
  const dc = options.dependencyChecking;
  if (dc !== undefined && typeof dc !== 'boolean' && (typeof dc !== 'object' || dc === null)) {
    throw new MmsimError(
      'INVALID_CONFIG',
      `dependencyChecking must be a boolean or an options object, got ${String(dc)}`,
    );
  }
  return unfairness;
}

/**
 * The default `PageLocks`: PG_locked and PG_writeback waits on the 256 hashed folio wait
 * queues of mm/filemap.c (Linux 6.3) with the fair lock hand-off, buffer-head locks on the
 * hashed bit wait table, an owner for every locked folio, buffer and writeback, and an
 * optional page-lock dependency checker.
 *
 * One instance serves one `Runtime` and one `PhysicalMemory`. Owners are kept in arrays
 * indexed by pfn, so the uncontended lock and unlock allocate nothing.
 */
export class PageLockTable implements PageLocks {
  readonly pageLockUnfairness: number;
  readonly checker: DependencyChecker | null;
  readonly #ctx: PageLockState;
  readonly #ids: buffers.BufferIds = { next: 1 };

  constructor(rt: Runtime, mem: PhysicalMemory, options: PageLockOptions = {}) {
    const unfairness = checkOptions(options);
    const dc = options.dependencyChecking ?? false;
    this.pageLockUnfairness = unfairness;
    this.checker = dc === false ? null : new DependencyChecker(dc === true ? {} : dc);
    // Per-frame tables of the machine (recycled with it when it was built with a recycler).
    const owner = frameArrayI32(mem);
    this.#ctx = {
      rt,
      mem,
      owner,
      wbOwner: frameArrayI32(mem),
      waits: new FolioWaitTable(rt, mem, owner, unfairness),
      bitWaits: new BitWaitTable(rt),
      checker: this.checker,
      resources: new Map<number, Resource>(),
    };
  }

  /** The hashed queue `folio`'s waiters sleep on (`folio_waitqueue`), for inspection. */
  folioWaitQueue(folio: Folio): WaitQueue {
    return this.#ctx.waits.queueOf(folio);
  }

  /** The hashed bit wait queue a buffer's lock waiters sleep on (`bit_waitqueue`). */
  bufferWaitQueue(bh: BufferHead): WaitQueue {
    return this.#ctx.bitWaits.queueOf(asBh(bh), BH_Lock);
  }

  // PG_locked

  folioTrylock(folio: Folio, caller = 'folio_trylock'): boolean {
    return folioLock.folioTrylock(this.#ctx, folio, caller);
  }

  folioLockFast(folio: Folio, caller = 'folio_lock'): boolean {
    return folioLock.folioLockFast(this.#ctx, folio, caller);
  }

  folioLockContended(folio: Folio, caller = '__folio_lock'): KernelGen {
    // The wait's own generator, not one that delegates to it: a task asleep on the lock
    // resumes through one generator fewer. Its result (0: not killable) is not part of this
    // interface's type, and callers do not read it.
    return folioLock.folioLockContended(
      this.#ctx,
      folio,
      caller,
      false,
    ) as KernelGen<unknown> as KernelGen;
  }

  *folioLock(folio: Folio, caller = 'folio_lock'): KernelGen {
    if (!folioLock.folioLockFast(this.#ctx, folio, caller)) {
      yield* folioLock.folioLockContended(this.#ctx, folio, caller, false);
    }
  }

  folioLockKillableContended(folio: Folio, caller = '__folio_lock_killable'): KernelGen<number> {
    return folioLock.folioLockContended(this.#ctx, folio, caller, true);
  }

  *folioLockKillable(folio: Folio, caller = 'folio_lock_killable'): KernelGen<number> {
    if (folioLock.folioLockFast(this.#ctx, folio, caller)) return 0;
    return yield* folioLock.folioLockContended(this.#ctx, folio, caller, true);
  }

  folioUnlock(folio: Folio): void {
    folioLock.folioUnlock(this.#ctx, folio);
  }

  folioWaitLocked(folio: Folio, caller = 'folio_wait_locked'): KernelGen {
    // The wait's own generator (see folioLockContended).
    return folioLock.folioWaitLocked(
      this.#ctx,
      folio,
      caller,
      false,
    ) as KernelGen<unknown> as KernelGen;
  }

  folioWaitLockedKillable(folio: Folio, caller = 'folio_wait_locked_killable'): KernelGen<number> {
    return folioLock.folioWaitLocked(this.#ctx, folio, caller, true);
  }

  folioPutWaitLocked(
    folio: Folio,
    killable: boolean,
    caller = 'folio_put_wait_locked',
  ): KernelGen<number> {
    return folioLock.folioPutWaitLocked(this.#ctx, folio, caller, killable);
  }

  migrationEntryWaitOnLocked(
    folio: Folio,
    ptl: Spinlock | null,
    caller = 'migration_entry_wait_on_locked',
  ): KernelGen {
    return folioLock.migrationEntryWaitOnLocked(this.#ctx, folio, ptl, caller);
  }

  folioLockTransfer(folio: Folio, task: Task): void {
    folioLock.folioLockTransfer(this.#ctx, folio, task);
  }

  folioLockOwner(folio: Folio): Task | null {
    return folioLock.folioLockOwner(this.#ctx, folio);
  }

  folioWaiters(folio: Folio): readonly FolioWaiter[] {
    return this.#ctx.waits.waiters(folio);
  }

  folioWaiterCount(folio: Folio): number {
    return this.#ctx.waits.waiterCount(folio);
  }

  // PG_writeback

  folioStartWriteback(folio: Folio, caller = 'folio_start_writeback'): void {
    writeback.folioStartWriteback(this.#ctx, folio, caller);
  }

  folioEndWriteback(folio: Folio): void {
    writeback.folioEndWriteback(this.#ctx, folio);
  }

  folioWaitWriteback(folio: Folio, caller = 'folio_wait_writeback'): KernelGen {
    return writeback.folioWaitWriteback(this.#ctx, folio, caller);
  }

  folioWritebackTransfer(folio: Folio, task: Task): void {
    writeback.folioWritebackTransfer(this.#ctx, folio, task);
  }

  folioWritebackOwner(folio: Folio): Task | null {
    return writeback.folioWritebackOwner(this.#ctx, folio);
  }

  // Buffer heads

  createBuffers(folio: Folio, count: number, state = 0): BufferHead {
    return buffers.createBuffers(this.#ctx, this.#ids, folio, count, state);
  }

  folioBuffers(folio: Folio): BufferHead | null {
    this.#ctx.rt.touchKernel(FP_FOLIO, folio, false);
    return buffers.folioBuffers(this.#ctx, folio);
  }

  setBhPage(bh: BufferHead, folio: Folio): void {
    buffers.setBhPage(this.#ctx, bh, folio);
  }

  trylockBuffer(bh: BufferHead, caller = 'trylock_buffer'): boolean {
    return bufferLock.trylockBuffer(this.#ctx, bh, caller);
  }

  lockBufferFast(bh: BufferHead, caller = 'lock_buffer'): boolean {
    return bufferLock.lockBufferFast(this.#ctx, bh, caller);
  }

  lockBufferContended(bh: BufferHead, caller = '__lock_buffer'): KernelGen {
    return bufferLock.lockBufferContended(this.#ctx, bh, caller);
  }

  *lockBuffer(bh: BufferHead, caller = 'lock_buffer'): KernelGen {
    if (!bufferLock.lockBufferFast(this.#ctx, bh, caller)) {
      yield* bufferLock.lockBufferContended(this.#ctx, bh, caller);
    }
  }

  unlockBuffer(bh: BufferHead): void {
    bufferLock.unlockBuffer(this.#ctx, bh);
  }

  bufferLocked(bh: BufferHead): boolean {
    return bufferLock.bufferLocked(bh);
  }

  bufferLockTransfer(bh: BufferHead, task: Task): void {
    bufferLock.bufferLockTransfer(this.#ctx, bh, task);
  }

  bufferLockOwner(bh: BufferHead): Task | null {
    return bufferLock.bufferLockOwner(this.#ctx, bh);
  }

  getBh(bh: BufferHead): void {
    this.#ctx.rt.touchKernel(FP_FOLIO, bh.folio, true); // b_count counts as the folio's
    buffers.getBh(bh);
  }

  putBh(bh: BufferHead): void {
    this.#ctx.rt.touchKernel(FP_FOLIO, bh.folio, true);
    buffers.putBh(bh);
  }

  bufferUptodate(bh: BufferHead): boolean {
    return buffers.bufferUptodate(bh);
  }

  setBufferUptodate(bh: BufferHead): void {
    buffers.setBufferUptodate(bh);
  }

  clearBufferUptodate(bh: BufferHead): void {
    buffers.clearBufferUptodate(bh);
  }
}
