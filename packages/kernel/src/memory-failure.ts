import {
  dissolveFreeHugeFolio,
  type Folio,
  FolioList,
  folioGet,
  folioMapcount,
  folioNrPages,
  folioPut,
  folioRefCount,
  folioTestAnon,
  folioTestFlag,
  folioTestHugetlb,
  folioTestKsm,
  folioTestLarge,
  folioTestMovable,
  folioTryGet,
  isFreeBuddyPage,
  NUMA_NO_NODE,
  numPoisonedPagesInc,
  PG_hwpoison,
  PG_lru,
  PG_writeback,
  pageSetFlag,
  pageTestFlag,
  pfnFolio,
  pfnValid,
  splitFolio,
  takePageOffBuddy,
} from '@mmsim/folio';
import {
  ISOLATE_UNEVICTABLE,
  MIGRATE_SYNC,
  type MigrationTargetControl,
  MR_MEMORY_FAILURE,
} from '@mmsim/migrate';
import {
  MADV_HWPOISON,
  MADV_SOFT_OFFLINE,
  type MmView,
  madviseCheck,
  TTU_SPLIT_HUGE_PMD,
  TTU_SYNC,
  VM_FAULT_ERROR,
} from '@mmsim/rmap';
import {
  EBUSY,
  EFAULT,
  EIO,
  ENXIO,
  EPERM,
  type KernelGen,
  MmsimError,
  Mutex,
} from '@mmsim/runtime';
import type { Kernel } from './kernel.js';

/*
 * Soft offline (mm/memory-failure.c, Linux 6.3): take a page out of use without losing
 * its data, by migrating it away (MR_MEMORY_FAILURE) and marking the old frame
 * PG_hwpoison so that it is never allocated again. Entry points: `softOfflinePage(pfn)`
 * (the /sys/devices/system/memory/soft_offline_page file) and `madvise(MADV_SOFT_OFFLINE)`.
 */

/** `enum mf_flags` (include/linux/mm.h, 6.3): the caller already holds a reference. */
export const MF_COUNT_INCREASED = 1 << 0;
/** `enum mf_flags`: the soft-offline path (movable non-LRU pages are handlable). */
export const MF_SOFT_OFFLINE = 1 << 3;

/** The MR_MEMORY_FAILURE target: any node, the source's first (`.nid = NUMA_NO_NODE`). */
const MTC: MigrationTargetControl = { nid: NUMA_NO_NODE };

const mfMutexes = new WeakMap<Kernel, Mutex>();

/** `mf_mutex` (mm/memory-failure.c, 6.3): one soft offline or memory failure at a time. */
function mfMutex(k: Kernel): Mutex {
  let m = mfMutexes.get(k);
  if (m === undefined) {
    m = new Mutex(k.rt, 'mf_mutex');
    mfMutexes.set(k, m);
  }
  return m;
}

/**
 * `HWPoisonHandlable(page, flags)` (mm/memory-failure.c, 6.3): an LRU page or a free
 * buddy page; with MF_SOFT_OFFLINE also a non-LRU movable page.
 */
function hwpoisonHandlable(k: Kernel, folio: Folio, pfn: number, flags: number): boolean {
  const mem = k.mem;
  if (folio < 0) return isFreeBuddyPage(mem, pfn);
  if ((flags & MF_SOFT_OFFLINE) !== 0 && folioTestMovable(mem, folio)) return true;
  return folioTestFlag(mem, folio, PG_lru);
}

/**
 * `__get_hwpoison_page(page, flags)` (mm/memory-failure.c, 6.3): 1 with a reference on
 * the page's folio, 0 for a free page (buddy or hugetlb pool) or one freed under us,
 * -EBUSY for a page that cannot be handled as it is.
 */
function getHwpoisonPageOnce(k: Kernel, pfn: number, flags: number): number {
  const mem = k.mem;
  const folio = pfnFolio(mem, pfn);
  if (folio >= 0 && folioTestHugetlb(mem, folio)) {
    // get_hwpoison_hugetlb_folio: in use (the model's migratability is checked by
    // isolate_hugetlb later) -> a reference; a free one is handled as free.
    return folioTryGet(mem, folio) ? 1 : 0;
  }
  if (folio < 0) return 0;
  if (!hwpoisonHandlable(k, folio, pfn, flags)) return -EBUSY;
  return folioTryGet(mem, folio) ? 1 : 0;
}

/**
 * `shake_page(page)` (mm/memory-failure.c, 6.3): `lru_add_drain_all`, so that a page
 * sitting in a per-CPU LRU batch reaches its LRU list (slab shrinking is not modelled).
 */
function* shakePage(k: Kernel): KernelGen {
  yield* k.lru.lruAddDrainAll();
}

/**
 * `get_any_page(page, flags)` / `get_hwpoison_page` (mm/memory-failure.c, 6.3): 1 with a
 * reference on the page (it is hugetlb, LRU, or with MF_SOFT_OFFLINE movable), 0 for a
 * free page, or -EBUSY / -EIO after three tries with `shake_page` in between. With
 * MF_COUNT_INCREASED the caller's reference is used (and dropped if the page cannot be
 * handled).
 */
function* getHwpoisonPage(k: Kernel, pfn: number, flags: number): KernelGen<number> {
  const mem = k.mem;
  let pass = 0;
  let countIncreased = (flags & MF_COUNT_INCREASED) !== 0;
  for (;;) {
    if (!countIncreased) {
      const ret = getHwpoisonPageOnce(k, pfn, flags);
      if (ret === 0) {
        const folio = pfnFolio(mem, pfn);
        if (folio >= 0 && !folioTestHugetlb(mem, folio) && folioRefCount(mem, folio) > 0) {
          if (pass++ < 3) continue; // raced with an allocation
          return -EBUSY;
        }
        if (folio < 0 && !isFreeBuddyPage(mem, pfn) && !isHugetlbPoolFrame(k, pfn)) {
          if (pass++ < 3) continue; // raced with put_page
          return -EIO;
        }
        return 0;
      }
      if (ret === -EBUSY) {
        if (pass++ < 3) {
          yield* shakePage(k);
          continue;
        }
        return -EIO;
      }
    }
    const folio = pfnFolio(mem, pfn);
    if (folio >= 0 && (folioTestHugetlb(mem, folio) || hwpoisonHandlable(k, folio, pfn, flags))) {
      return 1;
    }
    if (folio >= 0) yield* k.lru.folioPut(folio);
    if (pass++ < 3) {
      yield* shakePage(k);
      countIncreased = false;
      continue;
    }
    return -EIO;
  }
}

/** A frame of a free hugetlb folio in a pool (`PageHuge` of a free huge page). */
function isHugetlbPoolFrame(k: Kernel, pfn: number): boolean {
  return pfnFolio(k.mem, pfn) < 0 && !isFreeBuddyPage(k.mem, pfn);
}

/**
 * `page_handle_poison(page, hugepage_or_freepage, release)` (mm/memory-failure.c, 6.3):
 * for a free page (or a hugetlb source after its migration), dissolve a free hugetlb
 * folio around it and take the page off the buddy (`__page_handle_poison`; false if that
 * fails); then PG_hwpoison, and `num_poisoned_pages` grows. With `release` the page is an
 * in-use page whose last reference the migration left: the kernel puts it
 * (`free_pages_prepare` keeps a hwpoisoned page out of the buddy) and takes a reference
 * again (`page_ref_inc`); in the model the page simply keeps that reference.
 */
function pageHandlePoison(
  k: Kernel,
  pfn: number,
  hugepageOrFreepage: boolean,
  _release: boolean,
): boolean {
  const mem = k.mem;
  if (hugepageOrFreepage) {
    if (dissolveFreeHugeFolio(mem, pfn) !== 0) return false;
    if (!takePageOffBuddy(mem, pfn)) return false;
  }
  pageSetFlag(mem, pfn, PG_hwpoison);
  numPoisonedPagesInc(mem);
  return true;
}

/**
 * `try_to_split_thp_page(page)` (mm/memory-failure.c, 6.3) for an anonymous THP the
 * caller holds a reference on: lock it, `split_huge_page` (a PMD mapping first becomes
 * PTEs through `unmap_folio` / `remap_page`, as the migration core's split does), unlock.
 * The tails go back to the LRU with the head's state (`lru_add_split_folio`); the
 * caller's reference ends on the page `pfn` (split_huge_page keeps it on the page it was
 * given). On failure the reference is dropped and -EBUSY returned. A file THP is not
 * split by the model (-EBUSY).
 */
function* tryToSplitThpPage(k: Kernel, head: Folio, pfn: number): KernelGen<number> {
  const mem = k.mem;
  yield* k.locks.folioLock(head, 'try_to_split_thp_page');
  const anon = folioTestAnon(mem, head);
  if (anon && !folioTestKsm(mem, head) && !folioTestFlag(mem, head, PG_writeback)) {
    // The model's splitFolio hands the pieces over on a list, so the folio goes through
    // an isolation: the isolation's reference stands in for the caller's during the split
    // (the kernel's LRU holds none) and every piece is put back on the LRU afterwards.
    const onLru = yield* k.lru.folioIsolateLru(head);
    // can_split_folio: the mappings, the caller's reference (and the isolation's).
    if (onLru && folioRefCount(mem, head) === folioMapcount(mem, head) + 2) {
      if (folioMapcount(mem, head) > 0) {
        yield* k.rmap.tryToMigrate(head, TTU_SPLIT_HUGE_PMD | TTU_SYNC);
        yield* k.rmap.removeMigrationPtes(head, head, false);
      }
      folioPut(mem, head); // the caller's reference, for the split's check
      const list = new FolioList(mem);
      if (splitFolio(mem, head, list) === 0) {
        folioGet(mem, pfn); // the caller's reference, now on the page it offlines
        const tails = [...list];
        for (const tail of tails) list.del(tail);
        yield* k.lru.folioPutbackLru(head);
        for (const tail of tails) yield* k.lru.folioPutbackLru(tail);
        k.locks.folioUnlock(head);
        return 0;
      }
      folioGet(mem, head);
    }
    if (onLru) yield* k.lru.folioPutbackLru(head);
  }
  k.locks.folioUnlock(head);
  yield* k.lru.folioPut(head);
  return -EBUSY;
}

/**
 * `isolate_page(page, pagelist)` (mm/memory-failure.c, 6.3): a hugetlb folio with
 * `isolate_hugetlb`, a movable page with `isolate_movable_page(ISOLATE_UNEVICTABLE)`, an
 * LRU folio with `isolate_lru_page` (NR_ISOLATED counted); then the reference taken by
 * `get_any_page` is dropped either way.
 */
function* isolatePage(k: Kernel, folio: Folio, list: FolioList): KernelGen<boolean> {
  const mem = k.mem;
  let isolated: boolean;
  if (folioTestHugetlb(mem, folio)) {
    isolated = k.migrate.isolateHugetlb(folio, list);
  } else if (folioTestMovable(mem, folio)) {
    isolated = k.migrate.isolateMovablePage(folio, ISOLATE_UNEVICTABLE);
    if (isolated) list.addTail(folio);
  } else {
    isolated = yield* k.lru.folioIsolateLru(folio);
    if (isolated) {
      list.addTail(folio);
      k.lru.nodeStatModFolio(folio, k.lru.folioIsolatedItem(folio), folioNrPages(mem, folio));
    }
  }
  yield* k.lru.folioPut(folio);
  return isolated;
}

/**
 * `soft_offline_in_use_page(page)` (mm/memory-failure.c, 6.3), with a reference on the
 * page: split a THP first (`try_to_split_thp_page`, -EBUSY if that fails); under the page
 * lock (and after its writeback, for a non-hugetlb page) give up with 0 if it got
 * poisoned meanwhile; isolate it (`isolate_page`) and `migrate_pages(...,
 * alloc_migration_target, NUMA_NO_NODE, MIGRATE_SYNC, MR_MEMORY_FAILURE)`. On success the
 * source is poisoned (`page_handle_poison(page, huge, !huge)`: a hugetlb source is
 * dissolved and the page taken off the buddy); on failure the folio is put back and the
 * result is -EBUSY (or the negative error of migrate_pages). Not modelled: the
 * `invalidate_inode_page` shortcut for a clean unmapped page-cache page, which is
 * migrated like any other.
 */
function* softOfflineInUsePage(k: Kernel, pfn: number): KernelGen<number> {
  const mem = k.mem;
  let head = pfnFolio(mem, pfn);
  const huge = folioTestHugetlb(mem, head);
  if (!huge && folioTestLarge(mem, head)) {
    if ((yield* tryToSplitThpPage(k, head, pfn)) !== 0) return -EBUSY;
    head = pfn;
  }
  yield* k.locks.folioLock(head, 'soft_offline_in_use_page');
  if (!huge) yield* k.locks.folioWaitWriteback(head, 'soft_offline_in_use_page');
  if (pageTestFlag(mem, pfn, PG_hwpoison)) {
    k.locks.folioUnlock(head);
    yield* k.lru.folioPut(head);
    return 0;
  }
  k.locks.folioUnlock(head);
  const list = new FolioList(mem);
  if (!(yield* isolatePage(k, head, list))) return -EBUSY;
  const { rc } = yield* k.migrate.migratePages(
    list,
    k.migrate.allocMigrationTarget,
    null,
    MTC,
    MIGRATE_SYNC,
    MR_MEMORY_FAILURE,
  );
  if (rc === 0) return pageHandlePoison(k, pfn, huge, !huge) ? 0 : -EBUSY;
  if (list.size > 0) yield* k.migrate.putbackMovablePages(list);
  return rc > 0 ? -EBUSY : rc;
}

/**
 * `soft_offline_page(pfn, flags)` (mm/memory-failure.c, Linux 6.3). Returns 0 when the
 * page is (or already was) poisoned and out of use, or:
 *
 * - -ENXIO: `pfn` is not a frame of the machine (`pfn_valid`).
 * - -EIO: a hole between nodes (`pfn_to_online_page` fails), or a page that stays
 *   unhandlable (not LRU, not free, not movable) after three `shake_page` tries.
 * - -EBUSY: a THP that cannot be split, a page that cannot be isolated, a migration
 *   that failed (the folio is put back where it was), or a free page that could not be
 *   taken off the buddy even on the retry.
 *
 * Under `mf_mutex`: an already poisoned page returns 0 at once; `get_hwpoison_page` then
 * finds it free (taken off the buddy and poisoned, `page_handle_poison(page, true,
 * false)`; a free hugetlb folio around it is dissolved first) or in use
 * (`soft_offline_in_use_page`). With MF_COUNT_INCREASED the caller's reference (from GUP)
 * is the one used. Counted: `num_poisoned_pages`, and the migration's `pgmigrate_*` with
 * reason MR_MEMORY_FAILURE.
 */
export function* softOfflinePage(k: Kernel, pfn: number, flags = 0): KernelGen<number> {
  const mem = k.mem;
  if (!Number.isSafeInteger(pfn)) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `soft_offline_page: pfn must be an integer, got ${pfn}`,
    );
  }
  if (!Number.isInteger(flags) || (flags & ~(MF_COUNT_INCREASED | MF_SOFT_OFFLINE)) !== 0) {
    throw new MmsimError('INVALID_ARGUMENT', `soft_offline_page: bad flags ${flags}`);
  }
  if (pfn < 0 || pfn >= mem.maxPfn) return -ENXIO;
  if (!pfnValid(mem, pfn)) return -EIO; // a hole: pfn_to_online_page() is NULL
  const mutex = mfMutex(k);
  yield* mutex.lock('soft_offline_page');
  try {
    if (pfnFolio(mem, pfn) >= 0 && pageTestFlag(mem, pfn, PG_hwpoison)) {
      if ((flags & MF_COUNT_INCREASED) !== 0) yield* k.lru.folioPut(pfnFolio(mem, pfn));
      return 0;
    }
    let tryAgain = true;
    for (;;) {
      const ret = yield* getHwpoisonPage(k, pfn, flags | MF_SOFT_OFFLINE);
      if (ret > 0) return yield* softOfflineInUsePage(k, pfn);
      if (ret === 0) {
        if (!pageHandlePoison(k, pfn, true, false)) {
          if (tryAgain) {
            tryAgain = false;
            flags &= ~MF_COUNT_INCREASED;
            continue;
          }
          return -EBUSY;
        }
        return 0;
      }
      return ret;
    }
  } finally {
    mutex.unlock();
  }
}

/**
 * `get_user_pages_fast(start, 1, 0, &page)` for `madvise_inject_error`: the page mapped
 * at `addr` with one more reference, faulting it in (a read fault) when it is not
 * present; -EFAULT when no VMA covers `addr` or the fault fails.
 */
function* gupFastOne(k: Kernel, mm: MmView, addr: number): KernelGen<number> {
  const mem = k.mem;
  for (let tries = 0; tries < 16; tries++) {
    const vma = mm.vmas.find((v) => v.start <= addr && addr < v.end);
    if (vma === undefined) return -EFAULT;
    const pte = k.vm.lookupPte(mm, addr);
    if (pte.kind === 'present' && (pte.raw & 0x40) === 0) {
      if (pte.pfn === mem.zeroPfn) return pte.pfn; // the zero page: no reference to take
      const folio = pfnFolio(mem, pte.pfn);
      if (folio >= 0 && folioTryGet(mem, folio)) return pte.pfn;
    }
    const ret = yield* k.vm.handleUserFault(mm, addr, 0);
    if ((ret & VM_FAULT_ERROR) !== 0) return -EFAULT;
  }
  return -EFAULT;
}

/**
 * `madvise_inject_error(MADV_SOFT_OFFLINE, start, end)` (mm/madvise.c, 6.3): -EPERM
 * without CAP_SYS_ADMIN (`capable` is the syscall layer's answer); then, page by page,
 * GUP the page (faulting it in; -EFAULT for an unmapped address) and
 * `soft_offline_page(pfn, MF_COUNT_INCREASED)`, stepping by the size of the page's folio
 * (a hugetlb folio is dissolved by then, so the next step sees base pages). The first
 * error is returned; 0 when every page was offlined.
 */
function* madviseInjectError(
  k: Kernel,
  mm: MmView,
  start: number,
  end: number,
  capable: boolean,
): KernelGen<number> {
  if (!capable) return -EPERM;
  const mem = k.mem;
  while (start < end) {
    const pfn = yield* gupFastOne(k, mm, start);
    if (pfn < 0) return pfn;
    if (pfn === mem.zeroPfn) return -EIO; // PageReserved: never handlable
    const folio = pfnFolio(mem, pfn);
    const size = folioNrPages(mem, folio) * 4096;
    const ret = yield* softOfflinePage(k, pfn, MF_COUNT_INCREASED);
    if (ret !== 0) return ret;
    start += size;
  }
  return 0;
}

/**
 * `madvise(start, len, advice)` on the whole machine (`do_madvise`, mm/madvise.c, 6.3):
 * the argument checks of `madviseCheck` (-EINVAL for an unknown advice, a misaligned
 * start or a wrapping range; 0 for an empty one), then MADV_SOFT_OFFLINE goes to
 * `madvise_inject_error` over `[start, start + len)` with the unrounded length (-EPERM
 * unless `capable`, CAP_SYS_ADMIN being the syscall layer's check) and every other advice
 * to `VirtualMemory.madvise`. MADV_HWPOISON (hard memory failure) is not modelled and
 * throws INVALID_ARGUMENT after the checks, as do the advices the rmap layer does not
 * carry out (MADV_MERGEABLE / UNMERGEABLE among them).
 */
export function* kernelMadvise(
  k: Kernel,
  mm: MmView,
  start: number,
  len: number,
  advice: number,
  capable: boolean,
): KernelGen<number> {
  if (typeof capable !== 'boolean') {
    throw new MmsimError('INVALID_ARGUMENT', 'madvise: capable must be a boolean');
  }
  const end = madviseCheck(start, len, advice);
  if (end <= 0) return end;
  if (advice === MADV_SOFT_OFFLINE) {
    return yield* madviseInjectError(k, mm, start, start + len, capable);
  }
  if (advice === MADV_HWPOISON) {
    throw new MmsimError('INVALID_ARGUMENT', 'madvise: MADV_HWPOISON is not modelled');
  }
  return yield* k.vm.madvise(mm, start, len, advice);
}
