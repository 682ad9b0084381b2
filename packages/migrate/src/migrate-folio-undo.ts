import {
  type Folio,
  type FolioList,
  folioPut,
  folioTestMovable,
  memmapReader,
  PAGE_MAPPING_MOVABLE,
  readerIsFolio,
} from '@mmsim/folio';
import { folioPutFast } from '@mmsim/lru';
import type { AnonVmaView } from '@mmsim/rmap';
import type { KernelGen } from '@mmsim/runtime';
import { callPutNewFolio, type MigrateCallbacks } from './callbacks.js';
import { traceFolioDone } from './journey.js';
import { listMoveTail } from './lists.js';
import type { MigrateEnv } from './migrate-env.js';
import { type MigrateReason, MR_MEMORY_FAILURE } from './reasons.js';

/**
 * `migrate_folio_undo_src(src, page_was_mapped, anon_vma, locked, ret)` (mm/migrate.c,
 * 6.3): restore the source after a failure: its migration entries become mappings of src
 * again (`remove_migration_ptes(src, src, false)`) if it was mapped, the anon_vma pin is
 * dropped, src is unlocked if `locked`, and it moves to the tail of `ret` unless `ret` is
 * null (it stays where it is, on `from`, for another pass).
 */
export function* migrateFolioUndoSrc(
  env: MigrateEnv,
  src: Folio,
  pageWasMapped: number,
  anonVma: AnonVmaView | null,
  locked: boolean,
  ret: FolioList | null,
): KernelGen {
  if (pageWasMapped !== 0) yield* env.rmap.removeMigrationPtes(src, src, false);
  if (anonVma !== null) env.rmap.putAnonVma(anonVma);
  if (locked) env.locks.folioUnlock(src);
  if (ret !== null) listMoveTail(env.mem, src, ret);
}

/**
 * `migrate_folio_undo_src` (above) as a plain call when it cannot sleep: src was not
 * mapped (nothing to restore), or `remove_migration_ptes(src, src, false)` takes its
 * uncontended walk (`Rmap.removeMigrationPtesUncontended`: no rwsem or PTE lock to wait
 * for, no scheduling point, kernel functions not traced). Returns true when done, with the
 * same steps and charges as the generator; false, having changed nothing, when the caller
 * must run `migrateFolioUndoSrc` instead.
 */
/**
 * @internal The plain `migrate_folio_undo_src`: `enabled` off makes every caller take the
 * generator (for the tests that compare the two); `taken` counts the undos done as plain
 * calls, `restored` those of them that restored src's mappings. Nothing in the model reads
 * the counts.
 */
export const undoSrcPlainPath = { enabled: true, taken: 0, restored: 0 };

export function migrateFolioUndoSrcPlain(
  env: MigrateEnv,
  src: Folio,
  pageWasMapped: number,
  anonVma: AnonVmaView | null,
  locked: boolean,
  ret: FolioList | null,
): boolean {
  const path = undoSrcPlainPath;
  if (!path.enabled) return false;
  if (pageWasMapped !== 0) {
    if (env.rmap.removeMigrationPtesUncontended?.(src, src, false) !== true) return false;
    path.restored++;
  }
  path.taken++;
  if (anonVma !== null) env.rmap.putAnonVma(anonVma);
  if (locked) env.locks.folioUnlock(src);
  if (ret !== null) listMoveTail(env.mem, src, ret);
  return true;
}

/**
 * `migrate_folio_undo_dst(dst, locked, put_new_page, private)` (mm/migrate.c, 6.3):
 * unlock the unused destination if it was locked, and give it back: `put_new_page` when
 * the caller passed one, else `folio_put` (dst was never on the LRU, so a plain put).
 */
export function migrateFolioUndoDst(
  env: MigrateEnv,
  dst: Folio,
  locked: boolean,
  cb: MigrateCallbacks,
): void {
  if (locked) env.locks.folioUnlock(dst);
  if (cb.putNewFolio !== null) callPutNewFolio(cb, dst);
  else folioPut(env.mem, dst);
}

/**
 * `migrate_folio_done(src, reason)` (mm/migrate.c, 6.3): a source that is done with (moved,
 * or freed under us) leaves NR_ISOLATED_ANON / NR_ISOLATED_FILE unless it is a non-LRU
 * movable page (never counted), and loses the isolation reference unless the reason is
 * MR_MEMORY_FAILURE (`page_handle_poison` drops it). That put normally frees src. src is
 * isolated, hence off the LRU (PG_lru clear), so `folio_put` has no LRU work to do and the
 * model uses the plain put.
 */
export function migrateFolioDone(env: MigrateEnv, src: Folio, reason: MigrateReason): void {
  const mem = env.mem;
  // Through the memmap reader when src is a live head (it holds the isolation reference);
  // else the accessor throws its error.
  const r = memmapReader(mem);
  const movable = readerIsFolio(r, src)
    ? r.mappingKind[src] === PAGE_MAPPING_MOVABLE
    : folioTestMovable(mem, src);
  if (!movable) {
    const lru = env.lru;
    lru.nodeStatModFolio(src, lru.folioIsolatedItem(src), -(1 << r.order[src]!));
  }
  traceFolioDone(env, src, 'freed');
  if (reason !== MR_MEMORY_FAILURE) folioPut(mem, src);
}

/**
 * `folio_put` of a folio that may sit in a per-CPU LRU batch or on the LRU (dst after
 * `folio_add_lru`): a plain decrement when it is not the last reference, else the LRU's
 * put, which takes it off its list first.
 */
export function* folioPutMaybeLru(env: MigrateEnv, folio: Folio): KernelGen {
  if (!folioPutFast(env.mem, folio, 1)) yield* env.lru.folioPut(folio);
}
