import { type Folio, folioTestAnon, folioTestHugetlb, HPAGE_PMD_NR, pfnFolio } from '@mmsim/folio';
import type { KernelGen } from '@mmsim/runtime';
import { PAGE_SIZE, PTRS_PER_PTE } from './constants.js';
import { folioPutRefsFast, folioPutRefsSlow } from './folio-release.js';
import { hugetlbFolioPut } from './hugetlb-rmap.js';
import { isVmHugetlbPage } from './hugetlb-state.js';
import { zapHugetlbRange } from './hugetlb-vma.js';
import { mlockDrainLocal, munlockVmaFolio } from './mlock.js';
import { pmdIndexOfVpn } from './page-table.js';
import { isMigrationEntry, pteDirty, ptePfn, ptePresent } from './pte.js';
import { folioMarkDirty, pageRemoveRmap } from './rmap-accounting.js';
import type { RmapState } from './rmap-state.js';
import { splitHugePmd } from './split-huge-pmd.js';
import { flushTlbBatchedPending } from './tlb-batch.js';
import { mmCounter } from './vm-fault.js';
import type { Vma } from './vma.js';

/**
 * `struct mmu_gather` reduced to what the model needs: the folios whose mapping
 * references were dropped from the page tables, to be put only after the TLB flush (so no
 * CPU can reach a freed frame through a stale entry), and the range to flush.
 */
export class MmuGather {
  readonly folios: Folio[] = [];
  startVpn = Number.POSITIVE_INFINITY;
  endVpn = 0;

  /** `tlb_remove_tlb_entry` + `__tlb_remove_page`. */
  add(folio: Folio | null, vpn: number, nrPages: number): void {
    if (folio !== null) this.folios.push(folio);
    if (vpn < this.startVpn) this.startVpn = vpn;
    if (vpn + nrPages > this.endVpn) this.endVpn = vpn + nrPages;
  }

  get needsFlush(): boolean {
    return this.endVpn > 0;
  }
}

/**
 * `zap_pte_range` / `zap_huge_pmd` over `[startVpn, endVpn)` of `vma` (mm/memory.c,
 * mm/huge_memory.c, 6.3). Under each page-table lock, first `flush_tlb_batched_pending`
 * (a deferred flush of this mm may still be outstanding), then clear every entry: a
 * present page loses its mapping (a dirty file page dirties its folio) and its reference
 * goes to `tlb` to be put after the flush; a migration entry is just cleared (it holds no
 * reference); the zero page is just cleared. rss counters follow. A huge PMD only partly
 * in the range is split first.
 */
export function* zapRange(
  ctx: RmapState,
  vma: Vma,
  startVpn: number,
  endVpn: number,
  tlb: MmuGather,
): KernelGen {
  if (isVmHugetlbPage(vma)) {
    yield* zapHugetlbRange(ctx, vma, startVpn, endVpn, tlb);
    return;
  }
  const mm = vma.mm;
  const mem = ctx.mem;
  let vpn = startVpn;
  while (vpn < endVpn) {
    const idx = pmdIndexOfVpn(vpn);
    const first = idx * PTRS_PER_PTE;
    const tableEnd = Math.min(endVpn, first + PTRS_PER_PTE);
    if (mm.pmds.has(idx)) {
      if (vpn === first && tableEnd === first + PTRS_PER_PTE) {
        const ptl = mm.pageTableLock;
        if (!ptl.trylock()) yield* ptl.lockContended();
        const pmdv = mm.pmds.get(idx);
        if (pmdv !== undefined) {
          mm.pmds.delete(idx);
          ctx.rt.charge(ctx.costs.pteUpdate);
          const folio = ptePfn(pmdv);
          if (ptePresent(pmdv)) {
            if (!folioTestAnon(mem, folio) && pteDirty(pmdv)) folioMarkDirty(ctx, folio);
            mm.rss[mmCounter(mem, folio)]! -= HPAGE_PMD_NR;
            pageRemoveRmap(ctx, folio, folio, true);
            munlockVmaFolio(ctx, folio, vma, true); // page_remove_rmap's munlock_vma_folio
            tlb.add(folio, first, PTRS_PER_PTE);
          } else if (isMigrationEntry(pmdv)) {
            mm.rss[mmCounter(mem, folio)]! -= HPAGE_PMD_NR;
          }
        }
        ptl.unlock();
        vpn = tableEnd;
        continue;
      }
      yield* splitHugePmd(ctx, vma, vpn * PAGE_SIZE, false, null);
    }
    const table = mm.pageTables.get(idx);
    if (table === undefined) {
      vpn = tableEnd;
      continue;
    }
    const ptl = table.ptl;
    if (!ptl.trylock()) yield* ptl.lockContended();
    flushTlbBatchedPending(ctx, mm);
    for (; vpn < tableEnd; vpn++) {
      const pte = table.get(vpn);
      if (pte === 0) continue;
      table.set(vpn, 0);
      ctx.rt.charge(ctx.costs.pteUpdate);
      const pfn = ptePfn(pte);
      if (ptePresent(pte)) {
        if (pfn === mem.zeroPfn) continue;
        const folio = pfnFolio(mem, pfn);
        if (!folioTestAnon(mem, folio) && pteDirty(pte)) folioMarkDirty(ctx, folio);
        mm.rss[mmCounter(mem, folio)]!--;
        pageRemoveRmap(ctx, folio, pfn, false);
        munlockVmaFolio(ctx, folio, vma, false); // page_remove_rmap's munlock_vma_folio
        tlb.add(folio, vpn, 1);
      } else if (isMigrationEntry(pte)) {
        mm.rss[mmCounter(mem, pfnFolio(mem, pfn))]!--;
      }
    }
    ptl.unlock();
  }
}

/**
 * `tlb_batch_pages_flush`: put the gathered references, after the TLB flush.
 * `free_pages_and_swap_cache` starts with `lru_add_drain()`, whose `mlock_drain_local`
 * moves the munlocks the zap queued.
 */
export function* tlbFreePages(ctx: RmapState, tlb: MmuGather): KernelGen {
  if (tlb.folios.length > 0) yield* mlockDrainLocal(ctx);
  for (const folio of tlb.folios) {
    if (folioTestHugetlb(ctx.mem, folio)) {
      hugetlbFolioPut(ctx, folio);
      continue;
    }
    if (!folioPutRefsFast(ctx, folio, 1)) yield* folioPutRefsSlow(ctx, folio, 1);
  }
  tlb.folios.length = 0;
}
