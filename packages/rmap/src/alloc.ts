import { type Folio, folioAlloc, folioSetFlag, PG_uptodate } from '@mmsim/folio';
import type { RmapState } from './rmap-state.js';
import type { Vma } from './vma.js';

/**
 * `vma_alloc_folio(gfp, order, vma, addr, hugepage)` (mm/mempolicy.c, 6.3) for the model's
 * policies: MPOL_BIND allocates only on its node (`__GFP_THISNODE`), MPOL_PREFERRED tries
 * its node first, and without a policy (MPOL_LOCAL) the faulting CPU's node comes first;
 * the last two fall back to the other nodes by distance. The new folio is zero-filled and
 * uptodate (`alloc_zeroed_user_highpage_movable`, `__folio_mark_uptodate`). Returns the
 * folio or -ENOMEM.
 */
export function vmaAllocFolio(ctx: RmapState, vma: Vma | null, order: number): Folio | number {
  const policy = vma?.policy ?? null;
  ctx.rt.charge(ctx.costs.pageAlloc);
  const folio =
    policy === null
      ? folioAlloc(ctx.mem, order, ctx.rt.current.cpu.node)
      : folioAlloc(ctx.mem, order, policy.node, { thisNode: policy.mode === 'bind' });
  if (folio >= 0) folioSetFlag(ctx.mem, folio, PG_uptodate);
  return folio;
}
