import { folioPut } from '@mmsim/folio';
import type { KernelGen } from '@mmsim/runtime';
import { vmaAllocFolio } from './alloc.js';
import { anonVmaPrepare } from './anon-vma.js';
import { FAULT_FLAG_WRITE, MM_ANONPAGES, VM_FAULT_OOM } from './constants.js';
import { folioAddLruVma } from './folio-release.js';
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
