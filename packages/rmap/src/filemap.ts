import {
  type Folio,
  folioIndex,
  folioNrPages,
  folioTryGet,
  HPAGE_PMD_NR,
  HPAGE_PMD_ORDER,
  setPageContent,
} from '@mmsim/folio';
import { type KernelGen, VmEvent } from '@mmsim/runtime';
import type { AddressSpace } from './address-space.js';
import { vmaAllocFolio } from './alloc.js';
import { VM_FAULT_MAJOR, VM_FAULT_OOM } from './constants.js';
import { folioPutRefsFast, folioPutRefsSlow } from './folio-release.js';
import { filemapAddFolio, filemapAddFolioPlain } from './page-cache.js';
import type { RmapState } from './rmap-state.js';
import { shmemIsHuge } from './shmem.js';
import type { Vma } from './vma.js';

/**
 * The page cache side of file faults (mm/filemap.c, mm/shmem.c, 6.3). A miss "reads" the
 * page from the file's backing words into a new locked folio: order 0, or for shmem a
 * PMD-size folio where `shmem_is_huge` allows it (see `shmemAllocFolio`). Regular files
 * get large folios only from readahead (`page_cache_ra_order`, the readahead actor of
 * `@mmsim/scenarios`), the model's route to file THPs.
 */

/** A folio returned locked and referenced by `filemapFault`, or a VM_FAULT_* error. */
export interface FilemapFaultResult {
  /** The folio, or -1 on error. */
  readonly folio: Folio;
  /** The page of the folio that holds the faulting offset (`vmf->page`); -1 on error. */
  readonly page: number;
  /** VM_FAULT_MAJOR when the page was read from the file, VM_FAULT_OOM on failure. */
  readonly ret: number;
}

/**
 * The allocation of a shmem fault's miss, `shmem_get_folio_gfp` (mm/shmem.c, 6.3): when
 * `shmem_is_huge` says so, `shmem_alloc_and_acct_folio(huge=true)` (`shmem_alloc_and_add_folio`
 * from 6.8) tries a PMD-size folio for the aligned range around `index`, refused when any
 * page of that range is cached already (`shmem_alloc_hugefolio`'s `xa_find`) or memory is
 * short (THP_FILE_FALLBACK); then `shmem_add_to_page_cache` at the aligned index
 * (THP_FILE_ALLOC). Otherwise, or on fallback, an order-0 folio. The folio is filled from
 * the backing words (shmem's are 0 unless a test set them) and added locked. Returns the
 * folio, or -1 when no memory is left.
 */
function* shmemAllocFolio(
  ctx: RmapState,
  vma: Vma,
  as: AddressSpace,
  index: number,
): KernelGen<Folio> {
  const mem = ctx.mem;
  if (shmemIsHuge(vma, as, index)) {
    const hindex = index - (index % HPAGE_PMD_NR);
    let free = true;
    for (let i = 0; i < HPAGE_PMD_NR && free; i++) free = !as.pages.has(hindex + i);
    const folio = free ? vmaAllocFolio(ctx, vma, HPAGE_PMD_ORDER) : -1;
    if (folio >= 0) {
      for (let i = 0; i < HPAGE_PMD_NR; i++) {
        const word = as.backing.get(hindex + i);
        if (word !== undefined) setPageContent(mem, folio + i, word);
      }
      yield* filemapAddFolio(ctx, as, folio, hindex);
      ctx.vmstat.countVmEvents(VmEvent.THP_FILE_ALLOC);
      return folio;
    }
    ctx.vmstat.countVmEvents(VmEvent.THP_FILE_FALLBACK);
  }
  const folio = vmaAllocFolio(ctx, vma, 0);
  if (folio < 0) return -1;
  setPageContent(mem, folio, as.backing.get(index) ?? 0);
  yield* filemapAddFolio(ctx, as, folio, index);
  return folio;
}

/**
 * `filemap_fault(vmf)` (mm/filemap.c, 6.3; `shmem_fault` for shmem) as `__do_fault` uses
 * it: the page-cache folio holding the faulting offset, locked and with a reference for
 * the caller, and the page of it (`vmf->page`). On a miss a folio is allocated, added to
 * the cache locked, filled from the file's backing word (a major fault, counted in
 * pgmajfault, unless the file is shmem, whose miss may bring a PMD-size folio) and put on
 * the LRU. On a hit the folio is referenced (`folio_try_get`, retried if it is frozen by a
 * migration in flight) and locked, sleeping if needed (`lock_folio_maybe_drop_mmap`
 * without dropping mmap_lock); if it no longer caches the offset (truncated, migrated or
 * split meanwhile: `folio_contains` after the lock), the lookup is retried. Fault-around
 * and readahead are not modelled.
 */
export function* filemapFault(
  ctx: RmapState,
  vma: Vma,
  address: number,
): KernelGen<FilemapFaultResult> {
  const as = vma.file!;
  const index = vma.linearPageIndex(address);
  const mem = ctx.mem;
  const locks = ctx.locks;
  for (;;) {
    const cached = as.lookup(index);
    if (cached === undefined) {
      if (as.shmem) {
        const folio = yield* shmemAllocFolio(ctx, vma, as, index);
        if (folio < 0) return { folio: -1, page: -1, ret: VM_FAULT_OOM };
        return { folio, page: folio + (index - folioIndex(mem, folio)), ret: 0 };
      }
      const folio = vmaAllocFolio(ctx, vma, 0, address);
      if (folio < 0) return { folio: -1, page: -1, ret: VM_FAULT_OOM };
      setPageContent(mem, folio, as.backing.get(index) ?? 0);
      yield* filemapAddFolio(ctx, as, folio, index);
      ctx.vmstat.countVmEvents(VmEvent.PGMAJFAULT);
      return { folio, page: folio, ret: VM_FAULT_MAJOR };
    }
    if (!folioTryGet(mem, cached)) {
      yield; // frozen: a migration is replacing it; look again
      continue;
    }
    if (!locks.folioLockFast(cached, 'filemap_fault')) {
      yield* locks.folioLockContended(cached, 'filemap_fault');
    }
    const got = lockedCaches(ctx, as, index, cached);
    if (got !== null) return got;
    locks.folioUnlock(cached);
    if (!folioPutRefsFast(ctx, cached, 1)) yield* folioPutRefsSlow(ctx, cached, 1);
  }
}

/**
 * `filemap_fault`'s check after the lock (`folio_contains`, and the folio still in the
 * cache at `index`): the result for the caller, or null when the lookup must be retried.
 */
function lockedCaches(
  ctx: RmapState,
  as: AddressSpace,
  index: number,
  cached: Folio,
): FilemapFaultResult | null {
  const mem = ctx.mem;
  const first = folioIndex(mem, cached);
  if (as.lookup(index) === cached && index >= first && index - first < folioNrPages(mem, cached)) {
    return { folio: cached, page: cached + (index - first), ret: 0 };
  }
  return null;
}

/** Whether `filemapFaultPlain` returned its result (not the generator that finishes it). */
export function isFilemapFaultResult(
  r: FilemapFaultResult | KernelGen<FilemapFaultResult>,
): r is FilemapFaultResult {
  return (r as FilemapFaultResult).ret !== undefined;
}

/**
 * `filemapFault` (above) as plain calls while nothing in it waits: a hit on a folio that
 * is not frozen and whose lock is free (`folio_trylock`), or a miss of a regular file
 * whose new folio goes on the LRU without contention (`filemapAddFolioPlain`). Returns the
 * result, or the generator that goes on from the point that may wait (a frozen folio, a
 * held folio lock, a last reference dropped through the LRU, a contended `folio_add_lru`),
 * or `filemapFault` itself for a shmem miss (nothing done yet): run it at once with
 * `yield*`, in the same step. The same steps, charges and results as `filemapFault`.
 */
export function filemapFaultPlain(
  ctx: RmapState,
  vma: Vma,
  address: number,
): FilemapFaultResult | KernelGen<FilemapFaultResult> {
  const as = vma.file!;
  const index = vma.linearPageIndex(address);
  const mem = ctx.mem;
  const locks = ctx.locks;
  for (;;) {
    const cached = as.lookup(index);
    if (cached === undefined) {
      if (as.shmem) return filemapFault(ctx, vma, address);
      const folio = vmaAllocFolio(ctx, vma, 0, address);
      if (folio < 0) return { folio: -1, page: -1, ret: VM_FAULT_OOM };
      setPageContent(mem, folio, as.backing.get(index) ?? 0);
      const added = filemapAddFolioPlain(ctx, as, folio, index);
      if (typeof added !== 'number') return majorAfter(ctx, added, folio);
      ctx.vmstat.countVmEvents(VmEvent.PGMAJFAULT);
      return { folio, page: folio, ret: VM_FAULT_MAJOR };
    }
    // frozen: the generator's `yield` and its next look
    if (!folioTryGet(mem, cached)) return filemapFault(ctx, vma, address);
    if (!locks.folioLockFast(cached, 'filemap_fault')) {
      return lockThenFault(ctx, vma, address, cached);
    }
    const got = lockedCaches(ctx, as, index, cached);
    if (got !== null) return got;
    locks.folioUnlock(cached);
    if (!folioPutRefsFast(ctx, cached, 1)) return putThenFault(ctx, vma, address, cached);
  }
}

/** A miss's end after a `filemap_add_folio` whose `folio_add_lru` may wait. */
function* majorAfter(
  ctx: RmapState,
  added: KernelGen<number>,
  folio: Folio,
): KernelGen<FilemapFaultResult> {
  yield* added;
  ctx.vmstat.countVmEvents(VmEvent.PGMAJFAULT);
  return { folio, page: folio, ret: VM_FAULT_MAJOR };
}

/** A hit whose folio lock is held: the sleeping lock, then as `filemapFault` goes on. */
function* lockThenFault(
  ctx: RmapState,
  vma: Vma,
  address: number,
  cached: Folio,
): KernelGen<FilemapFaultResult> {
  yield* ctx.locks.folioLockContended(cached, 'filemap_fault');
  const got = lockedCaches(ctx, vma.file!, vma.linearPageIndex(address), cached);
  if (got !== null) return got;
  ctx.locks.folioUnlock(cached);
  if (!folioPutRefsFast(ctx, cached, 1)) yield* folioPutRefsSlow(ctx, cached, 1);
  return yield* filemapFault(ctx, vma, address);
}

/** A retried lookup whose put of the stale folio goes through the LRU. */
function* putThenFault(
  ctx: RmapState,
  vma: Vma,
  address: number,
  cached: Folio,
): KernelGen<FilemapFaultResult> {
  yield* folioPutRefsSlow(ctx, cached, 1);
  return yield* filemapFault(ctx, vma, address);
}
