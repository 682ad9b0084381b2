import { checkInt, ENOMEM, ENOSPC, MmsimError } from '@mmsim/runtime';
import {
  type AllocOptions,
  allocOnNode,
  allocOnNodeIn,
  freeOneBlock,
  pageblockFreeKind,
  prepNewFolio,
  resetFrames,
} from './buddy.js';
import { HPAGE_PMD_NR, HPAGE_PMD_ORDER } from './constants.js';
import { PG_head } from './flags.js';
import {
  checkFolio,
  checkNid,
  FOLIO_TYPE_HUGETLB,
  type Folio,
  FRAME_POOL_HEAD,
  FRAME_POOL_TAIL,
  FREE_KIND_NORMAL,
  hugeTemporaryArray,
  type Memmap,
  markWritten,
  markWrittenRange,
  memmapOf,
  type PhysicalMemory,
} from './memmap.js';

/**
 * Per-node pools of 2 MiB hugetlb folios (mm/hugetlb.c, Linux 6.3): `hugepage_freelists[nid]`
 * with the `nr_huge_pages_node` / `free_huge_pages_node` / `surplus_huge_pages_node`
 * counters of the default hstate. Persistent pages are reserved from the buddy when the
 * memory is created (`hugetlbPages` per node, as `hugepages=` on the command line).
 * Surplus pages (`alloc_surplus_hugetlb_folio`, capped by `nr_overcommit_hugepages`) and
 * temporary pages (`alloc_migrate_hugetlb_folio`, for a migration target when the pools
 * are empty) come from the buddy and go back to it when freed (`free_huge_page`).
 * Reservations (`resv_huge_pages`, see `hugetlbAcctMemory`) are counted globally as the
 * kernel does; subpools, pool resizing and gigantic pages are not modelled.
 */

/**
 * `enqueue_hugetlb_folio`: put a free hugetlb folio at the head of its node's pool list.
 * The frames keep their compound shape, as the kernel keeps a free huge page compound.
 */
export function enqueueHugetlbFolio(m: Memmap, folio: number): void {
  const nid = m.nid[folio]!;
  m.state[folio] = FRAME_POOL_HEAD;
  m.order[folio] = HPAGE_PMD_ORDER;
  m.folioType[folio] = FOLIO_TYPE_HUGETLB;
  m.headOf[folio] = folio;
  m.flags[folio] = 1 << PG_head;
  markWrittenRange(m, folio, HPAGE_PMD_NR);
  // Two fills: a pass of two writes per tail cost more (the pools are filled at every build).
  m.state.fill(FRAME_POOL_TAIL, folio + 1, folio + HPAGE_PMD_NR);
  m.headOf.fill(folio, folio + 1, folio + HPAGE_PMD_NR);
  const head = m.hugeFreeHead[nid]!;
  m.next[folio] = head;
  m.prev[folio] = -1;
  if (head >= 0) m.prev[head] = folio;
  if (head >= 0) markWritten(m, head);
  m.hugeFreeHead[nid] = folio;
  m.freeHugePages[nid]!++;
}

/** `dequeue_hugetlb_folio_node_exact`: take the first folio of a node's pool, or -1. */
function dequeueHugetlbFolio(m: Memmap, nid: number, pin = false): number {
  let folio = m.hugeFreeHead[nid]!;
  if (pin) while (folio >= 0 && !poolFolioLongtermPinnable(m, folio)) folio = m.next[folio]!;
  if (folio < 0) return -1;
  unlinkFreeHuge(m, folio);
  return folio;
}

/**
 * `folio_is_longterm_pinnable` (include/linux/mm.h, 6.3) for a free pool folio: its
 * pageblock is neither MIGRATE_CMA nor MIGRATE_ISOLATE, and it is not in ZONE_MOVABLE.
 */
function poolFolioLongtermPinnable(m: Memmap, folio: number): boolean {
  if (pageblockFreeKind(m, folio) !== FREE_KIND_NORMAL) return false;
  const zm = m.zoneMovablePfn;
  return zm === null || folio < zm[m.nid[folio]!]!;
}

/**
 * Allocates a hugetlb folio from node `nid`'s pool, falling back to the other nodes by
 * distance unless `thisNode` (a model of `alloc_hugetlb_folio` /
 * `dequeue_hugetlb_folio_nodemask`, Linux 6.3). Returns the folio (order 9, refcount 1,
 * `folioTestHugetlb` true, content 0) or `-ENOMEM` when the pools have no page that is
 * not reserved (`available_huge_pages`: free minus `resv_huge_pages`). The last
 * `folioPut` returns it to the pool of its node, not to the buddy.
 */
export function allocHugetlbFolio(
  mem: PhysicalMemory,
  nid: number,
  options?: AllocOptions,
): Folio | number {
  const m = memmapOf(mem);
  checkNid(m, nid);
  // Without a reservation of its own an allocation leaves the reserved pages alone
  // (`available_huge_pages(h)`, mm/hugetlb.c 6.3).
  if (sumOf(m.freeHugePages) - m.resvHugePages <= 0) return -ENOMEM;
  return dequeueAnyNode(m, nid, options?.thisNode === true, options?.movable === false);
}

function dequeueAnyNode(m: Memmap, nid: number, thisNode: boolean, pin = false): Folio | number {
  let folio = dequeueHugetlbFolio(m, nid, pin);
  if (folio < 0 && !thisNode) {
    const zonelist = m.fallback[nid]!;
    for (let i = 1; i < zonelist.length && folio < 0; i++) {
      folio = dequeueHugetlbFolio(m, zonelist[i]!, pin);
    }
  }
  if (folio < 0) return -ENOMEM;
  prepNewFolio(m, folio, HPAGE_PMD_ORDER, FOLIO_TYPE_HUGETLB);
  return folio;
}

/**
 * `alloc_fresh_hugetlb_folio` for the 2 MiB hstate (mm/hugetlb.c, 6.3): an order-9 block
 * from the buddy (`alloc_buddy_huge_page`: `__alloc_pages` on `nid`, falling back by
 * distance unless `__GFP_THISNODE`), made a hugetlb folio (refcount 1, content 0) and
 * counted in `nr_huge_pages_node` of the node it came from (`__prep_account_new_huge_page`).
 * Counts the `htlb_buddy_alloc_success` / `_fail` event. Returns the folio or -1.
 */
function allocFreshHugetlbFolio(m: Memmap, nid: number, thisNode: boolean, movable = true): number {
  const take = movable ? allocOnNode : allocNormalZone;
  let folio = take(m, HPAGE_PMD_ORDER, nid);
  if (folio < 0 && !thisNode) {
    const zonelist = m.fallback[nid]!;
    for (let i = 1; i < zonelist.length && folio < 0; i++) {
      folio = take(m, HPAGE_PMD_ORDER, zonelist[i]!);
    }
  }
  if (folio < 0) {
    m.htlbBuddyAllocFail++;
    return -1;
  }
  m.htlbBuddyAllocSuccess++;
  prepNewFolio(m, folio, HPAGE_PMD_ORDER, FOLIO_TYPE_HUGETLB);
  m.nrHugePages[m.nid[folio]!]!++;
  return folio;
}

/**
 * An allocation without __GFP_MOVABLE (`gfp_zone` gives ZONE_NORMAL, no ALLOC_CMA): an
 * order-`order` block of node `nid` below its ZONE_MOVABLE, from the normal free lists.
 */
function allocNormalZone(m: Memmap, order: number, nid: number): number {
  const zm = m.zoneMovablePfn;
  const hi = zm === null ? m.nodeEnd[nid]! : zm[nid]!;
  return allocOnNodeIn(m, order, nid, m.nodeStart[nid]!, hi);
}

/**
 * `alloc_migrate_hugetlb_folio(h, gfp_mask, nid, nmask)` (mm/hugetlb.c, 6.3; since
 * ab5ac90aecf5, 4.16): a fresh huge page from the buddy for a migration target, marked
 * temporary (HPageTemporary): counted in `nr_huge_pages` but not as surplus, and not
 * checked against `nr_overcommit_hugepages`. It leaves the pools when its last reference
 * goes (`free_huge_page`), unless `move_hugetlb_state` hands the temporary mark to the
 * source first. Not put on the active list. Returns the folio or -ENOMEM.
 */
export function allocMigrateHugetlbFolio(
  mem: PhysicalMemory,
  nid: number,
  options?: AllocOptions,
): Folio | number {
  const m = memmapOf(mem);
  checkNid(m, nid);
  const folio = allocFreshHugetlbFolio(
    m,
    nid,
    options?.thisNode === true,
    options?.movable !== false,
  );
  if (folio < 0) return -ENOMEM;
  hugeTemporaryArray(m)[folio] = 1;
  markWritten(m, folio);
  return folio;
}

/** Options of `allocHugetlbFolioNodemask`. */
export interface HugetlbNodemaskOptions extends AllocOptions {
  /**
   * The `allow_alloc_fallback` argument of 6.10 and later: false adds __GFP_THISNODE to
   * the buddy step only (the pools are still searched by distance). Default true, which
   * is what every kernel before it does.
   */
  readonly allowAllocFallback?: boolean;
}

/**
 * `alloc_hugetlb_folio_nodemask(h, preferred_nid, nmask, gfp_mask)` (mm/hugetlb.c, 6.3),
 * the migration-target allocation: a free page of the pools (`dequeue_hugetlb_folio_nodemask`,
 * `nid` first, then by distance unless `thisNode`), else a temporary page from the buddy
 * (`alloc_migrate_hugetlb_folio`, same node rule, and on `nid` only when
 * `allowAllocFallback` is false): all the pools are tried before the buddy. Returns the
 * folio or -ENOMEM; `folioTestHugetlbTemporary` tells the two apart. `movable: false` is
 * the context of a longterm pin (`memalloc_pin_save`, PF_MEMALLOC_PIN):
 * `dequeue_hugetlb_folio_node_exact` passes over free pages that are not
 * `folio_is_longterm_pinnable` (ZONE_MOVABLE, CMA or isolated pageblocks), and the buddy
 * step, whose gfp loses __GFP_MOVABLE in `current_gfp_context`, takes an order-9 block of
 * ZONE_NORMAL outside CMA only.
 */
export function allocHugetlbFolioNodemask(
  mem: PhysicalMemory,
  nid: number,
  options?: HugetlbNodemaskOptions,
): Folio | number {
  const thisNode = options?.thisNode === true;
  const movable = options?.movable !== false;
  const folio = allocHugetlbFolio(mem, nid, { thisNode, movable });
  if (folio >= 0) return folio;
  return allocMigrateHugetlbFolio(mem, nid, {
    thisNode: thisNode || options?.allowAllocFallback === false,
    movable,
  });
}

/**
 * `alloc_surplus_hugetlb_folio(h, gfp_mask, nid, nmask)` (mm/hugetlb.c, 6.3), what the
 * fault path (`alloc_buddy_hugetlb_folio_with_mpol`) falls back to when the pools are
 * empty: NULL once `surplus_huge_pages >= nr_overcommit_huge_pages`, else a fresh page
 * from the buddy counted as surplus on its node. Returns the folio or -ENOMEM.
 */
export function allocSurplusHugetlbFolio(
  mem: PhysicalMemory,
  nid: number,
  options?: AllocOptions,
): Folio | number {
  const m = memmapOf(mem);
  checkNid(m, nid);
  if (sumOf(m.surplusHugePages) >= m.nrOvercommitHugePages) return -ENOMEM;
  const folio = allocFreshHugetlbFolio(m, nid, options?.thisNode === true);
  if (folio < 0) return -ENOMEM;
  m.surplusHugePages[m.nid[folio]!]!++;
  return folio;
}

/**
 * `free_huge_page(page)` (mm/hugetlb.c, 6.3) once the last reference is gone: a temporary
 * folio leaves the pool (`remove_hugetlb_folio(h, folio, false)`: `nr_huge_pages_node`
 * drops, surplus untouched) and goes back to the buddy; otherwise, while its node has
 * surplus pages, it leaves the pool as one of them (`remove_hugetlb_folio(h, folio, true)`);
 * otherwise it joins its node's free list (`enqueue_hugetlb_folio`). The frames must
 * already be reset (`resetFrames`); `order` is the folio's order before the reset.
 */
export function freeHugeFolio(m: Memmap, folio: number, order: number): void {
  const nid = m.nid[folio]!;
  const temporary = m.hugeTemporary;
  if (temporary !== null && temporary[folio] === 1) {
    temporary[folio] = 0;
    markWritten(m, folio);
    m.nrHugePages[nid]!--;
    freeOneBlock(m, folio, order, false);
  } else if (m.surplusHugePages[nid]! > 0) {
    m.surplusHugePages[nid]!--;
    m.nrHugePages[nid]!--;
    freeOneBlock(m, folio, order, false);
  } else {
    enqueueHugetlbFolio(m, folio);
  }
}

/**
 * The temporary-state part of `move_hugetlb_state(old, new, reason)` (mm/hugetlb.c, 6.3):
 * when `dst` is temporary, `src` takes the mark over (it will be freed to the buddy, and
 * `dst` stays in the pool of its node) and, if the nodes differ and src's node has surplus
 * pages, one surplus page moves from src's node to dst's node.
 */
export function hugetlbMoveTemporaryState(mem: PhysicalMemory, src: Folio, dst: Folio): void {
  const m = memmapOf(mem);
  checkFolio(m, src);
  checkFolio(m, dst);
  const temporary = m.hugeTemporary;
  if (temporary === null || temporary[dst] !== 1) return;
  temporary[src] = 1;
  temporary[dst] = 0;
  markWritten(m, src);
  markWritten(m, dst);
  const oldNid = m.nid[src]!;
  const newNid = m.nid[dst]!;
  if (oldNid === newNid) return;
  if (m.surplusHugePages[oldNid]! > 0) {
    m.surplusHugePages[oldNid]!--;
    m.surplusHugePages[newNid]!++;
  }
}

/** `folio_test_hugetlb_temporary` (HPageTemporary). */
export function folioTestHugetlbTemporary(mem: PhysicalMemory, folio: Folio): boolean {
  const m = memmapOf(mem);
  checkFolio(m, folio);
  return m.hugeTemporary?.[folio] === 1;
}

function sumOf(a: Int32Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) n += a[i]!;
  return n;
}

/**
 * The counters of node `nid`'s 2 MiB pool, named as
 * /sys/devices/system/node/node<nid>/hugepages/hugepages-2048kB/ names its files
 * (`nr_hugepages` = `nr_huge_pages_node`, temporary pages included).
 */
export interface HugetlbNodeCounters {
  readonly nr_hugepages: number;
  readonly free_hugepages: number;
  readonly surplus_hugepages: number;
}

/** The sysfs counters of node `nid`'s pool (`hugetlb_report_node_meminfo` reads the same). */
export function hugetlbNodeCounters(mem: PhysicalMemory, nid: number): HugetlbNodeCounters {
  const m = memmapOf(mem);
  checkNid(m, nid);
  return {
    nr_hugepages: m.nrHugePages[nid]!,
    free_hugepages: m.freeHugePages[nid]!,
    surplus_hugepages: m.surplusHugePages[nid]!,
  };
}

/**
 * The global counters as /proc/meminfo shows them (`hugetlb_report_meminfo`, default
 * hstate): `HugePages_Total` = `nr_huge_pages`, `HugePages_Free`, `HugePages_Rsvd`
 * (`resv_huge_pages`), `HugePages_Surp`. The kernel keeps the global and the
 * per-node counters in step; the model sums the per-node ones.
 */
export interface HugetlbMeminfo {
  readonly HugePages_Total: number;
  readonly HugePages_Free: number;
  readonly HugePages_Rsvd: number;
  readonly HugePages_Surp: number;
}

/** The /proc/meminfo hugetlb lines, as numbers. */
export function hugetlbMeminfo(mem: PhysicalMemory): HugetlbMeminfo {
  const m = memmapOf(mem);
  return {
    HugePages_Total: sumOf(m.nrHugePages),
    HugePages_Free: sumOf(m.freeHugePages),
    HugePages_Rsvd: m.resvHugePages,
    HugePages_Surp: sumOf(m.surplusHugePages),
  };
}

/** `surplus_huge_pages_node[nid]`. */
export function hugetlbSurplusHugePages(mem: PhysicalMemory, nid: number): number {
  const m = memmapOf(mem);
  checkNid(m, nid);
  return m.surplusHugePages[nid]!;
}

/** `vm.nr_overcommit_hugepages` (`h->nr_overcommit_huge_pages`). */
export function hugetlbNrOvercommitHugePages(mem: PhysicalMemory): number {
  return memmapOf(mem).nrOvercommitHugePages;
}

/**
 * Writing /proc/sys/vm/nr_overcommit_hugepages (`hugetlb_overcommit_handler`): sets the cap
 * on surplus pages. Existing surplus pages above the new cap stay until freed, as in the
 * kernel. Throws INVALID_ARGUMENT for a value that is not a non-negative integer.
 */
export function hugetlbSetNrOvercommitHugePages(mem: PhysicalMemory, n: number): void {
  checkInt('nr_overcommit_hugepages', n, 0, 0x7fffffff);
  memmapOf(mem).nrOvercommitHugePages = n;
}

/** The `htlb_buddy_alloc_success` and `htlb_buddy_alloc_fail` events of /proc/vmstat. */
export function hugetlbBuddyAllocEvents(mem: PhysicalMemory): {
  readonly htlb_buddy_alloc_success: number;
  readonly htlb_buddy_alloc_fail: number;
} {
  const m = memmapOf(mem);
  return {
    htlb_buddy_alloc_success: m.htlbBuddyAllocSuccess,
    htlb_buddy_alloc_fail: m.htlbBuddyAllocFail,
  };
}

/** `folio_test_hugetlb`: the folio is a hugetlb page (from a pool, or surplus or temporary). */
export function folioTestHugetlb(mem: PhysicalMemory, folio: Folio): boolean {
  const m = memmapOf(mem);
  checkFolio(m, folio);
  return m.folioType[folio] === FOLIO_TYPE_HUGETLB;
}

/** `nr_huge_pages_node[nid]`: hugetlb folios that belong to node `nid`'s pool, free or not. */
export function hugetlbNrHugePages(mem: PhysicalMemory, nid: number): number {
  const m = memmapOf(mem);
  checkNid(m, nid);
  return m.nrHugePages[nid]!;
}

/** `free_huge_pages_node[nid]`: hugetlb folios free in node `nid`'s pool. */
export function hugetlbFreeHugePages(mem: PhysicalMemory, nid: number): number {
  const m = memmapOf(mem);
  checkNid(m, nid);
  return m.freeHugePages[nid]!;
}

/** The free hugetlb folios of node `nid`'s pool, head of the list first. */
export function hugetlbFreeList(mem: PhysicalMemory, nid: number): Folio[] {
  const m = memmapOf(mem);
  checkNid(m, nid);
  const out: Folio[] = [];
  for (
    let p = m.hugeFreeHead[nid]!;
    p >= 0 && out.length <= m.freeHugePages[nid]!;
    p = m.next[p]!
  ) {
    out.push(p);
  }
  return out;
}

/** `h->resv_huge_pages` (HugePages_Rsvd). */
export function hugetlbResvHugePages(mem: PhysicalMemory): number {
  return memmapOf(mem).resvHugePages;
}

/**
 * `hugetlb_acct_memory(h, delta)` (mm/hugetlb.c, 6.3) without cpusets. A positive `delta`
 * reserves pool pages: `gather_surplus_pages` first grows the pool with surplus pages from
 * the buddy (`alloc_surplus_hugetlb_folio`, within `nr_overcommit_hugepages`, put on the
 * free lists) until `free_huge_pages` covers `resv_huge_pages + delta`, and gives them
 * back and fails with -ENOMEM when it cannot; then `resv_huge_pages += delta`. A negative
 * `delta` returns reservations, and `return_unused_surplus_pages` frees surplus pages
 * that are no longer needed (at most -delta, only free ones) back to the buddy.
 * Returns 0 or -ENOMEM. Throws INVALID_ARGUMENT for a non-integer delta or one that would
 * make the count negative.
 */
export function hugetlbAcctMemory(mem: PhysicalMemory, delta: number, nid = 0): number {
  const m = memmapOf(mem);
  checkNid(m, nid);
  checkInt('delta', delta, -0x7fffffff, 0x7fffffff);
  if (delta > 0) {
    const got: number[] = [];
    while (sumOf(m.freeHugePages) < m.resvHugePages + delta) {
      const folio =
        sumOf(m.surplusHugePages) < m.nrOvercommitHugePages
          ? allocFreshHugetlbFolio(m, nid, false)
          : -1;
      if (folio < 0) {
        // Not enough: the pages gathered go back (free_huge_page of each).
        for (const f of got) releaseFreeSurplus(m, f);
        return -ENOMEM;
      }
      m.surplusHugePages[m.nid[folio]!]!++;
      resetHugetlbForPool(m, folio);
      enqueueHugetlbFolio(m, folio);
      got.push(folio);
    }
    m.resvHugePages += delta;
    return 0;
  }
  if (m.resvHugePages + delta < 0) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `hugetlb_acct_memory: returning ${-delta} reservations but only ${m.resvHugePages} are held`,
    );
  }
  m.resvHugePages += delta;
  // return_unused_surplus_pages: free surplus pages nobody needs any more.
  let n = -delta;
  for (let nid2 = 0; nid2 < m.nrHugePages.length && n > 0; nid2++) {
    while (n > 0 && m.surplusHugePages[nid2]! > 0 && m.freeHugePages[nid2]! > 0) {
      if (sumOf(m.freeHugePages) <= m.resvHugePages) return 0;
      const folio = dequeueHugetlbFolio(m, nid2);
      if (folio < 0) break;
      releaseFreeSurplus(m, folio, true);
      n--;
    }
  }
  return 0;
}

/** A fresh folio's frames as a pooled free page expects them (refcount 0, no flags). */
function resetHugetlbForPool(m: Memmap, folio: number): void {
  resetFrames(m, folio, HPAGE_PMD_NR);
}

/**
 * `remove_hugetlb_folio(h, folio, true)` + `update_and_free_hugetlb_folio` for a free
 * surplus page: out of the pool (off the free list unless `dequeued`), back to the buddy.
 */
function releaseFreeSurplus(m: Memmap, folio: number, dequeued = false): void {
  const nid = m.nid[folio]!;
  if (!dequeued) unlinkFreeHuge(m, folio);
  m.surplusHugePages[nid]!--;
  m.nrHugePages[nid]!--;
  resetFrames(m, folio, HPAGE_PMD_NR);
  freeOneBlock(m, folio, HPAGE_PMD_ORDER, false);
}

/** Takes a free pooled folio off its node's free list. */
function unlinkFreeHuge(m: Memmap, folio: number): void {
  const nid = m.nid[folio]!;
  const prev = m.prev[folio]!;
  const next = m.next[folio]!;
  if (prev >= 0) m.next[prev] = next;
  else m.hugeFreeHead[nid] = next;
  if (next >= 0) m.prev[next] = prev;
  m.next[folio] = -1;
  m.prev[folio] = -1;
  markWritten(m, folio);
  if (prev >= 0) markWritten(m, prev);
  if (next >= 0) markWritten(m, next);
  m.freeHugePages[nid]!--;
}

/**
 * The pool half of `alloc_hugetlb_folio(vma, addr, avoid_reserve)` (mm/hugetlb.c, 6.3):
 * `dequeue_hugetlb_folio_vma`, then `alloc_buddy_hugetlb_folio_with_mpol`. With
 * `useReserve` (the mapping holds a reservation for this page, `vma_has_reserves`, and
 * `avoid_reserve` is false) a pooled page is taken even if all free pages are reserved,
 * and `resv_huge_pages` drops by one; otherwise only an unreserved page
 * (`available_huge_pages`). Falls back to a surplus page from the buddy. Returns the
 * folio (refcount 1) or -ENOSPC, the error the fault turns into SIGBUS.
 */
export function allocHugetlbFolioForFault(
  mem: PhysicalMemory,
  nid: number,
  useReserve: boolean,
  options?: AllocOptions,
): Folio | number {
  const m = memmapOf(mem);
  checkNid(m, nid);
  const thisNode = options?.thisNode === true;
  let folio: number = -1;
  if (useReserve || sumOf(m.freeHugePages) - m.resvHugePages > 0) {
    folio = dequeueAnyNode(m, nid, thisNode);
    if (folio >= 0 && useReserve) m.resvHugePages--;
  }
  if (folio >= 0) return folio;
  const surplus = allocSurplusHugetlbFolio(mem, nid, options);
  return surplus >= 0 ? surplus : -ENOSPC;
}
