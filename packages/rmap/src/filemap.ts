import { type Folio, folioIndex, folioTryGet, setPageContent } from '@mmsim/folio';
import { type KernelGen, VmEvent } from '@mmsim/runtime';
import { vmaAllocFolio } from './alloc.js';
import { VM_FAULT_MAJOR, VM_FAULT_OOM } from './constants.js';
import { folioPutRefsFast, folioPutRefsSlow } from './folio-release.js';
import { filemapAddFolio } from './page-cache.js';
import type { RmapState } from './rmap-state.js';
import type { Vma } from './vma.js';

/**
 * The page cache side of file faults (mm/filemap.c, 6.3). Page-cache folios are order 0.
 * A miss "reads" the page from the file's backing words into a new locked folio.
 */

/** A folio returned locked and referenced by `filemapFault`, or a VM_FAULT_* error. */
export interface FilemapFaultResult {
  /** The folio, or -1 on error. */
  readonly folio: Folio;
  /** VM_FAULT_MAJOR when the page was read from the file, VM_FAULT_OOM on failure. */
  readonly ret: number;
}

/**
 * `filemap_fault(vmf)` (mm/filemap.c, 6.3) as `__do_fault` uses it: the page-cache folio
 * for the faulting offset, locked and with a reference for the caller. On a miss a folio is
 * allocated, added to the cache locked, filled from the file's backing word (a major
 * fault, counted in pgmajfault, unless the file is shmem) and put on the LRU. On a hit
 * the folio is referenced (`folio_try_get`, retried if it is frozen by a migration in
 * flight) and locked, sleeping if needed (`lock_folio_maybe_drop_mmap` without dropping
 * mmap_lock); if it left the cache meanwhile (truncated or migrated), the lookup is
 * retried. Fault-around and readahead are not modelled.
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
      const folio = vmaAllocFolio(ctx, vma, 0, address);
      if (folio < 0) return { folio: -1, ret: VM_FAULT_OOM };
      setPageContent(mem, folio, as.backing.get(index) ?? 0);
      yield* filemapAddFolio(ctx, as, folio, index);
      if (as.shmem) return { folio, ret: 0 };
      ctx.vmstat.countVmEvents(VmEvent.PGMAJFAULT);
      return { folio, ret: VM_FAULT_MAJOR };
    }
    if (!folioTryGet(mem, cached)) {
      yield; // frozen: a migration is replacing it; look again
      continue;
    }
    if (!locks.folioLockFast(cached, 'filemap_fault')) {
      yield* locks.folioLockContended(cached, 'filemap_fault');
    }
    if (as.lookup(index) === cached && folioIndex(mem, cached) === index) {
      return { folio: cached, ret: 0 };
    }
    locks.folioUnlock(cached);
    if (!folioPutRefsFast(ctx, cached, 1)) yield* folioPutRefsSlow(ctx, cached, 1);
  }
}
