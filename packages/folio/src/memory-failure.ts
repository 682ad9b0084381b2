import { EBUSY } from '@mmsim/runtime';
import {
  accountFreePages,
  delFromFreeList,
  freeOneBlock,
  freeSlotOf,
  prepNewFolio,
  resetFrames,
} from './buddy.js';
import { MAX_ORDER } from './constants.js';
import { PG_hwpoison } from './flags.js';
import {
  checkPfn,
  FOLIO_TYPE_NORMAL,
  FRAME_BUDDY,
  FRAME_FREE,
  FRAME_POOL_HEAD,
  FRAME_POOL_TAIL,
  type Memmap,
  markWritten,
  markWrittenRange,
  memmapOf,
  type PhysicalMemory,
} from './memmap.js';

/*
 * The frame side of memory failure (mm/memory-failure.c, mm/page_alloc.c, mm/hugetlb.c,
 * Linux 6.3): taking a free page off the buddy for good, dissolving a free hugetlb page
 * so that one of its pages can be taken, and `num_poisoned_pages`. A poisoned page is an
 * order-0 folio with PG_hwpoison and one reference (the one `page_handle_poison` takes
 * with `page_ref_inc`), which no one ever puts: its frame never returns to the buddy.
 */

const poisoned = new WeakMap<Memmap, number>();

/** `num_poisoned_pages` (mm/memory-failure.c, 6.3): pages taken out of use so far. */
export function numPoisonedPages(mem: PhysicalMemory): number {
  return poisoned.get(memmapOf(mem)) ?? 0;
}

/** `num_poisoned_pages_inc(pfn)` (mm/memory-failure.c, 6.3). */
export function numPoisonedPagesInc(mem: PhysicalMemory): void {
  const m = memmapOf(mem);
  poisoned.set(m, (poisoned.get(m) ?? 0) + 1);
}

/** `is_free_buddy_page(page)` (mm/page_alloc.c, 6.3): the frame lies in a free buddy block. */
export function isFreeBuddyPage(mem: PhysicalMemory, pfn: number): boolean {
  const m = memmapOf(mem);
  checkPfn(m, pfn);
  return buddyBlockOf(m, pfn) >= 0;
}

/** The first pfn of the free buddy block containing `pfn`, or -1. */
function buddyBlockOf(m: Memmap, pfn: number): number {
  for (let order = 0; order < MAX_ORDER; order++) {
    const head = pfn - (pfn & ((1 << order) - 1));
    if (m.state[head] === FRAME_BUDDY && m.order[head]! >= order) {
      return head + (1 << m.order[head]!) > pfn ? head : -1;
    }
  }
  return -1;
}

/**
 * `take_page_off_buddy(page)` (mm/page_alloc.c, 6.3): if `pfn` is in a free buddy block,
 * take the block off its free list, give every other part back in the largest aligned
 * pieces (`break_down_buddy_pages`), and keep `pfn` out. Returns whether it did. The page
 * then becomes an order-0 folio with one reference: in the kernel it sits at refcount 0
 * until `page_handle_poison`'s `page_ref_inc`, which follows under the same `mf_mutex`
 * with no scheduling point in between, so the model gives it the reference here.
 */
export function takePageOffBuddy(mem: PhysicalMemory, pfn: number): boolean {
  const m = memmapOf(mem);
  checkPfn(m, pfn);
  const head = buddyBlockOf(m, pfn);
  if (head < 0) return false;
  const nid = m.nid[head]!;
  const order = m.order[head]!;
  const kind = m.freeKind[head]!;
  delFromFreeList(m, head, freeSlotOf(m, head));
  accountFreePages(m, nid, kind, -(1 << order));
  m.state.fill(FRAME_FREE, head, head + (1 << order));
  markWrittenRange(m, head, 1 << order);
  // break_down_buddy_pages: halve the block, freeing the half without the target.
  let lo = head;
  let size = 1 << order;
  let current = order;
  while (current > 0) {
    current--;
    size >>= 1;
    const other = pfn < lo + size ? lo + size : lo;
    if (other === lo) lo += size;
    freeOneBlock(m, other, current, false);
  }
  prepNewFolio(m, pfn, 0, FOLIO_TYPE_NORMAL);
  return true;
}

/**
 * `dissolve_free_huge_page(page)` (mm/hugetlb.c, 6.3) for the default hstate: a free
 * hugetlb folio in a node's pool (the frame `pfn` belongs to) leaves the pool
 * (`remove_hugetlb_folio`: `nr_huge_pages_node` and `free_huge_pages_node` drop) and its
 * frames go back to the buddy (`update_and_free_hugetlb_folio`). Returns 0 when `pfn` was
 * not in a free hugetlb folio or it was dissolved. Hugetlb reservations are not modelled,
 * so the kernel's -EBUSY for a page that reservations need never happens.
 */
export function dissolveFreeHugeFolio(mem: PhysicalMemory, pfn: number): number {
  const m = memmapOf(mem);
  checkPfn(m, pfn);
  const s = m.state[pfn];
  if (s !== FRAME_POOL_HEAD && s !== FRAME_POOL_TAIL) return 0;
  const folio = m.headOf[pfn]!;
  if (m.state[folio] !== FRAME_POOL_HEAD) return -EBUSY;
  const nid = m.nid[folio]!;
  const next = m.next[folio]!;
  const prev = m.prev[folio]!;
  if (prev >= 0) m.next[prev] = next;
  else m.hugeFreeHead[nid] = next;
  if (next >= 0) m.prev[next] = prev;
  m.next[folio] = -1;
  m.prev[folio] = -1;
  markWritten(m, folio);
  if (prev >= 0) markWritten(m, prev);
  if (next >= 0) markWritten(m, next);
  m.freeHugePages[nid]!--;
  m.nrHugePages[nid]!--;
  const order = m.order[folio]!;
  resetFrames(m, folio, 1 << order);
  freeOneBlock(m, folio, order, false);
  return 0;
}

/**
 * The model of `free_pages_prepare`'s hwpoison exit (mm/page_alloc.c, 6.3): an order-0
 * page with PG_hwpoison whose last reference goes is not given back to the buddy. Its
 * only kernel path is `page_handle_poison(page, ..., release)`, which puts the page and
 * then takes a reference again (`page_ref_inc`); the model keeps the frame as that
 * one-reference folio. Returns true when `folio` was kept.
 */
export function keepPoisonedOffBuddy(m: Memmap, folio: number): boolean {
  if (m.order[folio] !== 0 || (m.flags[folio]! & (1 << PG_hwpoison)) === 0) return false;
  m.refcount[folio] = 1;
  markWritten(m, folio);
  return true;
}
