import { MmsimError } from '@mmsim/runtime';
import { freeListBase, freeOneBlock, pageblockFreeKind, resetFrames } from './buddy.js';
import { MAX_ORDER } from './constants.js';
import { PG_hwpoison } from './flags.js';
import { type FolioList, folioListInternals } from './folio-list.js';
import { badPageStateReason } from './free-folio.js';
import {
  FOLIO_TYPE_NORMAL,
  type Folio,
  FRAME_BUDDY,
  FRAME_HEAD,
  type Memmap,
  markWritten,
  memmapOf,
  type PhysicalMemory,
} from './memmap.js';
import { PAGEBLOCK_ORDER } from './pageblock.js';
import { folioPut } from './refcount.js';

/**
 * Puts one reference of every folio on `list`, front to back, each taken off the list
 * first: the result of `list.del(f); folioPut(mem, f)` for each folio in turn, the loop of
 * `release_freepages` (mm/compaction.c, Linux 6.3), which gives compaction's unused free
 * pages back with one `__free_page` each. Returns the highest pfn put, -1 for an empty list
 * (`release_freepages` restarts the free scanner's cache there).
 *
 * Why a function of its own: compaction hands back a few hundred pages a pass, and per page
 * the list unlink, `folioPut` and its checks cost as much as the buddy free. An order-0 folio
 * whose last reference this is and that frees cleanly (the common case) is unlinked and freed
 * here directly, through the same `resetFrames` and `freeOneBlock` (`__free_one_page`) as
 * `folioPut`, in the same order, so the buddy ends in the same state with the same free-list
 * order, counters and write stamps. Anything else (another reference held, a large or
 * hugetlb folio, a poisoned page, the zero page, a bad page state, a folio not on the list)
 * goes through `list.del` and `folioPut` themselves, which count, free or throw exactly as
 * the loop would, with the rest of the list still on it.
 */
export function putFolioList(mem: PhysicalMemory, list: FolioList): number {
  const m = memmapOf(mem);
  const friend = folioListInternals();
  if (friend.memmap(list) !== m) {
    throw new MmsimError('INVALID_ARGUMENT', 'the list must be a FolioList of the same memory');
  }
  let high = -1;
  while (!list.isEmpty()) {
    const id = friend.id(list);
    let f = list.first();
    let freed = 0;
    while (f >= 0 && freesCleanly(m, f, id)) {
      const order = cleanBlockOrder(m, f, id);
      const nr = 1 << order;
      // The block's pages follow each other on the list (cleanBlockOrder): what follows it
      // is the last page's next. list.del of each: off the list, links cleared (the free
      // below may link another frame), by fills for a long block.
      const end = f + nr;
      const next = m.next[end - 1]!;
      if (nr <= UNLINK_LOOP_MAX) {
        for (let p = f; p < end; p++) {
          m.listId[p] = 0;
          m.next[p] = -1;
          m.prev[p] = -1;
        }
      } else {
        m.listId.fill(0, f, end);
        m.next.fill(-1, f, end);
        m.prev.fill(-1, f, end);
      }
      if (f + nr - 1 > high) high = f + nr - 1;
      if (order === 0) {
        resetFrames(m, f, 1);
        freeOneBlock(m, f, 0, false);
      } else freeAscendingBlock(m, f, order);
      freed += nr;
      f = next;
    }
    friend.droppedFront(list, f, freed);
    if (f >= 0) {
      const folio: Folio = f;
      list.del(folio);
      if (folio > high) high = folio;
      folioPut(mem, folio);
    }
  }
  return high;
}

/** Up to this many pages a block is unlinked page by page (a fill call costs more). */
const UNLINK_LOOP_MAX = 16;

/**
 * Whether `folio_put` of `f` (on the list `id`) frees an order-0 page straight to the buddy
 * with nothing to report: its last reference, a normal page, not poisoned, not the zero page,
 * not a bad page once off the list.
 */
function freesCleanly(m: Memmap, f: number, id: number): boolean {
  return (
    m.state[f] === FRAME_HEAD &&
    m.listId[f] === id &&
    m.refcount[f] === 1 &&
    m.order[f] === 0 &&
    m.folioType[f] === FOLIO_TYPE_NORMAL &&
    f !== m.zeroPfn &&
    (m.flags[f]! & (1 << PG_hwpoison)) === 0 &&
    badPageStateReason(m, f) === null
  );
}

/**
 * The largest `order` (at most pageblock order) such that the list holds, from `f` on, the
 * pages f, f + 1, ..., f + 2^order - 1 in that order, `f` aligned to 2^order, each freeing
 * cleanly: a block `freeAscendingBlock` can free at once. 0 when there is none.
 */
function cleanBlockOrder(m: Memmap, f: number, id: number): number {
  let max = 0;
  while (max < PAGEBLOCK_ORDER && (f & ((2 << max) - 1)) === 0) max++;
  if (max === 0) return 0;
  let run = 1;
  const want = 1 << max;
  for (let p = f; run < want; run++) {
    const q = m.next[p]!;
    if (q !== p + 1 || !freesCleanly(m, q, id)) break;
    p = q;
  }
  return 31 - Math.clz32(run);
}

/**
 * Frees the order-0 pages [b, b + 2^order), taken off the list, as `freeOneBlock` one by one
 * in ascending order leaves them (`__free_one_page` per page, 6.3), with one merge walk:
 * while the block fills up, each page only merges with the pages freed before it (its buddies
 * at orders below `order` all lie in the block), so the free lists end as they were, plus
 * whatever the last page's merge does outside the block, which is `freeOneBlock(b, order)`.
 * What the one-by-one frees leave behind besides is written here: every frame reset with
 * refcount 0; each block that was briefly on a free list (at each even offset j, last of order
 * ctz(j) - 1, and b itself, of order `order` - 1) keeps its free kind and that order; the
 * lists of orders below `order` were written, and their first (head placement) or last (tail
 * placement, when the next-higher buddy was free) block got a neighbour's write stamp.
 */
function freeAscendingBlock(m: Memmap, b: number, order: number): void {
  const nr = 1 << order;
  resetFrames(m, b, nr);
  m.refcount.fill(0, b, b + nr);
  const kind = pageblockFreeKind(m, b);
  const base = freeListBase(m, kind, m.nid[b]!);
  for (let j = 2; j < nr; j += 2) {
    m.freeKind[b + j] = kind;
    m.order[b + j] = 31 - Math.clz32(j & -j) - 1;
  }
  m.freeKind[b] = kind;
  m.order[b] = order - 1;
  // The lists of orders below `order` of this kind and node were written.
  m.freeOrdersWritten[base / MAX_ORDER]! |= (1 << order) - 1;
  for (let t = 0; t < order; t++) {
    const slot = base + t;
    // At offset 0 the block of order t went to the head, unless (t = order - 1) its
    // next-higher buddy, outside the block, was free; at offset 2^(t+1) (below order - 1) to
    // the tail, the block below it being free.
    let head = true;
    if (t === order - 1) {
      const higher = b ^ (1 << order);
      head = !(t < MAX_ORDER - 2 && m.state[higher] === FRAME_BUDDY && m.order[higher] === order);
    }
    const first = m.freeHead[slot]!;
    if (head && first >= 0) markWritten(m, first);
    const last = m.freeTail[slot]!;
    if ((t < order - 1 || !head) && last >= 0) markWritten(m, last);
  }
  freeOneBlock(m, b, order, false);
}
