import {
  type Folio,
  folioClearFlag,
  folioFlags,
  folioNid,
  folioNrPages,
  folioPut,
  folioRefCount,
  folioRefFreeze,
  folioRefUnfreeze,
  PG_active,
  PG_lru,
  PG_unevictable,
} from '@mmsim/folio';
import { type KernelGen, MmsimError } from '@mmsim/runtime';
import type { Lruvec } from './lruvec.js';
import { type LruState, requireTask, WHERE_NONE, WHERE_RELEASING } from './state.js';

const LRU = 1 << PG_lru;
const ACTIVE = 1 << PG_active;
const UNEVICTABLE = 1 << PG_unevictable;

/**
 * Drops the last reference of `folio`, which the caller holds (refcount 1), taking the
 * folio off its LRU list first: the LRU half of `release_pages` / `__page_cache_release`
 * (mm/swap.c, Linux 6.3). The folio package frees a folio but refuses one that is still on
 * a list, so this is the only correct last put for a folio that may be on the LRU.
 *
 * As in the kernel the count drops to 0 first (`folio_put_testzero`, modelled by freezing
 * it at 0 so that a speculative `folio_try_get` fails meanwhile), then `lru_lock` is
 * taken (it may spin), the folio is unlinked and `__folio_clear_lru_flags` clears PG_lru,
 * PG_active and PG_unevictable (all three are bad at free, except when PG_active and
 * PG_unevictable are both set, which is left to bad_page as the kernel does). The kernel
 * also clears a stray PG_mlocked here; the folio package's free path ignores that flag and
 * resets every flag, which comes to the same. If the folio then fails the folio package's bad-page checks (still
 * mapped, locked, ...), that throws with the folio already off the LRU, which is where
 * the kernel's `free_pages_prepare` would find it too.
 */
export function* putLastReference(s: LruState, folio: Folio): KernelGen {
  const mem = s.mem;
  const flags = folioFlags(mem, folio);
  if ((flags & LRU) !== 0) {
    const lv = s.lruvecs[folioNid(mem, folio)] as Lruvec;
    requireTask(s); // before any change: taking lru_lock needs a running task
    if (!folioRefFreeze(mem, folio, 1)) {
      throw new MmsimError(
        'CONTRACT_VIOLATION',
        `the last put of folio ${folio} found refcount ${folioRefCount(mem, folio)}, not 1: someone else holds a reference`,
      );
    }
    s.where[folio] = WHERE_RELEASING;
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
    folioRefUnfreeze(mem, folio, 1);
  }
  folioPut(mem, folio);
}

/**
 * `folio_put` (include/linux/mm.h, Linux 6.3) for a folio that may be on the LRU: drop one
 * reference; when it is the last, `__folio_put` -> `__page_cache_release` takes the folio
 * off its LRU list (see `putLastReference`) before freeing it. A generator because that
 * may spin on `lru_lock`; when other references remain it is a plain decrement.
 */
export function* folioPutLru(s: LruState, folio: Folio): KernelGen {
  const mem = s.mem;
  if (folioRefCount(mem, folio) !== 1) {
    // More references: a plain decrement. At 0 (frozen) the folio package throws
    // COUNT_UNDERFLOW and changes nothing.
    folioPut(mem, folio);
    return;
  }
  yield* putLastReference(s, folio);
}

/**
 * Drops the batch reference of each folio of `folios[0..n)`: `folios_put` ->
 * `release_pages` (mm/swap.c, 6.3) at the end of `folio_batch_move_lru`. A folio whose
 * only remaining reference was the batch's is taken off the LRU again and freed.
 */
export function* releaseBatchReferences(s: LruState, folios: Int32Array, n: number): KernelGen {
  const mem = s.mem;
  for (let i = 0; i < n; i++) {
    const folio = folios[i] as number;
    if (folioRefCount(mem, folio) > 1) folioPut(mem, folio);
    else yield* putLastReference(s, folio);
  }
}
