import { MmsimError } from '@mmsim/runtime';
import { freeOneBlock, resetFrames } from './buddy.js';
import { PG_hwpoison } from './flags.js';
import { type FolioList, folioListInternals } from './folio-list.js';
import { badPageStateReason } from './free-folio.js';
import {
  FOLIO_TYPE_NORMAL,
  type Folio,
  FRAME_HEAD,
  memmapOf,
  type PhysicalMemory,
} from './memmap.js';
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
  const poisoned = 1 << PG_hwpoison;
  let high = -1;
  while (!list.isEmpty()) {
    const id = friend.id(list);
    let f = list.first();
    let freed = 0;
    while (
      f >= 0 &&
      m.state[f] === FRAME_HEAD &&
      m.listId[f] === id &&
      m.refcount[f] === 1 &&
      m.order[f] === 0 &&
      m.folioType[f] === FOLIO_TYPE_NORMAL &&
      f !== m.zeroPfn &&
      (m.flags[f]! & poisoned) === 0 &&
      badPageStateReason(m, f) === null
    ) {
      const next = m.next[f]!;
      // list.del: off the list, links cleared (the free below may link another frame).
      m.listId[f] = 0;
      m.next[f] = -1;
      m.prev[f] = -1;
      if (f > high) high = f;
      resetFrames(m, f, 1);
      freeOneBlock(m, f, 0, false);
      freed++;
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
