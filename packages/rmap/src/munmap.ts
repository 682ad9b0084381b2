import { EINVAL, type KernelGen, MmsimError } from '@mmsim/runtime';
import { iMmapLockWrite } from './address-space.js';
import { anonVmaClone, anonVmaLockWrite, unlinkAnonVmas } from './anon-vma.js';
import { PAGE_SIZE, PMD_SIZE, TASK_SIZE } from './constants.js';
import { HPAGE_SIZE, isVmHugetlbPage } from './hugetlb-state.js';
import { hugetlbfsEvictInode, hugetlbVmOpClose, hugetlbVmOpOpenSplit } from './hugetlb-vma.js';
import type { Mm } from './mm.js';
import { pmdIndexOf } from './page-table.js';
import type { RmapState } from './rmap-state.js';
import { splitHugePmd } from './split-huge-pmd.js';
import { flushTlbRange } from './tlb.js';
import { truncateInodePages } from './truncate.js';
import { Vma } from './vma.js';
import { MmuGather, tlbFreePages, zapRange } from './zap.js';

/**
 * `__split_vma(vmi, vma, addr, new_below = 0)` (mm/mmap.c, 6.3): cut `vma` at `at`; the new
 * VMA is the upper part, with the same flags, file and anon_vma, `vm_pgoff` advanced, the
 * anon_vma chain cloned (`anon_vma_clone`, which counts it as an active VMA of the shared
 * anon_vma), and a place in the file's i_mmap. A huge PMD straddling the cut is split
 * first (`vma_adjust_trans_huge`, before the locks in 6.3; 6.4 moved it inside them). The
 * boundary moves under `vma_prepare` (`__vma_adjust` before 6.3), which takes the file's
 * `i_mmap_rwsem` and then the anon_vma's rwsem, both for write, while `vm_end` changes and
 * the new VMA goes in (the interval trees are re-keyed under them), so no rmap walk of the
 * file or the anon_vma sees the VMA half-cut.
 */
export function* splitVma(ctx: RmapState, vma: Vma, at: number): KernelGen<Vma> {
  if (at % PMD_SIZE !== 0) yield* splitHugePmd(ctx, vma, at, false, null);
  const mm = vma.mm;
  const upper = new Vma(
    mm,
    at,
    vma.end,
    vma.flags,
    vma.pgoff + (at - vma.start) / PAGE_SIZE,
    vma.file,
    vma.policy,
  );
  upper.anonVma = vma.anonVma;
  if (isVmHugetlbPage(vma)) hugetlbVmOpOpenSplit(ctx, vma, upper);
  yield* anonVmaClone(upper, vma);
  const file = vma.file;
  if (file !== null) yield* iMmapLockWrite(file, '__split_vma');
  const av = vma.anonVma;
  if (av !== null) yield* anonVmaLockWrite(av, '__split_vma');
  vma.end = at;
  mm.insertVma(upper);
  if (av !== null) av.rwsem.upWrite();
  if (file !== null) {
    file.iMmap.add(upper);
    file.iMmapRwsem.upWrite();
  }
  return upper;
}

/**
 * The unlink half of `free_pgtables` and `remove_vma` (mm/memory.c, mm/mmap.c, 6.3) for a
 * VMA already zapped and taken out of the mm: `unlink_anon_vmas` and `unlink_file_vma`
 * (under `i_mmap_rwsem`), after which no rmap walk can find it. The anonymous shmem file
 * of a shared anonymous mapping goes when its last mapping does.
 */
export function* unlinkVma(ctx: RmapState, vma: Vma): KernelGen {
  if (isVmHugetlbPage(vma)) hugetlbVmOpClose(ctx, vma); // vm_ops->close
  yield* unlinkAnonVmas(ctx, vma);
  const file = vma.file;
  if (file === null) return;
  yield* iMmapLockWrite(file, 'unlink_file_vma');
  file.iMmap.delete(vma);
  file.iMmapRwsem.upWrite();
  if (file.internal && file.iMmap.size === 0) {
    if (file.hugetlb !== null) yield* hugetlbfsEvictInode(ctx, file);
    else yield* truncateInodePages(ctx, file);
    ctx.files.delete(file);
  }
}

/** The page-table half of `free_pgtables` (mm/memory.c, 6.3): drop unused tables of a range. */
export function freePgtables(mm: Mm, start: number, end: number): void {
  const first = pmdIndexOf(start);
  const last = pmdIndexOf(end - 1);
  for (let idx = first; idx <= last; idx++) {
    const base = idx * PMD_SIZE;
    const vma = mm.findVma(base);
    if (vma !== null && vma.start < base + PMD_SIZE) continue;
    const table = mm.pageTables.get(idx);
    if (table !== undefined && table.used === 0) mm.pageTables.delete(idx);
  }
}

/**
 * `munmap(addr, length)` (`__vm_munmap`, mm/mmap.c, 6.3): `do_vmi_munmap` under `mmap_lock`
 * for write. Returns 0 or -EINVAL (a hugetlb VMA cut off a huge-page boundary). A misaligned
 * address or bad length throws
 * INVALID_ARGUMENT; a range with no mapping is fine, as in the kernel.
 */
export function* munmap(ctx: RmapState, mm: Mm, addr: number, length: number): KernelGen<number> {
  if (!mm.alive) throw new MmsimError('INVALID_STATE', `munmap: ${mm} has exited`);
  if (!Number.isInteger(addr) || addr < 0 || addr % PAGE_SIZE !== 0) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `munmap: addr must be page-aligned, got ${String(addr)}`,
    );
  }
  if (!Number.isInteger(length) || length <= 0 || addr + length > TASK_SIZE) {
    throw new MmsimError('INVALID_ARGUMENT', `munmap: bad length ${String(length)}`);
  }
  const end = addr + Math.ceil(length / PAGE_SIZE) * PAGE_SIZE;
  const sem = mm.mmapLock;
  if (!sem.downWriteTrylock()) yield* sem.downWrite('munmap');
  const ret = yield* doVmiMunmap(ctx, mm, addr, end);
  sem.upWrite();
  return ret;
}

/**
 * `do_vmi_munmap` (mm/mmap.c, 6.3) with `mmap_lock` held for write, as munmap(2) and
 * mremap(2) call it: refuse to cut a hugetlb VMA off a huge-page boundary
 * (`hugetlb_vm_op_split`: -EINVAL), split the VMAs at both ends, then `unmap_region`
 * (`lru_add_drain()` so this CPU's LRU batch lets go of the pages, zap, flush the TLBs for
 * the range, put the pages), unlink the VMAs from the rmap and the mm, and free the page
 * tables nobody uses. Returns 0 or -EINVAL.
 */
export function* doVmiMunmap(ctx: RmapState, mm: Mm, addr: number, end: number): KernelGen<number> {
  if (end <= addr) return 0;
  const first = mm.findVma(addr);
  const endVma = mm.findVma(end - 1);
  if (
    (first !== null && isVmHugetlbPage(first) && first.start < addr && addr % HPAGE_SIZE !== 0) ||
    (endVma !== null &&
      isVmHugetlbPage(endVma) &&
      endVma.start < end &&
      endVma.end > end &&
      end % HPAGE_SIZE !== 0)
  ) {
    return -EINVAL;
  }
  if (first !== null && first.start < addr && first.end > addr) yield* splitVma(ctx, first, addr);
  const lastVma = mm.findVma(end - 1);
  if (lastVma !== null && lastVma.start < end && lastVma.end > end) {
    yield* splitVma(ctx, lastVma, end);
  }
  const doomed = mm.vmas.filter((vma) => vma.start >= addr && vma.end <= end);
  if (doomed.length === 0) return 0;
  if (ctx.lru !== null) yield* ctx.lru.lruAddDrain();
  const tlb = new MmuGather();
  for (const vma of doomed) {
    yield* zapRange(ctx, vma, vma.start / PAGE_SIZE, vma.end / PAGE_SIZE, tlb);
  }
  if (tlb.needsFlush) flushTlbRange(ctx, mm, tlb.startVpn, tlb.endVpn - tlb.startVpn);
  yield* tlbFreePages(ctx, tlb);
  for (const vma of doomed) {
    mm.removeVma(vma);
    yield* unlinkVma(ctx, vma);
  }
  freePgtables(mm, addr, end);
  return 0;
}
