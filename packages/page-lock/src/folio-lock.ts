import {
  type Folio,
  folioClearFlag,
  folioFlags,
  folioTestFlag,
  folioTestSetFlag,
  PG_locked,
  PG_waiters,
} from '@mmsim/folio';
import { FP_FOLIO, type KernelGen, mightSleep, type Spinlock, type Task } from '@mmsim/runtime';
import { checkTarget } from './check-target.js';
import { contract } from './contract-violation.js';
import type { DependencyChecker, HeldLock } from './dependency-checker.js';
import { folioBitResource } from './folio-bit-resource.js';
import { hex } from './folio-hex.js';
import { ownerName } from './owner-name.js';
import type { PageLockState } from './page-lock-state.js';

/**
 * PG_locked (mm/filemap.c and include/linux/pagemap.h, Linux 6.3), with the owner of each
 * locked folio recorded for contract checks and deadlock reports.
 */

const LOCKED = 1 << PG_locked;
const WAITERS = 1 << PG_waiters;

function held(c: DependencyChecker, folio: Folio, takenIn: string): HeldLock {
  return { kind: 'folio', lockClass: c.folioClass(folio), takenIn, folio, buffer: null };
}

/**
 * Before a wait changes anything: throws (through the folio package) unless `folio` is a
 * live folio, and throws CONTRACT_VIOLATION if `me` holds its lock.
 */
function checkNotMine(ctx: PageLockState, me: Task, folio: Folio, what: string): void {
  if (folioTestFlag(ctx.mem, folio, PG_locked) && ctx.owner[folio] === me.id) {
    throw contract(
      `${me} sleeps in ${what} on folio ${hex(folio)}, whose lock it already holds: ` +
        'the wait could never end (a self-deadlock)',
    );
  }
}

/** `folio_trylock` (include/linux/pagemap.h, 6.3): test-and-set PG_locked. */
export function folioTrylock(ctx: PageLockState, folio: Folio, caller: string): boolean {
  const rt = ctx.rt;
  const me = rt.current;
  rt.touchKernel(FP_FOLIO, folio, true);
  if (folioTestSetFlag(ctx.mem, folio, PG_locked)) {
    rt.charge(rt.costs.atomicOp);
    return false;
  }
  ctx.owner[folio] = me.id;
  rt.charge(rt.costs.lockRoundTrip);
  const c = ctx.checker;
  if (c !== null) c.hold(me, held(c, folio, caller));
  return true;
}

/**
 * The fast half of `folio_lock` (include/linux/pagemap.h, 6.3): `might_sleep()`, then
 * `folio_trylock`. For the dependency checker it is a sleeping lock attempt, so it records
 * the dependencies even though it did not wait.
 */
export function folioLockFast(ctx: PageLockState, folio: Folio, caller: string): boolean {
  const rt = ctx.rt;
  const me = rt.current;
  if (me.preemptCount > 0) mightSleep(me, caller);
  rt.touchKernel(FP_FOLIO, folio, true);
  if (folioTestSetFlag(ctx.mem, folio, PG_locked)) return false;
  ctx.owner[folio] = me.id;
  rt.charge(rt.costs.lockRoundTrip);
  const c = ctx.checker;
  if (c !== null) {
    const h = held(c, folio, caller);
    c.depend(me, h.lockClass, 'lock', caller);
    c.hold(me, h);
  }
  return true;
}

/**
 * `__folio_lock` / `__folio_lock_killable` (mm/filemap.c, 6.3):
 * `folio_wait_bit_common(folio, PG_locked, TASK_UNINTERRUPTIBLE or TASK_KILLABLE,
 * EXCLUSIVE)`. Returns 0 with the lock held, or -EINTR (killable only) without it.
 */
export function* folioLockContended(
  ctx: PageLockState,
  folio: Folio,
  caller: string,
  killable: boolean,
): KernelGen<number> {
  const me = ctx.rt.current;
  mightSleep(me, caller);
  checkNotMine(ctx, me, folio, caller);
  const c = ctx.checker;
  const h = c === null ? null : held(c, folio, caller);
  if (c !== null && h !== null) c.depend(me, h.lockClass, 'lock', caller);
  const resource = folioBitResource(ctx, folio, false);
  const ret = yield* ctx.waits.waitBitCommon(
    folio,
    PG_locked,
    killable,
    'EXCLUSIVE',
    caller,
    resource,
  );
  if (ret === 0) {
    ctx.rt.charge(ctx.rt.costs.lockRoundTrip);
    if (c !== null && h !== null) c.hold(me, h);
  }
  return ret;
}

/** The error for an unlock (or hand-over) of `folio` by `me`, who does not hold it. */
function notOwner(ctx: PageLockState, me: Task, folio: Folio, what: string): Error {
  // Let the folio package report a pfn that is not a live folio.
  const locked = folioTestFlag(ctx.mem, folio, PG_locked);
  const owner = ctx.owner[folio] ?? 0;
  if (!locked) return contract(`${me} ${what} folio ${hex(folio)}, which is not locked`);
  if (owner === 0) {
    return contract(
      `${me} ${what} folio ${hex(folio)}, whose PG_locked was set without PageLocks (its ` +
        'owner is unknown): lock folios with folioTrylock / folioLock',
    );
  }
  return contract(
    `${me} ${what} folio ${hex(folio)}, which is locked by ${ownerName(ctx.rt, owner)}: only ` +
      'the owner may; an I/O submitter hands the lock to the completing task with folioLockTransfer',
  );
}

/**
 * `folio_unlock` (mm/filemap.c, 6.3): clear PG_locked and read PG_waiters in one atomic
 * step (`clear_bit_unlock_is_negative_byte`); if waiters may exist, `folio_wake_bit`.
 */
export function folioUnlock(ctx: PageLockState, folio: Folio): void {
  const me = ctx.rt.current;
  ctx.rt.touchKernel(FP_FOLIO, folio, true);
  if (ctx.owner[folio] !== me.id) throw notOwner(ctx, me, folio, 'unlocks');
  const flags = folioFlags(ctx.mem, folio);
  if ((flags & LOCKED) === 0) throw notOwner(ctx, me, folio, 'unlocks');
  folioClearFlag(ctx.mem, folio, PG_locked);
  ctx.owner[folio] = 0;
  const c = ctx.checker;
  if (c !== null) c.release(me, 'folio', folio, null);
  if ((flags & WAITERS) !== 0) ctx.waits.wakeBit(folio, PG_locked);
}

/**
 * What every wait for PG_locked to clear does before it changes anything: `might_sleep`
 * (with `spinlocks` spinlocks allowed, the page-table lock of a migration-entry wait),
 * refuse a wait on a lock the task holds, and record the wait for the dependency checker.
 */
function beforeLockWait(
  ctx: PageLockState,
  me: Task,
  folio: Folio,
  caller: string,
  spinlocks: number,
): void {
  mightSleep(me, caller, spinlocks);
  checkNotMine(ctx, me, folio, caller);
  const c = ctx.checker;
  if (c !== null) c.depend(me, c.folioClass(folio), 'wait', caller);
}

/**
 * `folio_wait_locked` / `folio_wait_locked_killable` (include/linux/pagemap.h, 6.3): if
 * the folio is locked, `folio_wait_bit_common(folio, PG_locked, state, SHARED)`. The caller
 * keeps its reference; the refcount is not touched. For the checker this is a wait for
 * the lock, recorded whether or not the folio is locked now.
 */
export function* folioWaitLocked(
  ctx: PageLockState,
  folio: Folio,
  caller: string,
  killable: boolean,
): KernelGen<number> {
  const me = ctx.rt.current;
  beforeLockWait(ctx, me, folio, caller, 0);
  if (!folioTestFlag(ctx.mem, folio, PG_locked)) return 0;
  const resource = folioBitResource(ctx, folio, false);
  return yield* ctx.waits.waitBitCommon(folio, PG_locked, killable, 'SHARED', caller, resource);
}

/**
 * `folio_put_wait_locked` (mm/filemap.c, 6.3): `folio_wait_bit_common(folio, PG_locked,
 * state, DROP)`: drop the caller's reference once queued (or once the bit is seen clear),
 * then wait without re-checking. Returns 0, or -EINTR for a killable wait cut short.
 */
export function* folioPutWaitLocked(
  ctx: PageLockState,
  folio: Folio,
  caller: string,
  killable: boolean,
): KernelGen<number> {
  const me = ctx.rt.current;
  beforeLockWait(ctx, me, folio, caller, 0);
  const resource = folioBitResource(ctx, folio, false);
  return yield* ctx.waits.waitBitCommon(folio, PG_locked, killable, 'DROP', caller, resource);
}

/**
 * `migration_entry_wait_on_locked(entry, ptep, ptl)` (mm/filemap.c, 6.3), from the point
 * where the fault path has found a migration entry to `folio` under the page-table lock
 * `ptl`: queue on the folio's wait queue for PG_locked without a reference, release `ptl`,
 * sleep (TASK_UNINTERRUPTIBLE) until the migrator unlocks the folio. With `ptl` null the
 * caller holds no page-table lock (a test, or a caller that already dropped it).
 */
export function migrationEntryWaitOnLocked(
  ctx: PageLockState,
  folio: Folio,
  ptl: Spinlock | null,
  caller: string,
): KernelGen {
  const me = ctx.rt.current;
  if (ptl !== null && ptl.owner !== me) {
    throw contract(
      `${me} waits in ${caller} on folio ${hex(folio)} with page-table lock ${ptl.name}, ` +
        `which it does not hold (held by ${ptl.owner === null ? 'nobody' : String(ptl.owner)})`,
    );
  }
  beforeLockWait(ctx, me, folio, caller, ptl === null ? 0 : 1);
  const resource = folioBitResource(ctx, folio, false);
  // The wait table's generator itself, not one more level around it: the checks above run
  // when the caller starts the wait (with `yield*` at once, in the same step).
  return ctx.waits.migrationEntryWait(folio, ptl, caller, resource);
}

/**
 * Hands the lock of `folio` from the current task to `task`, which will unlock it. Models
 * what the kernel does implicitly when I/O completion (readahead's end_io, a loop worker)
 * unlocks a folio that another context locked: the submitter calls this before it lets
 * go, so the deadlock report names the right holder and the contract checks stay strict.
 */
export function folioLockTransfer(ctx: PageLockState, folio: Folio, task: Task): void {
  const me = ctx.rt.current;
  if (ctx.owner[folio] !== me.id || !folioTestFlag(ctx.mem, folio, PG_locked)) {
    throw notOwner(ctx, me, folio, `hands to ${task} the lock of`);
  }
  checkTarget(ctx.rt, task, 'folioLockTransfer');
  if (task === me) return;
  ctx.owner[folio] = task.id;
  ctx.checker?.transfer(me, task, 'folio', folio, null);
}

/** The task holding the lock of `folio`, or null when it is unlocked (or locked elsewhere). */
export function folioLockOwner(ctx: PageLockState, folio: Folio): Task | null {
  if (!folioTestFlag(ctx.mem, folio, PG_locked)) return null;
  return ctx.rt.taskById(ctx.owner[folio] ?? 0) ?? null;
}
