import { type Folio, folioPut, folioPutRefs, folioRefCount, folioRefSub } from '@mmsim/folio';
import type { KernelGen } from '@mmsim/runtime';
import type { RmapContext } from './context.js';

/**
 * Dropping references that may be the last ones. Without LRU hooks a last put frees the
 * folio at once (`folio_put`). With them, a folio that may sit on an LRU list must leave
 * it first, under `lru_lock`, so the last put goes through the hook, which may spin: a
 * generator. The common case (not the last reference) stays a plain call:
 *
 * ```ts
 * if (!folioPutFast(ctx, folio, 1)) yield* folioPutSlow(ctx, folio, 1);
 * ```
 */

/**
 * Drops `refs` references if that can be done without the LRU hook; returns false, having
 * changed nothing, when the caller must `yield* folioPutSlow` instead.
 */
export function folioPutFast(ctx: RmapContext, folio: Folio, refs: number): boolean {
  const mem = ctx.mem;
  if (ctx.lru !== null && folioRefCount(mem, folio) <= refs) return false;
  if (refs === 1) folioPut(mem, folio);
  else folioPutRefs(mem, folio, refs);
  return true;
}

/** The slow half: drop `refs - 1` references, then the last one through the LRU hook. */
export function* folioPutSlow(ctx: RmapContext, folio: Folio, refs: number): KernelGen {
  const lru = ctx.lru;
  if (lru === null) {
    folioPutRefs(ctx.mem, folio, refs);
    return;
  }
  if (refs > 1) folioRefSub(ctx.mem, folio, refs - 1);
  yield* lru.folioPut(folio);
}

/** `folio_add_lru_vma` (mm/swap.c, 6.3) for a newly mapped folio, when an LRU is attached. */
export function* folioAddLru(ctx: RmapContext, folio: Folio): KernelGen {
  const lru = ctx.lru;
  if (lru !== null) yield* lru.folioAddLru(folio);
}
