import {
  type Folio,
  FolioList,
  folioIsLongtermPinnable,
  folioNrPages,
  folioTestFlag,
  folioTestHugetlb,
  NUMA_NO_NODE,
  PG_lru,
  pfnFolio,
} from '@mmsim/folio';
import type { Kernel } from '@mmsim/kernel';
import { MIGRATE_SYNC, type MigrationTargetControl, MR_LONGTERM_PIN } from '@mmsim/migrate';
import { type MmView, PAGE_SIZE } from '@mmsim/rmap';
import { EAGAIN, ENOMEM, type KernelGen, MmsimError } from '@mmsim/runtime';

/**
 * Long-term pinning (mm/gup.c, Linux 6.3): `pin_user_pages(start, nr_pages,
 * FOLL_LONGTERM [| FOLL_WRITE], pages)` as an RDMA driver, io_uring's fixed buffers or
 * VFIO call it. A FOLL_LONGTERM pin may stay for hours, so the pinned pages must not sit
 * where the kernel needs to move memory away: ZONE_MOVABLE (hot-unplug) and MIGRATE_CMA
 * pageblocks (contiguous allocations). `__gup_longterm_locked` pins the range, then
 * `check_and_migrate_movable_pages` looks for pages that are not
 * `folio_is_longterm_pinnable`; when there are some, it unpins everything, migrates them
 * (`migrate_pages(..., alloc_migration_target, GFP_USER, MIGRATE_SYNC, MR_LONGTERM_PIN)`)
 * to memory that is pinnable, and the whole pin is retried (-EAGAIN); a failed migration
 * fails the pin with -ENOMEM.
 *
 * The pages are pinned one at a time by the rmap layer's `pinUserPage` (the model's
 * `__get_user_pages_locked`: fault in, FOLL_PIN references, the process's pin record),
 * and released with `unpinUserPage`.
 */

/** `FOLL_WRITE` (include/linux/mm_types.h, 6.3): the pin is for writing. */
export const FOLL_WRITE = 0x01;
/** `FOLL_LONGTERM` (include/linux/mm_types.h, 6.3): the pin is long-term. */
export const FOLL_LONGTERM = 0x100;

/** What one `pinUserPages` did, for tests and scenario figures. */
export interface LongtermPinStats {
  /** `__get_user_pages_locked` passes (1 when nothing had to move). */
  attempts: number;
  /** Folios `collect_longterm_unpinnable_pages` found not pinnable, over all passes. */
  collected: number;
  /** Folios it isolated for migration (from the LRU, or hugetlb). */
  isolated: number;
  /** Base pages `migrate_pages` moved (`nr_succeeded`), over all passes. */
  migrated: number;
  /**
   * Retries after a pass that could isolate none of the unpinnable folios it found (all
   * held by another isolator), each after `LONGTERM_PIN_RETRY_BACKOFF_NS` (the model's
   * stand-in for the other CPU's progress; see `pinUserPages`).
   */
  backoffs: number;
  /** Calls of `migrate_pages` that returned non-zero: the pin then fails with -ENOMEM. */
  migrateFailed: number;
}

/**
 * Virtual time the model lets pass before retrying a longterm pin whose last pass could
 * isolate none of its unpinnable folios: one context switch (`DEFAULT_COSTS.contextSwitch`,
 * 1.5 us). The kernel does not sleep there (`__gup_longterm_locked` loops while
 * `check_and_migrate_movable_pages` returns -EAGAIN, with only the `cond_resched()` of
 * `__get_user_pages`); it relies on the isolator, on another CPU, making progress. A
 * schedule that never runs that CPU again (PCT can pick one) is not an SMP execution;
 * the timed sleep keeps the loop from starving it. See docs/model-vs-kernel.md
 * (`longterm-pin-retry`).
 */
export const LONGTERM_PIN_RETRY_BACKOFF_NS = 1500;

/** A new, zeroed `LongtermPinStats`. */
export function longtermPinStats(): LongtermPinStats {
  return { attempts: 0, collected: 0, isolated: 0, migrated: 0, backoffs: 0, migrateFailed: 0 };
}

/** The folio a pinned pfn belongs to (the zero page is its own folio). */
function pinnedFolio(k: Kernel, pfn: number): Folio {
  return pfn === k.mem.zeroPfn ? pfn : pfnFolio(k.mem, pfn);
}

/**
 * `collect_longterm_unpinnable_pages(movable_page_list, nr_pages, pages)` (mm/gup.c,
 * 6.3): for each pinned page's folio (a folio repeated in a row is looked at once), skip
 * it when `folio_is_longterm_pinnable`; else count it, and isolate it onto `list`: a
 * hugetlb folio with `isolate_hugetlb`; any other with `folio_isolate_lru`, after one
 * `lru_add_drain_all()` the first time a folio is not on the LRU yet (still in a per-CPU
 * batch), counting its pages in NR_ISOLATED_ANON / NR_ISOLATED_FILE. A folio that cannot
 * be isolated (isolated by someone else, e.g. a compaction scanner) is counted but left
 * out. Device-coherent folios are not modelled. Returns the number counted: any non-zero
 * number means the pin must be redone, even when nothing could be isolated.
 */
export function* collectLongtermUnpinnablePages(
  k: Kernel,
  list: FolioList,
  pages: readonly number[],
  stats?: LongtermPinStats,
): KernelGen<number> {
  const mem = k.mem;
  let collected = 0;
  let prev = -1;
  let drainAllow = true;
  for (const pfn of pages) {
    const folio = pinnedFolio(k, pfn);
    if (folio === prev) continue;
    prev = folio;
    if (folioIsLongtermPinnable(mem, folio)) continue;
    collected++;
    if (folioTestHugetlb(mem, folio)) {
      if (k.migrate.isolateHugetlb(folio, list) && stats !== undefined) stats.isolated++;
      continue;
    }
    if (!folioTestFlag(mem, folio, PG_lru) && drainAllow) {
      yield* k.lru.lruAddDrainAll();
      drainAllow = false;
    }
    if (!(yield* k.lru.folioIsolateLru(folio))) continue;
    list.addTail(folio);
    k.lru.nodeStatModFolio(folio, k.lru.folioIsolatedItem(folio), folioNrPages(mem, folio));
    if (stats !== undefined) stats.isolated++;
  }
  if (stats !== undefined) stats.collected += collected;
  return collected;
}

/**
 * `migrate_longterm_unpinnable_pages(movable_page_list, nr_pages, pages)` (mm/gup.c, 6.3):
 * unpin every page of the pin (the migration would fail on the pins' extra references;
 * the isolated folios are kept alive by their isolation reference), then migrate `list`
 * with `alloc_migration_target` and `{ .nid = NUMA_NO_NODE, .gfp_mask = GFP_USER |
 * __GFP_NOWARN }` (no __GFP_MOVABLE: the targets come from ZONE_NORMAL outside CMA),
 * MIGRATE_SYNC, MR_LONGTERM_PIN. Returns -EAGAIN when `migrate_pages` returned 0 (the
 * caller pins again), else puts the rest back and returns -ENOMEM. Every entry of `pages`
 * is set to -1 (the kernel's `pages[i] = NULL`).
 */
export function* migrateLongtermUnpinnablePages(
  k: Kernel,
  mm: MmView,
  list: FolioList,
  pages: number[],
  stats?: LongtermPinStats,
): KernelGen<number> {
  for (let i = 0; i < pages.length; i++) {
    const pfn = pages[i]!;
    if (pfn < 0) continue;
    pages[i] = -1;
    yield* k.vm.unpinUserPage(mm, pfn);
  }
  if (!list.isEmpty()) {
    const mtc: MigrationTargetControl = {
      nid: NUMA_NO_NODE,
      movable: false,
      reason: MR_LONGTERM_PIN,
    };
    const { rc, stats: ms } = yield* k.migrate.migratePages(
      list,
      k.migrate.allocMigrationTarget,
      null,
      mtc,
      MIGRATE_SYNC,
      MR_LONGTERM_PIN,
    );
    if (stats !== undefined) stats.migrated += ms.nrSucceeded;
    if (rc !== 0) {
      if (stats !== undefined) stats.migrateFailed++;
      if (!list.isEmpty()) yield* k.migrate.putbackMovablePages(list);
      return -ENOMEM;
    }
  }
  if (!list.isEmpty()) yield* k.migrate.putbackMovablePages(list);
  return -EAGAIN;
}

/**
 * `check_and_migrate_movable_pages(nr_pages, pages)` (mm/gup.c, 6.3): 0 when every pinned
 * folio is longterm-pinnable (the pin stands); otherwise the result of
 * `migrate_longterm_unpinnable_pages` (-EAGAIN or -ENOMEM, the pin released).
 */
export function* checkAndMigrateMovablePages(
  k: Kernel,
  mm: MmView,
  pages: number[],
  stats?: LongtermPinStats,
): KernelGen<number> {
  const list = new FolioList(k.mem);
  const collected = yield* collectLongtermUnpinnablePages(k, list, pages, stats);
  if (collected === 0) return 0;
  return yield* migrateLongtermUnpinnablePages(k, mm, list, pages, stats);
}

/**
 * `__get_user_pages_locked` with FOLL_PIN for `nrPages` pages from `start` (mm/gup.c, 6.3),
 * page by page through the rmap layer's `pinUserPage`, with `cond_resched()` before each page
 * (so a pin retried over and over never holds its CPU); fills `pages` with the pinned pfns.
 * A fatal signal pending at a page (`__get_user_pages`' `fatal_signal_pending(current)`
 * check, -EINTR from `pinUserPage`) ends the walk there as the kernel's `out:` label does
 * (`return i ? i : ret`): the pages pinned before it (they stay pinned, in `pages`), or
 * -EINTR when there are none.
 */
function* getUserPagesLocked(
  k: Kernel,
  mm: MmView,
  start: number,
  nrPages: number,
  write: boolean,
  pages: number[],
): KernelGen<number> {
  pages.length = 0;
  for (let i = 0; i < nrPages; i++) {
    yield; // cond_resched(), once a page in __get_user_pages
    const pfn = yield* k.vm.pinUserPage(mm, start + i * PAGE_SIZE, write);
    if (pfn < 0) return i > 0 ? i : pfn;
    pages.push(pfn);
  }
  return nrPages;
}

/**
 * `pin_user_pages(start, nr_pages, gup_flags, pages, NULL)` -> `__gup_longterm_locked`
 * (mm/gup.c, 6.3). FOLL_PIN is implied; `gupFlags` may hold FOLL_WRITE and FOLL_LONGTERM.
 * Without FOLL_LONGTERM the pages are pinned where they are. With it, under
 * `memalloc_pin_save()` (PF_MEMALLOC_PIN: the migration targets are allocated without
 * __GFP_MOVABLE and without ALLOC_CMA), the range is pinned and checked with
 * `check_and_migrate_movable_pages` until that returns something other than -EAGAIN, with
 * no bound on the passes, as in 6.3 (and again since 517f496e1e61, merged for v6.16, which
 * reverted 1aaf8c122918's early success when nothing could be isolated: such a folio is
 * only isolated for a while). After a pass that isolated none of the unpinnable folios it
 * found, the model sleeps `LONGTERM_PIN_RETRY_BACKOFF_NS` before the next pass so that the
 * isolator holding them gets to run. Returns the number of pages pinned (their pfns in
 * `pages`, each to be released with `unpinUserPages`; fewer than `nrPages` when a fatal
 * signal came between two pages), or -ENOMEM, or -EINTR (a fatal signal at the first page
 * of a pass; nothing left pinned).
 * An address outside every VMA, or a writable pin of a read-only VMA, throws as
 * `pinUserPage` does; a bad argument throws INVALID_ARGUMENT.
 */
export function* pinUserPages(
  k: Kernel,
  mm: MmView,
  start: number,
  nrPages: number,
  gupFlags: number,
  pages: number[],
  stats?: LongtermPinStats,
): KernelGen<number> {
  if (!Number.isInteger(start) || start < 0 || start % PAGE_SIZE !== 0) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `pin_user_pages: start must be a page-aligned address, got ${String(start)}`,
    );
  }
  if (!Number.isInteger(nrPages) || nrPages < 1) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `pin_user_pages: nr_pages must be a positive integer, got ${String(nrPages)}`,
    );
  }
  if (!Number.isInteger(gupFlags) || (gupFlags & ~(FOLL_WRITE | FOLL_LONGTERM)) !== 0) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `pin_user_pages: gup_flags may hold FOLL_WRITE (0x1) and FOLL_LONGTERM (0x100) only, got ${String(gupFlags)}`,
    );
  }
  if (!Array.isArray(pages)) {
    throw new MmsimError('INVALID_ARGUMENT', 'pin_user_pages: pages must be an array');
  }
  const write = (gupFlags & FOLL_WRITE) !== 0;
  if ((gupFlags & FOLL_LONGTERM) === 0) {
    if (stats !== undefined) stats.attempts++;
    return yield* getUserPagesLocked(k, mm, start, nrPages, write, pages);
  }
  const st = stats ?? longtermPinStats();
  let rc: number;
  let pinned: number;
  for (;;) {
    st.attempts++;
    pinned = yield* getUserPagesLocked(k, mm, start, nrPages, write, pages);
    if (pinned <= 0) {
      // Nothing pinned (-EINTR: a fatal signal at the first page): `__gup_longterm_locked`
      // returns it without checking anything.
      rc = pinned;
      break;
    }
    const collected = st.collected;
    const isolated = st.isolated;
    rc = yield* checkAndMigrateMovablePages(k, mm, pages, st);
    if (rc !== -EAGAIN) break;
    if (st.collected > collected && st.isolated === isolated) {
      // Nothing of this pass could be isolated: every unpinnable folio is held by another
      // isolator (a compaction scanner, another pin). 6.3 retries at once; the retry can
      // only succeed once that isolator, running on its own CPU, puts the folio back. The
      // model lets that CPU run (see LONGTERM_PIN_RETRY_BACKOFF_NS).
      st.backoffs++;
      yield* k.rt.sleepFor(LONGTERM_PIN_RETRY_BACKOFF_NS);
    }
  }
  if (rc !== 0) {
    pages.length = 0;
    return rc;
  }
  return pinned;
}

/**
 * `unpin_user_pages(pages, npages)` (mm/gup.c, 6.3): drop the pin of each page (entries
 * set to -1 are skipped), taken through `mm`.
 */
export function* unpinUserPages(k: Kernel, mm: MmView, pages: readonly number[]): KernelGen {
  for (const pfn of pages) {
    if (pfn >= 0) yield* k.vm.unpinUserPage(mm, pfn);
  }
}
