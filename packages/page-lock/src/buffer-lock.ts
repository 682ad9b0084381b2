import { FP_FOLIO, type KernelGen, mightSleep, type Task } from '@mmsim/runtime';
import { asBh, type Bh, type BufferHead } from './buffer-head.js';
import { checkTarget } from './check-target.js';
import { BH_Lock } from './constants.js';
import { contract } from './contract-violation.js';
import type { DependencyChecker, HeldLock } from './dependency-checker.js';
import { ownerName } from './owner-name.js';
import type { PageLockState } from './page-lock-state.js';

/**
 * BH_Lock (fs/buffer.c, include/linux/buffer_head.h, kernel/sched/wait_bit.c; Linux 6.3),
 * with the owner of each locked buffer recorded for contract checks and deadlock reports,
 * as for folio locks.
 */

const LOCK = 1 << BH_Lock;

function held(c: DependencyChecker, b: Bh, takenIn: string): HeldLock {
  return {
    kind: 'buffer',
    lockClass: c.bufferClass(b.folio, b.index),
    takenIn,
    folio: b.folio,
    buffer: b,
  };
}

/** `trylock_buffer` (include/linux/buffer_head.h, 6.3): test-and-set BH_Lock. */
export function trylockBuffer(ctx: PageLockState, bh: BufferHead, caller: string): boolean {
  const b = asBh(bh);
  const rt = ctx.rt;
  const me = rt.current;
  rt.touchKernel(FP_FOLIO, b.folio, true); // BH_Lock: a buffer's state counts as its folio's
  if ((b.state & LOCK) !== 0) {
    rt.charge(rt.costs.atomicOp);
    return false;
  }
  b.state |= LOCK;
  b.owner = me.id;
  rt.charge(rt.costs.lockRoundTrip);
  const c = ctx.checker;
  if (c !== null) c.hold(me, held(c, b, caller));
  return true;
}

/**
 * The fast half of `lock_buffer` (include/linux/buffer_head.h, 6.3): `might_sleep()`, then
 * `trylock_buffer`; a sleeping lock attempt for the dependency checker.
 */
export function lockBufferFast(ctx: PageLockState, bh: BufferHead, caller: string): boolean {
  const b = asBh(bh);
  const rt = ctx.rt;
  const me = rt.current;
  if (me.preemptCount > 0) mightSleep(me, caller);
  rt.touchKernel(FP_FOLIO, b.folio, true);
  if ((b.state & LOCK) !== 0) return false;
  b.state |= LOCK;
  b.owner = me.id;
  rt.charge(rt.costs.lockRoundTrip);
  const c = ctx.checker;
  if (c !== null) {
    const h = held(c, b, caller);
    c.depend(me, h.lockClass, 'lock', caller);
    c.hold(me, h);
  }
  return true;
}

/**
 * `__lock_buffer` (fs/buffer.c, 6.3): `wait_on_bit_lock_io(&bh->b_state, BH_Lock,
 * TASK_UNINTERRUPTIBLE)`. There is no hand-off: a woken waiter that finds the bit taken
 * again queues at the tail once more.
 */
export function* lockBufferContended(
  ctx: PageLockState,
  bh: BufferHead,
  caller: string,
): KernelGen {
  const b = asBh(bh);
  const rt = ctx.rt;
  const me = rt.current;
  mightSleep(me, caller);
  if (b.owner === me.id && (b.state & LOCK) !== 0) {
    throw contract(
      `${me} sleeps in ${caller} on ${b.describe()}, whose lock it already holds: the wait ` +
        'could never end (a self-deadlock)',
    );
  }
  const c = ctx.checker;
  const h = c === null ? null : held(c, b, caller);
  if (c !== null && h !== null) c.depend(me, h.lockClass, 'lock', caller);
  yield* ctx.bitWaits.waitOnBitLock(b, BH_Lock, caller, b.lockResource(rt));
  rt.touchKernel(FP_FOLIO, b.folio, true);
  b.owner = me.id;
  rt.charge(rt.costs.lockRoundTrip);
  if (c !== null && h !== null) c.hold(me, h);
}

/**
 * `unlock_buffer` (fs/buffer.c, 6.3): `clear_bit_unlock(BH_Lock)`, then
 * `wake_up_bit(&bh->b_state, BH_Lock)`. Only the owner may unlock.
 */
export function unlockBuffer(ctx: PageLockState, bh: BufferHead): void {
  const b = asBh(bh);
  const me = ctx.rt.current;
  ctx.rt.touchKernel(FP_FOLIO, b.folio, true);
  if ((b.state & LOCK) === 0) throw contract(`${me} unlocks ${b.describe()}, which is not locked`);
  if (b.owner !== me.id) {
    throw contract(
      `${me} unlocks ${b.describe()}, which is locked by ${ownerName(ctx.rt, b.owner)}: only ` +
        'the owner may; an I/O submitter hands the lock to the completing task with bufferLockTransfer',
    );
  }
  b.state &= ~LOCK;
  b.owner = 0;
  const c = ctx.checker;
  if (c !== null) c.release(me, 'buffer', b.folio, b);
  ctx.bitWaits.wakeUpBit(b, BH_Lock);
}

/** `buffer_locked`. */
export function bufferLocked(bh: BufferHead): boolean {
  return (asBh(bh).state & LOCK) !== 0;
}

/** Hands a buffer lock from the current task (its owner) to `task`, which will unlock it. */
export function bufferLockTransfer(ctx: PageLockState, bh: BufferHead, task: Task): void {
  const b = asBh(bh);
  const me = ctx.rt.current;
  ctx.rt.touchKernel(FP_FOLIO, b.folio, true);
  if ((b.state & LOCK) === 0 || b.owner !== me.id) {
    const state =
      (b.state & LOCK) === 0 ? 'it is not locked' : `it is locked by ${ownerName(ctx.rt, b.owner)}`;
    throw contract(`${me} hands to ${task} the lock of ${b.describe()}, but ${state}`);
  }
  checkTarget(ctx.rt, task, 'bufferLockTransfer');
  if (task === me) return;
  b.owner = task.id;
  ctx.checker?.transfer(me, task, 'buffer', b.folio, b);
}

/** The task holding a buffer's lock, or null. */
export function bufferLockOwner(ctx: PageLockState, bh: BufferHead): Task | null {
  const b = asBh(bh);
  return (b.state & LOCK) === 0 ? null : (ctx.rt.taskById(b.owner) ?? null);
}
