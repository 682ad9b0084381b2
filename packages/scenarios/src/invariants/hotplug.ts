import { pfnOffline } from '@mmsim/folio';
import type { Kernel } from '@mmsim/kernel';
import { type MmView, PAGE_SIZE } from '@mmsim/rmap';
import { type Invariant, stepInvariant } from '@mmsim/runtime';

/** A pfn range [start, end), or null when there is none to check now. */
export type PfnRange = { readonly start: number; readonly end: number } | null;

/**
 * `user-pages-outside`: no page of the user range [addr, addr + pages * PAGE_SIZE) of `mm`
 * is mapped (by a present PTE) into the pfn range `range()` returns: a memory block taken
 * offline (`offline_pages`), or a range `cma_alloc` handed to its caller. Checked after
 * every step; a migration entry (the page on its way out) is not a mapping.
 */
export function userPagesOutside(
  k: Kernel,
  name: string,
  mm: MmView,
  addr: number,
  pages: number,
  range: () => PfnRange,
): Invariant {
  return stepInvariant(name, () => {
    const r = range();
    if (r === null) return null;
    for (let i = 0; i < pages; i++) {
      const pte = k.vm.lookupPte(mm, addr + i * PAGE_SIZE);
      if (pte.kind !== 'present') continue;
      if (pte.pfn >= r.start && pte.pfn < r.end) {
        return `page ${i} of ${mm} (0x${(addr + i * PAGE_SIZE).toString(16)}) is mapped at pfn ${pte.pfn}, inside [${r.start}, ${r.end}), which is ${pfnOffline(k.mem, r.start) ? 'offline' : "a CMA allocation's"}`;
      }
    }
    return null;
  });
}

/**
 * The range of a memory block once `offline_pages` has taken it offline (its first frame
 * offline), else null: for `userPagesOutside`.
 */
export function offlineBlock(k: Kernel, start: number, nrPages: number): () => PfnRange {
  return () => (pfnOffline(k.mem, start) ? { start, end: start + nrPages } : null);
}
