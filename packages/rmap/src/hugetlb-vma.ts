import {
  type Folio,
  folioGet,
  folioPut,
  folioTestAnon,
  hugetlbAcctMemory,
  pageContent,
  setPageContent,
} from '@mmsim/folio';
import { EINVAL, ENOMEM, type KernelGen } from '@mmsim/runtime';
import type { AddressSpace } from './address-space.js';
import { MAP_FIXED, PTRS_PER_PTE, VM_MAYSHARE, VM_NORESERVE, VM_UFFD_WP } from './constants.js';
import { pageTryDupAnonRmap } from './dma-pinned.js';
import { allocHugetlbFolioVma } from './hugetlb-fault.js';
import {
  hugepageAddNewAnonRmap,
  hugetlbDupFileRmap,
  hugetlbFolioPut,
  hugetlbMarkDirty,
  hugetlbRemoveRmap,
  makeHugePte,
} from './hugetlb-rmap.js';
import { HPAGE_SIZE, type HugetlbInode, hugetlbOf } from './hugetlb-state.js';
import { firstNode } from './mempolicy.js';
import type { Mm } from './mm.js';
import { filemapRemoveFolio } from './page-cache.js';
import { pmdIndexOfVpn } from './page-table.js';
import {
  isMigrationEntry,
  isWritableMigrationEntry,
  migrationEntryMkReadable,
  pteDirty,
  ptePfn,
  ptePresent,
  pteSwpClearUffdWp,
  pteWrprotect,
} from './pte.js';
import type { RmapState } from './rmap-state.js';
import type { Vma } from './vma.js';
import type { MmuGather } from './zap.js';

/**
 * Hugetlb VMAs from mmap to exit (mm/hugetlb.c, fs/hugetlbfs/inode.c,
 * arch/x86/mm/hugetlbpage.c, Linux 6.3): placement and the reservation at mmap, the
 * unmap of the huge entries, `hugetlb_vm_op_close`, fork's `copy_hugetlb_page_range` and
 * the end of an unlinked (MAP_HUGETLB) inode.
 */

function alignUp(value: number, align: number): number {
  return Math.ceil(value / align) * align;
}

/**
 * The hugetlb part of mmap's placement: `hugetlb_get_unmapped_area` (x86, 6.3). MAP_FIXED
 * needs a huge-page-aligned address (`prepare_hugepage_range`: -EINVAL); a hint is
 * rounded down to a huge page and used if the range is free; otherwise the lowest free,
 * huge-page-aligned range. `len` is already a multiple of 2 MiB. Returns the address,
 * -EINVAL, or -ENOMEM when no room is left.
 */
export function hugetlbGetUnmappedArea(
  mm: Mm,
  addr: number | undefined,
  len: number,
  flags: number,
  taskSize: number,
): number {
  if ((flags & MAP_FIXED) !== 0) {
    if (addr === undefined || addr % HPAGE_SIZE !== 0) return -EINVAL;
    return addr;
  }
  if (addr !== undefined) {
    const hint = addr - (addr % HPAGE_SIZE);
    const vma = mm.findVma(hint);
    if (hint + len <= taskSize && (vma === null || hint + len <= vma.start)) return hint;
  }
  let start = alignUp(mm.mmapBase, HPAGE_SIZE);
  for (const vma of mm.vmas) {
    if (vma.end <= start) continue;
    if (vma.start >= start + len) break;
    start = alignUp(vma.end, HPAGE_SIZE);
  }
  return start + len > taskSize ? -ENOMEM : start;
}

/**
 * `hugetlb_reserve_pages(inode, from, to, vma, vm_flags)` (mm/hugetlb.c, 6.3) for a new
 * VMA of huge pages `[from, to)` of the file, before it is inserted. VM_NORESERVE: no
 * reservation. A shared mapping reserves the indices its inode's resv_map lacks
 * (`region_chg`), a private one all of them and becomes their owner (HPAGE_RESV_OWNER).
 * `hugetlb_acct_memory` may grow the pool with surplus pages; when the pool cannot cover
 * the reservation nothing changes and the result is false (mmap's -ENOMEM).
 */
export function hugetlbReservePages(
  ctx: RmapState,
  inode: HugetlbInode,
  from: number,
  to: number,
  vma: Vma,
): boolean {
  const h = hugetlbOf(ctx);
  const shared = (vma.flags & VM_MAYSHARE) !== 0;
  if ((vma.flags & VM_NORESERVE) !== 0) {
    h.setVmaPrivate(vma, false, new Set());
    return true;
  }
  let chg = 0;
  for (let i = from; i < to; i++) if (!shared || !inode.resvMap.has(i)) chg++;
  const nid = vma.policy === null ? 0 : firstNode(vma.policy.nodes);
  if (chg > 0 && hugetlbAcctMemory(ctx.mem, chg, nid) < 0) return false;
  const resv = new Set<number>();
  for (let i = from; i < to; i++) {
    if (shared) inode.resvMap.add(i);
    else resv.add(i);
  }
  h.setVmaPrivate(vma, !shared, resv);
  return true;
}

/**
 * `hugetlb_vm_op_close(vma)` (mm/hugetlb.c, 6.3): the private owner gives back the
 * reservations of its range that were never faulted in (`hugetlb_acct_memory(h,
 * -reserve)`). Shared reservations stay with the inode.
 */
export function hugetlbVmOpClose(ctx: RmapState, vma: Vma): void {
  const priv = hugetlbOf(ctx).vmaPrivate(vma);
  if (!priv.owner) return;
  const from = Math.floor(vma.pgoff / PTRS_PER_PTE);
  const to = from + (vma.end - vma.start) / HPAGE_SIZE;
  let unused = 0;
  for (let i = from; i < to; i++) if (priv.resv.delete(i)) unused++;
  if (unused > 0) hugetlbAcctMemory(ctx.mem, -unused);
}

/**
 * `hugetlb_vm_op_open` of the upper VMA a split makes (mm/hugetlb.c, 6.3): a private
 * owner's reservations are shared by both halves (the resv_map's kref); a shared mapping
 * gets a vma lock of its own.
 */
export function hugetlbVmOpOpenSplit(ctx: RmapState, vma: Vma, upper: Vma): void {
  const h = hugetlbOf(ctx);
  const priv = h.vmaPrivate(vma);
  h.setVmaPrivate(upper, priv.owner, priv.resv);
}

/**
 * `__unmap_hugepage_range_final` / `__unmap_hugepage_range` (mm/hugetlb.c, 6.3) over the
 * huge pages of `[startVpn, endVpn)` (whole huge pages: the callers split only at huge
 * boundaries): with the vma lock (write) and `i_mmap_rwsem` (write) held, each entry
 * under its lock is cleared: a migration entry simply goes, a present one dirties its
 * folio if dirty, loses its mapping (`page_remove_rmap(page, vma, true)`) and its
 * reference goes to `tlb`, put after the flush (`tlb_remove_page_size`).
 */
export function* zapHugetlbRange(
  ctx: RmapState,
  vma: Vma,
  startVpn: number,
  endVpn: number,
  tlb: MmuGather,
): KernelGen {
  const mm = vma.mm;
  const vmaLock = hugetlbOf(ctx).vmaPrivate(vma).vmaLock;
  if (vmaLock !== null && !vmaLock.downWriteTrylock()) {
    yield* vmaLock.downWrite('__unmap_hugepage_range_final');
  }
  const file = vma.file;
  if (file !== null && !file.iMmapRwsem.downWriteTrylock()) {
    yield* file.iMmapRwsem.downWrite('__unmap_hugepage_range_final');
  }
  const ptl = mm.pageTableLock;
  for (let vpn = startVpn; vpn < endVpn; vpn += PTRS_PER_PTE) {
    const idx = pmdIndexOfVpn(vpn);
    if (!mm.pmds.has(idx)) continue;
    if (!ptl.trylock()) yield* ptl.lockContended();
    const pte = mm.pmds.get(idx);
    if (pte !== undefined) {
      mm.pmds.delete(idx);
      ctx.rt.charge(ctx.costs.pteUpdate);
      if (ptePresent(pte)) {
        const folio = ptePfn(pte);
        if (pteDirty(pte)) hugetlbMarkDirty(ctx, folio);
        hugetlbRemoveRmap(ctx, folio);
        tlb.add(folio, idx * PTRS_PER_PTE, PTRS_PER_PTE);
      }
    }
    ptl.unlock();
  }
  file?.iMmapRwsem.upWrite();
  vmaLock?.upWrite();
}

/**
 * `remove_inode_hugepages(inode, 0, LLONG_MAX)` + `hugetlb_unreserve_pages` (fs/hugetlbfs,
 * mm/hugetlb.c, 6.3) for the unlinked inode of a MAP_HUGETLB mapping whose last mapping
 * went: every cached folio is locked, leaves the cache and its cache reference is put
 * (back to the pool), and the reservations never consumed are returned.
 */
export function* hugetlbfsEvictInode(ctx: RmapState, file: AddressSpace): KernelGen {
  const inode = file.hugetlb!;
  let unused = 0;
  for (const idx of inode.resvMap) if (!file.pages.has(idx)) unused++;
  for (const [idx, folio] of [...file.pages]) {
    const locks = ctx.locks;
    if (!locks.folioTrylock(folio, 'remove_inode_hugepages')) {
      yield* locks.folioLock(folio, 'remove_inode_hugepages');
    }
    if (file.pages.get(idx) === folio) {
      filemapRemoveFolio(ctx, file, folio, idx);
      locks.folioUnlock(folio);
      hugetlbFolioPut(ctx, folio);
    } else {
      locks.folioUnlock(folio);
    }
  }
  inode.resvMap.clear();
  if (unused > 0) hugetlbAcctMemory(ctx.mem, -unused);
}

/**
 * `copy_hugetlb_page_range(dst, src, dst_vma, src_vma)` (mm/hugetlb.c, 6.3) for fork,
 * each huge entry under both mms' locks (the vma lock of a shared source for read). A
 * migration entry is copied, made readable in both when writable in a COW mapping; a
 * present page gets a reference and a duplicated mapping (`page_dup_file_rmap`, or
 * `page_try_dup_anon_rmap`, which for a possibly pinned anonymous page fails: the child
 * gets its own copy at once, `hugetlb_install_folio`), and in a COW mapping both entries
 * are write-protected. The child keeps uffd-wp only with VM_UFFD_WP. Returns false when
 * a copy could not be allocated (-ENOMEM).
 */
export function* copyHugetlbPageRange(ctx: RmapState, dst: Vma, src: Vma): KernelGen<boolean> {
  const mem = ctx.mem;
  const cow = src.isCow;
  const vmaLock = cow ? null : hugetlbOf(ctx).vmaPrivate(src).vmaLock;
  if (vmaLock !== null && !vmaLock.downReadTrylock()) {
    yield* vmaLock.downRead('copy_hugetlb_page_range');
  }
  let ok = true;
  const dptl = dst.mm.pageTableLock;
  const sptl = src.mm.pageTableLock;
  for (let addr = src.start; addr < src.end; addr += HPAGE_SIZE) {
    const idx = addr / HPAGE_SIZE;
    if (!src.mm.pmds.has(idx)) continue;
    if (!dptl.trylock()) yield* dptl.lockContended();
    if (!sptl.trylock()) yield* sptl.lockContended();
    let entry = src.mm.pmds.get(idx) ?? 0;
    if (entry !== 0 && !dst.mm.pmds.has(idx)) {
      if (isMigrationEntry(entry)) {
        if (isWritableMigrationEntry(entry) && cow) {
          entry = migrationEntryMkReadable(entry);
          src.mm.pmds.set(idx, entry);
        }
        if ((dst.flags & VM_UFFD_WP) === 0) entry = pteSwpClearUffdWp(entry);
        dst.mm.pmds.set(idx, entry);
      } else if (ptePresent(entry)) {
        const folio: Folio = ptePfn(entry);
        folioGet(mem, folio);
        let copied = false;
        if (!folioTestAnon(mem, folio)) hugetlbDupFileRmap(ctx, folio);
        else if (pageTryDupAnonRmap(ctx, folio, folio, true, src) !== 0) {
          folioPut(mem, folio);
          const copy = allocHugetlbFolioVma(ctx, dst, addr, false);
          if (copy < 0) {
            ok = false;
          } else {
            for (let i = 0; i < PTRS_PER_PTE; i++) {
              setPageContent(mem, copy + i, pageContent(mem, folio + i));
            }
            ctx.rt.charge(ctx.costs.copyPage4k * PTRS_PER_PTE);
            hugepageAddNewAnonRmap(ctx, copy, dst, addr);
            dst.mm.pmds.set(idx, makeHugePte(copy, dst.writable));
            hugetlbOf(ctx).lifecycle?.folioSetMigratable(copy);
          }
          copied = true;
        }
        if (!copied) {
          if (cow) {
            entry = pteWrprotect(entry);
            src.mm.pmds.set(idx, entry);
          }
          dst.mm.pmds.set(idx, entry);
        }
      }
      ctx.rt.charge(ctx.costs.pteUpdate);
    }
    sptl.unlock();
    dptl.unlock();
    if (!ok) break;
  }
  vmaLock?.upRead();
  return ok;
}
