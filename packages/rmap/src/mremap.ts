import { EFAULT, EINVAL, ENOMEM, type KernelGen, MmsimError } from '@mmsim/runtime';
import { iMmapLockWrite } from './address-space.js';
import { anonVmaClone, anonVmaLockWrite, unlinkAnonVmas } from './anon-vma.js';
import {
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  PAGE_SIZE,
  PMD_SIZE,
  PTRS_PER_PTE,
  TASK_SIZE,
  VM_LOCKED,
  VM_MAYSHARE,
  VM_SHARED,
} from './constants.js';
import type { Mm } from './mm.js';
import { doVmiMunmap } from './munmap.js';
import { pmdIndexOf } from './page-table.js';
import { PTE_SOFT_DIRTY, ptePresent, SWP_SOFT_DIRTY } from './pte.js';
import type { RmapState } from './rmap-state.js';
import { splitHugePmd } from './split-huge-pmd.js';
import { flushTlbRange } from './tlb.js';
import { flushTlbBatchedPending } from './tlb-batch.js';
import { Vma } from './vma.js';

/* mremap(2) (mm/mremap.c, Linux 6.3). */

/** `get_unmapped_area(file, hint, len, pgoff, flags)`: the lowest free range from the base. */
function getUnmappedArea(mm: Mm, len: number): number {
  let start = Math.ceil(mm.mmapBase / PAGE_SIZE) * PAGE_SIZE;
  for (const vma of mm.vmas) {
    if (vma.end <= start) continue;
    if (vma.start >= start + len) break;
    start = vma.end;
  }
  if (start + len > TASK_SIZE) return -ENOMEM;
  return start;
}

/** The range `[start, end)` of `mm` is free of VMAs. */
function rangeFree(mm: Mm, start: number, end: number): boolean {
  const vma = mm.findVma(start);
  return vma === null || vma.start >= end;
}

/**
 * `take_rmap_locks(vma)` / `drop_rmap_locks(vma)` (mm/mremap.c, 6.3): the file's
 * `i_mmap_rwsem` and the anon_vma tree's lock, both for write, so that an rmap walk sees
 * every entry either at its old place or at its new one.
 */
function* takeRmapLocks(vma: Vma): KernelGen {
  if (vma.file !== null) yield* iMmapLockWrite(vma.file, 'take_rmap_locks');
  if (vma.anonVma !== null) yield* anonVmaLockWrite(vma.anonVma, 'take_rmap_locks');
}

function dropRmapLocks(vma: Vma): void {
  if (vma.anonVma !== null) vma.anonVma.rwsem.upWrite();
  if (vma.file !== null) vma.file.iMmapRwsem.upWrite();
}

/**
 * `move_soft_dirty_pte(pte)` (mm/mremap.c, 6.3, CONFIG_MEM_SOFT_DIRTY): a moved entry is
 * soft-dirty (the page is at a new address), in the present or the swap format.
 */
function moveSoftDirtyPte(pte: number): number {
  return (ptePresent(pte) ? pte | PTE_SOFT_DIRTY : pte | SWP_SOFT_DIRTY) >>> 0;
}

/**
 * `move_page_tables(vma, old_addr, new_vma, new_addr, len, need_rmap_locks)` (mm/mremap.c,
 * 6.3): per PMD-sized extent, a huge PMD (present or a PMD migration entry) that the
 * extent covers whole at PMD-aligned old and new addresses moves as one entry
 * (`move_huge_pmd`, under `page_table_lock`); one covered in part is split first. The
 * rest moves PTE by PTE (`move_ptes`: under the old and the new page-table locks, after
 * `flush_tlb_batched_pending`; each entry cleared and set at the new address, soft-dirty,
 * migration entries included, so that `remove_migration_ptes` finds them at the new
 * address through the new VMA; the old range's TLB entries are flushed before the locks
 * go when a present entry moved). With `needRmapLocks` the rmap locks are held around each
 * move. Page indexes do not change: the new VMA has the old `vm_pgoff`, so
 * `linear_page_index` gives every page the index it had.
 */
function* movePageTables(
  ctx: RmapState,
  vma: Vma,
  oldAddr: number,
  newAddr: number,
  len: number,
  needRmapLocks: boolean,
): KernelGen {
  const mm = vma.mm;
  const oldEnd = oldAddr + len;
  while (oldAddr < oldEnd) {
    const extent = Math.min(
      PMD_SIZE - (oldAddr % PMD_SIZE),
      PMD_SIZE - (newAddr % PMD_SIZE),
      oldEnd - oldAddr,
    );
    const oldIdx = pmdIndexOf(oldAddr);
    if (mm.pmds.has(oldIdx)) {
      if (extent === PMD_SIZE && oldAddr % PMD_SIZE === 0 && newAddr % PMD_SIZE === 0) {
        if (needRmapLocks) yield* takeRmapLocks(vma);
        const ptl = mm.pageTableLock;
        if (!ptl.trylock()) yield* ptl.lockContended();
        const pmdv = mm.pmds.get(oldIdx);
        if (pmdv !== undefined) {
          // move_huge_pmd: pmdp_huge_get_and_clear, set_pmd_at, flush if it was present.
          mm.pmds.delete(oldIdx);
          const newIdx = pmdIndexOf(newAddr);
          const stale = mm.pageTables.get(newIdx);
          if (stale !== undefined && stale.used === 0) mm.pageTables.delete(newIdx);
          mm.pmds.set(newIdx, pmdv === 0 ? 0 : moveSoftDirtyPte(pmdv));
          ctx.rt.charge(ctx.costs.pteUpdate);
          if (ptePresent(pmdv)) flushTlbRange(ctx, mm, oldAddr / PAGE_SIZE, PTRS_PER_PTE);
        }
        ptl.unlock();
        if (needRmapLocks) dropRmapLocks(vma);
        oldAddr += extent;
        newAddr += extent;
        yield; // cond_resched()
        continue;
      }
      yield* splitHugePmd(ctx, vma, oldAddr, false, null);
    }
    const oldTable = mm.pageTables.get(oldIdx);
    if (oldTable !== undefined && oldTable.used > 0) {
      if (needRmapLocks) yield* takeRmapLocks(vma);
      const newTable = mm.pageTable(pmdIndexOf(newAddr));
      const oldPtl = oldTable.ptl;
      if (!oldPtl.trylock()) yield* oldPtl.lockContended();
      const newPtl = newTable.ptl;
      if (newPtl !== oldPtl && !newPtl.trylock()) yield* newPtl.lockContended();
      flushTlbBatchedPending(ctx, mm);
      let forceFlush = false;
      const oldVpn = oldAddr / PAGE_SIZE;
      const newVpn = newAddr / PAGE_SIZE;
      const n = extent / PAGE_SIZE;
      for (let i = 0; i < n; i++) {
        const pte = oldTable.get(oldVpn + i);
        if (pte === 0) continue;
        oldTable.set(oldVpn + i, 0);
        if (ptePresent(pte)) forceFlush = true;
        newTable.set(newVpn + i, moveSoftDirtyPte(pte));
        ctx.rt.charge(ctx.costs.pteUpdate);
      }
      if (forceFlush) flushTlbRange(ctx, mm, oldVpn, n);
      if (newPtl !== oldPtl) newPtl.unlock();
      oldPtl.unlock();
      if (needRmapLocks) dropRmapLocks(vma);
    }
    oldAddr += extent;
    newAddr += extent;
    yield; // cond_resched()
  }
}

/**
 * `copy_vma(&vma, new_addr, new_len, pgoff, &need_rmap_locks)` (mm/mmap.c, 6.3), without
 * the merge with a neighbour: a new VMA with `vma`'s flags, file, policy and anon_vma, at
 * `newAddr`, with `vm_pgoff` = `pgoff` (the old offset: anonymous pages keep their index;
 * an anonymous VMA that never faulted takes `newAddr >> PAGE_SHIFT` instead), chained to
 * every anon_vma `vma` is (`anon_vma_clone`) and in the file's i_mmap after the old one.
 * A fresh VMA sits after the old one in every rmap walk, so `need_rmap_locks` is false.
 */
function* copyVma(vma: Vma, newAddr: number, len: number, pgoff: number): KernelGen<Vma> {
  const mm = vma.mm;
  if (vma.isAnonymous && vma.anonVma === null) pgoff = newAddr / PAGE_SIZE;
  const copy = new Vma(mm, newAddr, newAddr + len, vma.flags, pgoff, vma.file, vma.policy);
  copy.anonVma = vma.anonVma;
  yield* anonVmaClone(copy, vma);
  const file = vma.file;
  if (file !== null) yield* iMmapLockWrite(file, 'copy_vma');
  mm.insertVma(copy);
  if (file !== null) {
    file.iMmap.add(copy);
    file.iMmapRwsem.upWrite();
  }
  return copy;
}

/**
 * `move_vma(vma, old_addr, old_len, new_len, new_addr, ...)` (mm/mremap.c, 6.3): copy the
 * VMA to the new place, move the page tables, then unmap the old range; with
 * MREMAP_DONTUNMAP the old VMA stays (VM_LOCKED cleared) without its pages, and its
 * anon_vma links go when it is exactly the moved range. Returns `newAddr`.
 */
function* moveVma(
  ctx: RmapState,
  vma: Vma,
  oldAddr: number,
  oldLen: number,
  newLen: number,
  newAddr: number,
  flags: number,
): KernelGen<number> {
  const mm = vma.mm;
  const pgoff = vma.pgoff + (oldAddr - vma.start) / PAGE_SIZE;
  yield* copyVma(vma, newAddr, newLen, pgoff);
  yield* movePageTables(ctx, vma, oldAddr, newAddr, oldLen, false);
  if ((flags & MREMAP_DONTUNMAP) !== 0) {
    vma.flags &= ~VM_LOCKED;
    if (vma.start === oldAddr && vma.end === oldAddr + oldLen) yield* unlinkAnonVmas(ctx, vma);
    return newAddr;
  }
  yield* doVmiMunmap(ctx, mm, oldAddr, oldAddr + oldLen);
  return newAddr;
}

/**
 * `vma_to_resize(addr, old_len, new_len, flags)` (mm/mremap.c, 6.3): the VMA at `addr`,
 * or -EFAULT when there is none or the old range runs past its end, -EINVAL for a zero
 * `old_len` on a private mapping or an index overflow. (VM_DONTEXPAND, VM_PFNMAP, the
 * mlock and address-space limits are not modelled.)
 */
function vmaToResize(mm: Mm, addr: number, oldLen: number): Vma | number {
  const vma = mm.vmaLookup(addr);
  if (vma === null) return -EFAULT;
  if (oldLen === 0 && (vma.flags & (VM_SHARED | VM_MAYSHARE)) === 0) return -EINVAL;
  if (oldLen > vma.end - addr) return -EFAULT;
  return vma;
}

/**
 * `mremap(addr, old_len, new_len, flags, new_addr)` (mm/mremap.c, Linux 6.3), under
 * `mmap_lock` for write. Returns the (new) address, or a negative errno:
 *
 * - -EINVAL: a flag other than MREMAP_MAYMOVE / FIXED / DONTUNMAP; FIXED without MAYMOVE;
 *   DONTUNMAP without MAYMOVE or with `new_len != old_len`; `addr` not page-aligned;
 *   `new_len` 0; with FIXED (or DONTUNMAP): `new_addr` not page-aligned, above TASK_SIZE,
 *   or overlapping the old range; `old_len` 0 on a private mapping.
 * - -EFAULT: no VMA at `addr`, or the old range runs past that VMA's end.
 * - -ENOMEM: the mapping must grow, cannot grow in place, and MREMAP_MAYMOVE is not
 *   given; or no room for the new place.
 *
 * Shrinking unmaps the tail (`do_vmi_munmap`); growing extends the VMA in place when the
 * old range ends at the VMA's end and the space after it is free (`vma_expandable`);
 * otherwise, with MREMAP_MAYMOVE, `move_vma` moves the mapping (page tables, migration
 * entries and huge PMDs included) to the lowest free range (or to `new_addr` with
 * MREMAP_FIXED, unmapping what was there first). Not modelled: the merge of the moved VMA
 * with a neighbour, hugetlb VMAs, the populate of a VM_LOCKED mapping that grew, userfaultfd
 * events, KSM's unmerge of the moved range, `may_expand_vm` / `mlock_future_check` limits.
 */
export function* mremap(
  ctx: RmapState,
  mm: Mm,
  addr: number,
  oldLen: number,
  newLen: number,
  flags: number,
  newAddr = 0,
): KernelGen<number> {
  if (!mm.alive) throw new MmsimError('INVALID_STATE', `mremap: ${mm} has exited`);
  for (const [name, v] of [
    ['addr', addr],
    ['old_len', oldLen],
    ['new_len', newLen],
    ['flags', flags],
    ['new_addr', newAddr],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new MmsimError('INVALID_ARGUMENT', `mremap: ${name} must be a non-negative integer`);
    }
  }
  if ((flags & ~(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP)) !== 0) return -EINVAL;
  if ((flags & MREMAP_FIXED) !== 0 && (flags & MREMAP_MAYMOVE) === 0) return -EINVAL;
  if ((flags & MREMAP_DONTUNMAP) !== 0 && ((flags & MREMAP_MAYMOVE) === 0 || oldLen !== newLen)) {
    return -EINVAL;
  }
  if (addr % PAGE_SIZE !== 0) return -EINVAL;
  oldLen = Math.ceil(oldLen / PAGE_SIZE) * PAGE_SIZE;
  newLen = Math.ceil(newLen / PAGE_SIZE) * PAGE_SIZE;
  if (newLen === 0) return -EINVAL;
  const sem = mm.mmapLock;
  if (!sem.downWriteTrylock()) yield* sem.downWrite('mremap');
  try {
    const vma = mm.vmaLookup(addr);
    if (vma === null) return -EFAULT;
    if ((flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) !== 0) {
      return yield* mremapTo(ctx, mm, addr, oldLen, newAddr, newLen, flags);
    }
    if (oldLen >= newLen) {
      if (oldLen === newLen) return addr;
      yield* doVmiMunmap(ctx, mm, addr + newLen, addr + oldLen);
      return addr;
    }
    const target = vmaToResize(mm, addr, oldLen);
    if (typeof target === 'number') return target;
    if (oldLen === target.end - addr) {
      // vma_expandable: the space after the VMA is free and below TASK_SIZE.
      const growTo = target.end + (newLen - oldLen);
      if (growTo <= TASK_SIZE && rangeFree(mm, target.end, growTo)) {
        target.end = growTo; // vma_merge(prev = vma) / vma_adjust: the VMA grows
        return addr;
      }
    }
    if ((flags & MREMAP_MAYMOVE) === 0) return -ENOMEM;
    const place = getUnmappedArea(mm, newLen);
    if (place < 0) return place;
    return yield* moveVma(ctx, target, addr, oldLen, newLen, place, flags);
  } finally {
    sem.upWrite();
  }
}

/** `mremap_to(addr, old_len, new_addr, new_len, ...)` (mm/mremap.c, 6.3). */
function* mremapTo(
  ctx: RmapState,
  mm: Mm,
  addr: number,
  oldLen: number,
  newAddr: number,
  newLen: number,
  flags: number,
): KernelGen<number> {
  if (newAddr % PAGE_SIZE !== 0) return -EINVAL;
  if (newLen > TASK_SIZE || newAddr > TASK_SIZE - newLen) return -EINVAL;
  if (addr + oldLen > newAddr && newAddr + newLen > addr) return -EINVAL;
  if ((flags & MREMAP_FIXED) !== 0) yield* doVmiMunmap(ctx, mm, newAddr, newAddr + newLen);
  if (oldLen > newLen) {
    yield* doVmiMunmap(ctx, mm, addr + newLen, addr + oldLen);
    oldLen = newLen;
  }
  const vma = vmaToResize(mm, addr, oldLen);
  if (typeof vma === 'number') return vma;
  let place = newAddr;
  if ((flags & MREMAP_FIXED) === 0) {
    // A hint: used when free, else the lowest free range.
    place =
      rangeFree(mm, newAddr, newAddr + newLen) && newAddr !== 0
        ? newAddr
        : getUnmappedArea(mm, newLen);
    if (place < 0) return place;
  }
  return yield* moveVma(ctx, vma, addr, oldLen, newLen, place, flags);
}
