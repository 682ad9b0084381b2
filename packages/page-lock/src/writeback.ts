import {
  type Folio,
  folioClearFlag,
  folioFlags,
  folioSetFlag,
  folioTestFlag,
  PG_locked,
  PG_waiters,
  PG_writeback,
} from '@mmsim/folio';
import { FP_FOLIO, type KernelGen, mightSleep, type Task } from '@mmsim/runtime';
import { checkTarget } from './check-target.js';
import { contract } from './contract-violation.js';
import { folioBitResource } from './folio-bit-resource.js';
import { hex } from './folio-hex.js';
import { ownerName } from './owner-name.js';
import type { PageLockState } from './page-lock-state.js';

/**
 * PG_writeback (mm/page-writeback.c and mm/filemap.c, Linux 6.3). The bit is independent of
 * PG_locked: it is set with the folio locked, usually outlives the lock, and is cleared by
 * I/O completion in any context. For deadlock reports and the dependency checker, each
 * folio's writeback has an owner: the task that started it, or the one it was handed to
 * with `folioWritebackTransfer` (the task that will end it).
 */

const LOCKED = 1 << PG_locked;
const WRITEBACK = 1 << PG_writeback;

/**
 * `folio_start_writeback` = `__folio_start_writeback(folio, false)` (mm/page-writeback.c,
 * 6.3), without the page-cache tags and statistics. The caller must hold the folio lock and
 * the folio must not be under writeback already: in 6.3 the function returned the old bit
 * and did not check either, but the rule was always that writeback starts under the folio
 * lock (that is what makes a second start impossible). Later kernels enforce both with
 * VM_BUG_ON_FOLIO (writeback already set: the void-returning version of 6.7; lock not held:
 * 2025, "The folio must be locked when we start writeback"). The model enforces both.
 */
export function folioStartWriteback(ctx: PageLockState, folio: Folio, caller: string): void {
  const me = ctx.rt.current;
  ctx.rt.touchKernel(FP_FOLIO, folio, true); // PG_writeback and its owner
  const flags = folioFlags(ctx.mem, folio);
  const owner = ctx.owner[folio] ?? 0;
  if ((flags & LOCKED) === 0 || owner !== me.id) {
    const state =
      (flags & LOCKED) === 0 ? 'it is unlocked' : `it is locked by ${ownerName(ctx.rt, owner)}`;
    throw contract(
      `${me} starts writeback of folio ${hex(folio)} without holding its lock (${state}): ` +
        'folio_start_writeback needs the folio locked by the caller',
    );
  }
  if ((flags & WRITEBACK) !== 0) {
    throw contract(
      `${me} starts writeback of folio ${hex(folio)}, which is already under writeback ` +
        `(owned by ${ownerName(ctx.rt, ctx.wbOwner[folio] ?? 0)}): wait for it to end first`,
    );
  }
  folioSetFlag(ctx.mem, folio, PG_writeback);
  ctx.wbOwner[folio] = me.id;
  ctx.rt.charge(ctx.rt.costs.atomicOp);
  const c = ctx.checker;
  if (c !== null) {
    c.hold(me, {
      kind: 'writeback',
      lockClass: c.writebackClass(folio),
      takenIn: caller,
      folio,
      buffer: null,
    });
  }
}

/**
 * `folio_end_writeback` (mm/filemap.c, 6.3): clear PG_writeback and, if PG_waiters is set,
 * `folio_wake_bit(folio, PG_writeback)` (`folio_wake`). Any task may call it, and code
 * outside any task too (an interrupt). Ending writeback that is not in flight is the
 * kernel's BUG() and throws. Not modelled: PG_reclaim rotation (`folio_rotate_reclaimable`
 * belongs to the LRU) and the temporary reference the kernel takes around the wake-up.
 */
export function folioEndWriteback(ctx: PageLockState, folio: Folio): void {
  ctx.rt.touchKernel(FP_FOLIO, folio, true);
  const flags = folioFlags(ctx.mem, folio);
  if ((flags & WRITEBACK) === 0) {
    const who = ctx.rt.currentTask === null ? 'code outside any task' : String(ctx.rt.currentTask);
    throw contract(`${who} ends writeback of folio ${hex(folio)}, which is not under writeback`);
  }
  const owner = ctx.rt.taskById(ctx.wbOwner[folio] ?? 0) ?? null;
  folioClearFlag(ctx.mem, folio, PG_writeback);
  ctx.wbOwner[folio] = 0;
  ctx.rt.charge(ctx.rt.costs.atomicOp);
  if (owner !== null) ctx.checker?.release(owner, 'writeback', folio, null);
  if ((flags & (1 << PG_waiters)) !== 0) ctx.waits.wakeBit(folio, PG_writeback);
}

/**
 * `folio_wait_writeback` (mm/page-writeback.c, 6.3): while PG_writeback is set,
 * `folio_wait_bit(folio, PG_writeback)` (SHARED, TASK_UNINTERRUPTIBLE). For the checker, a
 * wait for writeback in flight while holding locks is a dependency on it.
 */
export function* folioWaitWriteback(ctx: PageLockState, folio: Folio, caller: string): KernelGen {
  const me = ctx.rt.current;
  mightSleep(me, caller);
  if (!folioTestFlag(ctx.mem, folio, PG_writeback)) return;
  const c = ctx.checker;
  if (c !== null) c.depend(me, c.writebackClass(folio), 'wait', caller);
  const resource = folioBitResource(ctx, folio, true);
  while (folioTestFlag(ctx.mem, folio, PG_writeback)) {
    yield* ctx.waits.waitBitCommon(folio, PG_writeback, false, 'SHARED', caller, resource);
  }
}

/**
 * Hands the ownership of `folio`'s writeback from the current task (its owner) to `task`,
 * the one that will end it: a loop worker, an I/O completion task. Only the owner may.
 */
export function folioWritebackTransfer(ctx: PageLockState, folio: Folio, task: Task): void {
  const me = ctx.rt.current;
  ctx.rt.touchKernel(FP_FOLIO, folio, true);
  const owner = ctx.wbOwner[folio] ?? 0;
  if (!folioTestFlag(ctx.mem, folio, PG_writeback) || owner !== me.id) {
    const state = folioTestFlag(ctx.mem, folio, PG_writeback)
      ? `it is owned by ${ownerName(ctx.rt, owner)}`
      : 'it is not under writeback';
    throw contract(`${me} hands to ${task} the writeback of folio ${hex(folio)}, but ${state}`);
  }
  checkTarget(ctx.rt, task, 'folioWritebackTransfer');
  if (task === me) return;
  ctx.wbOwner[folio] = task.id;
  ctx.checker?.transfer(me, task, 'writeback', folio, null);
}

/** The task that owns `folio`'s writeback, or null when none is in flight (or unowned). */
export function folioWritebackOwner(ctx: PageLockState, folio: Folio): Task | null {
  if (!folioTestFlag(ctx.mem, folio, PG_writeback)) return null;
  return ctx.rt.taskById(ctx.wbOwner[folio] ?? 0) ?? null;
}
