import { type Folio, type FolioList, folioTestMovable } from '@mmsim/folio';
import { folioPutFast } from '@mmsim/lru';
import { EAGAIN, type KernelGen, tracedFunction } from '@mmsim/runtime';
import type { MigrateCallbacks } from './callbacks.js';
import { MIGRATEPAGE_SUCCESS } from './constants.js';
import { folioTestClearContentCopied } from './copy-offload.js';
import { listAddAfter, listDel } from './lists.js';
import type { MigrateEnv } from './migrate-env.js';
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
} from './migrate-folio-undo.js';
import type { MigrateMode } from './modes.js';
import { movableGiveBackAfterDriverError } from './movable.js';
import {
  DRIVER_FAILED,
  moveToNewFolio,
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
  const mem = env.mem;
  const isLru = !folioTestMovable(mem, src);
  const pageWasMapped = recordedPageWasMapped(env, dst);
  const anonVma = recordedAnonVma(env, dst);
  migrateFolioExtract(env, dst);
  const prev = dstFolios.prev(dst);
  dstFolios.del(dst);

  let rc = moveToNewFolioAtomic(env, dst, src, mode);
  if (rc === NEEDS_ADDRESS_SPACE) rc = yield* moveToNewFolio(env, dst, src, mode);
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
    yield* migrateFolioUndoSrc(env, src, pageWasMapped & PAGE_WAS_MAPPED, anonVma, true, ret);
    migrateFolioUndoDst(env, dst, true, cb);
    return rc;
  }

  if (isLru) {
    // dst goes to the LRU before its PTEs come back, so that remove_migration_ptes
    // builds the right mlock_count for an mlocked folio.
    // (Uncontended: as plain calls, with the same steps; see LruIsolation.)
    const lru = env.lru;
    if (lru.folioAddLruUncontended?.(dst) !== true) yield* lru.folioAddLru(dst);
    // 6.3: drain for every mapped src; 6.7+ (`drainOnlyMlocked`): for an mlocked one only.
    const drainBit = env.variant.drainOnlyMlocked ? PAGE_WAS_MLOCKED : PAGE_WAS_MAPPED;
    if ((pageWasMapped & drainBit) !== 0 && lru.lruAddDrainUncontended?.() !== true) {
      yield* lru.lruAddDrain();
    }
    if ((pageWasMapped & PAGE_WAS_MAPPED) !== 0) {
      const rmap = env.rmap;
      if (rmap.removeMigrationPtesUncontended?.(src, dst, false) !== true) {
        yield* rmap.removeMigrationPtes(src, dst, false);
      }
    }
  }
  const locks = env.locks;
  locks.folioUnlock(dst);
  // set_page_owner_migrate_reason(dst, reason): page_owner is not modelled.
  // folio_put(dst): the new owners hold dst, so this is rarely the last reference.
  if (!folioPutFast(mem, dst, 1)) yield* env.lru.folioPut(dst);
  listDel(mem, src);
  if (anonVma !== null) env.rmap.putAnonVma(anonVma);
  locks.folioUnlock(src);
  migrateFolioDone(env, src, reason);
  return MIGRATEPAGE_SUCCESS;
}
