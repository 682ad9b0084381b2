import { folioPut, pageContent, setPageContent } from '@mmsim/folio';
import type { KernelGen } from '@mmsim/runtime';
import { vmaAllocFolio } from './alloc.js';
import { anonVmaPrepare } from './anon-vma.js';
import {
  FAULT_FLAG_WRITE,
  MM_ANONPAGES,
  VM_FAULT_ERROR,
  VM_FAULT_OOM,
  VM_SHARED,
  VM_SOFTDIRTY,
} from './constants.js';
import { filemapFault } from './filemap.js';
import { folioAddLruVma, folioPutRefsFast, folioPutRefsSlow } from './folio-release.js';
import { mlockDrainLocal, mlockVmaFolio } from './mlock.js';
import { mkPte, PTE_DIRTY, PTE_NONE, PTE_SOFT_DIRTY, PTE_WRITE, PTE_YOUNG } from './pte.js';
import { folioAddNewAnonRmap, folioMarkDirty, pageAddFileRmap } from './rmap-accounting.js';
import type { RmapState } from './rmap-state.js';
import { mmCounterFile, type VmFault } from './vm-fault.js';

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
  const { vma, table, vpn } = vmf;
  const write = (vmf.flags & FAULT_FLAG_WRITE) !== 0;
  let flags = PTE_YOUNG;
  if (write) flags |= PTE_DIRTY | PTE_SOFT_DIRTY | (vma.writable ? PTE_WRITE : 0);
  else if (!cow && vmaPageProtWritable(vma)) flags |= PTE_WRITE;
  const ptl = table.ptl;
  let drain = false;
  if (!ptl.trylock()) yield* ptl.lockContended();
  if (table.get(vpn) !== PTE_NONE) {
    ptl.unlock();
    return false;
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
  if (drain) yield* mlockDrainLocal(ctx);
  return true;
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
  const r = yield* filemapFault(ctx, vmf.vma, vmf.address);
  if ((r.ret & VM_FAULT_ERROR) !== 0) return r.ret;
  const mapped = yield* finishFault(ctx, vmf, r.folio, r.page, false);
  if (mapped) ctx.locks.folioUnlock(r.folio);
  else yield* releaseFaulted(ctx, r.folio);
  return r.ret;
}

/**
 * `do_shared_fault(vmf)` (mm/memory.c, 6.3): map the page-cache page writable and dirty,
 * then `fault_dirty_shared_page` (the folio becomes dirty) and unlock it. No
 * `page_mkwrite` callback is modelled.
 */
function* doSharedFault(ctx: RmapState, vmf: VmFault): KernelGen<number> {
  const r = yield* filemapFault(ctx, vmf.vma, vmf.address);
  if ((r.ret & VM_FAULT_ERROR) !== 0) return r.ret;
  const mapped = yield* finishFault(ctx, vmf, r.folio, r.page, false);
  if (!mapped) {
    yield* releaseFaulted(ctx, r.folio);
    return r.ret;
  }
  folioMarkDirty(ctx, r.folio);
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
  const copy = vmaAllocFolio(ctx, vma, 0);
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
