import { folioTestLarge, pfnFolio } from '@mmsim/folio';
import { ENOMEM, type KernelGen, MmsimError } from '@mmsim/runtime';
import {
  FAULT_FLAG_WRITE,
  PAGE_SIZE,
  PTRS_PER_PTE,
  TASK_SIZE,
  VM_FAULT_ERROR,
  VM_IO,
  VM_LOCKED,
  VM_SHARED,
  VM_WRITE,
} from './constants.js';
import { handleMmFault } from './fault.js';
import { isVmHugetlbPage } from './hugetlb-state.js';
import { mlockDrainLocal } from './mlock.js';
import type { Mm } from './mm.js';
import { splitVma } from './munmap.js';
import { pmdIndexOfVpn } from './page-table.js';
import { PTE_NONE, ptePfn, ptePresent, pteWrite } from './pte.js';
import type { RmapState } from './rmap-state.js';
import type { Vma } from './vma.js';

/* The mlock() / munlock() system calls (mm/mlock.c, mm/gup.c, Linux 6.3). */

/** `lru_add_drain()` (mm/swap.c, 6.3; it ends with `mlock_drain_local`). */
function* lruAddDrain(ctx: RmapState): KernelGen {
  const lru = ctx.lru;
  if (lru !== null) yield* lru.lruAddDrain();
}

/**
 * `mlock_pte_range` (mm/mlock.c, 6.3) over `[startVpn, endVpn)` of `vma`: every present
 * huge PMD's folio, and every present PTE's small folio (not the zero page), is mlocked
 * (`mlock_folio`) if the VMA is now VM_LOCKED, else munlocked (`munlock_folio`), under
 * the page-table lock. The model moves a batch that must be moved once the lock is
 * dropped (the kernel does it under the page-table lock).
 */
function* mlockPteRange(ctx: RmapState, vma: Vma, startVpn: number, endVpn: number): KernelGen {
  const lru = ctx.lru;
  if (lru === null || lru.mlockFolio === undefined || lru.munlockFolio === undefined) return;
  const mm = vma.mm;
  const mem = ctx.mem;
  const lock = (vma.flags & VM_LOCKED) !== 0;
  let vpn = startVpn;
  while (vpn < endVpn) {
    const idx = pmdIndexOfVpn(vpn);
    const tableEnd = Math.min(endVpn, (idx + 1) * PTRS_PER_PTE);
    let drain = false;
    if (mm.pmds.has(idx)) {
      const ptl = mm.pageTableLock;
      if (!ptl.trylock()) yield* ptl.lockContended();
      const pmdv = mm.pmds.get(idx);
      if (pmdv !== undefined && ptePresent(pmdv)) {
        const folio = ptePfn(pmdv);
        drain = lock ? lru.mlockFolio(folio) : lru.munlockFolio(folio);
      }
      ptl.unlock();
    } else {
      const table = mm.pageTables.get(idx);
      if (table !== undefined) {
        const ptl = table.ptl;
        if (!ptl.trylock()) yield* ptl.lockContended();
        for (let v = vpn; v < tableEnd; v++) {
          const pte = table.get(v);
          if (!ptePresent(pte)) continue;
          const pfn = ptePfn(pte);
          if (pfn === mem.zeroPfn) continue; // vm_normal_page: no page
          const folio = pfnFolio(mem, pfn);
          if (folioTestLarge(mem, folio)) continue; // PageTransCompound
          if (lock ? lru.mlockFolio(folio) : lru.munlockFolio(folio)) drain = true;
        }
        ptl.unlock();
      }
    }
    if (drain) yield* mlockDrainLocal(ctx);
    vpn = tableEnd;
  }
}

/**
 * `mlock_vma_pages_range(vma, start, end, newflags)` (mm/mlock.c, 6.3): set the new
 * flags (with VM_IO while locking, so that a concurrent rmap walker's
 * `mlock_vma_folio` does not count a folio the walk counts too), `lru_add_drain`, walk
 * the page tables (`mlockPteRange`), `lru_add_drain`, then drop VM_IO.
 */
function* mlockVmaPagesRange(ctx: RmapState, vma: Vma, newflags: number): KernelGen {
  const marked = (newflags & VM_LOCKED) !== 0 ? newflags | VM_IO : newflags;
  vma.flags = marked;
  yield* lruAddDrain(ctx);
  yield* mlockPteRange(ctx, vma, vma.start / PAGE_SIZE, vma.end / PAGE_SIZE);
  yield* lruAddDrain(ctx);
  if ((marked & VM_IO) !== 0) vma.flags = marked & ~VM_IO;
}

/**
 * `__mm_populate(start, len, ignore_errors = 0)` (mm/gup.c, 6.3) for mlock: fault in
 * every page of the range as GUP would (`populate_vma_page_range`: a write fault in a
 * private writable VMA, so COW is broken now), under `mmap_lock` for read. Returns 0 or
 * -ENOMEM (mlock's error for a failed population).
 */
function* mmPopulate(ctx: RmapState, mm: Mm, start: number, end: number): KernelGen<number> {
  const sem = mm.mmapLock;
  if (!sem.downReadTrylock()) yield* sem.downRead('__mm_populate');
  try {
    for (let addr = start; addr < end; addr += PAGE_SIZE) {
      const vma = mm.vmaLookup(addr);
      if (vma === null) return -ENOMEM;
      const write = (vma.flags & (VM_WRITE | VM_SHARED)) === VM_WRITE;
      for (let tries = 0; tries < 16; tries++) {
        if (populated(mm, addr, write)) break;
        const ret = yield* handleMmFault(ctx, vma, addr, write ? FAULT_FLAG_WRITE : 0);
        if ((ret & VM_FAULT_ERROR) !== 0) return -ENOMEM;
      }
    }
    return 0;
  } finally {
    sem.upRead();
  }
}

/** Whether GUP would find the page at `addr` mapped as it needs it. */
function populated(mm: Mm, addr: number, write: boolean): boolean {
  const vpn = addr / PAGE_SIZE;
  const idx = pmdIndexOfVpn(vpn);
  const pmdv = mm.pmds.get(idx);
  const entry = pmdv ?? mm.pageTables.get(idx)?.get(vpn) ?? PTE_NONE;
  if (!ptePresent(entry)) return false;
  return !write || pteWrite(entry);
}

function invalid(fn: string, message: string): MmsimError {
  return new MmsimError('INVALID_ARGUMENT', `${fn}: ${message}`);
}

/**
 * `mlock(addr, len)` / `munlock(addr, len)` (mm/mlock.c `do_mlock` / `apply_vma_lock_flags`
 * / `mlock_fixup`, 6.3): the range is rounded to pages; under `mmap_lock` for write, the
 * VMAs at its ends are split and every VMA in it gets VM_LOCKED set (mlock) or cleared
 * (munlock); one whose VM_LOCKED changes has its mapped folios mlocked or munlocked
 * (`mlock_vma_pages_range`). mlock then populates the range (`__mm_populate`), so each
 * page is faulted in and, being in a VM_LOCKED VMA, mlocked. Returns 0, or -ENOMEM when
 * the range is not fully mapped (the model then changes nothing; the kernel applies the
 * flags up to the hole).
 */
export function* mlockRange(
  ctx: RmapState,
  mm: Mm,
  addr: number,
  length: number,
  lock: boolean,
): KernelGen<number> {
  const fn = lock ? 'mlock' : 'munlock';
  if (!mm.alive) throw new MmsimError('INVALID_STATE', `${fn}: ${mm} has exited`);
  if (!Number.isInteger(addr) || addr < 0 || addr >= TASK_SIZE) {
    throw invalid(fn, `addr must be an integer in [0, 2^47), got ${String(addr)}`);
  }
  if (!Number.isInteger(length) || length < 0 || addr + length > TASK_SIZE) {
    throw invalid(fn, `bad length ${String(length)}`);
  }
  const start = addr - (addr % PAGE_SIZE);
  const end = Math.ceil((addr + length) / PAGE_SIZE) * PAGE_SIZE;
  if (start === end) return 0;
  const sem = mm.mmapLock;
  if (!sem.downWriteTrylock()) yield* sem.downWrite(fn);
  let covered = start;
  for (const vma of mm.vmas) {
    if (vma.end <= covered) continue;
    if (vma.start > covered || covered >= end) break;
    covered = vma.end;
  }
  if (covered < end) {
    sem.upWrite();
    return -ENOMEM;
  }
  // mlock_fixup leaves a hugetlb VMA alone: no split, no VM_LOCKED (6.3).
  const first = mm.vmaLookup(start) as Vma;
  if (first.start < start && !isVmHugetlbPage(first)) yield* splitVma(ctx, first, start);
  const last = mm.vmaLookup(end - 1) as Vma;
  if (last.end > end && !isVmHugetlbPage(last)) yield* splitVma(ctx, last, end);
  for (const vma of mm.vmas.filter((v) => v.start < end && v.end > start)) {
    if (isVmHugetlbPage(vma)) continue;
    const old = vma.flags;
    const newflags = lock ? old | VM_LOCKED : old & ~VM_LOCKED;
    if (newflags === old) continue;
    yield* mlockVmaPagesRange(ctx, vma, newflags);
  }
  sem.upWrite();
  if (!lock) return 0;
  return yield* mmPopulate(ctx, mm, start, end);
}
