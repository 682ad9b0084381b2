import {
  type Folio,
  type FolioList,
  folioClearFlag,
  folioRefCount,
  folioSetPrivate,
  folioTestFlag,
  folioTestMovable,
  memmapReader,
  PAGE_MAPPING_ANON,
  PAGE_MAPPING_KSM,
  PAGE_MAPPING_MOVABLE,
  PG_active,
  PG_mlocked,
  PG_private,
  PG_unevictable,
  PG_uptodate,
  PG_writeback,
  readerIsFolio,
  readerMapping,
} from '@mmsim/folio';
import type { AnonVmaView } from '@mmsim/rmap';
import { TTU_BATCH_FLUSH } from '@mmsim/rmap';
import {
  EAGAIN,
  EBUSY,
  EDEADLOCK,
  ENOMEM,
  type KernelGen,
  PF_MEMALLOC,
  tracedFunction,
} from '@mmsim/runtime';
import { tryToFreeBuffers } from './buffer-migrate-folio.js';
import { callGetNewFolio, type MigrateCallbacks } from './callbacks.js';
import { MIGRATEPAGE_SUCCESS, MIGRATEPAGE_UNMAP } from './constants.js';
import { kernelBug } from './errors.js';
import { listDel } from './lists.js';
import type { MigrateEnv } from './migrate-env.js';
import { migrateFolioRecord, PAGE_WAS_MAPPED, PAGE_WAS_MLOCKED } from './migrate-folio-record.js';
import {
  migrateFolioDone,
  migrateFolioUndoDst,
  migrateFolioUndoSrc,
  migrateFolioUndoSrcPlain,
} from './migrate-folio-undo.js';
import {
  MIGRATE_ASYNC,
  MIGRATE_SYNC,
  MIGRATE_SYNC_LIGHT,
  MIGRATE_SYNC_NO_COPY,
  type MigrateMode,
} from './modes.js';
import type { MigrateReason } from './reasons.js';

const CALLER = 'migrate_folio_unmap';

/**
 * The caller's `struct folio *dst` that `migrate_folio_unmap` fills in through `dstp`: a
 * record the caller owns (one per batch), never state of the core.
 */
export interface DstFolioRef {
  dst: Folio;
}

/**
 * The `try_to_migrate()` flags of the unmap step for the variant and mode: TTU_BATCH_FLUSH
 * (defer the TLB flush to the batch's `try_to_unmap_flush`) for MIGRATE_ASYNC only in 6.3,
 * for every mode in 6.3-rc1 and the RFC, never in 6.2.
 */
export function unmapTtuFlags(env: MigrateEnv, mode: MigrateMode): number {
  const policy = env.variant.batchFlush;
  if (policy === 'always') return TTU_BATCH_FLUSH;
  if (policy === 'async-only' && mode === MIGRATE_ASYNC) return TTU_BATCH_FLUSH;
  return 0;
}

/**
 * `migrate_folio_unmap(get_new_page, put_new_page, private, src, dstp, mode, reason, ret)`
 * (mm/migrate.c, 6.3): get a destination, lock src and dst, and replace src's mappings by
 * migration entries, stopping before any data moves. Returns:
 *
 * - MIGRATEPAGE_SUCCESS: src was freed under us (refcount 1: only our isolation
 *   reference is left); PG_active and PG_unevictable are cleared, src leaves its list and
 *   is done (`migrate_folio_done`).
 * - -ENOMEM: `get_new_page` found nothing; nothing is locked, src stays on `from`.
 * - MIGRATEPAGE_UNMAP: src and dst are locked, src is not mapped (its migration entries
 *   exist if it was), and dst records `page_was_mapped` and the anon_vma pin;
 *   `dstp.dst` is dst. Non-LRU movable pages return here right after dst is locked.
 * - -EAGAIN: try again in a later pass; everything is undone and src stays on `from`.
 *   Causes: src lock contended in MIGRATE_ASYNC, under PF_MEMALLOC (direct compaction
 *   must never sleep on a page lock), or (6.5+) in MIGRATE_SYNC_LIGHT on a folio that is
 *   not uptodate; dst lock contended (never slept on); an orphaned page-cache folio with
 *   buffers (they are freed with `try_to_free_buffers` for a later pass); some mapping
 *   that `try_to_migrate` could not replace (a pinned anon page).
 * - -EBUSY: src is under writeback and the mode is not MIGRATE_SYNC / SYNC_NO_COPY;
 *   everything is undone and src moves to the tail of `ret`.
 *
 * Sync modes sleep on the src lock (`folio_lock`) and in `folio_wait_writeback`. The
 * lock order is src, then dst (a trylock); `try_to_migrate` then takes the rmap locks.
 *
 * Variant policy: with `forceFromPass3` (6.2, the RFC, 6.3-rc1) a sync mode only sleeps
 * on the lock or waits for writeback when `force` (pass > 2), else -EAGAIN; while the
 * batch already holds unmapped folios (`avoidForceLock` here), 6.3-rc1's
 * `batchLockStrategy: 'deadlock-avoid'` turns that sleep into -EDEADLOCK (src stays on
 * `from`) and the prototype strategy `'trylock'` into -EAGAIN; `syncLightNeedsUptodate` is the SYNC_LIGHT rule of
 * 4bb6dc79d987 (Douglas Anderson, 6.5): a src that is not uptodate is locked for read I/O,
 * so SYNC_LIGHT gives up (-EAGAIN) instead of sleeping. 6.3 itself sleeps in SYNC_LIGHT
 * whatever PG_uptodate says.
 */
export const migrateFolioUnmap = tracedFunction('migrate_folio_unmap', migrateFolioUnmapBody);
function* migrateFolioUnmapBody(
  env: MigrateEnv,
  cb: MigrateCallbacks,
  src: Folio,
  dstp: DstFolioRef,
  mode: MigrateMode,
  reason: MigrateReason,
  ret: FolioList,
  force: boolean,
  avoidForceLock: boolean,
): KernelGen<number> {
  const r = migrateFolioUnmapPlain(env, cb, src, dstp, mode, reason, ret, force, avoidForceLock);
  if (r !== UNMAP_SLEEPS) return r;
  return yield* migrateFolioUnmapSlow(env, cb, src, dstp, mode, reason, ret, force, avoidForceLock);
}

/**
 * `migrate_folio_unmap` (above) as plain calls, up to the first part that may sleep:
 * returns the result, or UNMAP_SLEEPS when such a part comes next; then
 * `migrateFolioUnmapSlow` must run at once (before anything else) and goes on from there.
 * For callers that do not trace kernel functions (`migrateFolioUnmap` is the traced call).
 */
export function migrateFolioUnmapPlain(
  env: MigrateEnv,
  cb: MigrateCallbacks,
  src: Folio,
  dstp: DstFolioRef,
  mode: MigrateMode,
  reason: MigrateReason,
  ret: FolioList,
  force: boolean,
  avoidForceLock: boolean,
): number {
  const r = memmapReader(env.mem);
  if (!readerIsFolio(r, src)) folioTestMovable(env.mem, src); // throws the accessor's error
  return migrateFolioUnmapSteps(
    env,
    cb,
    src,
    dstp,
    mode,
    reason,
    ret,
    force,
    avoidForceLock,
    U_START,
    r.mappingKind[src] !== PAGE_MAPPING_MOVABLE, // !__folio_test_movable(src)
    -1,
    -EAGAIN,
    0,
    null,
    false,
    false,
  );
}

/**
 * The rest of `migrate_folio_unmap` after `migrateFolioUnmapPlain` returned UNMAP_SLEEPS:
 * runs the part that may sleep, then the plain steps again, until the end.
 */
export function* migrateFolioUnmapSlow(
  env: MigrateEnv,
  cb: MigrateCallbacks,
  src: Folio,
  dstp: DstFolioRef,
  mode: MigrateMode,
  reason: MigrateReason,
  ret: FolioList,
  force: boolean,
  avoidForceLock: boolean,
): KernelGen<number> {
  let r = UNMAP_SLEEPS;
  while (r === UNMAP_SLEEPS) {
    // Where the plain steps stopped, copied before anything can run in between.
    const s = UNMAP_STOP;
    const stage = s.stage;
    const isLru = s.isLru;
    const dst = s.dst;
    const rc = s.rc;
    let pageWasMapped = s.pageWasMapped;
    const anonVma = s.anonVma;
    const locked = s.locked;
    const dstLocked = s.dstLocked;
    s.anonVma = null;
    let next: number;
    switch (stage) {
      case U_LOCK:
        yield* env.locks.folioLockContended(src, CALLER);
        next = U_LOCKED;
        break;
      case U_WRITEBACK:
        yield* env.locks.folioWaitWriteback(src, CALLER);
        next = U_AFTER_WRITEBACK;
        break;
      case U_TRY_TO_MIGRATE:
        yield* env.rmap.tryToMigrate(src, unmapTtuFlags(env, mode));
        pageWasMapped |= PAGE_WAS_MAPPED;
        next = U_AFTER_TRY_TO_MIGRATE;
        break;
      default: {
        // out: a folio that was not unmapped goes back to the right list, unless we retry it.
        const retList = rc === -EAGAIN || rc === -EDEADLOCK ? null : ret;
        yield* migrateFolioUndoSrc(
          env,
          src,
          pageWasMapped & PAGE_WAS_MAPPED,
          anonVma,
          locked,
          retList,
        );
        migrateFolioUndoDst(env, dst, dstLocked, cb);
        return rc;
      }
    }
    r = migrateFolioUnmapSteps(
      env,
      cb,
      src,
      dstp,
      mode,
      reason,
      ret,
      force,
      avoidForceLock,
      next,
      isLru,
      dst,
      rc,
      pageWasMapped,
      anonVma,
      locked,
      dstLocked,
    );
  }
  return r;
}

/** Stages of `migrateFolioUnmapSteps`: where it starts, or where it stopped. */
const U_START = 0;
/** The src lock is contended and the mode sleeps on it (`folio_lock`). */
const U_LOCK = 1;
const U_LOCKED = 2;
/** `folio_wait_writeback`. */
const U_WRITEBACK = 3;
const U_AFTER_WRITEBACK = 4;
/** `try_to_migrate` that may sleep, spin or pass a scheduling point. */
const U_TRY_TO_MIGRATE = 5;
const U_AFTER_TRY_TO_MIGRATE = 6;
/** The `out:` path: `migrate_folio_undo_src` may sleep. */
const U_OUT = 7;

/** What `migrateFolioUnmapSteps` returns when it stopped before a part that may sleep. */
export const UNMAP_SLEEPS = 0x7fff_fff1;

/**
 * Where the plain steps stopped and the locals to go on with: read by the generator at
 * once (before anything can run in between), so one record serves every call.
 */
const UNMAP_STOP = {
  stage: U_START,
  isLru: true,
  dst: -1 as Folio,
  rc: 0,
  pageWasMapped: 0,
  anonVma: null as AnonVmaView | null,
  locked: false,
  dstLocked: false,
};

function stopUnmap(
  stage: number,
  isLru: boolean,
  dst: Folio,
  rc: number,
  pageWasMapped: number,
  anonVma: AnonVmaView | null,
  locked: boolean,
  dstLocked: boolean,
): number {
  const s = UNMAP_STOP;
  s.stage = stage;
  s.isLru = isLru;
  s.dst = dst;
  s.rc = rc;
  s.pageWasMapped = pageWasMapped;
  s.anonVma = anonVma;
  s.locked = locked;
  s.dstLocked = dstLocked;
  return UNMAP_SLEEPS;
}

/**
 * The steps of `migrate_folio_unmap` (above) from `stage` on, as plain calls: the parts
 * that cannot sleep and the uncontended `try_to_migrate`. Returns the result, or
 * UNMAP_SLEEPS (with `UNMAP_STOP` filled in, nothing of that part done) when the next part
 * may sleep; the caller runs that part and calls again from the next stage.
 */
function migrateFolioUnmapSteps(
  env: MigrateEnv,
  cb: MigrateCallbacks,
  src: Folio,
  dstp: DstFolioRef,
  mode: MigrateMode,
  reason: MigrateReason,
  ret: FolioList,
  force: boolean,
  avoidForceLock: boolean,
  stage: number,
  isLru: boolean,
  dst: Folio,
  rc: number,
  pageWasMapped: number,
  anonVma: AnonVmaView | null,
  locked: boolean,
  dstLocked: boolean,
): number {
  const mem = env.mem;
  const locks = env.locks;
  const rmap = env.rmap;
  const variant = env.variant;
  // src's fields are read through the memmap reader: src is isolated, so it holds our
  // reference and stays a live head throughout (checked once here, with the accessor's
  // error if it is not).
  const r = memmapReader(mem);
  if (!readerIsFolio(r, src)) folioRefCount(mem, src);

  // biome-ignore lint/suspicious/noConfusingLabels: the block ends at the kernel's `out:` label
  out: {
    if (stage === U_START) {
      if (r.refcount[src] === 1) {
        // Folio was freed from under us: we are done. (free_pages_prepare clears PG_isolated.)
        folioClearFlag(mem, src, PG_active);
        folioClearFlag(mem, src, PG_unevictable);
        listDel(mem, src);
        migrateFolioDone(env, src, reason);
        return MIGRATEPAGE_SUCCESS;
      }

      const newFolio = callGetNewFolio(env, cb, src);
      if (newFolio === null) return -ENOMEM;
      dst = newFolio;
      folioSetPrivate(mem, dst, null);

      if (env.trylockFault.fire() || !locks.folioTrylock(src, CALLER)) {
        if (mode === MIGRATE_ASYNC || (variant.forceFromPass3 && !force)) break out;
        // Direct compaction must never sleep on a page lock: readahead adds locked folios
        // and an allocation under them could lock the same folio twice.
        if ((env.rt.current.flags & PF_MEMALLOC) !== 0) break out;
        if (avoidForceLock && variant.batchLockStrategy !== 'sleep') {
          // 6.3-rc1: other folios are locked in this batch; sleeping here could deadlock.
          // The 'trylock' strategy gives up as MIGRATE_ASYNC does, for the next pass.
          if (variant.batchLockStrategy === 'deadlock-avoid') rc = -EDEADLOCK;
          break out;
        }
        // SYNC_LIGHT may wait for transient locks, not for I/O (4bb6dc79d987, 6.5).
        if (variant.syncLightNeedsUptodate && mode === MIGRATE_SYNC_LIGHT) {
          if (!folioTestFlag(mem, src, PG_uptodate)) break out;
        }
        if (!locks.folioLockFast(src, CALLER)) {
          return stopUnmap(U_LOCK, isLru, dst, rc, pageWasMapped, anonVma, locked, dstLocked);
        }
      }
      stage = U_LOCKED;
    }
    if (stage === U_LOCKED) {
      locked = true;
      const flags = r.flags[src]!; // src's flags, read once for the two tests below
      // 6.7+: remember an mlocked src, so that only its move drains the LRU batches.
      if (variant.drainOnlyMlocked && (flags & (1 << PG_mlocked)) !== 0) {
        pageWasMapped |= PAGE_WAS_MLOCKED;
      }

      if ((flags & (1 << PG_writeback)) !== 0) {
        // Only a full synchronous migration waits for writeback.
        if (mode !== MIGRATE_SYNC && mode !== MIGRATE_SYNC_NO_COPY) {
          rc = -EBUSY;
          break out;
        }
        if (variant.forceFromPass3 && !force) break out;
        return stopUnmap(U_WRITEBACK, isLru, dst, rc, pageWasMapped, anonVma, locked, dstLocked);
      }
      stage = U_AFTER_WRITEBACK;
    }
    if (stage === U_AFTER_WRITEBACK) {
      // Once try_to_migrate has unmapped an anon folio, nothing keeps its anon_vma alive:
      // pin it now. Null means src is no longer mapped, which it cannot become again while
      // it is locked.
      // (src is locked: whether it is anon and not KSM cannot change below.)
      const kind = r.mappingKind[src]!;
      const anonNotKsm = (kind & PAGE_MAPPING_ANON) !== 0 && kind !== PAGE_MAPPING_KSM;
      if (anonNotKsm) anonVma = rmap.folioGetAnonVma(src);

      // Nobody should know dst, but a trylock it is: never sleep on it.
      if (env.trylockFault.fire() || !locks.folioTrylock(dst, CALLER)) break out;
      dstLocked = true;

      if (!isLru) {
        migrateFolioRecord(env, dst, pageWasMapped, anonVma);
        dstp.dst = dst;
        return MIGRATEPAGE_UNMAP;
      }

      if (readerMapping(r, src) === null) {
        // A fresh swap-cache folio has no rmap yet (fall through); an orphaned page-cache
        // folio with buffers gets them freed so that it can be freed.
        if (folioTestFlag(mem, src, PG_private)) {
          tryToFreeBuffers(env.services, src);
          break out;
        }
      } else if (rmap.folioMapped(src)) {
        if (anonNotKsm && anonVma === null) {
          throw kernelBug(CALLER, `VM_BUG_ON_FOLIO: mapped anon folio ${src} has no anon_vma`);
        }
        // (Uncontended: as a plain call, with the same steps; see Rmap.)
        if (rmap.tryToMigrateUncontended?.(src, unmapTtuFlags(env, mode)) !== true) {
          return stopUnmap(
            U_TRY_TO_MIGRATE,
            isLru,
            dst,
            rc,
            pageWasMapped,
            anonVma,
            locked,
            dstLocked,
          );
        }
        pageWasMapped |= PAGE_WAS_MAPPED;
      }
      stage = U_AFTER_TRY_TO_MIGRATE;
    }
    if (!rmap.folioMapped(src)) {
      migrateFolioRecord(env, dst, pageWasMapped, anonVma);
      dstp.dst = dst;
      return MIGRATEPAGE_UNMAP;
    }
  }
  // out: as the slow path's U_OUT, as plain calls when the undo cannot sleep (src was not
  // unmapped, or its mappings come back by the uncontended walk).
  const retList = rc === -EAGAIN || rc === -EDEADLOCK ? null : ret;
  if (
    migrateFolioUndoSrcPlain(env, src, pageWasMapped & PAGE_WAS_MAPPED, anonVma, locked, retList)
  ) {
    migrateFolioUndoDst(env, dst, dstLocked, cb);
    return rc;
  }
  return stopUnmap(U_OUT, isLru, dst, rc, pageWasMapped, anonVma, locked, dstLocked);
}
