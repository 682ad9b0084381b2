import {
  folioOrder,
  folioPut,
  HPAGE_PMD_NR,
  HPAGE_PMD_ORDER,
  pageContent,
  setPageContent,
} from '@mmsim/folio';
import { type KernelGen, VmEvent } from '@mmsim/runtime';
import { vmaAllocFolio } from './alloc.js';
import { anonVmaPrepare } from './anon-vma.js';
import {
  FAULT_FLAG_WRITE,
  MM_ANONPAGES,
  PAGE_SIZE,
  PMD_SIZE,
  VM_FAULT_ERROR,
  VM_FAULT_FALLBACK,
  VM_FAULT_OOM,
  VM_LOCKED,
  VM_SHARED,
  VM_SOFTDIRTY,
} from './constants.js';
import {
  type FilemapFaultResult,
  filemapFault,
  filemapFaultPlain,
  isFilemapFaultResult,
} from './filemap.js';
import { folioAddLruVma, folioPutRefsFast, folioPutRefsSlow } from './folio-release.js';
import { mlockDrainLocal, mlockVmaFolio } from './mlock.js';
import { pmdIndexOf } from './page-table.js';
import { mkPte, PTE_DIRTY, PTE_NONE, PTE_SOFT_DIRTY, PTE_WRITE, PTE_YOUNG } from './pte.js';
import { folioAddNewAnonRmap, folioMarkDirty, pageAddFileRmap } from './rmap-accounting.js';
import type { RmapState } from './rmap-state.js';
import { mmCounterFile, type VmFault } from './vm-fault.js';
import type { Vma } from './vma.js';

/**
 * Faults on file-backed memory with no PTE yet (`do_fault`, mm/memory.c, 6.3): a read maps
 * the page-cache page read-only (`do_read_fault`), a write to a shared mapping maps it
 * writable and dirties it (`do_shared_fault`), a write to a private mapping copies it into
 * a new anonymous page (`do_cow_fault`).
 */

/**
 * `do_set_pte` + `finish_fault` (mm/memory.c, 6.3): under the page-table lock, map
 * `page` of `folio` (a page of a page-cache folio, which may be large, or the new
 * anonymous copy of a COW fault) at the fault address unless something else got there
 * first. A write fault's entry is
 * `maybe_mkwrite(pte_mkdirty(entry))`: dirty and soft-dirty. Returns true if it mapped it.
 */
function* finishFault(
  ctx: RmapState,
  vmf: VmFault,
  folio: number,
  page: number,
  cow: boolean,
): KernelGen<boolean> {
  const ptl = vmf.table.ptl;
  if (!ptl.trylock()) yield* ptl.lockContended();
  const mapped = finishFaultLocked(ctx, vmf, folio, page, cow);
  if (mapped === FINISH_MAPPED_DRAIN) yield* mlockDrainLocal(ctx);
  return mapped !== FINISH_NOT_MAPPED;
}

/** `finishFaultLocked`: the PTE was there first (or the table went); nothing mapped. */
const FINISH_NOT_MAPPED = 0;
/** `finishFaultLocked`: mapped. */
const FINISH_MAPPED = 1;
/** `finishFaultLocked`: mapped, and `mlock_vma_folio` asks for `mlock_drain_local`. */
const FINISH_MAPPED_DRAIN = 2;

/**
 * The body of `finishFault` (above) once the page-table lock is taken: the checks, the
 * map, the lock's release. Returns one of the FINISH_* outcomes (the drain, a scheduling
 * point, is the caller's).
 */
function finishFaultLocked(
  ctx: RmapState,
  vmf: VmFault,
  folio: number,
  page: number,
  cow: boolean,
): number {
  const { vma, table, vpn } = vmf;
  const write = (vmf.flags & FAULT_FLAG_WRITE) !== 0;
  let flags = PTE_YOUNG;
  if (write) flags |= PTE_DIRTY | PTE_SOFT_DIRTY | (vma.writable ? PTE_WRITE : 0);
  else if (!cow && vmaPageProtWritable(vma)) flags |= PTE_WRITE;
  const ptl = table.ptl;
  let drain = false;
  // The table may have been dropped for a PMD another fault mapped meanwhile (do_set_pmd):
  // the kernel's `pmd_devmap_trans_unstable` check; the fault is retried.
  const mm = vma.mm;
  const idx = pmdIndexOf(vmf.address);
  if (table.get(vpn) !== PTE_NONE || mm.pmds.has(idx) || mm.pageTables.get(idx) !== table) {
    ptl.unlock();
    return FINISH_NOT_MAPPED;
  }
  if (cow) {
    vma.mm.rss[MM_ANONPAGES]!++;
    folioAddNewAnonRmap(ctx, folio, vma, vmf.address);
  } else {
    vma.mm.rss[mmCounterFile(ctx.mem, folio)]!++;
    pageAddFileRmap(ctx, folio, page, false);
    // page_add_file_rmap ends with mlock_vma_folio.
    drain = mlockVmaFolio(ctx, folio, vma, false);
  }
  table.set(vpn, mkPte(page, flags));
  ctx.rt.charge(ctx.costs.pteUpdate);
  ptl.unlock();
  return drain ? FINISH_MAPPED_DRAIN : FINISH_MAPPED;
}

/**
 * `transhuge_vma_suitable(vma, haddr)` (include/linux/huge_mm.h, 6.3) for a file VMA: the
 * VMA's start and page offset agree modulo HPAGE_PMD_NR (so that a PMD-aligned range of
 * the address space maps a PMD-aligned range of the file), and the PMD range around
 * `address` lies inside the VMA.
 */
export function transhugeVmaSuitable(vma: Vma, address: number): boolean {
  if (vma.file !== null && (vma.start / PAGE_SIZE - vma.pgoff) % HPAGE_PMD_NR !== 0) return false;
  const haddr = address - (address % PMD_SIZE);
  return haddr >= vma.start && haddr + PMD_SIZE <= vma.end;
}

/**
 * `do_set_pmd(vmf, page)` (mm/memory.c, 6.3), the first step of `finish_fault` when the
 * PMD was none and the page belongs to a PMD-size folio: map the whole folio by one PMD in
 * a suitable VMA (`transhuge_vma_suitable`). Under `page_table_lock`, a PMD or PTEs that
 * appeared meanwhile make it back off (VM_FAULT_FALLBACK); otherwise the entry is made as
 * for a PTE (young; on a write dirty, soft-dirty and writable if the VMA is; writable on a
 * read when `vm_page_prot` allows it), MM_FILEPAGES / MM_SHMEMPAGES grow by HPAGE_PMD_NR,
 * `page_add_file_rmap(page, vma, true)` takes the entire mapping (then
 * `mlock_vma_folio`), and THP_FILE_MAPPED is counted. The caller's folio reference becomes
 * the PMD's. The page table the model allocated for the fault is empty then and is
 * dropped (the kernel never had one: `pte_alloc` comes after `do_set_pmd`). Returns 0 or
 * VM_FAULT_FALLBACK.
 */
function* doSetPmd(ctx: RmapState, vmf: VmFault, folio: number): KernelGen<number> {
  const { vma, address } = vmf;
  const mem = ctx.mem;
  if (vmf.pmdNone !== true || folioOrder(mem, folio) !== HPAGE_PMD_ORDER) return VM_FAULT_FALLBACK;
  if (!transhugeVmaSuitable(vma, address)) return VM_FAULT_FALLBACK;
  const mm = vma.mm;
  const idx = pmdIndexOf(address);
  const ptl = mm.pageTableLock;
  if (!ptl.trylock()) yield* ptl.lockContended();
  const table = mm.pageTables.get(idx);
  if (mm.pmds.has(idx) || (table !== undefined && table.used > 0)) {
    ptl.unlock();
    return VM_FAULT_FALLBACK;
  }
  const write = (vmf.flags & FAULT_FLAG_WRITE) !== 0;
  let flags = PTE_YOUNG;
  if (write) flags |= PTE_DIRTY | PTE_SOFT_DIRTY | (vma.writable ? PTE_WRITE : 0);
  else if (vmaPageProtWritable(vma)) flags |= PTE_WRITE;
  if (table !== undefined) mm.pageTables.delete(idx);
  mm.rss[mmCounterFile(mem, folio)]! += HPAGE_PMD_NR;
  pageAddFileRmap(ctx, folio, folio, true);
  const drain = mlockVmaFolio(ctx, folio, vma, true);
  mm.pmds.set(idx, mkPte(folio, flags));
  ctx.rt.charge(ctx.costs.pteUpdate);
  ctx.vmstat.countVmEvents(VmEvent.THP_FILE_MAPPED);
  ptl.unlock();
  if (drain) yield* mlockDrainLocal(ctx);
  return 0;
}

/**
 * `finish_fault` for a page-cache page (mm/memory.c, 6.3): `do_set_pmd` first when the
 * PMD was none and the folio is PMD-size, else (VM_FAULT_FALLBACK) one PTE. Returns
 * whether the page got mapped.
 */
function* finishFileFault(
  ctx: RmapState,
  vmf: VmFault,
  folio: number,
  page: number,
): KernelGen<boolean> {
  if (vmf.pmdNone === true && (yield* doSetPmd(ctx, vmf, folio)) === 0) return true;
  return yield* finishFault(ctx, vmf, folio, page, false);
}

/**
 * Whether `vm_page_prot` itself allows writes: a shared writable mapping that does not
 * want write notifications (`vma_wants_writenotify` is false for shmem, which has no
 * `page_mkwrite` and no dirty accounting). A read fault then maps the page writable and
 * clean; regular files map it read-only and take a write fault to track dirtying.
 */
export function vmaPageProtWritable(vma: VmFault['vma']): boolean {
  // vma_wants_writenotify (mm/mmap.c, 6.3) also says yes while soft-dirty tracking is on
  // (`vma_soft_dirty_enabled`: VM_SOFTDIRTY clear after clear_refs), so that the first
  // write after clear_refs faults and sets the soft-dirty bit.
  if ((vma.flags & VM_SOFTDIRTY) === 0) return false;
  return (vma.flags & VM_SHARED) !== 0 && vma.writable && vma.file?.shmem === true;
}

/** Unlock and release the folio `filemap_fault` returned (when it was not mapped). */
function* releaseFaulted(ctx: RmapState, folio: number): KernelGen {
  ctx.locks.folioUnlock(folio);
  if (!folioPutRefsFast(ctx, folio, 1)) yield* folioPutRefsSlow(ctx, folio, 1);
}

/** `do_read_fault(vmf)` (mm/memory.c, 6.3), without fault-around. */
function* doReadFault(ctx: RmapState, vmf: VmFault): KernelGen<number> {
  return yield* finishPageCacheFault(ctx, vmf, yield* filemapFault(ctx, vmf.vma, vmf.address));
}

/**
 * `do_shared_fault(vmf)` (mm/memory.c, 6.3): map the page-cache page writable and dirty,
 * then `fault_dirty_shared_page` (the folio becomes dirty) and unlock it. No
 * `page_mkwrite` callback is modelled.
 */
function* doSharedFault(ctx: RmapState, vmf: VmFault): KernelGen<number> {
  return yield* finishPageCacheFault(ctx, vmf, yield* filemapFault(ctx, vmf.vma, vmf.address));
}

/**
 * The rest of `do_read_fault` and `do_shared_fault` (above) once `__do_fault` returned:
 * `finish_fault`, then for a write (a shared mapping: `do_shared_fault`)
 * `fault_dirty_shared_page` and the unlock, for a read the unlock; a folio that did not
 * get mapped is unlocked and released.
 */
function* finishPageCacheFault(
  ctx: RmapState,
  vmf: VmFault,
  r: FilemapFaultResult,
): KernelGen<number> {
  if ((r.ret & VM_FAULT_ERROR) !== 0) return r.ret;
  const mapped = yield* finishFileFault(ctx, vmf, r.folio, r.page);
  if (!mapped) {
    yield* releaseFaulted(ctx, r.folio);
    return r.ret;
  }
  if ((vmf.flags & FAULT_FLAG_WRITE) !== 0) folioMarkDirty(ctx, r.folio);
  ctx.locks.folioUnlock(r.folio);
  return r.ret;
}

/**
 * `do_cow_fault(vmf)` (mm/memory.c, 6.3): a write to a private file mapping with no PTE:
 * allocate an anonymous folio, copy the page-cache page into it, map the copy writable
 * and dirty as a new exclusive anonymous page, then unlock and release the file page
 * (which is not mapped).
 */
function* doCowFault(ctx: RmapState, vmf: VmFault): KernelGen<number> {
  const vma = vmf.vma;
  yield* anonVmaPrepare(ctx, vma);
  const copy = vmaAllocFolio(ctx, vma, 0, vmf.address);
  if (copy < 0) return VM_FAULT_OOM;
  const r = yield* filemapFault(ctx, vma, vmf.address);
  if ((r.ret & VM_FAULT_ERROR) !== 0) {
    folioPut(ctx.mem, copy);
    return r.ret;
  }
  setPageContent(ctx.mem, copy, pageContent(ctx.mem, r.page));
  ctx.rt.charge(ctx.costs.copyPage4k);
  const mapped = yield* finishFault(ctx, vmf, copy, copy, true);
  yield* releaseFaulted(ctx, r.folio);
  if (mapped) yield* folioAddLruVma(ctx, copy, vma);
  else folioPut(ctx.mem, copy);
  return r.ret;
}

/** `do_fault(vmf)` (mm/memory.c, 6.3): dispatch a file fault on a PTE that is none. */
export function* doFault(ctx: RmapState, vmf: VmFault): KernelGen<number> {
  if ((vmf.flags & FAULT_FLAG_WRITE) === 0) return yield* doReadFault(ctx, vmf);
  if ((vmf.vma.flags & VM_SHARED) === 0) return yield* doCowFault(ctx, vmf);
  return yield* doSharedFault(ctx, vmf);
}

/**
 * `do_fault` (above) as plain calls for a read fault or a write fault of a shared mapping
 * while nothing in it waits: `filemap_fault` through `filemapFaultPlain` (a cached,
 * unfrozen folio whose lock is free, or a miss whose `folio_add_lru` is uncontended), then
 * `finish_fault` with the page-table lock free, an order-0 folio or a PMD that was
 * there already (no `do_set_pmd`) and a VMA that is not VM_LOCKED (no mlock drain), and
 * the folio's unlock. Returns the VM_FAULT_* bits, or the generator that goes on from the
 * first point that may wait (from the start for a COW fault, whose `anon_vma_prepare`
 * and copy stay in `do_cow_fault`): run it at once with `yield*`, in the same step. The
 * same steps, charges and results as `doFault`.
 */
export function doFaultPlain(ctx: RmapState, vmf: VmFault): number | KernelGen<number> {
  const vma = vmf.vma;
  if ((vmf.flags & FAULT_FLAG_WRITE) !== 0 && (vma.flags & VM_SHARED) === 0) {
    return doCowFault(ctx, vmf);
  }
  const r = filemapFaultPlain(ctx, vma, vmf.address);
  if (!isFilemapFaultResult(r)) return finishPageCacheFaultAfter(ctx, vmf, r);
  if ((r.ret & VM_FAULT_ERROR) !== 0) return r.ret;
  const ptl = vmf.table.ptl;
  if (
    ptl.owner !== null ||
    (vma.flags & VM_LOCKED) !== 0 ||
    (vmf.pmdNone === true && folioOrder(ctx.mem, r.folio) === HPAGE_PMD_ORDER)
  ) {
    return finishPageCacheFault(ctx, vmf, r);
  }
  ptl.trylock(); // free: spin_lock takes it at once
  if (finishFaultLocked(ctx, vmf, r.folio, r.page, false) === FINISH_NOT_MAPPED) {
    ctx.locks.folioUnlock(r.folio);
    if (folioPutRefsFast(ctx, r.folio, 1)) return r.ret;
    return putThen(ctx, r.folio, r.ret);
  }
  if ((vmf.flags & FAULT_FLAG_WRITE) !== 0) folioMarkDirty(ctx, r.folio);
  ctx.locks.folioUnlock(r.folio);
  return r.ret;
}

/** `finishPageCacheFault` after the generator of a `filemap_fault` that may wait. */
function* finishPageCacheFaultAfter(
  ctx: RmapState,
  vmf: VmFault,
  filemap: KernelGen<FilemapFaultResult>,
): KernelGen<number> {
  return yield* finishPageCacheFault(ctx, vmf, yield* filemap);
}

/** The release of an unmapped faulted folio whose last reference goes through the LRU. */
function* putThen(ctx: RmapState, folio: number, ret: number): KernelGen<number> {
  yield* folioPutRefsSlow(ctx, folio, 1);
  return ret;
}
