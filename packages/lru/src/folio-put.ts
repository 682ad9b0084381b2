import {
  type Folio,
  folioClearFlag,
  folioFlags,
  folioPut as folioFree,
  folioNid,
  folioNrPages,
  folioPutRefs,
  folioRefCount,
  folioRefFreeze,
  folioRefUnfreeze,
  folioTestClearFlag,
  LRU_MARK_SHIFT,
  PG_active,
  PG_lru,
  PG_mlocked,
  PG_unevictable,
  type PhysicalMemory,
} from '@mmsim/folio';
import { type KernelGen, MmsimError, NodeStat, VmEvent } from '@mmsim/runtime';
import { type LruState, requireTask, WHERE_NONE, WHERE_RELEASING } from './lru-state.js';
import type { Lruvec } from './lruvec.js';

/**
 * `folio_put` (include/linux/mm.h, Linux 6.3) in two halves, the one home of the model's
 * LRU-aware put: `folioPutFast` is `folio_put_testzero` when the count stays above zero (a
 * plain call, no generator), `folioPutSlow` is `__folio_put` for the last reference, a
 * generator because it may spin on `lru_lock`. Callers write
 *
 * ```ts
 * if (!folioPutFast(mem, folio, 1)) yield* folioPutSlow(s, folio);
 * ```
 *
 * and code outside this package reaches the slow half through `LruIsolation.folioPut`.
 */

const LRU = 1 << PG_lru;
const ACTIVE = 1 << PG_active;
const UNEVICTABLE = 1 << PG_unevictable;

/**
 * The fast half of `folio_put` / `folio_put_refs` (include/linux/mm.h, 6.3): drops `refs`
 * references and returns true when others remain. Returns false, having changed nothing,
 * when they are the last ones (or the folio is frozen at 0): the caller then runs the slow
 * half, which may take `lru_lock`.
 */
export function folioPutFast(mem: PhysicalMemory, folio: Folio, refs: number): boolean {
  if (folioRefCount(mem, folio) <= refs) return false;
  if (refs === 1) folioFree(mem, folio);
  else folioPutRefs(mem, folio, refs);
  return true;
}

/**
 * The slow half: `__folio_put` -> `__page_cache_release` (mm/swap.c, 6.3) for the last
 * reference, which the caller holds (refcount 1). A folio on the LRU leaves its list first;
 * the folio package frees a folio but refuses one still on a list, so this is the only
 * correct last put for a folio that may be on the LRU.
 *
 * As in the kernel the count drops to 0 first (`folio_put_testzero`, modelled by freezing
 * it at 0 so that a speculative `folio_try_get` fails meanwhile), then `lru_lock` is
 * taken (it may spin), the folio is unlinked and `__folio_clear_lru_flags` clears PG_lru,
 * PG_active and PG_unevictable (all three are bad at free, except when PG_active and
 * PG_unevictable are both set, which is left to bad_page as the kernel does). A folio
 * still PG_mlocked loses it here, with `nr_mlock` and `unevictable_pgs_cleared`
 * (`__page_cache_release`). If the folio then fails the folio package's
 * bad-page checks (still mapped, locked, ...), that throws with the folio already off the
 * LRU, which is where the kernel's `free_pages_prepare` would find it too.
 *
 * A frozen folio (refcount 0) throws COUNT_UNDERFLOW and changes nothing, as
 * `folio_put_testzero` underflows; any other count but 1 is refused before anything
 * changes (someone else holds a reference).
 */
export function* folioPutSlow(s: LruState, folio: Folio): KernelGen {
  const mem = s.mem;
  if (folioRefCount(mem, folio) === 0) {
    folioFree(mem, folio); // throws COUNT_UNDERFLOW
    return;
  }
  if ((folioFlags(mem, folio) & LRU) !== 0) {
    const lv = s.lruvecs[folioNid(mem, folio)] as Lruvec;
    requireTask(s); // before any change: taking lru_lock needs a running task
    if (!folioRefFreeze(mem, folio, 1)) {
      throw new MmsimError(
        'CONTRACT_VIOLATION',
        `the last put of folio ${folio} found refcount ${folioRefCount(mem, folio)}, not 1: someone else holds a reference`,
      );
    }
    s.where[folio] = WHERE_RELEASING;
    s.lruWritten[folio >>> LRU_MARK_SHIFT] = 1;
    if (!lv.lock.trylock()) yield* lv.lock.lockContended();
    lv.delFolio(folio, folioNrPages(mem, folio));
    folioClearFlag(mem, folio, PG_lru);
    const now = folioFlags(mem, folio);
    if ((now & (ACTIVE | UNEVICTABLE)) !== (ACTIVE | UNEVICTABLE)) {
      folioClearFlag(mem, folio, PG_active);
      folioClearFlag(mem, folio, PG_unevictable);
    }
    lv.lock.unlock();
    s.where[folio] = WHERE_NONE;
    s.lruWritten[folio >>> LRU_MARK_SHIFT] = 1;
    folioRefUnfreeze(mem, folio, 1);
  }
  if (folioTestClearFlag(mem, folio, PG_mlocked)) {
    const nr = folioNrPages(mem, folio);
    s.vmstat.modNodePageState(folioNid(mem, folio), NodeStat.NR_MLOCK, -nr);
    s.vmstat.countVmEvents(VmEvent.UNEVICTABLE_PGS_CLEARED, nr);
  }
  folioFree(mem, folio);
}

/** `folio_put` (include/linux/mm.h, 6.3) as one call: both halves, for `LruVecs.folioPut`. */
export function* folioPutLru(s: LruState, folio: Folio): KernelGen {
  if (!folioPutFast(s.mem, folio, 1)) yield* folioPutSlow(s, folio);
}

/**
 * `release_pages` / `folios_put` (mm/swap.c, 6.3): `folio_put` of each folio of
 * `folios[0..n)`, the batch's reference at the end of `folio_batch_move_lru`. A folio
 * whose only remaining reference was the batch's leaves the LRU again and is freed.
 */
export function* releasePages(s: LruState, folios: Int32Array, n: number): KernelGen {
  const mem = s.mem;
  for (let i = 0; i < n; i++) {
    const folio = folios[i] as number;
    if (!folioPutFast(mem, folio, 1)) yield* folioPutSlow(s, folio);
  }
}
