import { type Folio, folioPut, folioPutRefs, folioRefSub } from '@mmsim/folio';
import { folioPutFast } from '@mmsim/lru';
import type { KernelGen } from '@mmsim/runtime';
import { VM_IO, VM_LOCKED } from './constants.js';
import type { RmapState } from './rmap-state.js';
import type { FolioLifecycle } from './virtual-memory-options.js';
import type { Vma } from './vma.js';

/**
 * rmap's way into `folio_put_refs` (include/linux/mm.h, Linux 6.3), whose one home is
 * `@mmsim/lru` (`folioPutFast`, and the LRU hook's `folioPut` for the last
 * reference). Without LRU hooks nothing can be on an LRU list, so a last put frees the
 * folio at once. The common case (not the last reference) stays a plain call:
 *
 * ```ts
 * if (!folioPutRefsFast(ctx, folio, 1)) yield* folioPutRefsSlow(ctx, folio, 1);
 * ```
 */

/**
 * Drops `refs` references if that can be done without the LRU hook; returns false, having
 * changed nothing, when the caller must `yield* folioPutRefsSlow` instead.
 */
export function folioPutRefsFast(ctx: RmapState, folio: Folio, refs: number): boolean {
  if (ctx.lru !== null) return folioPutFast(ctx.mem, folio, refs);
  if (refs === 1) folioPut(ctx.mem, folio);
  else folioPutRefs(ctx.mem, folio, refs);
  return true;
}

/** The slow half: drop `refs - 1` references, then the last one through the LRU hook. */
export function* folioPutRefsSlow(ctx: RmapState, folio: Folio, refs: number): KernelGen {
  const lru = ctx.lru;
  if (lru === null) {
    folioPutRefs(ctx.mem, folio, refs);
    return;
  }
  if (refs > 1) folioRefSub(ctx.mem, folio, refs - 1);
  yield* lru.folioPut(folio);
}

/**
 * `folio_add_lru_vma(folio, vma)` (mm/swap.c, 6.3) for a newly mapped folio, when an LRU
 * is attached: in a VM_LOCKED VMA (not VM_SPECIAL) `mlock_new_folio`, which puts it on
 * the unevictable list mlocked; otherwise `folio_add_lru`. `vma` null means a VMA that is
 * not locked.
 */
export function* folioAddLruVma(ctx: RmapState, folio: Folio, vma: Vma | null): KernelGen {
  const lru = ctx.lru;
  if (lru === null) return;
  if (mlocksNewFolio(lru, vma)) {
    if (lru.mlockNewFolio?.(folio) === true && lru.mlockDrainLocal !== undefined) {
      yield* lru.mlockDrainLocal();
    }
    return;
  }
  yield* lru.folioAddLru(folio);
}

/** Whether `folio_add_lru_vma` takes its `mlock_new_folio` branch for a folio of `vma`. */
function mlocksNewFolio(lru: FolioLifecycle, vma: Vma | null): boolean {
  return (
    vma !== null &&
    (vma.flags & (VM_LOCKED | VM_IO)) === VM_LOCKED &&
    lru.mlockNewFolio !== undefined
  );
}

/**
 * `folio_add_lru_vma` (above) as a plain call when nothing in it can spin: the LRU's
 * `folioAddLruUncontended` for a VMA that is not locked. Returns false, having changed
 * nothing, when the caller must run `folioAddLruVma` instead (an mlocked VMA, an LRU
 * without the plain add, or an add whose batch move could wait). The same steps and
 * charges as `folioAddLruVma`, with no generator.
 */
export function folioAddLruVmaPlain(ctx: RmapState, folio: Folio, vma: Vma | null): boolean {
  const lru = ctx.lru;
  if (lru === null) return true;
  if (mlocksNewFolio(lru, vma)) return false;
  return lru.folioAddLruUncontended?.(folio) === true;
}
