import {
  type Folio,
  type FolioList,
  folioClearFlag,
  folioNrPages,
  folioOrder,
  folioPut,
  folioRawMapping,
  folioRefCount,
  folioSetPrivate,
  folioTestAnon,
  folioTestFlag,
  folioTestHugetlb,
  folioTestKsm,
  folioTestLarge,
  folioTestMovable,
  HPAGE_PMD_ORDER,
  PG_active,
  PG_private,
  PG_unevictable,
  PG_writeback,
} from '@mmsim/folio';
import { folioPutFast } from '@mmsim/lru';
import type { AnonVmaView } from '@mmsim/rmap';
import {
  EAGAIN,
  EBUSY,
  ENOMEM,
  ENOSYS,
  FP_FOLIO,
  type KernelGen,
  PF_MEMALLOC,
  tracedFunction,
} from '@mmsim/runtime';
import { tryToFreeBuffers } from './buffer-migrate-folio.js';
import { callGetNewFolio, callPutNewFolio, type MigrateCallbacks } from './callbacks.js';
import { MIGRATEPAGE_SUCCESS } from './constants.js';
import { kernelBug } from './errors.js';
import { traceFolioDone, traceFoliosIsolated } from './journey.js';
import { listDel, listHead, listMoveTail } from './lists.js';
import type { MigratePagesResult } from './migrate-core.js';
import type { MigrateEnv } from './migrate-env.js';
import { COPY_YIELDS } from './migrate-folio.js';
import { unmapTtuFlags } from './migrate-folio-unmap.js';
import { unmapAndMoveHugePage } from './migrate-hugetlbs.js';
import { MIGRATE_ASYNC, MIGRATE_SYNC, MIGRATE_SYNC_NO_COPY, type MigrateMode } from './modes.js';
import { movableReturnAfterDriverError } from './movable.js';
import {
  DRIVER_FAILED,
  moveToNewFolio,
  moveToNewFolioAfterCopy,
  moveToNewFolioAtomic,
  NEEDS_ADDRESS_SPACE,
} from './move-to-new-folio.js';
import {
  type MigrateReason,
  MR_LONGTERM_PIN,
  MR_MEMORY_FAILURE,
  MR_NUMA_MISPLACED,
} from './reasons.js';
import { type MigrateStats, migratePagesEnd } from './stats.js';
import { trySplitFolio } from './try-split-folio.js';
import { variantPasses } from './variants.js';

const CALLER = '__unmap_and_move';

/**
 * `__unmap_and_move(src, dst, force, mode)` (mm/migrate.c, 6.2): the whole migration of
 * one folio, unmap and move back to back. The src lock is trylocked and slept on only in a
 * sync mode when `force` (pass > 2), never under PF_MEMALLOC; writeback gives -EBUSY
 * unless the mode is SYNC / SYNC_NO_COPY, and is waited for only when `force` (else
 * -EAGAIN); the anon_vma is pinned; dst is trylocked. A non-LRU page goes straight to
 * `move_to_new_folio`. An LRU folio with no mapping and buffers (orphaned) gets them freed
 * (-EAGAIN); a mapped one is unmapped with `try_to_migrate(src, 0)`: every PTE is flushed
 * as it is cleared (a TLB shootdown per page when other CPUs run the mm). If it is no
 * longer mapped, `move_to_new_folio`; on success dst goes to the LRU (drained if src was
 * mapped). `remove_migration_ptes` points the entries at dst on success, back at src
 * otherwise. Then unlock dst, drop the anon_vma pin, unlock src, and on success drop dst's
 * allocation reference.
 */
export const unmapAndMoveInner = tracedFunction('__unmap_and_move', unmapAndMoveInnerBody);
function* unmapAndMoveInnerBody(
  env: MigrateEnv,
  src: Folio,
  dst: Folio,
  force: boolean,
  mode: MigrateMode,
): KernelGen<number> {
  const mem = env.mem;
  const locks = env.locks;
  const rmap = env.rmap;
  let rc = -EAGAIN;
  let pageWasMapped = false;
  let anonVma: AnonVmaView | null = null;
  const isLru = !folioTestMovable(mem, src);

  // biome-ignore lint/suspicious/noConfusingLabels: the block ends at the kernel's `out:` label
  out: {
    if (env.trylockFault.fire() || !locks.folioTrylock(src, CALLER)) {
      if (!force || mode === MIGRATE_ASYNC) break out;
      if ((env.rt.current.flags & PF_MEMALLOC) !== 0) break out;
      if (!locks.folioLockFast(src, CALLER)) yield* locks.folioLockContended(src, CALLER);
    }
    // biome-ignore lint/suspicious/noConfusingLabels: the block ends at the kernel's `out_unlock:` label
    outUnlock: {
      if (folioTestFlag(mem, src, PG_writeback)) {
        if (mode !== MIGRATE_SYNC && mode !== MIGRATE_SYNC_NO_COPY) {
          rc = -EBUSY;
          break outUnlock;
        }
        if (!force) break outUnlock;
        yield* locks.folioWaitWriteback(src, CALLER);
      }
      if (folioTestAnon(mem, src) && !folioTestKsm(mem, src)) anonVma = rmap.folioGetAnonVma(src);
      if (env.trylockFault.fire() || !locks.folioTrylock(dst, CALLER)) break outUnlock;
      // biome-ignore lint/suspicious/noConfusingLabels: the block ends at the kernel's `out_unlock_both:` label
      outUnlockBoth: {
        if (!isLru) {
          // (As a plain call, as migrate_folio_move takes it: a non-LRU page never sleeps.)
          rc = moveToNewFolioAtomic(env, dst, src, mode);
          if (rc === NEEDS_ADDRESS_SPACE) rc = yield* moveToNewFolio(env, dst, src, mode);
          // Model only: the driver failed; src goes back to it now (see unmap_and_move).
          if (rc === DRIVER_FAILED) movableReturnAfterDriverError(env, src);
          break outUnlockBoth;
        }
        if (folioRawMapping(mem, src) === null) {
          if (folioTestFlag(mem, src, PG_private)) {
            tryToFreeBuffers(env.services, src);
            break outUnlockBoth;
          }
        } else if (rmap.folioMapped(src)) {
          if (folioTestAnon(mem, src) && !folioTestKsm(mem, src) && anonVma === null) {
            throw kernelBug(CALLER, `VM_BUG_ON_FOLIO: mapped anon folio ${src} has no anon_vma`);
          }
          // (Uncontended: as a plain call, with the same steps; see Rmap.)
          const ttu = unmapTtuFlags(env, mode);
          if (rmap.tryToMigrateUncontended?.(src, ttu) !== true) yield* rmap.tryToMigrate(src, ttu);
          pageWasMapped = true;
          // Not a kernel cond_resched(): other CPUs run during this window in the kernel
          // (and fault on the new migration entries); the model needs a scheduling point
          // for them to interleave here. (A virtual step when nothing else runs there.)
          if (!env.rt.virtualStep()) yield;
        }
        if (!rmap.folioMapped(src)) {
          // (The atomic cases as plain calls, as migrate_folio_move takes them: an anon
          // folio, a non-LRU page; a copy-before-freeze copy with its scheduling point.)
          rc = moveToNewFolioAtomic(env, dst, src, mode);
          if (rc === NEEDS_ADDRESS_SPACE) rc = yield* moveToNewFolio(env, dst, src, mode);
          else if (rc === COPY_YIELDS) {
            yield; // the scheduling point after `__migrate_folio`'s copy (6.12+)
            rc = moveToNewFolioAfterCopy(env, dst, src);
          }
        }
        // dst goes to the LRU at once, so that an mlocked folio gets its mlock_count.
        if (rc === MIGRATEPAGE_SUCCESS) {
          // (Uncontended: as plain calls, with the same steps; see LruIsolation.)
          const lru = env.lru;
          if (!pageWasMapped || lru.folioAddLruDrainUncontended?.(dst) !== true) {
            if (lru.folioAddLruUncontended?.(dst) !== true) yield* lru.folioAddLru(dst);
            if (pageWasMapped && lru.lruAddDrainUncontended?.() !== true) yield* lru.lruAddDrain();
          }
        }
        if (pageWasMapped) {
          const to = rc === MIGRATEPAGE_SUCCESS ? dst : src;
          if (rmap.removeMigrationPtesUncontended?.(src, to, false) !== true) {
            yield* rmap.removeMigrationPtes(src, to, false);
          }
        }
      }
      locks.folioUnlock(dst);
    }
    if (anonVma !== null) rmap.putAnonVma(anonVma);
    locks.folioUnlock(src);
  }
  // On success the new owners hold dst: drop the allocation reference (the LRU's put if
  // it is the last one, see folioPutMaybeLru).
  if (rc === MIGRATEPAGE_SUCCESS && !folioPutFast(mem, dst, 1)) yield* env.lru.folioPut(dst);
  return rc;
}

/**
 * `unmap_and_move(get_new_page, put_new_page, private, page, force, mode, reason, ret)`
 * (mm/migrate.c, 6.2): -ENOSYS for a THP when THP migration is unsupported; a folio freed
 * under us (refcount 1) succeeds at once: PG_active and PG_unevictable are cleared and
 * nothing is locked (since 160088b3b6d7, "mm/migration: remove unneeded lock page and
 * PageMovable check", 6.0: the freeing path, `free_pages_prepare`, clears PG_isolated;
 * before it a movable page was locked to clear PG_isolated); no destination is -ENOMEM;
 * otherwise `__unmap_and_move`. Except for -EAGAIN, src leaves `from`: done on
 * success (NR_ISOLATED, the isolation reference unless MR_MEMORY_FAILURE), to the tail of
 * `ret` on failure, where the unused dst also goes back (`put_new_page` or `folio_put`).
 */
export const unmapAndMove = tracedFunction('unmap_and_move', unmapAndMoveBody);
function* unmapAndMoveBody(
  env: MigrateEnv,
  cb: MigrateCallbacks,
  src: Folio,
  force: boolean,
  mode: MigrateMode,
  reason: MigrateReason,
  ret: FolioList,
): KernelGen<number> {
  const mem = env.mem;
  if (!env.thpMigrationSupported && folioTestLarge(mem, src)) return -ENOSYS;
  let rc = MIGRATEPAGE_SUCCESS;
  let dst = -1;
  if (folioRefCount(mem, src) === 1) {
    // Freed from under us: we are done. (free_pages_prepare clears PG_isolated.)
    folioClearFlag(mem, src, PG_active);
    folioClearFlag(mem, src, PG_unevictable);
  } else {
    const got = callGetNewFolio(env, cb, src);
    if (got === null) return -ENOMEM;
    dst = got;
    folioSetPrivate(mem, dst, null);
    rc = yield* unmapAndMoveInner(env, src, dst, force, mode);
  }
  return unmapAndMoveDone(env, cb, src, dst, rc, reason, ret);
}

/** The end of `unmap_and_move` once `__unmap_and_move` returned `rc` (dst -1: src was freed under us). */
function unmapAndMoveDone(
  env: MigrateEnv,
  cb: MigrateCallbacks,
  src: Folio,
  dst: Folio,
  rc: number,
  reason: MigrateReason,
  ret: FolioList,
): number {
  const mem = env.mem;
  // A migrated folio has lost its references and will be freed; a failed one keeps its
  // references and goes back, unless it is retried.
  if (rc !== -EAGAIN) listDel(mem, src);
  if (rc === MIGRATEPAGE_SUCCESS) {
    if (!folioTestMovable(mem, src)) {
      env.lru.nodeStatModFolio(src, env.lru.folioIsolatedItem(src), -folioNrPages(mem, src));
    }
    traceFolioDone(env, src, 'freed');
    if (reason !== MR_MEMORY_FAILURE) folioPut(mem, src);
  } else {
    // Model only: after a driver error src is the driver's again; drop the isolation
    // reference instead of queueing it for putback.
    if (rc === DRIVER_FAILED) folioPut(mem, src);
    else if (rc !== -EAGAIN) ret.addTail(src);
    if (cb.putNewFolio !== null) callPutNewFolio(cb, dst);
    else folioPut(mem, dst);
  }
  return rc;
}

/** What the plain steps of `unmap_and_move` return when the next part may sleep. */
const UAM_SLEEPS = 0x7fff_fff2;

/**
 * How many `unmap_and_move` calls of the plain path went on in the generator (`slow`), and
 * how many took the scheduling point after the unmap in `migrate_pages`'s loop and went on
 * as plain calls (`afterSched`), for the tests. Nothing in the model reads them.
 */
export const unmapAndMovePlainStats = { slow: 0, afterSched: 0 };

/** Stages of `unmapAndMoveInnerSteps`: where it starts, or where it stopped. */
const I_START = 0;
/** The src lock is contended and slept on (`folio_lock`). */
const I_LOCK = 1;
const I_LOCKED = 2;
/** `folio_wait_writeback`. */
const I_WRITEBACK = 3;
const I_AFTER_WRITEBACK = 4;
/** A non-LRU page's `move_to_new_folio` through the generator. */
const I_MOVE_MOVABLE = 5;
const I_AFTER_MOVE_MOVABLE = 6;
/** `try_to_migrate` that may sleep. */
const I_TRY_TO_MIGRATE = 7;
const I_AFTER_TRY_TO_MIGRATE = 8;
/** The scheduling point after the unmap needs a real round. */
const I_SCHED = 9;
const I_AFTER_SCHED = 10;
/** `move_to_new_folio` needs the address space's callbacks (may sleep). */
const I_MOVE = 11;
/** `__migrate_folio` copied (`copyBeforeFreeze`); its scheduling point needs a real round. */
const I_COPIED = 12;
const I_AFTER_MOVE = 13;
const I_ADD_LRU = 14;
const I_DRAIN = 15;
const I_REMOVE = 16;
const I_UNLOCK = 17;
/** `folio_put(dst)` is the last reference. */
const I_PUT = 18;

/**
 * Where the plain steps stopped and the locals to go on with: read by the generator at once
 * (before anything can run in between), so one record serves every call.
 */
const UAM_STOP = {
  stage: I_START,
  dst: -1 as Folio,
  isLru: true,
  rc: 0,
  pageWasMapped: false,
  anonVma: null as AnonVmaView | null,
};

function stopInner(
  stage: number,
  dst: Folio,
  isLru: boolean,
  rc: number,
  pageWasMapped: boolean,
  anonVma: AnonVmaView | null,
): number {
  const s = UAM_STOP;
  s.stage = stage;
  s.dst = dst;
  s.isLru = isLru;
  s.rc = rc;
  s.pageWasMapped = pageWasMapped;
  s.anonVma = anonVma;
  return UAM_SLEEPS;
}

/**
 * `unmap_and_move` (above) as plain calls, for callers that do not trace kernel functions:
 * the result, or UAM_SLEEPS when a part that may sleep (or a scheduling point that needs a
 * real round) comes next; then `unmapAndMoveSlow` must run at once and goes on from there.
 */
function unmapAndMovePlain(
  env: MigrateEnv,
  cb: MigrateCallbacks,
  src: Folio,
  force: boolean,
  mode: MigrateMode,
  reason: MigrateReason,
  ret: FolioList,
): number {
  const mem = env.mem;
  if (!env.thpMigrationSupported && folioTestLarge(mem, src)) return -ENOSYS;
  if (folioRefCount(mem, src) === 1) {
    // Freed from under us: we are done. (free_pages_prepare clears PG_isolated.)
    folioClearFlag(mem, src, PG_active);
    folioClearFlag(mem, src, PG_unevictable);
    return unmapAndMoveDone(env, cb, src, -1, MIGRATEPAGE_SUCCESS, reason, ret);
  }
  const dst = callGetNewFolio(env, cb, src);
  if (dst === null) return -ENOMEM;
  folioSetPrivate(mem, dst, null);
  const isLru = !folioTestMovable(mem, src);
  const rc = unmapAndMoveInnerSteps(
    env,
    src,
    dst,
    force,
    mode,
    I_START,
    isLru,
    -EAGAIN,
    false,
    null,
  );
  if (rc === UAM_SLEEPS) return rc;
  return unmapAndMoveDone(env, cb, src, dst, rc, reason, ret);
}

/**
 * The rest of `unmap_and_move` after `unmapAndMovePlain` stopped at the scheduling point
 * after the unmap (`I_SCHED`) and the caller took it: the plain steps from there, with the
 * locals the stop record held. Returns the result, or UAM_SLEEPS (with `UAM_STOP` filled
 * in) when a later part may sleep: then `unmapAndMoveSlow` must run at once, as after
 * `unmapAndMovePlain`.
 */
function unmapAndMoveAfterSched(
  env: MigrateEnv,
  cb: MigrateCallbacks,
  src: Folio,
  dst: Folio,
  force: boolean,
  mode: MigrateMode,
  reason: MigrateReason,
  ret: FolioList,
  isLru: boolean,
  rc: number,
  pageWasMapped: boolean,
  anonVma: AnonVmaView | null,
): number {
  unmapAndMovePlainStats.afterSched++;
  const r = unmapAndMoveInnerSteps(
    env,
    src,
    dst,
    force,
    mode,
    I_AFTER_SCHED,
    isLru,
    rc,
    pageWasMapped,
    anonVma,
  );
  if (r === UAM_SLEEPS) return r;
  return unmapAndMoveDone(env, cb, src, dst, r, reason, ret);
}

/** The rest of `unmap_and_move` after `unmapAndMovePlain` returned UAM_SLEEPS. */
function* unmapAndMoveSlow(
  env: MigrateEnv,
  cb: MigrateCallbacks,
  src: Folio,
  force: boolean,
  mode: MigrateMode,
  reason: MigrateReason,
  ret: FolioList,
): KernelGen<number> {
  unmapAndMovePlainStats.slow++;
  const dst = UAM_STOP.dst;
  let r = UAM_SLEEPS;
  while (r === UAM_SLEEPS) {
    // Where the plain steps stopped, copied before anything can run in between.
    const s = UAM_STOP;
    const stage = s.stage;
    const isLru = s.isLru;
    let rc = s.rc;
    let pageWasMapped = s.pageWasMapped;
    const anonVma = s.anonVma;
    s.anonVma = null;
    let next: number;
    switch (stage) {
      case I_LOCK:
        yield* env.locks.folioLockContended(src, CALLER);
        next = I_LOCKED;
        break;
      case I_WRITEBACK:
        yield* env.locks.folioWaitWriteback(src, CALLER);
        next = I_AFTER_WRITEBACK;
        break;
      case I_MOVE_MOVABLE:
        rc = yield* moveToNewFolio(env, dst, src, mode);
        next = I_AFTER_MOVE_MOVABLE;
        break;
      case I_TRY_TO_MIGRATE:
        yield* env.rmap.tryToMigrate(src, unmapTtuFlags(env, mode));
        pageWasMapped = true;
        next = I_AFTER_TRY_TO_MIGRATE;
        break;
      case I_SCHED:
        yield;
        next = I_AFTER_SCHED;
        break;
      case I_MOVE:
        rc = yield* moveToNewFolio(env, dst, src, mode);
        next = I_AFTER_MOVE;
        break;
      case I_COPIED:
        yield; // the scheduling point after `__migrate_folio`'s copy (6.12+)
        rc = moveToNewFolioAfterCopy(env, dst, src);
        next = I_AFTER_MOVE;
        break;
      case I_ADD_LRU:
        yield* env.lru.folioAddLru(dst);
        next = I_DRAIN;
        break;
      case I_DRAIN:
        yield* env.lru.lruAddDrain();
        next = I_REMOVE;
        break;
      case I_REMOVE:
        yield* env.rmap.removeMigrationPtes(src, rc === MIGRATEPAGE_SUCCESS ? dst : src, false);
        next = I_UNLOCK;
        break;
      default:
        yield* env.lru.folioPut(dst);
        return unmapAndMoveDone(env, cb, src, dst, rc, reason, ret);
    }
    r = unmapAndMoveInnerSteps(env, src, dst, force, mode, next, isLru, rc, pageWasMapped, anonVma);
  }
  return unmapAndMoveDone(env, cb, src, dst, r, reason, ret);
}

/**
 * The steps of `__unmap_and_move` (above, `unmapAndMoveInnerBody`) from `stage` on, as
 * plain calls: the parts that cannot sleep, the uncontended forms of the lock, LRU and rmap
 * calls, `move_to_new_folio`'s atomic cases, and the scheduling point after the unmap as a
 * virtual step. Returns the result, or UAM_SLEEPS (with `UAM_STOP` filled in, nothing of
 * that part done) when the next part may sleep or the scheduling point needs a real round.
 */
function unmapAndMoveInnerSteps(
  env: MigrateEnv,
  src: Folio,
  dst: Folio,
  force: boolean,
  mode: MigrateMode,
  stage: number,
  isLru: boolean,
  rc: number,
  pageWasMapped: boolean,
  anonVma: AnonVmaView | null,
): number {
  const mem = env.mem;
  const locks = env.locks;
  const rmap = env.rmap;
  // biome-ignore lint/suspicious/noConfusingLabels: the block ends at the kernel's `out:` label
  out: {
    // biome-ignore lint/suspicious/noConfusingLabels: the block ends at the kernel's `out_unlock:` label
    outUnlock: {
      // biome-ignore lint/suspicious/noConfusingLabels: the block ends at the kernel's `out_unlock_both:` label
      outUnlockBoth: {
        if (stage === I_START) {
          if (env.trylockFault.fire() || !locks.folioTrylock(src, CALLER)) {
            if (!force || mode === MIGRATE_ASYNC) break out;
            if ((env.rt.current.flags & PF_MEMALLOC) !== 0) break out;
            if (!locks.folioLockFast(src, CALLER)) {
              return stopInner(I_LOCK, dst, isLru, rc, pageWasMapped, anonVma);
            }
          }
          stage = I_LOCKED;
        }
        if (stage === I_LOCKED) {
          if (folioTestFlag(mem, src, PG_writeback)) {
            if (mode !== MIGRATE_SYNC && mode !== MIGRATE_SYNC_NO_COPY) {
              rc = -EBUSY;
              break outUnlock;
            }
            if (!force) break outUnlock;
            return stopInner(I_WRITEBACK, dst, isLru, rc, pageWasMapped, anonVma);
          }
          stage = I_AFTER_WRITEBACK;
        }
        if (stage === I_AFTER_WRITEBACK) {
          if (folioTestAnon(mem, src) && !folioTestKsm(mem, src)) {
            anonVma = rmap.folioGetAnonVma(src);
          }
          if (env.trylockFault.fire() || !locks.folioTrylock(dst, CALLER)) break outUnlock;
          if (!isLru) {
            rc = moveToNewFolioAtomic(env, dst, src, mode);
            if (rc === NEEDS_ADDRESS_SPACE) {
              return stopInner(I_MOVE_MOVABLE, dst, isLru, rc, pageWasMapped, anonVma);
            }
            stage = I_AFTER_MOVE_MOVABLE;
          } else if (folioRawMapping(mem, src) === null) {
            if (folioTestFlag(mem, src, PG_private)) {
              tryToFreeBuffers(env.services, src);
              break outUnlockBoth;
            }
            stage = I_AFTER_SCHED;
          } else if (rmap.folioMapped(src)) {
            if (folioTestAnon(mem, src) && !folioTestKsm(mem, src) && anonVma === null) {
              throw kernelBug(CALLER, `VM_BUG_ON_FOLIO: mapped anon folio ${src} has no anon_vma`);
            }
            if (rmap.tryToMigrateUncontended?.(src, unmapTtuFlags(env, mode)) !== true) {
              return stopInner(I_TRY_TO_MIGRATE, dst, isLru, rc, pageWasMapped, anonVma);
            }
            pageWasMapped = true;
            stage = I_AFTER_TRY_TO_MIGRATE;
          } else {
            stage = I_AFTER_SCHED;
          }
        }
        if (stage === I_AFTER_MOVE_MOVABLE) {
          // Model only: the driver failed; src goes back to it now (see unmap_and_move).
          if (rc === DRIVER_FAILED) movableReturnAfterDriverError(env, src);
          break outUnlockBoth;
        }
        if (stage === I_AFTER_TRY_TO_MIGRATE) {
          // The scheduling point after the unmap (see unmapAndMoveInnerBody).
          if (!env.rt.virtualStep()) {
            return stopInner(I_SCHED, dst, isLru, rc, pageWasMapped, anonVma);
          }
          stage = I_AFTER_SCHED;
        }
        if (stage === I_AFTER_SCHED) {
          if (!rmap.folioMapped(src)) {
            rc = moveToNewFolioAtomic(env, dst, src, mode);
            if (rc === NEEDS_ADDRESS_SPACE) {
              return stopInner(I_MOVE, dst, isLru, rc, pageWasMapped, anonVma);
            }
            if (rc === COPY_YIELDS) {
              return stopInner(I_COPIED, dst, isLru, rc, pageWasMapped, anonVma);
            }
          }
          stage = I_AFTER_MOVE;
        }
        if (stage === I_AFTER_MOVE) {
          // dst goes to the LRU at once, so that an mlocked folio gets its mlock_count.
          if (rc === MIGRATEPAGE_SUCCESS) {
            // folio_add_lru + lru_add_drain in one plain call when the batch is empty.
            if (pageWasMapped && env.lru.folioAddLruDrainUncontended?.(dst) === true) {
              stage = I_REMOVE;
            } else {
              if (env.lru.folioAddLruUncontended?.(dst) !== true) {
                return stopInner(I_ADD_LRU, dst, isLru, rc, pageWasMapped, anonVma);
              }
              stage = I_DRAIN;
            }
          } else {
            stage = I_REMOVE;
          }
        }
        if (stage === I_DRAIN) {
          if (pageWasMapped && env.lru.lruAddDrainUncontended?.() !== true) {
            return stopInner(I_DRAIN, dst, isLru, rc, pageWasMapped, anonVma);
          }
          stage = I_REMOVE;
        }
        if (stage === I_REMOVE && pageWasMapped) {
          const to = rc === MIGRATEPAGE_SUCCESS ? dst : src;
          if (rmap.removeMigrationPtesUncontended?.(src, to, false) !== true) {
            return stopInner(I_REMOVE, dst, isLru, rc, pageWasMapped, anonVma);
          }
        }
      }
      locks.folioUnlock(dst);
    }
    if (anonVma !== null) rmap.putAnonVma(anonVma);
    locks.folioUnlock(src);
  }
  // On success the new owners hold dst: drop the allocation reference.
  if (rc === MIGRATEPAGE_SUCCESS && !folioPutFast(mem, dst, 1)) {
    return stopInner(I_PUT, dst, isLru, rc, pageWasMapped, null);
  }
  return rc;
}

/**
 * `migrate_pages(from, get_new_page, put_new_page, private, mode, reason, &succeeded)`
 * (mm/migrate.c, 6.2), the variant `v6.2`: up to 10 passes over `from`, one folio at a
 * time (`unmap_and_move_huge_page` for hugetlb, `unmap_and_move` for the others) with
 * `force` from the fourth pass, in every mode. A large folio (`is_large`, not hugetlb) is
 * counted in `nr_large_failed` / `large_retry`; the THP counters (THP_MIGRATION_*, the
 * tracepoint's thp fields) count only the PMD-mappable ones (`is_thp = is_large &&
 * folio_test_pmd_mappable`). A large folio whose migration is unsupported (-ENOSYS) or
 * that gets -ENOMEM is split (unless MR_NUMA_MISPLACED; MR_LONGTERM_PIN retries a split
 * that fails with -EAGAIN) and its pieces are migrated after the rest, in a second round
 * with the full budget whose small-folio failures are not counted; what is left of the
 * first round goes to `ret_pages` first. -ENOMEM stops everything (the pieces go back on
 * `from`). There is no TLB batching: each PTE is flushed as it is cleared. Returns the
 * failed folios (`nr_failed + nr_large_failed`), 0 when nothing is left on `from`
 * (03e5f82ea632, 6.1: every piece of every split folio migrated), or -ENOMEM, as `rc` of
 * a `MigratePagesResult` with a snapshot of `stats`.
 */
export function* migratePagesV62(
  env: MigrateEnv,
  from: FolioList,
  cb: MigrateCallbacks,
  mode: MigrateMode,
  reason: MigrateReason,
  stats: MigrateStats,
): KernelGen<MigratePagesResult> {
  const mem = env.mem;
  const tp = env.tp;
  if (tp.start.enabled) tp.start.emit({ mode, reason });
  const costStartNs = env.rt.currentTask?.cpu.clock ?? 0; // per-reason cost attribution
  const costIpis = env.reasonCosts.ipiMark(env.vmstat);
  traceFoliosIsolated(env, from);
  const retPages = listHead(mem);
  const thpSplitPages = listHead(mem);
  const nosplit = reason === MR_NUMA_MISPLACED;
  // NR_MAX_MIGRATE_PAGES_RETRY, per mode from the variant (10 in every built-in variant).
  const passes = variantPasses(env.variant, mode);
  let retry = 1;
  let largeRetry = 1;
  let thpRetry = 0;
  let nrFailed = 0;
  let nrLargeFailed = 0;
  let nrRetryPages = 0;
  let noSubpageCounting = false;
  let rc = 0;
  let fatal = false;
  outer: for (;;) {
    for (let pass = 0; pass < passes && (retry !== 0 || largeRetry !== 0); pass++) {
      retry = 0;
      largeRetry = 0;
      thpRetry = 0;
      nrRetryPages = 0;
      for (const folio of from) {
        const hugetlb = folioTestHugetlb(mem, folio);
        // Captured before the folio can be split or freed.
        const isLarge = !hugetlb && folioTestLarge(mem, folio);
        const isThp = isLarge && folioOrder(mem, folio) >= HPAGE_PMD_ORDER ? 1 : 0;
        const nrSubpages = folioNrPages(mem, folio);
        if (!env.rt.virtualStep()) yield; // cond_resched()
        env.rt.touchKernel(FP_FOLIO, folio, true); // this iteration's folio (footprints only)
        let r: number;
        if (hugetlb) {
          if (!env.hugepageMigrationSupported) {
            listMoveTail(mem, folio, retPages);
            r = -ENOSYS;
          } else {
            r = yield* unmapAndMoveHugePage(env, cb, folio, pass > 2, mode, reason, retPages);
          }
        } else if (!env.rt.functions.enabled) {
          // (Untraced: as plain calls, with the same steps, up to a part that may sleep.)
          r = unmapAndMovePlain(env, cb, folio, pass > 2, mode, reason, retPages);
          if (r === UAM_SLEEPS && UAM_STOP.stage === I_SCHED) {
            // The scheduling point after the unmap needs a real round (another task can
            // run): taken here, the stop record copied first, and the plain steps go on
            // after it, with no `unmapAndMoveSlow` generator for a folio that only waits
            // for its turn (pmbench's threads on the other CPUs, one flush per page).
            const s = UAM_STOP;
            const dst = s.dst;
            const isLru = s.isLru;
            const rcBefore = s.rc;
            const pageWasMapped = s.pageWasMapped;
            const anonVma = s.anonVma;
            s.anonVma = null;
            yield;
            r = unmapAndMoveAfterSched(
              env,
              cb,
              folio,
              dst,
              pass > 2,
              mode,
              reason,
              retPages,
              isLru,
              rcBefore,
              pageWasMapped,
              anonVma,
            );
          }
          if (r === UAM_SLEEPS) {
            r = yield* unmapAndMoveSlow(env, cb, folio, pass > 2, mode, reason, retPages);
          }
        } else {
          r = yield* unmapAndMove(env, cb, folio, pass > 2, mode, reason, retPages);
        }
        switch (r) {
          case -ENOSYS:
            // Large folio migration is unsupported: split and retry the pieces later.
            if (isLarge) {
              nrLargeFailed++;
              stats.nrThpFailed += isThp;
              if ((yield* trySplitFolio(env, folio, thpSplitPages, mode)) === 0) {
                stats.nrThpSplit += isThp;
                break;
              }
            } else if (!noSubpageCounting) {
              nrFailed++;
            }
            stats.nrFailedPages += nrSubpages;
            listMoveTail(mem, folio, retPages);
            break;
          case -ENOMEM:
            // Memory is low: do not bother with the other folios.
            if (isLarge) {
              nrLargeFailed++;
              stats.nrThpFailed += isThp;
              // Large folio NUMA faulting does not split to retry.
              if (!nosplit) {
                const s = yield* trySplitFolio(env, folio, thpSplitPages, mode);
                if (s === 0) {
                  stats.nrThpSplit += isThp;
                  break;
                }
                if (reason === MR_LONGTERM_PIN && s === -EAGAIN) {
                  largeRetry++;
                  env.reasonCosts.retry(reason);
                  thpRetry += isThp;
                  nrRetryPages += nrSubpages;
                  break;
                }
              }
            } else if (!noSubpageCounting) {
              nrFailed++;
            }
            stats.nrFailedPages += nrSubpages + nrRetryPages;
            // Pieces of failed large folios go back on the migration list, or their
            // references leak.
            thpSplitPages.spliceInit(from);
            nrLargeFailed += largeRetry;
            stats.nrThpFailed += thpRetry;
            rc = -ENOMEM;
            fatal = true;
            break outer;
          case -EAGAIN:
            if (isLarge) {
              largeRetry++;
              thpRetry += isThp;
            } else if (!noSubpageCounting) {
              retry++;
            }
            nrRetryPages += nrSubpages;
            env.reasonCosts.retry(reason);
            break;
          case MIGRATEPAGE_SUCCESS:
            stats.nrSucceeded += nrSubpages;
            stats.nrThpSucceeded += isThp;
            break;
          default:
            // Permanent failure (-EBUSY...): src is already on ret_pages.
            if (isLarge) {
              nrLargeFailed++;
              stats.nrThpFailed += isThp;
            } else if (!noSubpageCounting) {
              nrFailed++;
            }
            stats.nrFailedPages += nrSubpages;
            break;
        }
      }
    }
    nrFailed += retry;
    nrLargeFailed += largeRetry;
    stats.nrThpFailed += thpRetry;
    stats.nrFailedPages += nrRetryPages;
    // Migrate the pieces of the large folios that failed; each already counted as one
    // failure.
    if (!thpSplitPages.isEmpty()) {
      from.spliceInit(retPages);
      thpSplitPages.spliceInit(from);
      noSubpageCounting = true;
      retry = 1;
      continue;
    }
    break;
  }
  if (!fatal) rc = nrFailed + nrLargeFailed;
  retPages.spliceInit(from);
  // 0 if every piece of every split large folio was migrated (03e5f82ea632, 6.1).
  if (env.variant.allMigratedReturnsZero && from.isEmpty()) rc = 0;
  env.reasonCosts.end(
    reason,
    stats,
    (env.rt.currentTask?.cpu.clock ?? 0) - costStartNs,
    costIpis,
    env.vmstat,
  );
  migratePagesEnd(env, stats, mode, reason);
  return { rc: rc, stats: stats.snapshot() };
}
