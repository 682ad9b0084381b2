import { folioPut } from '@mmsim/folio';
import { type KernelGen, MmsimError } from '@mmsim/runtime';
import { vmaAllocFolio } from './alloc.js';
import { anonVmaPrepare } from './anon-vma.js';
import { FAULT_FLAG_WRITE, MM_ANONPAGES, VM_FAULT_OOM } from './constants.js';
import { folioAddLruVma, folioAddLruVmaPlain } from './folio-release.js';
import { mkPte, PTE_DIRTY, PTE_NONE, PTE_SOFT_DIRTY, PTE_WRITE, PTE_YOUNG } from './pte.js';
import { folioAddNewAnonRmap } from './rmap-accounting.js';
import type { RmapState } from './rmap-state.js';
import type { VmFault } from './vm-fault.js';

/**
 * `do_anonymous_page(vmf)` (mm/memory.c, 6.3): first touch of private anonymous memory.
 *
 * A read maps the shared zero page read-only (a "special" PTE: no reference, no mapcount,
 * no rss), unless the zero page is turned off. Otherwise the VMA gets its anon_vma
 * (`anon_vma_prepare`), a zeroed folio is allocated by the VMA's policy (or on the
 * faulting CPU's node), and mapped young, and dirty (`pte_mkdirty`: soft-dirty too) and
 * writable if the VMA is writable,
 * as an exclusive anonymous page (`folio_add_new_anon_rmap`) under the page-table lock,
 * unless another thread mapped the address meanwhile (then the new folio is freed).
 */
export function* doAnonymousPage(ctx: RmapState, vmf: VmFault): KernelGen<number> {
  const { vma, table, vpn } = vmf;
  const mm = vma.mm;
  const ptl = table.ptl;
  if ((vmf.flags & FAULT_FLAG_WRITE) === 0 && ctx.useZeroPage) {
    const entry = mkPte(ctx.mem.zeroPfn, PTE_YOUNG);
    if (!ptl.trylock()) yield* ptl.lockContended();
    if (table.get(vpn) === PTE_NONE) {
      table.set(vpn, entry);
      ctx.rt.charge(ctx.costs.pteUpdate);
    }
    ptl.unlock();
    return 0;
  }
  yield* anonVmaPrepare(ctx, vma);
  const folio = vmaAllocFolio(ctx, vma, 0, vmf.address);
  if (folio < 0) return VM_FAULT_OOM;
  const entry = mkPte(
    folio,
    vma.writable ? PTE_YOUNG | PTE_DIRTY | PTE_SOFT_DIRTY | PTE_WRITE : PTE_YOUNG,
  );
  if (!ptl.trylock()) yield* ptl.lockContended();
  if (table.get(vpn) !== PTE_NONE) {
    ptl.unlock();
    folioPut(ctx.mem, folio);
    return 0;
  }
  mm.rss[MM_ANONPAGES]!++;
  folioAddNewAnonRmap(ctx, folio, vma, vmf.address);
  table.set(vpn, entry);
  ctx.rt.charge(ctx.costs.pteUpdate);
  ptl.unlock();
  yield* folioAddLruVma(ctx, folio, vma);
  return 0;
}

/**
 * `do_anonymous_page` (above) as plain calls, for a fault that needs no wait before the
 * folio is mapped: a write (or the zero page turned off), the VMA's anon_vma already
 * prepared (`anon_vma_prepare` returns at once) and the page-table lock free (checked
 * before the allocation, so that `spin_lock` is a trylock that succeeds); `folio_add_lru_vma`
 * too when nothing in it can spin (`folioAddLruVmaPlain`). Returns the
 * VM_FAULT_* bits, or, when `folio_add_lru_vma` had to wait, the generator that finishes
 * the fault from that scheduling point; and when the fault cannot start plainly, the
 * generator of `do_anonymous_page` itself (nothing done yet). The same steps, charges and
 * results as `doAnonymousPage`.
 */
export function doAnonymousPagePlain(ctx: RmapState, vmf: VmFault): number | KernelGen<number> {
  const { vma, table, vpn } = vmf;
  const ptl = table.ptl;
  if (
    ((vmf.flags & FAULT_FLAG_WRITE) === 0 && ctx.useZeroPage) ||
    vma.anonVma === null ||
    ptl.owner !== null
  ) {
    return doAnonymousPage(ctx, vmf);
  }
  const folio = vmaAllocFolio(ctx, vma, 0, vmf.address);
  if (folio < 0) return VM_FAULT_OOM;
  const entry = mkPte(
    folio,
    vma.writable ? PTE_YOUNG | PTE_DIRTY | PTE_SOFT_DIRTY | PTE_WRITE : PTE_YOUNG,
  );
  if (!ptl.trylock()) {
    throw new MmsimError('INVALID_STATE', `${ptl.name} was taken during a plain fault`);
  }
  if (table.get(vpn) !== PTE_NONE) {
    ptl.unlock();
    folioPut(ctx.mem, folio);
    return 0;
  }
  vma.mm.rss[MM_ANONPAGES]!++;
  folioAddNewAnonRmap(ctx, folio, vma, vmf.address);
  table.set(vpn, entry);
  ctx.rt.charge(ctx.costs.pteUpdate);
  ptl.unlock();
  // `folio_add_lru_vma`: a plain call when nothing in it can spin (the common case).
  if (folioAddLruVmaPlain(ctx, folio, vma)) return 0;
  const lru = folioAddLruVma(ctx, folio, vma);
  if (lru.next().done === true) return 0;
  return afterYield(lru);
}

/** The rest of a fault whose `gen` yielded (its scheduling point taken first); returns 0. */
function* afterYield(gen: KernelGen): KernelGen<number> {
  yield;
  yield* gen;
  return 0;
}
