import {
  type Folio,
  folioGet,
  folioPut,
  folioRefCount,
  folioTestAnon,
  folioTestFlag,
  folioTestKsm,
  folioTestSwapcache,
  PG_anon_exclusive,
  PG_lru,
  pageContent,
  pageTestFlag,
  pfnFolio,
  setPageContent,
} from '@mmsim/folio';
import type { KernelGen } from '@mmsim/runtime';
import { vmaAllocFolio } from './alloc.js';
import { anonVmaPrepare } from './anon-vma.js';
import {
  FAULT_FLAG_UNSHARE,
  MM_ANONPAGES,
  VM_FAULT_OOM,
  VM_FAULT_SIGBUS,
  VM_MAYSHARE,
  VM_SHARED,
  VM_UFFD_WP,
} from './constants.js';
import { folioAddLruVma, folioPutRefsFast, folioPutRefsSlow } from './folio-release.js';
import { mlockDrainLocal, munlockVmaFolio } from './mlock.js';
import {
  mkPte,
  PTE_DIRTY,
  PTE_SOFT_DIRTY,
  PTE_WRITE,
  PTE_YOUNG,
  ptePfn,
  pteSoftDirty,
  pteUffdWp,
} from './pte.js';
import {
  folioAddNewAnonRmap,
  folioMarkDirty,
  pageMoveAnonRmap,
  pageRemoveRmap,
} from './rmap-accounting.js';
import type { RmapState } from './rmap-state.js';
import { flushTlbPage } from './tlb.js';
import { mmCounterFile, type VmFault } from './vm-fault.js';

/**
 * Write-protect faults (mm/memory.c, 6.3): a write (or a GUP unshare) to a present PTE
 * that does not allow it. Entered with the page-table lock held; every path releases it.
 */

/**
 * `wp_page_reuse(vmf)` (mm/memory.c, 6.3): keep the page, make the PTE young, dirty
 * (`pte_mkdirty`: soft-dirty too) and writable. Making a PTE more permissive needs no TLB flush (a stale read-only entry
 * elsewhere only causes a spurious fault). Releases the page-table lock.
 */
function wpPageReuse(ctx: RmapState, vmf: VmFault): void {
  const { vma, table, vpn } = vmf;
  let entry = vmf.orig | PTE_YOUNG | PTE_DIRTY | PTE_SOFT_DIRTY;
  if (vma.writable) entry |= PTE_WRITE;
  table.set(vpn, entry >>> 0);
  ctx.rt.charge(ctx.costs.pteUpdate);
  table.ptl.unlock();
}

/**
 * `wp_page_copy(vmf)` (mm/memory.c, 6.3): COW. Outside the page-table lock, allocate the
 * new anonymous folio (zeroed when the old PTE maps the zero page, else a copy of the old
 * page), then under the lock, if the PTE did not change: clear and flush it
 * (`ptep_clear_flush_notify`: no TLB may keep the old translation), map the copy as a new
 * exclusive anonymous page (writable and dirty; read-only for an unshare), and drop the
 * old page's mapping. Finally put the old page's mapping reference and the reference
 * do_wp_page took. `old` is the folio of the old page (null for the zero page), already
 * referenced by the caller.
 */
function* wpPageCopy(ctx: RmapState, vmf: VmFault, old: Folio | null): KernelGen<number> {
  const { vma, table, vpn } = vmf;
  const mem = ctx.mem;
  const mm = vma.mm;
  const oldPfn = ptePfn(vmf.orig);
  const unshare = (vmf.flags & FAULT_FLAG_UNSHARE) !== 0;
  yield* anonVmaPrepare(ctx, vma);
  const copy = vmaAllocFolio(ctx, vma, 0, vmf.address);
  if (copy < 0) {
    if (old !== null && !folioPutRefsFast(ctx, old, 1)) yield* folioPutRefsSlow(ctx, old, 1);
    return VM_FAULT_OOM;
  }
  if (old !== null) {
    setPageContent(mem, copy, pageContent(mem, oldPfn));
    ctx.rt.charge(ctx.costs.copyPage4k);
  }
  const ptl = table.ptl;
  if (!ptl.trylock()) yield* ptl.lockContended();
  let toPut: Folio = copy;
  let copied = false;
  let drain = false;
  if (table.get(vpn) === vmf.orig) {
    if (old === null) mm.rss[MM_ANONPAGES]!++;
    else if (!folioTestAnon(mem, old)) {
      mm.rss[mmCounterFile(mem, old)]!--;
      mm.rss[MM_ANONPAGES]!++;
    }
    let flags = PTE_YOUNG;
    if (unshare) {
      if (pteSoftDirty(vmf.orig)) flags |= PTE_SOFT_DIRTY;
    } else {
      flags |= PTE_DIRTY | PTE_SOFT_DIRTY;
      if (vma.writable) flags |= PTE_WRITE;
    }
    table.set(vpn, 0);
    flushTlbPage(ctx, mm, vpn);
    folioAddNewAnonRmap(ctx, copy, vma, vmf.address);
    table.set(vpn, mkPte(copy, flags));
    ctx.rt.charge(ctx.costs.pteUpdate * 2);
    if (old !== null) {
      pageRemoveRmap(ctx, old, oldPfn, false);
      drain = munlockVmaFolio(ctx, old, vma, false);
    }
    toPut = old ?? -1;
    copied = true;
  }
  ptl.unlock();
  if (drain) yield* mlockDrainLocal(ctx);
  if (copied) {
    if (toPut >= 0 && !folioPutRefsFast(ctx, toPut, 1)) yield* folioPutRefsSlow(ctx, toPut, 1);
    yield* folioAddLruVma(ctx, copy, vma);
  } else {
    folioPut(mem, copy);
  }
  if (old !== null && !folioPutRefsFast(ctx, old, 1)) yield* folioPutRefsSlow(ctx, old, 1);
  return 0;
}

/**
 * `wp_page_shared(vmf)` (mm/memory.c, 6.3) without `page_mkwrite`: reuse the page-cache
 * page writable and dirty, then lock the folio and dirty it (`fault_dirty_shared_page`).
 */
function* wpPageShared(ctx: RmapState, vmf: VmFault, folio: Folio): KernelGen<number> {
  folioGet(ctx.mem, folio);
  wpPageReuse(ctx, vmf);
  const locks = ctx.locks;
  if (!locks.folioLockFast(folio, 'wp_page_shared')) {
    yield* locks.folioLockContended(folio, 'wp_page_shared');
  }
  folioMarkDirty(ctx, folio);
  locks.folioUnlock(folio);
  if (!folioPutRefsFast(ctx, folio, 1)) yield* folioPutRefsSlow(ctx, folio, 1);
  return 0;
}

/**
 * `do_wp_page(vmf)` (mm/memory.c, 6.3), entered with the page-table lock held.
 *
 * - Shared mappings reuse the page (`wp_page_shared`).
 * - A private anonymous page that is PageAnonExclusive is reused.
 * - A shared anonymous page is reused only when this mapping holds its only reference:
 *   refcount at most 3 (else copy), then after draining this CPU's LRU batch (if the folio
 *   is not on the LRU) refcount at most 1 + swapcache, then under a trylock of the folio
 *   refcount exactly 1; the folio then moves to this VMA's anon_vma and becomes exclusive
 *   (`page_move_anon_rmap`). An unshare stops there without making the PTE writable.
 * - Anything else (a page-cache page of a private mapping, the zero page, a page still
 *   shared) is copied (`wp_page_copy`).
 */
export function* doWpPage(ctx: RmapState, vmf: VmFault): KernelGen<number> {
  const mem = ctx.mem;
  const vma = vmf.vma;
  const pfn = ptePfn(vmf.orig);
  const folio = pfn === mem.zeroPfn ? null : pfnFolio(mem, pfn);
  // `userfaultfd_pte_wp(vma, pte)`: the write goes to the monitor (`handle_userfault`,
  // not modelled: the fault fails instead of waiting for UFFDIO_WRITEPROTECT to resolve).
  if (
    (vmf.flags & FAULT_FLAG_UNSHARE) === 0 &&
    (vma.flags & VM_UFFD_WP) !== 0 &&
    pteUffdWp(vmf.orig)
  ) {
    vmf.table.ptl.unlock();
    return VM_FAULT_SIGBUS;
  }
  if ((vma.flags & (VM_SHARED | VM_MAYSHARE)) !== 0 && folio !== null) {
    return yield* wpPageShared(ctx, vmf, folio);
  }
  if (folio !== null && folioTestAnon(mem, folio)) {
    let reuse = pageTestFlag(mem, pfn, PG_anon_exclusive);
    if (!reuse) reuse = yield* wpCanReuseAnonFolio(ctx, vmf, folio, pfn);
    if (reuse) {
      if ((vmf.flags & FAULT_FLAG_UNSHARE) !== 0) vmf.table.ptl.unlock();
      else wpPageReuse(ctx, vmf);
      return 0;
    }
  }
  if (folio !== null) folioGet(mem, folio);
  vmf.table.ptl.unlock();
  return yield* wpPageCopy(ctx, vmf, folio);
}

/** The reuse test of do_wp_page for a shared anonymous page (6.3's inline code). */
function* wpCanReuseAnonFolio(
  ctx: RmapState,
  vmf: VmFault,
  folio: Folio,
  pfn: number,
): KernelGen<boolean> {
  const mem = ctx.mem;
  if (folioTestKsm(mem, folio) || folioRefCount(mem, folio) > 3) return false;
  if (!folioTestFlag(mem, folio, PG_lru) && ctx.lru !== null) yield* ctx.lru.lruAddDrain();
  const swapcache = folioTestSwapcache(mem, folio) ? 1 : 0;
  if (folioRefCount(mem, folio) > 1 + swapcache) return false;
  if (!ctx.locks.folioTrylock(folio, 'do_wp_page')) return false;
  if (folioTestKsm(mem, folio) || folioRefCount(mem, folio) !== 1) {
    ctx.locks.folioUnlock(folio);
    return false;
  }
  pageMoveAnonRmap(ctx, folio, pfn, vmf.vma);
  ctx.locks.folioUnlock(folio);
  return true;
}
