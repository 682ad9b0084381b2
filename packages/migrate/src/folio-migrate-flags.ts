import {
  FOLIO_TYPE_HUGETLB,
  type Folio,
  folioClearFlag,
  folioCopyContents,
  folioFlags,
  folioNrPages,
  folioSetFlag,
  folioSetPrivate,
  folioTestFlag,
  memmapReader,
  PG_active,
  PG_checked,
  PG_dirty,
  PG_error,
  PG_idle,
  PG_mappedtodisk,
  PG_private,
  PG_readahead,
  PG_referenced,
  PG_swapbacked,
  PG_swapcache,
  PG_unevictable,
  PG_uptodate,
  PG_workingset,
  PG_writeback,
  PG_young,
  type PhysicalMemory,
  pageCopyFactor,
  readerIsFolio,
} from '@mmsim/folio';
import { folioMigrateKsm } from '@mmsim/rmap';
import { mightSleep } from '@mmsim/runtime';
import { folioTestClearContentCopied } from './copy-offload.js';
import { kernelBug } from './errors.js';
import type { MigrateServices } from './migrate-services.js';

/**
 * `folio_migrate_flags(newfolio, folio)` (mm/migrate.c, 6.3), in the kernel's order:
 *
 * - PG_error, PG_referenced, PG_uptodate are copied;
 * - PG_active moves (test-and-clear on src; a folio both active and unevictable is a
 *   VM_BUG_ON); otherwise PG_unevictable moves (test-and-clear);
 * - PG_workingset, PG_checked, PG_mappedtodisk (PG_anon_exclusive on anon: the mapped
 *   pages carry it in their migration entries), PG_dirty (when folio_migrate_mapping did
 *   not move it already), PG_young and PG_idle are copied;
 * - (the NUMA cpupid is not modelled);
 * - the KSM stable node moves to dst (`folio_migrate_ksm`: its `kpfn` becomes dst, src keeps
 *   a KSM mapping with no node);
 * - src loses PG_swapcache and PG_private; `src->private` is cleared unless hugetlb;
 * - if dst is under writeback, `folio_end_writeback(dst)` wakes its waiters;
 * - PG_readahead is copied last, since it shares its bit with PG_reclaim, which
 *   folio_end_writeback may clear;
 * - (page_owner and `mem_cgroup_migrate` are not modelled).
 */
export function folioMigrateFlags(services: MigrateServices, dst: Folio, src: Folio): void {
  const mem = services.mem;
  const r = memmapReader(mem);
  // src's flags word read once: nothing below changes the bits read from it before they
  // are used (the test-and-clears of PG_active and PG_unevictable act on it in order).
  // Through the memmap reader once src is found a live head (else the accessor throws).
  const flags = readerIsFolio(r, src) ? r.flags[src]! : folioFlags(mem, src);
  setFlagsOf(mem, dst, flags & COPIED_FIRST);
  if ((flags & (1 << PG_active)) !== 0) {
    folioClearFlag(mem, src, PG_active);
    if ((flags & (1 << PG_unevictable)) !== 0) {
      throw kernelBug(
        'folio_migrate_flags',
        `VM_BUG_ON_FOLIO(folio_test_unevictable(folio)): folio ${src} was both active and unevictable`,
      );
    }
    folioSetFlag(mem, dst, PG_active);
  } else if ((flags & (1 << PG_unevictable)) !== 0) {
    folioClearFlag(mem, src, PG_unevictable);
    folioSetFlag(mem, dst, PG_unevictable);
  }
  setFlagsOf(mem, dst, flags & COPIED_AFTER);
  folioMigrateKsm(mem, dst, src);
  // (PG_swapbacked, PG_swapcache, PG_private and PG_readahead of src are as read above:
  // nothing before changes them. Clearing a clear bit changes nothing, so it is skipped.)
  if ((flags & SWAPCACHE) === SWAPCACHE) folioClearFlag(mem, src, PG_swapcache);
  if ((flags & (1 << PG_private)) !== 0) folioClearFlag(mem, src, PG_private);
  // (src is still the live head read above: nothing here frees it.)
  if (r.folioType[src] !== FOLIO_TYPE_HUGETLB) folioSetPrivate(mem, src, null);
  const dstWriteback = readerIsFolio(r, dst)
    ? (r.flags[dst]! & (1 << PG_writeback)) !== 0
    : folioTestFlag(mem, dst, PG_writeback);
  if (dstWriteback) services.locks.folioEndWriteback(dst);
  if ((flags & (1 << PG_readahead)) !== 0) folioSetFlag(mem, dst, PG_readahead);
}

/** `folio_test_swapcache`: PG_swapcache means "in the swap cache" only with PG_swapbacked. */
const SWAPCACHE = (1 << PG_swapbacked) | (1 << PG_swapcache);

/** The flags `folio_migrate_flags` copies before PG_active / PG_unevictable move. */
const COPIED_FIRST = (1 << PG_error) | (1 << PG_referenced) | (1 << PG_uptodate);
/** The flags it copies after them (PG_readahead comes last, on its own). */
const COPIED_AFTER =
  (1 << PG_workingset) |
  (1 << PG_checked) |
  (1 << PG_mappedtodisk) |
  (1 << PG_dirty) |
  (1 << PG_young) |
  (1 << PG_idle);

/** `folio_set_*` on `folio` for every flag bit of `mask`. */
function setFlagsOf(mem: PhysicalMemory, folio: Folio, mask: number): void {
  for (let m = mask; m !== 0; m &= m - 1) folioSetFlag(mem, folio, 31 - Math.clz32(m & -m));
}

/**
 * `folio_migrate_copy(newfolio, folio)` (mm/migrate.c, 6.3): `folio_copy` (every page's
 * content word, charged `copyPage4k` per page), then `folio_migrate_flags`. A variant's
 * `steps.folioCopy` replaces `folio_copy`. `folio_copy` (mm/util.c, 6.3) calls
 * `cond_resched()` between the pages of a large folio: the model does not reschedule
 * there, but it makes the `might_sleep` check `cond_resched` makes under
 * CONFIG_DEBUG_ATOMIC_SLEEP, so a large folio copied under a spinlock is reported (the
 * buffer_migrate_folio_norefs bug of 6.15-rc, `norefsLockCoversCopy`). In the batch-copy
 * variant (`services.batchPrecopy`) a dst marked FOLIO_CONTENT_COPIED by the copy
 * provider gets the flags only, and loses the mark (RFC v6's `__migrate_folio`).
 */
export function folioMigrateCopy(services: MigrateServices, dst: Folio, src: Folio): void {
  if (services.batchPrecopy === true && folioTestClearContentCopied(services.mem, dst)) {
    folioMigrateFlags(services, dst, src);
    return;
  }
  folioCopy(services, dst, src);
  folioMigrateFlags(services, dst, src);
}

/**
 * `folio_copy(dst, src)` (mm/util.c, 6.3), and `folio_mc_copy(dst, src)` (mm/util.c, 6.12,
 * Kefeng Wang) which the model treats alike (no memory errors are modelled, so the
 * machine-check-safe copy never fails with -EHWPOISON): every page's content word, charged
 * `copyPage4k` per page, times the larger copy factor of the two folios' nodes (1 between
 * DRAM nodes; `NodeConfig.memory.copyFactor`); emits `mmsim_folio_copied`. A variant's `steps.folioCopy`
 * replaces the copy of the contents. `folio_copy` calls `cond_resched()` between the pages
 * of a large folio: the model does not reschedule there, but makes the `might_sleep` check
 * `cond_resched` makes under CONFIG_DEBUG_ATOMIC_SLEEP, so a large folio copied under a
 * spinlock is reported (the buffer_migrate_folio_norefs bug of 6.15-rc,
 * `norefsLockCoversCopy`).
 */
export function folioCopy(services: MigrateServices, dst: Folio, src: Folio): void {
  const mem = services.mem;
  const r = memmapReader(mem);
  const nr = readerIsFolio(r, src) ? 1 << r.order[src]! : folioNrPages(mem, src);
  if (nr > 1) mightSleep(services.rt.current, 'folio_copy -> cond_resched');
  const tp = services.folioCopied;
  if (tp.enabled) tp.emit({ src, dst, nr_pages: nr }); // as the copy starts
  // A variant's replacement copy step (`steps.folioCopy`) stands in for the page copy.
  const copy = services.folioCopy;
  if (copy === undefined) folioCopyContents(services.mem, dst, src);
  else copy(services, dst, src);
  // Copying to or from a slower tier (a CXL-like node) costs its copy factor (1 for DRAM).
  services.rt.charge(services.rt.costs.copyPage4k * nr * pageCopyFactor(services.mem, dst, src));
}
