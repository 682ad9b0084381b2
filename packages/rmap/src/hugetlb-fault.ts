import {
  allocHugetlbFolioForFault,
  type Folio,
  folioGet,
  folioMapping,
  folioSetFlag,
  folioTestAnon,
  folioTryGet,
  hugetlbAcctMemory,
  PG_anon_exclusive,
  PG_uptodate,
  pageContent,
  pageMapcount,
  pageTestFlag,
  setPageContent,
} from '@mmsim/folio';
import type { KernelGen, Mutex, RwSemaphore } from '@mmsim/runtime';
import type { AddressSpace } from './address-space.js';
import { policyNode } from './alloc.js';
import { anonVmaPrepare } from './anon-vma.js';
import {
  FAULT_FLAG_UNSHARE,
  FAULT_FLAG_WRITE,
  PTRS_PER_PTE,
  VM_FAULT_SIGBUS,
  VM_MAYSHARE,
  VM_SHARED,
  VM_WRITE,
} from './constants.js';
import {
  hugepageAddNewAnonRmap,
  hugetlbDupFileRmap,
  hugetlbFolioPut,
  hugetlbMarkDirty,
  hugetlbRemoveRmap,
  makeHugePte,
} from './hugetlb-rmap.js';
import { HPAGE_SIZE, hugetlbOf, vmaHugecacheOffset } from './hugetlb-state.js';
import { firstNode, MPOL_BIND } from './mempolicy.js';
import type { Mm } from './mm.js';
import { hugetlbAddToPageCache } from './page-cache.js';
import { pmdIndexOf } from './page-table.js';
import {
  isMigrationEntry,
  PTE_DIRTY,
  PTE_SOFT_DIRTY,
  PTE_WRITE,
  PTE_YOUNG,
  pteMkdirty,
  ptePfn,
  ptePresent,
  pteUffdWp,
  pteWrite,
} from './pte.js';
import { pageMoveAnonRmap } from './rmap-accounting.js';
import type { RmapState } from './rmap-state.js';
import { flushTlbPmd } from './tlb.js';
import type { Vma } from './vma.js';

/**
 * Hugetlb faults (mm/hugetlb.c, Linux 6.3): `hugetlb_fault`, `hugetlb_no_page`,
 * `hugetlb_wp` and the fault side of `alloc_hugetlb_folio` with its reservations. The
 * huge entry of a VM_HUGETLB VMA sits in `mm.pmds` and is guarded by the model's
 * `page_table_lock` (`huge_pte_lock` of a PMD-sized page).
 */

/** Whether the last `allocHugetlbFolioVma` consumed a reservation (HPageRestoreReserve). */
let lastUsedReserve = false;

/**
 * `alloc_hugetlb_folio(vma, addr, avoid_reserve)` (mm/hugetlb.c, 6.3) without cgroups
 * and subpools. The mapping holds a reservation for the huge page (`vma_needs_reservation`
 * is 0) when a shared mapping's inode resv_map has the index, or when this is the private
 * owner's (HPAGE_RESV_OWNER) and the index was not faulted in yet. With a reservation and
 * not `avoidReserve` the page comes from the pool whatever else is reserved and
 * `resv_huge_pages` drops; otherwise only an unreserved pool page or a surplus page will
 * do. `vma_commit_reservation`: a shared mapping's index joins the resv_map (region_add),
 * a private owner's reservation is consumed. The folio joins the active list. Returns the
 * folio (refcount 1, the caller's) or -ENOSPC.
 */
export function allocHugetlbFolioVma(
  ctx: RmapState,
  vma: Vma,
  address: number,
  avoidReserve: boolean,
): number {
  const h = hugetlbOf(ctx);
  const idx = vmaHugecacheOffset(vma, address);
  const priv = h.vmaPrivate(vma);
  const shared = (vma.flags & VM_MAYSHARE) !== 0;
  const inode = vma.file?.hugetlb ?? null;
  const hasReserve = shared ? inode?.resvMap.has(idx) === true : priv.owner && priv.resv.has(idx);
  const useReserve = hasReserve && !avoidReserve;
  // huge_node (mm/mempolicy.c, 6.3) reduced to one node: MPOL_PREFERRED's node, else the
  // local one; MPOL_BIND allocates only on a node of its mask (the local one when allowed).
  const policy = vma.policy;
  const local = ctx.rt.current.cpu.node;
  const bind = policy !== null && policy.mode === MPOL_BIND;
  let nid = policy === null ? local : policyNode(policy, local);
  if (bind && policy.nodes[nid] !== 1) nid = firstNode(policy.nodes);
  ctx.rt.charge(ctx.costs.pageAlloc);
  const folio = allocHugetlbFolioForFault(ctx.mem, nid, useReserve, { thisNode: bind });
  if (folio < 0) return folio;
  if (shared) inode?.resvMap.add(idx);
  else if (useReserve) priv.resv.delete(idx);
  lastUsedReserve = useReserve;
  h.lifecycle?.folioActivate(folio);
  return folio;
}

/**
 * `restore_reserve_on_error(h, vma, address, folio)` + the HPageRestoreReserve part of
 * `free_huge_page` (mm/hugetlb.c, 6.3), simplified: a folio that consumed a reservation
 * and is freed unused gives it back. Call it after the folio went back to the pool: a
 * private owner's index is reserved again and `resv_huge_pages` grows by one.
 */
function restoreReserveOnError(ctx: RmapState, vma: Vma, address: number): void {
  const priv = hugetlbOf(ctx).vmaPrivate(vma);
  if ((vma.flags & VM_MAYSHARE) === 0 && priv.owner) {
    priv.resv.add(vmaHugecacheOffset(vma, address));
  }
  hugetlbAcctMemory(ctx.mem, 1);
}

/** Clears a new huge page (`clear_huge_page`): 512 content words. */
function clearHugePage(ctx: RmapState, folio: Folio): void {
  for (let i = 0; i < PTRS_PER_PTE; i++) setPageContent(ctx.mem, folio + i, 0);
  ctx.rt.charge(ctx.costs.copyPage4k * 4);
}

/** `copy_user_huge_page`: the 512 content words of `src` into `dst`. */
function copyHugePage(ctx: RmapState, dst: Folio, src: Folio): void {
  for (let i = 0; i < PTRS_PER_PTE; i++) {
    setPageContent(ctx.mem, dst + i, pageContent(ctx.mem, src + i));
  }
  ctx.rt.charge(ctx.costs.copyPage4k * PTRS_PER_PTE);
}

/**
 * `filemap_lock_folio(mapping, idx)` (mm/filemap.c, 6.3) for a hugetlbfs file: the folio
 * cached at huge-page index `idx` with a reference and its lock, or -1. A folio a
 * migration has frozen is looked up again; one truncated while we slept on its lock is
 * given up and looked up again.
 */
function* filemapLockHugetlbFolio(
  ctx: RmapState,
  file: AddressSpace,
  idx: number,
): KernelGen<number> {
  for (;;) {
    const folio = file.pages.get(idx);
    if (folio === undefined) return -1;
    if (!folioTryGet(ctx.mem, folio)) {
      yield; // frozen by a migration replacing it
      continue;
    }
    const locks = ctx.locks;
    if (!locks.folioTrylock(folio, 'filemap_lock_folio')) {
      yield* locks.folioLock(folio, 'filemap_lock_folio');
    }
    if (folioMapping(ctx.mem, folio) === file && file.pages.get(idx) === folio) return folio;
    locks.folioUnlock(folio);
    hugetlbFolioPut(ctx, folio);
  }
}

function* lockPtl(mm: Mm): KernelGen {
  const ptl = mm.pageTableLock;
  if (!ptl.trylock()) yield* ptl.lockContended();
}

/**
 * `set_huge_ptep_writable` (mm/hugetlb.c, 6.3): writable, dirty and young, in place (no
 * flush: the entry only gains rights).
 */
function setHugePtepWritable(ctx: RmapState, mm: Mm, pmdIndex: number): void {
  const pte = mm.pmds.get(pmdIndex)!;
  mm.pmds.set(pmdIndex, (pteMkdirty(pte) | PTE_WRITE | PTE_YOUNG) >>> 0);
  ctx.rt.charge(ctx.costs.pteUpdate);
}

/**
 * `hugetlb_wp(mm, vma, address, ptep, flags, pagecache_folio, ptl)` (mm/hugetlb.c, 6.3),
 * entered and left with `page_table_lock` held, for a write (or unshare) to a read-only
 * huge entry:
 *
 * - uffd-wp protected (and not unshare): nothing, 0.
 * - A shared mapping: made writable in place.
 * - An anonymous folio mapped once: reused (made exclusive with `page_move_anon_rmap`
 *   if it was not, then writable unless unsharing).
 * - Otherwise a copy: the private owner of reservations allocates outside them for a
 *   page that is not the page cache's; the lock is dropped for the allocation and
 *   `anon_vma_prepare`; no page: SIGBUS (the owner's `unmap_ref_private` of the
 *   children's mappings is not modelled). Under the lock again, if the entry did not
 *   change: `huge_ptep_clear_flush`, old mapping removed, the copy mapped as a new
 *   exclusive anonymous folio (writable unless unsharing) and made migratable.
 */
function* hugetlbWp(
  ctx: RmapState,
  vma: Vma,
  address: number,
  pmdIndex: number,
  flags: number,
  pagecacheFolio: number,
): KernelGen<number> {
  const mm = vma.mm;
  const mem = ctx.mem;
  const h = hugetlbOf(ctx);
  const unshare = (flags & FAULT_FLAG_UNSHARE) !== 0;
  const pte = mm.pmds.get(pmdIndex)!;
  if (!unshare && pteUffdWp(pte)) return 0;
  if ((vma.flags & VM_MAYSHARE) !== 0) {
    setHugePtepWritable(ctx, mm, pmdIndex);
    return 0;
  }
  const old = ptePfn(pte);
  if (pageMapcount(mem, old) === 1 && folioTestAnon(mem, old)) {
    if (!pageTestFlag(mem, old, PG_anon_exclusive)) pageMoveAnonRmap(ctx, old, old, vma);
    if (!unshare) setHugePtepWritable(ctx, mm, pmdIndex);
    return 0;
  }
  const outsideReserve = h.vmaPrivate(vma).owner && old !== pagecacheFolio;
  folioGet(mem, old);
  const ptl = mm.pageTableLock;
  ptl.unlock();
  const haddr = address - (address % HPAGE_SIZE);
  const copy = allocHugetlbFolioVma(ctx, vma, haddr, outsideReserve);
  if (copy < 0) {
    hugetlbFolioPut(ctx, old);
    yield* lockPtl(mm);
    return VM_FAULT_SIGBUS;
  }
  const usedReserve = lastUsedReserve;
  yield* anonVmaPrepare(ctx, vma);
  copyHugePage(ctx, copy, old);
  folioSetFlag(mem, copy, PG_uptodate);
  yield* lockPtl(mm);
  let unused = copy;
  if (mm.pmds.get(pmdIndex) === pte) {
    mm.pmds.set(pmdIndex, 0);
    flushTlbPmd(ctx, mm, pmdIndex * PTRS_PER_PTE); // huge_ptep_clear_flush
    hugetlbRemoveRmap(ctx, old);
    hugepageAddNewAnonRmap(ctx, copy, vma, haddr);
    mm.pmds.set(pmdIndex, makeHugePte(copy, !unshare && (vma.flags & VM_WRITE) !== 0));
    ctx.rt.charge(ctx.costs.pteUpdate);
    h.lifecycle?.folioSetMigratable(copy);
    unused = old; // the old mapping's reference goes below
  }
  hugetlbFolioPut(ctx, unused);
  if (unused === copy && usedReserve) restoreReserveOnError(ctx, vma, haddr);
  hugetlbFolioPut(ctx, old);
  return 0;
}

/**
 * `hugetlb_no_page(mm, vma, mapping, idx, address, ptep, old_pte, flags)` (mm/hugetlb.c,
 * 6.3), with the fault mutex and the vma lock (read) held; it drops both. Past `i_size`:
 * SIGBUS. A folio in the page cache is used (locked, with a reference); otherwise a new
 * one (`alloc_hugetlb_folio`; none: SIGBUS unless the entry changed meanwhile), cleared,
 * and either added to the page cache (a shared mapping: `hugetlb_add_to_page_cache`,
 * which marks it dirty) or made anonymous (`anon_vma_prepare`). Under the lock, if the
 * entry is still none, the folio is mapped (`hugepage_add_new_anon_rmap` or
 * `page_dup_file_rmap`; writable and dirty only in a shared writable mapping), and a
 * private write goes on into `hugetlb_wp` at once. A new folio becomes migratable.
 */
function* hugetlbNoPage(
  ctx: RmapState,
  vma: Vma,
  file: AddressSpace,
  idx: number,
  address: number,
  pmdIndex: number,
  flags: number,
): KernelGen<number> {
  const mm = vma.mm;
  const mem = ctx.mem;
  const locks = ctx.locks;
  const haddr = address - (address % HPAGE_SIZE);
  const inode = file.hugetlb!;
  if (idx >= inode.size) return VM_FAULT_SIGBUS;
  let folio = yield* filemapLockHugetlbFolio(ctx, file, idx);
  let newFolio = false;
  let newPagecache = false;
  let anonRmap = false;
  let usedReserve = false;
  if (folio < 0) {
    folio = allocHugetlbFolioVma(ctx, vma, haddr, false);
    if (folio < 0) return (mm.pmds.get(pmdIndex) ?? 0) !== 0 ? 0 : VM_FAULT_SIGBUS;
    usedReserve = lastUsedReserve;
    clearHugePage(ctx, folio);
    folioSetFlag(mem, folio, PG_uptodate);
    newFolio = true;
    if ((vma.flags & VM_MAYSHARE) !== 0) {
      // __folio_set_locked, __filemap_add_folio (one cache reference), folio_mark_dirty.
      locks.folioTrylock(folio, 'hugetlb_add_to_page_cache');
      folioGet(mem, folio);
      hugetlbAddToPageCache(mem, file, folio, idx);
      hugetlbMarkDirty(ctx, folio);
      newPagecache = true;
    } else {
      locks.folioTrylock(folio, 'hugetlb_no_page');
      yield* anonVmaPrepare(ctx, vma);
      anonRmap = true;
    }
  }
  yield* lockPtl(mm);
  if ((mm.pmds.get(pmdIndex) ?? 0) !== 0) {
    // The entry changed under us: back out.
    mm.pageTableLock.unlock();
    locks.folioUnlock(folio);
    hugetlbFolioPut(ctx, folio);
    if (newFolio && !newPagecache && usedReserve) restoreReserveOnError(ctx, vma, haddr);
    return 0;
  }
  if (anonRmap) hugepageAddNewAnonRmap(ctx, folio, vma, haddr);
  else hugetlbDupFileRmap(ctx, folio);
  const writable = (vma.flags & (VM_WRITE | VM_SHARED)) === (VM_WRITE | VM_SHARED);
  mm.pmds.set(pmdIndex, makeHugePte(folio, writable));
  ctx.rt.charge(ctx.costs.pteUpdate);
  let ret = 0;
  if ((flags & FAULT_FLAG_WRITE) !== 0 && (vma.flags & VM_SHARED) === 0) {
    ret = yield* hugetlbWp(ctx, vma, address, pmdIndex, flags, folio);
  }
  mm.pageTableLock.unlock();
  if (newFolio) hugetlbOf(ctx).lifecycle?.folioSetMigratable(folio);
  locks.folioUnlock(folio);
  return ret;
}

/**
 * `migration_entry_wait_huge(vma, ptep)` (mm/migrate.c, 6.3, `__migration_entry_wait_huge`):
 * under the entry's lock, re-read it; still a migration entry: drop the vma lock and wait
 * for the folio's unlock (`migration_entry_wait_on_locked`, no reference taken); else
 * just drop both locks. The fault returns 0 and the access is retried.
 */
function* migrationEntryWaitHuge(
  ctx: RmapState,
  mm: Mm,
  pmdIndex: number,
  vmaLock: RwSemaphore | null,
): KernelGen {
  yield* lockPtl(mm);
  const ptl = mm.pageTableLock;
  const pte = mm.pmds.get(pmdIndex) ?? 0;
  if (!isMigrationEntry(pte)) {
    ptl.unlock();
    vmaLock?.upRead();
    return;
  }
  vmaLock?.upRead();
  yield* ctx.locks.migrationEntryWaitOnLocked(ptePfn(pte), ptl, 'migration_entry_wait_huge');
}

function unlockFault(mutex: Mutex, vmaLock: RwSemaphore | null): void {
  vmaLock?.upRead();
  mutex.unlock();
}

/**
 * `hugetlb_fault(mm, vma, address, flags)` (mm/hugetlb.c, 6.3), from `handle_mm_fault`
 * for a VM_HUGETLB VMA: take the fault mutex of (mapping, index) and the vma lock for
 * read; an empty entry is `hugetlb_no_page`; a migration entry drops the mutex and waits
 * (`migration_entry_wait_huge`); a present one, under its lock and if unchanged, is
 * locked (trylock: a folio locked by someone else is waited for after every lock is
 * dropped, and the fault retried), and either goes to `hugetlb_wp` (a write or unshare of
 * a read-only entry, with the page-cache folio locked first) or is marked young (and
 * dirty on a write). Returns VM_FAULT_* bits.
 */
export function* hugetlbFault(
  ctx: RmapState,
  vma: Vma,
  address: number,
  flags: number,
): KernelGen<number> {
  const mm = vma.mm;
  const mem = ctx.mem;
  const locks = ctx.locks;
  const h = hugetlbOf(ctx);
  const file = vma.file!;
  const pmdIndex = pmdIndexOf(address);
  const idx = vmaHugecacheOffset(vma, address);
  const mutex = h.faultMutex(file.id, idx);
  yield* mutex.lock('hugetlb_fault');
  const vmaLock = h.vmaPrivate(vma).vmaLock;
  if (vmaLock !== null && !vmaLock.downReadTrylock()) yield* vmaLock.downRead('hugetlb_fault');
  const entry = mm.pmds.get(pmdIndex) ?? 0;
  if (entry === 0) {
    const ret = yield* hugetlbNoPage(ctx, vma, file as AddressSpace, idx, address, pmdIndex, flags);
    unlockFault(mutex, vmaLock);
    return ret;
  }
  if (!ptePresent(entry)) {
    if (isMigrationEntry(entry)) {
      mutex.unlock();
      yield* migrationEntryWaitHuge(ctx, mm, pmdIndex, vmaLock);
      return 0;
    }
    unlockFault(mutex, vmaLock);
    return 0;
  }
  const write = (flags & (FAULT_FLAG_WRITE | FAULT_FLAG_UNSHARE)) !== 0;
  let pagecacheFolio = -1;
  if (write && !pteWrite(entry)) {
    pagecacheFolio = yield* filemapLockHugetlbFolio(ctx, file as AddressSpace, idx);
  }
  yield* lockPtl(mm);
  const ptl = mm.pageTableLock;
  let ret = 0;
  let waitFor = -1;
  if (mm.pmds.get(pmdIndex) === entry) {
    const folio = ptePfn(entry);
    let locked = false;
    if (folio !== pagecacheFolio) {
      locked = locks.folioTrylock(folio, 'hugetlb_fault');
      if (!locked) waitFor = folio;
    }
    if (waitFor < 0) {
      folioGet(mem, folio);
      if (write && !pteWrite(entry)) {
        ret = yield* hugetlbWp(ctx, vma, address, pmdIndex, flags, pagecacheFolio);
      } else {
        let e = (entry | PTE_YOUNG) >>> 0;
        if ((flags & FAULT_FLAG_WRITE) !== 0) e = (e | PTE_DIRTY | PTE_SOFT_DIRTY) >>> 0;
        if (e !== entry) {
          mm.pmds.set(pmdIndex, e);
          ctx.rt.charge(ctx.costs.pteUpdate);
        }
      }
      if (locked) locks.folioUnlock(folio);
      hugetlbFolioPut(ctx, folio);
    }
  }
  ptl.unlock();
  if (pagecacheFolio >= 0) {
    locks.folioUnlock(pagecacheFolio);
    hugetlbFolioPut(ctx, pagecacheFolio);
  }
  unlockFault(mutex, vmaLock);
  // Wait for the folio's unlock without a reference, then let the access retry.
  if (waitFor >= 0) yield* locks.folioWaitLocked(waitFor, 'hugetlb_fault');
  return ret;
}
