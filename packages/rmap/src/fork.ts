import {
  type Folio,
  folioGet,
  folioPut,
  folioTestAnon,
  HPAGE_PMD_NR,
  pageContent,
  pfnFolio,
  setPageContent,
} from '@mmsim/folio';
import { type KernelGen, MmsimError } from '@mmsim/runtime';
import type { AddressSpace } from './address-space.js';
import { vmaAllocFolio } from './alloc.js';
import { anonVmaFork } from './anon-vma.js';
import {
  MM_ANONPAGES,
  PAGE_SIZE,
  PTRS_PER_PTE,
  VM_LOCKED,
  VM_SHARED,
  VM_UFFD_WP,
} from './constants.js';
import { pageTryDupAnonRmap } from './dma-pinned.js';
import { exitMmap } from './exit.js';
import { folioAddLruVma } from './folio-release.js';
import { isVmHugetlbPage } from './hugetlb-state.js';
import { copyHugetlbPageRange } from './hugetlb-vma.js';
import { mpolDup } from './mempolicy.js';
import type { Mm } from './mm.js';
import { createMm } from './mmap.js';
import { pmdIndexOfVpn } from './page-table.js';
import {
  isMigrationEntry,
  isWritableMigrationEntry,
  migrationEntryMkReadable,
  mkPte,
  PTE_DIRTY,
  PTE_SOFT_DIRTY,
  PTE_WRITE,
  PTE_YOUNG,
  pteClearUffdWp,
  pteMkclean,
  pteMkold,
  ptePfn,
  ptePresent,
  pteSwpClearUffdWp,
  pteWrite,
  pteWrprotect,
} from './pte.js';
import { folioAddNewAnonRmap, pageDupRmap } from './rmap-accounting.js';
import type { RmapState } from './rmap-state.js';
import { splitHugePmd } from './split-huge-pmd.js';
import { flushTlbMm } from './tlb.js';
import { mmCounter } from './vm-fault.js';
import { Vma } from './vma.js';

/**
 * `copy_present_page` (mm/memory.c, 6.3): the parent's page may be pinned, so the child
 * gets its own copy at once (a new exclusive anonymous page, writable if the VMA is),
 * and the parent keeps its exclusive page. Returns the folio to put on the LRU, or -ENOMEM.
 */
function copyPresentPage(ctx: RmapState, dst: Vma, vpn: number, srcPfn: number): Folio {
  const copy = vmaAllocFolio(ctx, dst, 0, vpn * PAGE_SIZE);
  if (copy < 0) return copy;
  setPageContent(ctx.mem, copy, pageContent(ctx.mem, srcPfn));
  ctx.rt.charge(ctx.costs.copyPage4k);
  folioAddNewAnonRmap(ctx, copy, dst, vpn * PAGE_SIZE);
  dst.mm.rss[MM_ANONPAGES]!++;
  // maybe_mkwrite(pte_mkdirty(pte)): dirty and soft-dirty.
  const flags = PTE_YOUNG | PTE_DIRTY | PTE_SOFT_DIRTY | (dst.writable ? PTE_WRITE : 0);
  dst.mm.pageTable(pmdIndexOfVpn(vpn)).set(vpn, mkPte(copy, flags));
  return copy;
}

/**
 * `copy_pte_range` with `copy_present_pte` / `copy_nonpresent_pte` (mm/memory.c, 6.3) for
 * one page table, both page-table locks held (child's, then parent's). A present page
 * gets a reference and a duplicated mapping (`page_try_dup_anon_rmap`, which makes an
 * exclusive anon page shared, or refuses if it may be pinned: then `copy_present_page`);
 * in a COW mapping a writable PTE is write-protected in the parent and the child; the
 * child's PTE is old, and clean in a shared mapping. A writable migration entry becomes
 * readable in both (the page is shared from now on). Returns the folios copied for the
 * child, to go on the LRU, or null when a copy could not be allocated (-ENOMEM).
 */
function copyPteTable(
  ctx: RmapState,
  dst: Vma,
  src: Vma,
  startVpn: number,
  endVpn: number,
): Folio[] | null {
  const mem = ctx.mem;
  const idx = pmdIndexOfVpn(startVpn);
  const srcTable = src.mm.pageTables.get(idx)!;
  const dstTable = dst.mm.pageTable(idx);
  const cow = src.isCow;
  const copies: Folio[] = [];
  for (let vpn = startVpn; vpn < endVpn; vpn++) {
    let pte = srcTable.get(vpn);
    if (pte === 0) continue;
    if (!ptePresent(pte)) {
      if (isMigrationEntry(pte)) {
        dst.mm.rss[mmCounter(mem, pfnFolio(mem, ptePfn(pte)))]!++;
        if (isWritableMigrationEntry(pte) && cow) {
          pte = migrationEntryMkReadable(pte);
          srcTable.set(vpn, pte);
        }
        // copy_nonpresent_pte: the child keeps uffd-wp only where its VMA has VM_UFFD_WP.
        if ((dst.flags & VM_UFFD_WP) === 0) pte = pteSwpClearUffdWp(pte);
        dstTable.set(vpn, pte);
      }
      continue;
    }
    const pfn = ptePfn(pte);
    if (pfn !== mem.zeroPfn) {
      const folio = pfnFolio(mem, pfn);
      folioGet(mem, folio);
      if (folioTestAnon(mem, folio)) {
        if (pageTryDupAnonRmap(ctx, folio, pfn, false, src) !== 0) {
          folioPut(mem, folio);
          const copy = copyPresentPage(ctx, dst, vpn, pfn);
          if (copy < 0) return null;
          copies.push(copy);
          continue;
        }
      } else {
        pageDupRmap(ctx, folio, pfn, false);
      }
      dst.mm.rss[mmCounter(mem, folio)]!++;
    }
    if (cow && pteWrite(pte)) {
      pte = pteWrprotect(pte);
      srcTable.set(vpn, pte);
    }
    if ((src.flags & VM_SHARED) !== 0) pte = pteMkclean(pte);
    if ((dst.flags & VM_UFFD_WP) === 0) pte = pteClearUffdWp(pte); // copy_present_pte
    dstTable.set(vpn, pteMkold(pte));
  }
  ctx.rt.charge(ctx.costs.pteUpdate * (endVpn - startVpn));
  return copies;
}

/**
 * `copy_huge_pmd` (mm/huge_memory.c, 6.3) with both mms' `page_table_lock` held: a PMD
 * migration entry is copied (made readable in both if it was writable); a huge mapping of
 * an anonymous THP gets a reference and a duplicated entire mapping and is write-protected
 * (and old) in both. A file VMA's PMD is not copied (`copy_huge_pmd` returns 0 for a VMA
 * that is not anonymous: the child faults it in). Returns false when the THP may be pinned: the caller splits the PMD
 * and copies the PTEs instead (-EAGAIN in the kernel).
 */
function copyHugePmd(ctx: RmapState, dst: Vma, src: Vma, idx: number): boolean {
  // Skip if it can be refilled on fault: a file VMA's huge PMD (present or a migration
  // entry) is not copied, the child faults the THP in again.
  if (src.file !== null) return true;
  const mem = ctx.mem;
  let pmdv = src.mm.pmds.get(idx)!;
  const folio = ptePfn(pmdv);
  if (!ptePresent(pmdv)) {
    dst.mm.rss[MM_ANONPAGES]! += HPAGE_PMD_NR;
    if (isWritableMigrationEntry(pmdv) && src.isCow) {
      pmdv = migrationEntryMkReadable(pmdv);
      src.mm.pmds.set(idx, pmdv);
    }
    dst.mm.pmds.set(idx, pmdv);
    return true;
  }
  folioGet(mem, folio);
  if (pageTryDupAnonRmap(ctx, folio, folio, true, src) !== 0) {
    folioPut(mem, folio);
    return false;
  }
  dst.mm.rss[MM_ANONPAGES]! += HPAGE_PMD_NR;
  pmdv = pteWrprotect(pmdv);
  src.mm.pmds.set(idx, pmdv);
  dst.mm.pmds.set(idx, pteMkold(pmdv));
  return true;
}

/**
 * `copy_page_range(dst_vma, src_vma)` (mm/memory.c, 6.3), one 2 MiB range at a time,
 * taking the page-table locks (child's first) and, for huge PMDs, both `page_table_lock`s.
 * Returns false when a page could not be allocated (-ENOMEM).
 */
function* copyPageRange(ctx: RmapState, dst: Vma, src: Vma): KernelGen<boolean> {
  if (isVmHugetlbPage(src)) return yield* copyHugetlbPageRange(ctx, dst, src);
  const startVpn = src.start / PAGE_SIZE;
  const endVpn = src.end / PAGE_SIZE;
  let vpn = startVpn;
  const copies: Folio[] = [];
  while (vpn < endVpn) {
    const idx = pmdIndexOfVpn(vpn);
    const tableEnd = Math.min(endVpn, (idx + 1) * PTRS_PER_PTE);
    if (src.mm.pmds.has(idx)) {
      const dptl = dst.mm.pageTableLock;
      const sptl = src.mm.pageTableLock;
      if (!dptl.trylock()) yield* dptl.lockContended();
      if (!sptl.trylock()) yield* sptl.lockContended();
      const copied = copyHugePmd(ctx, dst, src, idx);
      sptl.unlock();
      dptl.unlock();
      if (copied) {
        vpn = tableEnd;
        continue;
      }
      yield* splitHugePmd(ctx, src, vpn * PAGE_SIZE, false, null);
    }
    const srcTable = src.mm.pageTables.get(idx);
    if (srcTable !== undefined) {
      const dptl = dst.mm.pageTable(idx).ptl;
      if (!dptl.trylock()) yield* dptl.lockContended();
      if (!srcTable.ptl.trylock()) yield* srcTable.ptl.lockContended();
      const copied = copyPteTable(ctx, dst, src, vpn, tableEnd);
      srcTable.ptl.unlock();
      dptl.unlock();
      if (copied === null) return false;
      copies.push(...copied);
    }
    vpn = tableEnd;
  }
  for (const folio of copies) yield* folioAddLruVma(ctx, folio, null); // child: not VM_LOCKED
  return true;
}

/** `i_mmap_lock_write` + `vma_interval_tree_insert_after` (kernel/fork.c dup_mmap, 6.3). */
function* linkFileVma(file: AddressSpace, vma: Vma): KernelGen {
  const sem = file.iMmapRwsem;
  if (!sem.downWriteTrylock()) yield* sem.downWrite('dup_mmap');
  file.iMmap.add(vma);
  sem.upWrite();
}

/**
 * `fork()`'s `dup_mm` / `dup_mmap` (kernel/fork.c, 6.3): a new mm with a copy of every
 * VMA, under the parent's `mmap_lock` (write). Each child VMA is chained into the
 * parent's anon_vma tree and gets its own anon_vma, or reuses one (`anon_vma_fork`),
 * joins its file's i_mmap, and only then the child's VMA tree (`mas_store`). Page tables are copied only where the kernel does
 * (`vma_needs_copy`: the VMA has an anon_vma); file mappings without one are faulted in
 * again by the child. COW: writable private PTEs are write-protected in both, anonymous
 * pages become shared. At the end the parent's TLBs are flushed (`flush_tlb_mm(oldmm)`),
 * so no CPU keeps writing through a stale writable entry of the now-shared pages.
 */
export function* forkMm(ctx: RmapState, parent: Mm, name: string | undefined): KernelGen<Mm> {
  if (!parent.alive) throw new MmsimError('INVALID_STATE', `fork: ${parent} has exited`);
  const child = createMm(ctx, name);
  child.mmapBase = parent.mmapBase;
  const sem = parent.mmapLock;
  if (!sem.downWriteTrylock()) yield* sem.downWrite('dup_mmap');
  for (const vma of parent.vmas) {
    // dup_mmap: the child's VMAs are not mlocked (`VM_LOCKED_MASK` cleared, 6.3), and
    // `dup_userfaultfd` drops VM_UFFD_WP (the model has no UFFD_FEATURE_EVENT_FORK).
    const flags = vma.flags & ~(VM_LOCKED | VM_UFFD_WP);
    const tmp = new Vma(child, vma.start, vma.end, flags, vma.pgoff, vma.file, mpolDup(vma.policy));
    if (vma.anonVma !== null) {
      tmp.anonVma = vma.anonVma;
      yield* anonVmaFork(ctx, tmp, vma);
    }
    if (vma.file !== null) yield* linkFileVma(vma.file, tmp);
    // Into the child's tree only now, as dup_mmap does (6.3: mas_store after the i_mmap
    // link; before 6.1 __vma_link_rb, also after it).
    child.insertVma(tmp);
    if (vma.anonVma !== null && !(yield* copyPageRange(ctx, tmp, vma))) {
      // dup_mmap fails with -ENOMEM and the half-built child is torn down (mmput).
      flushTlbMm(ctx, parent);
      sem.upWrite();
      yield* exitMmap(ctx, child);
      throw new MmsimError(
        'INVALID_CONFIG',
        `fork of ${parent}: out of memory copying a pinned page; give the machine more memory`,
      );
    }
  }
  flushTlbMm(ctx, parent);
  sem.upWrite();
  return child;
}
