import {
  type Folio,
  folioNid,
  folioOrder,
  folioRefAdd,
  memmapReader,
  PG_anon_exclusive,
  pageClearFlag,
  pageTestFlag,
  pfnToNid,
  readerIsFolio,
} from '@mmsim/folio';
import { EBUSY, NodeStat } from '@mmsim/runtime';
import { GUP_PIN_COUNTING_BIAS } from './constants.js';
import { pageDupRmap } from './rmap-accounting.js';
import type { RmapState } from './rmap-state.js';
import type { Vma } from './vma.js';

/**
 * FOLL_PIN accounting and the two places where PageAnonExclusive meets it (include/linux/
 * mm.h and rmap.h, 6.3). A pin on an order-0 folio adds GUP_PIN_COUNTING_BIAS (1024)
 * references; on a large folio it adds one reference and one `_pincount` (kept in the
 * context, since @mmsim/folio has no such field).
 */

/**
 * `folio_maybe_dma_pinned` (include/linux/mm.h, 6.3): a large folio with `_pincount > 0`,
 * or an order-0 folio with at least 1024 references (which may be false positives, as in
 * the kernel).
 */
export function folioMaybeDmaPinned(ctx: RmapState, folio: Folio): boolean {
  const r = memmapReader(ctx.mem);
  // Not a live folio: the accessor throws its error.
  if (!readerIsFolio(r, folio)) folioOrder(ctx.mem, folio);
  if (r.order[folio]! > 0) return (ctx.pincount.get(folio) ?? 0) > 0;
  return r.refcount[folio]! >= GUP_PIN_COUNTING_BIAS;
}

/**
 * Takes one FOLL_PIN on `folio` (`try_grab_folio` with FOLL_PIN, mm/gup.c, 6.3), counted
 * in the node's NR_FOLL_PIN_ACQUIRED (`node_stat_mod_folio(folio, NR_FOLL_PIN_ACQUIRED,
 * refs)`: one per pin, not per reference).
 */
export function folioPin(ctx: RmapState, folio: Folio): void {
  folioRefAdd(ctx.mem, folio, pinRefs(ctx, folio));
  if (folioOrder(ctx.mem, folio) > 0) {
    ctx.pincount.set(folio, (ctx.pincount.get(folio) ?? 0) + 1);
  }
  ctx.vmstat.modNodePageState(pinNid(ctx, folio), NodeStat.NR_FOLL_PIN_ACQUIRED, 1);
}

/** The node a pinned folio (or the zero page) sits on. */
function pinNid(ctx: RmapState, folio: Folio): number {
  return folio === ctx.mem.zeroPfn ? pfnToNid(ctx.mem, folio) : folioNid(ctx.mem, folio);
}

/** References one pin holds on `folio` (what `unpin_user_page` drops). */
export function pinRefs(ctx: RmapState, folio: Folio): number {
  return folioOrder(ctx.mem, folio) > 0 ? 1 : GUP_PIN_COUNTING_BIAS;
}

/**
 * The `_pincount` half of `gup_put_folio` (mm/gup.c, 6.3) for a large folio, and its
 * NR_FOLL_PIN_RELEASED count (one per pin, on every folio).
 */
export function folioUnpinCount(ctx: RmapState, folio: Folio): void {
  ctx.vmstat.modNodePageState(pinNid(ctx, folio), NodeStat.NR_FOLL_PIN_RELEASED, 1);
  if (folioOrder(ctx.mem, folio) === 0) return;
  const n = (ctx.pincount.get(folio) ?? 0) - 1;
  if (n > 0) ctx.pincount.set(folio, n);
  else ctx.pincount.delete(folio);
}

/**
 * `page_try_share_anon_rmap(page)` (include/linux/rmap.h, 6.3): before an exclusive
 * anonymous page is unmapped into a migration entry (or PMD split frozen), clear
 * PageAnonExclusive, unless the folio may be pinned: then -EBUSY and the caller restores
 * the PTE and fails, since a pinned page must stay where the pin holder expects it.
 */
export function pageTryShareAnonRmap(ctx: RmapState, folio: Folio, pfn: number): number {
  if (folioMaybeDmaPinned(ctx, folio)) return -EBUSY;
  pageClearFlag(ctx.mem, pfn, PG_anon_exclusive);
  return 0;
}

/**
 * `page_try_dup_anon_rmap(page, compound, vma)` (include/linux/rmap.h, 6.3): fork shares
 * an anonymous page with the child. A shared page just gets one more mapping; an exclusive
 * one stops being exclusive, unless it may be pinned in an mm that has pinned pages
 * (`page_needs_cow_for_dma`): then -EBUSY and fork copies the page for the child.
 */
export function pageTryDupAnonRmap(
  ctx: RmapState,
  folio: Folio,
  pfn: number,
  compound: boolean,
  srcVma: Vma,
): number {
  if (pageTestFlag(ctx.mem, pfn, PG_anon_exclusive)) {
    if (srcVma.isCow && srcVma.mm.hasPinned && folioMaybeDmaPinned(ctx, folio)) return -EBUSY;
    pageClearFlag(ctx.mem, pfn, PG_anon_exclusive);
  }
  pageDupRmap(ctx, folio, pfn, compound);
  return 0;
}
