import { type Folio, type FolioList, folioTestMovable } from '@mmsim/folio';
import { folioPutFast } from '@mmsim/lru';
import type { AnonVmaView } from '@mmsim/rmap';
import { EAGAIN, type KernelGen, tracedFunction } from '@mmsim/runtime';
import type { MigrateCallbacks } from './callbacks.js';
import { MIGRATEPAGE_SUCCESS } from './constants.js';
import { folioTestClearContentCopied } from './copy-offload.js';
import { listAddAfter, listDel } from './lists.js';
import type { MigrateEnv } from './migrate-env.js';
import { COPY_YIELDS } from './migrate-folio.js';
import {
  migrateFolioExtract,
  migrateFolioRecord,
  PAGE_WAS_MAPPED,
  PAGE_WAS_MLOCKED,
  recordedAnonVma,
  recordedPageWasMapped,
} from './migrate-folio-record.js';
import {
  migrateFolioDone,
  migrateFolioUndoDst,
  migrateFolioUndoSrc,
  migrateFolioUndoSrcPlain,
} from './migrate-folio-undo.js';
import type { MigrateMode } from './modes.js';
import { movableGiveBackAfterDriverError } from './movable.js';
import {
  DRIVER_FAILED,
  moveToNewFolio,
  moveToNewFolioAfterCopy,
  moveToNewFolioAtomic,
  NEEDS_ADDRESS_SPACE,
} from './move-to-new-folio.js';
import type { MigrateReason } from './reasons.js';

/**
 * `migrate_folio_move(put_new_page, private, src, dst, mode, reason, ret)` (mm/migrate.c,
 * 6.3): move an unmapped, locked src to its locked dst, after the batch's TLB flush.
 *
 * 1. Extract `page_was_mapped` and the anon_vma from dst, remember dst's place on
 *    `dstFolios` and take it off.
 * 2. `move_to_new_folio`. A failure goes to out.
 * 3. LRU folios only: `folio_add_lru(dst)` so that dst is on the LRU before its PTEs come
 *    back (mlock accounting), `lru_add_drain()` if src was mapped (6.7+, variant
 *    `drainOnlyMlocked`: only if it was mlocked, PAGE_WAS_MLOCKED; Baolin Wang's "record
 *    the mlocked page status to remove unnecessary lru drain"), then, if it was mapped,
 *    `remove_migration_ptes(src, dst, false)`: the migration entries become mappings of
 *    dst.
 * 4. Unlock dst and drop the allocation reference (the mappings and the page cache hold
 *    dst now); src leaves `unmap_folios`, the anon_vma pin goes, src is unlocked (which
 *    wakes the tasks that fault on its migration entries) and done (`migrate_folio_done`).
 *    Returns MIGRATEPAGE_SUCCESS.
 *
 * out: -EAGAIN puts dst back where it was and records the state again: src stays locked
 * and unmapped on `unmap_folios` for the next move pass. Any other error undoes src
 * (mappings restored, unlocked, moved to `ret`) and dst.
 */
export const migrateFolioMove = tracedFunction('migrate_folio_move', migrateFolioMoveBody);
function* migrateFolioMoveBody(
  env: MigrateEnv,
  cb: MigrateCallbacks,
  src: Folio,
  dst: Folio,
  dstFolios: FolioList,
  mode: MigrateMode,
  reason: MigrateReason,
  ret: FolioList,
): KernelGen<number> {
  const r = migrateFolioMovePlain(env, cb, src, dst, dstFolios, mode, reason, ret);
  if (r !== MOVE_SLEEPS) return r;
  return yield* migrateFolioMoveSlow(env, cb, src, dst, dstFolios, mode, reason, ret);
}

/**
 * `migrate_folio_move` (above) as plain calls, up to the first part that may sleep: returns
 * the result, or MOVE_SLEEPS when such a part comes next; then `migrateFolioMoveSlow` must
 * run at once (before anything else) and goes on from there. For callers that do not trace
 * kernel functions (`migrateFolioMove` is the traced call).
 */
export function migrateFolioMovePlain(
  env: MigrateEnv,
  cb: MigrateCallbacks,
  src: Folio,
  dst: Folio,
  dstFolios: FolioList,
  mode: MigrateMode,
  reason: MigrateReason,
  ret: FolioList,
): number {
  return migrateFolioMoveSteps(
    env,
    cb,
    src,
    dst,
    dstFolios,
    mode,
    reason,
    ret,
    S_START,
    !folioTestMovable(env.mem, src),
    0,
    null,
    -1,
    0,
  );
}

/**
 * @internal How often `migrateFolioMoveSlow` ran (a move that went on as generators), for
 * the tests that check which moves stay plain calls. Nothing in the model reads it.
 */
export const movePlainStats = { slow: 0 };

/**
 * The rest of `migrate_folio_move` after `migrateFolioMovePlain` returned MOVE_SLEEPS: runs
 * the part that may sleep, then the plain steps again, until the end.
 */
export function* migrateFolioMoveSlow(
  env: MigrateEnv,
  cb: MigrateCallbacks,
  src: Folio,
  dst: Folio,
  dstFolios: FolioList,
  mode: MigrateMode,
  reason: MigrateReason,
  ret: FolioList,
): KernelGen<number> {
  movePlainStats.slow++;
  let r = MOVE_SLEEPS;
  while (r === MOVE_SLEEPS) {
    // Where the plain steps stopped, copied before anything can run in between.
    const s = MOVE_STOP;
    const stage = s.stage;
    const isLru = s.isLru;
    const pageWasMapped = s.pageWasMapped;
    const anonVma = s.anonVma;
    const prev = s.prev;
    let rc = s.rc;
    s.anonVma = null;
    let next: number;
    switch (stage) {
      case S_MOVE:
        rc = yield* moveToNewFolio(env, dst, src, mode);
        next = S_AFTER_MOVE;
        break;
      case S_COPIED:
        yield; // the scheduling point after `__migrate_folio`'s copy (6.12+)
        rc = moveToNewFolioAfterCopy(env, dst, src);
        next = S_AFTER_MOVE;
        break;
      case S_UNDO:
        yield* migrateFolioUndoSrc(env, src, pageWasMapped & PAGE_WAS_MAPPED, anonVma, true, ret);
        migrateFolioUndoDst(env, dst, true, cb);
        return rc;
      case S_ADD_LRU:
        yield* env.lru.folioAddLru(dst);
        next = S_DRAIN;
        break;
      case S_DRAIN:
        yield* env.lru.lruAddDrain();
        next = S_REMOVE;
        break;
      case S_REMOVE:
        yield* env.rmap.removeMigrationPtes(src, dst, false);
        next = S_UNLOCK;
        break;
      default:
        yield* env.lru.folioPut(dst);
        next = S_AFTER_PUT;
        break;
    }
    r = migrateFolioMoveSteps(
      env,
      cb,
      src,
      dst,
      dstFolios,
      mode,
      reason,
      ret,
      next,
      isLru,
      pageWasMapped,
      anonVma,
      prev,
      rc,
    );
  }
  return r;
}

/** Stages of `migrateFolioMoveSteps`: where it starts, or where it stopped. */
const S_START = 0;
/** `move_to_new_folio` needs the address space's callbacks, which may sleep. */
const S_MOVE = 1;
const S_AFTER_MOVE = 2;
/** The failure path's `migrate_folio_undo_src`. */
const S_UNDO = 3;
const S_ADD_LRU = 4;
const S_DRAIN = 5;
const S_REMOVE = 6;
const S_UNLOCK = 7;
/** `folio_put(dst)` is the last reference. */
const S_PUT = 8;
const S_AFTER_PUT = 9;
/** `__migrate_folio` copied (6.12+ `copyBeforeFreeze`); its scheduling point needs a real round. */
const S_COPIED = 10;

/**
 * The `old_page_state` bit that makes the move drain the LRU batches after `folio_add_lru`:
 * 6.3 drains for every mapped src; 6.7+ (`drainOnlyMlocked`) for an mlocked one only.
 */
function drainBit(env: MigrateEnv): number {
  return env.variant.drainOnlyMlocked ? PAGE_WAS_MLOCKED : PAGE_WAS_MAPPED;
}

/** What `migrateFolioMoveSteps` returns when it stopped before a part that may sleep. */
export const MOVE_SLEEPS = 0x7fff_fff0;

/**
 * Where the plain steps stopped and the locals to go on with: read by the generator at
 * once (before anything can run in between), so one record serves every call.
 */
const MOVE_STOP = {
  stage: S_START,
  isLru: true,
  pageWasMapped: 0,
  anonVma: null as AnonVmaView | null,
  prev: -1 as Folio,
  rc: 0,
};

function stop(
  stage: number,
  isLru: boolean,
  pageWasMapped: number,
  anonVma: AnonVmaView | null,
  prev: Folio,
  rc: number,
): number {
  const s = MOVE_STOP;
  s.stage = stage;
  s.isLru = isLru;
  s.pageWasMapped = pageWasMapped;
  s.anonVma = anonVma;
  s.prev = prev;
  s.rc = rc;
  return MOVE_SLEEPS;
}

/**
 * The steps of `migrate_folio_move` (above) from `stage` on, as plain calls: the parts
 * that cannot sleep, and the uncontended forms of the LRU and rmap calls. Returns the
 * result, or MOVE_SLEEPS (with `MOVE_STOP` filled in, nothing of that part done) when the
 * next part may sleep; the caller runs that part and calls again from the next stage.
 */
export function migrateFolioMoveSteps(
  env: MigrateEnv,
  cb: MigrateCallbacks,
  src: Folio,
  dst: Folio,
  dstFolios: FolioList,
  mode: MigrateMode,
  reason: MigrateReason,
  ret: FolioList,
  stage: number,
  isLru: boolean,
  pageWasMapped: number,
  anonVma: AnonVmaView | null,
  prev: Folio,
  rc: number,
): number {
  const mem = env.mem;
  if (stage === S_START) {
    pageWasMapped = recordedPageWasMapped(env, dst);
    anonVma = recordedAnonVma(env, dst);
    migrateFolioExtract(env, dst);
    prev = dstFolios.prev(dst);
    dstFolios.del(dst);
    rc = moveToNewFolioAtomic(env, dst, src, mode);
    if (rc === NEEDS_ADDRESS_SPACE) return stop(S_MOVE, isLru, pageWasMapped, anonVma, prev, rc);
    if (rc === COPY_YIELDS) return stop(S_COPIED, isLru, pageWasMapped, anonVma, prev, rc);
    stage = S_AFTER_MOVE;
  }
  if (stage === S_AFTER_MOVE) {
    // Batch copy: the FOLIO_CONTENT_COPIED mark is good for one attempt only.
    if (env.services.batchPrecopy === true) folioTestClearContentCopied(mem, dst);
    if (rc !== MIGRATEPAGE_SUCCESS) {
      // A folio that was not migrated goes back to the right list, unless we retry it.
      if (rc === -EAGAIN) {
        listAddAfter(dstFolios, dst, prev);
        migrateFolioRecord(env, dst, pageWasMapped, anonVma);
        return rc;
      }
      if (rc === DRIVER_FAILED) {
        // Model only: the driver failed; dst goes back and src to its driver at once.
        migrateFolioUndoDst(env, dst, true, cb);
        movableGiveBackAfterDriverError(env, src);
        return rc;
      }
      // (The undo as plain calls when it cannot sleep; see migrateFolioUndoSrcPlain.)
      if (migrateFolioUndoSrcPlain(env, src, pageWasMapped & PAGE_WAS_MAPPED, anonVma, true, ret)) {
        migrateFolioUndoDst(env, dst, true, cb);
        return rc;
      }
      return stop(S_UNDO, isLru, pageWasMapped, anonVma, prev, rc);
    }
    // dst goes to the LRU before its PTEs come back, so that remove_migration_ptes
    // builds the right mlock_count for an mlocked folio.
    // (Uncontended: as plain calls, with the same steps; see LruIsolation.)
    if (!isLru) {
      stage = S_UNLOCK;
    } else if (
      (pageWasMapped & drainBit(env)) !== 0 &&
      env.lru.folioAddLruDrainUncontended?.(dst) === true
    ) {
      // folio_add_lru + lru_add_drain in one plain call (this CPU's batch was empty).
      stage = S_REMOVE;
    } else {
      if (env.lru.folioAddLruUncontended?.(dst) !== true) {
        return stop(S_ADD_LRU, isLru, pageWasMapped, anonVma, prev, rc);
      }
      stage = S_DRAIN;
    }
  }
  if (stage === S_DRAIN) {
    if ((pageWasMapped & drainBit(env)) !== 0 && env.lru.lruAddDrainUncontended?.() !== true) {
      return stop(S_DRAIN, isLru, pageWasMapped, anonVma, prev, rc);
    }
    stage = S_REMOVE;
  }
  if (stage === S_REMOVE) {
    if (
      (pageWasMapped & PAGE_WAS_MAPPED) !== 0 &&
      env.rmap.removeMigrationPtesUncontended?.(src, dst, false) !== true
    ) {
      return stop(S_REMOVE, isLru, pageWasMapped, anonVma, prev, rc);
    }
    stage = S_UNLOCK;
  }
  if (stage === S_UNLOCK) {
    env.locks.folioUnlock(dst);
    // set_page_owner_migrate_reason(dst, reason): page_owner is not modelled.
    // folio_put(dst): the new owners hold dst, so this is rarely the last reference.
    if (!folioPutFast(mem, dst, 1)) return stop(S_PUT, isLru, pageWasMapped, anonVma, prev, rc);
  }
  listDel(mem, src);
  if (anonVma !== null) env.rmap.putAnonVma(anonVma);
  env.locks.folioUnlock(src);
  migrateFolioDone(env, src, reason);
  return MIGRATEPAGE_SUCCESS;
}
