import {
  folioGet,
  folioPut,
  folioRefCount,
  HPAGE_PMD_NR,
  HPAGE_PMD_ORDER,
  PG_anon_exclusive,
  pageTestFlag,
} from '@mmsim/folio';
import type { KernelGen } from '@mmsim/runtime';
import { vmaAllocFolio } from './alloc.js';
import { anonVmaPrepare } from './anon-vma.js';
import {
  FAULT_FLAG_UNSHARE,
  FAULT_FLAG_WRITE,
  MM_ANONPAGES,
  PMD_SIZE,
  VM_FAULT_FALLBACK,
  VM_HUGEPAGE,
  VM_SHARED,
} from './constants.js';
import { folioAddLruVma, folioPutRefsFast, folioPutRefsSlow } from './folio-release.js';
import { pmdIndexOf } from './page-table.js';
import { mkPte, PTE_DIRTY, PTE_SOFT_DIRTY, PTE_WRITE, PTE_YOUNG, ptePfn } from './pte.js';
import { folioAddNewAnonRmap, pageMoveAnonRmap } from './rmap-accounting.js';
import type { RmapState } from './rmap-state.js';
import { splitHugePmd } from './split-huge-pmd.js';
import type { Vma } from './vma.js';

/**
 * PMD-level faults of anonymous THPs (mm/huge_memory.c, 6.3). THPs are used in private
 * anonymous VMAs marked VM_HUGEPAGE (MADV_HUGEPAGE), for a PMD-aligned 2 MiB range inside
 * the VMA. The huge zero page is not modelled: a read fault allocates a THP too (as with
 * `use_zero_page` off).
 */

/**
 * `transhuge_vma_suitable` (include/linux/huge_mm.h, 6.3) plus the VM_HUGEPAGE policy
 * (`hugepage_vma_check` with THP "madvise"): may this fault map a THP?
 */
export function thpEligible(vma: Vma, address: number): boolean {
  if ((vma.flags & VM_HUGEPAGE) === 0 || vma.file !== null || (vma.flags & VM_SHARED) !== 0) {
    return false;
  }
  const haddr = address - (address % PMD_SIZE);
  return haddr >= vma.start && haddr + PMD_SIZE <= vma.end;
}

/**
 * `do_huge_pmd_anonymous_page(vmf)` (mm/huge_memory.c, 6.3): allocate an order-9 folio
 * (VM_FAULT_FALLBACK to base pages if that fails) and map it by one PMD, young, dirty
 * (`pmd_mkdirty`: soft-dirty too) and writable if the VMA is, as a new exclusive anonymous folio (entire mapcount 1).
 */
export function* doHugePmdAnonymousPage(
  ctx: RmapState,
  vma: Vma,
  address: number,
): KernelGen<number> {
  const mm = vma.mm;
  yield* anonVmaPrepare(ctx, vma);
  const folio = vmaAllocFolio(ctx, vma, HPAGE_PMD_ORDER, address - (address % PMD_SIZE));
  if (folio < 0) return VM_FAULT_FALLBACK;
  const idx = pmdIndexOf(address);
  const haddr = idx * PMD_SIZE;
  const ptl = mm.pageTableLock;
  if (!ptl.trylock()) yield* ptl.lockContended();
  if (mm.pmds.has(idx) || mm.pageTables.has(idx)) {
    ptl.unlock();
    folioPut(ctx.mem, folio);
    return 0;
  }
  const flags = PTE_YOUNG | PTE_DIRTY | PTE_SOFT_DIRTY | (vma.writable ? PTE_WRITE : 0);
  folioAddNewAnonRmap(ctx, folio, vma, haddr);
  mm.pmds.set(idx, mkPte(folio, flags));
  mm.rss[MM_ANONPAGES]! += HPAGE_PMD_NR;
  ctx.rt.charge(ctx.costs.pteUpdate);
  ptl.unlock();
  yield* folioAddLruVma(ctx, folio, vma);
  return 0;
}

/**
 * `huge_pmd_set_accessed(vmf)` (mm/huge_memory.c, 6.3): a fault on a present PMD that
 * allows the access (a TLB miss raced with a change): mark it young (and dirty on write).
 */
export function* hugePmdSetAccessed(
  ctx: RmapState,
  vma: Vma,
  address: number,
  flags: number,
): KernelGen<number> {
  const mm = vma.mm;
  const idx = pmdIndexOf(address);
  const ptl = mm.pageTableLock;
  if (!ptl.trylock()) yield* ptl.lockContended();
  const pmdv = mm.pmds.get(idx);
  if (pmdv !== undefined && (pmdv & 1) !== 0) {
    const dirty = (flags & FAULT_FLAG_WRITE) !== 0 ? PTE_DIRTY | PTE_SOFT_DIRTY : 0;
    mm.pmds.set(idx, (pmdv | PTE_YOUNG | dirty) >>> 0);
    ctx.rt.charge(ctx.costs.pteUpdate);
  }
  ptl.unlock();
  return 0;
}

/**
 * `do_huge_pmd_wp_page(vmf)` (mm/huge_memory.c, 6.3): a write (or unshare) to a read-only
 * PMD-mapped THP. An exclusive folio is reused (made young, dirty, writable); a shared one
 * is reused only if this mapping holds its only reference (under the folio lock, which may
 * be slept on), after moving it to this VMA's anon_vma; otherwise the PMD is split
 * (`__split_huge_pmd`, not frozen) and VM_FAULT_FALLBACK makes the fault retry on PTEs,
 * where do_wp_page copies the one page. A PMD-mapped file THP is split (dropped) and the
 * fault falls back (`wp_huge_pmd`'s path for VMAs that are not anonymous).
 */
export function* doHugePmdWpPage(
  ctx: RmapState,
  vma: Vma,
  address: number,
  orig: number,
  flags: number,
): KernelGen<number> {
  if (vma.file !== null) {
    // wp_huge_pmd (mm/memory.c, 6.3) for a file THP: without ->huge_fault (shmem and the
    // model's files have none) the PMD is split, which for a file VMA just drops it, and
    // the fault falls back to PTEs (do_fault maps it again, or copies one page).
    yield* splitHugePmd(ctx, vma, address, false, null);
    return VM_FAULT_FALLBACK;
  }
  const mm = vma.mm;
  const mem = ctx.mem;
  const idx = pmdIndexOf(address);
  const ptl = mm.pageTableLock;
  const locks = ctx.locks;
  if (!ptl.trylock()) yield* ptl.lockContended();
  if (mm.pmds.get(idx) !== orig) {
    ptl.unlock();
    return 0;
  }
  const folio = ptePfn(orig);
  let reuse = pageTestFlag(mem, folio, PG_anon_exclusive);
  if (!reuse) {
    if (!locks.folioTrylock(folio, 'do_huge_pmd_wp_page')) {
      folioGet(mem, folio);
      ptl.unlock();
      yield* locks.folioLock(folio, 'do_huge_pmd_wp_page');
      if (!ptl.trylock()) yield* ptl.lockContended();
      if (mm.pmds.get(idx) !== orig) {
        ptl.unlock();
        locks.folioUnlock(folio);
        if (!folioPutRefsFast(ctx, folio, 1)) yield* folioPutRefsSlow(ctx, folio, 1);
        return 0;
      }
      folioPut(mem, folio);
    }
    if (pageTestFlag(mem, folio, PG_anon_exclusive)) {
      reuse = true;
    } else if (folioRefCount(mem, folio) === 1) {
      pageMoveAnonRmap(ctx, folio, folio, vma);
      reuse = true;
    }
    locks.folioUnlock(folio);
  }
  if (reuse) {
    if ((flags & FAULT_FLAG_UNSHARE) === 0) {
      const w = vma.writable ? PTE_WRITE : 0;
      mm.pmds.set(idx, (orig | PTE_YOUNG | PTE_DIRTY | PTE_SOFT_DIRTY | w) >>> 0);
      ctx.rt.charge(ctx.costs.pteUpdate);
    }
    ptl.unlock();
    return 0;
  }
  ptl.unlock();
  yield* splitHugePmd(ctx, vma, address, false, null);
  return VM_FAULT_FALLBACK;
}
