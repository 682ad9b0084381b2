import { MmsimError } from '@mmsim/runtime';
import { freeOneBlock, resetFrames } from './buddy.js';
import { formatFlags, PAGE_FLAGS_CHECK_AT_FREE, PG_mlocked } from './flags.js';
import { freeHugeFolio } from './hugetlb.js';
import { FOLIO_TYPE_HUGETLB, type Memmap } from './memmap.js';
import { keepPoisonedOffBuddy } from './memory-failure.js';

/**
 * Freeing a folio whose last reference was put: `__folio_put` -> `free_pages_prepare` /
 * `free_huge_page` (Linux 6.3), minus the LRU removal of `__page_cache_release`: a folio
 * still on a list (an LRU list included) is a bad page here, so the LRU layer must take
 * the folio off its list before the last put.
 */

/** PG_mlocked is cleared on release (`__page_cache_release` counts UNEVICTABLE_PGCLEARED). */
const CHECK_AT_FREE = PAGE_FLAGS_CHECK_AT_FREE & ~(1 << PG_mlocked);

/**
 * The reason freeing `folio` now would be a "bad page state" (`page_bad_reason` and the
 * list check), or null. `ignoreFlags` are bits the caller is about to clear.
 */
export function badPageReason(m: Memmap, folio: number, ignoreFlags = 0): string | null {
  const reason = badPageStateReason(m, folio, ignoreFlags);
  if (reason !== null) return reason;
  if (m.listId[folio] !== 0) return 'still on a folio list (delete it from the list first)';
  return null;
}

/**
 * `badPageReason` without the list check: what would make freeing `folio` a bad page once
 * it is off its list (`putFolioList` asks this of a folio it is about to unlink and free).
 */
export function badPageStateReason(m: Memmap, folio: number, ignoreFlags = 0): string | null {
  if (m.totalMapcount[folio] !== 0 || m.entireMapcount[folio] !== 0) {
    return 'nonzero mapcount (it is still mapped)';
  }
  if (m.mappingKind[folio] === 0 && m.mappingId[folio] !== 0) {
    return 'non-NULL mapping (remove it from the page cache, folioSetMapping(null), first)';
  }
  const bad = m.flags[folio]! & CHECK_AT_FREE & ~ignoreFlags;
  if (bad !== 0) return `PAGE_FLAGS_CHECK_AT_FREE flag(s) set: ${formatFlags(bad)}`;
  return null;
}

/** The CONTRACT_VIOLATION thrown for a bad page state. */
export function badPageError(m: Memmap, folio: number, reason: string): MmsimError {
  return new MmsimError(
    'CONTRACT_VIOLATION',
    `bad page state: freeing folio ${folio} (order ${m.order[folio]}, flags ${formatFlags(m.flags[folio]!) || '0'}): ${reason}`,
  );
}

/**
 * Frees a folio whose refcount reached 0 and that passed `badPageReason`: its frames go back
 * to the buddy of their node; a hugetlb folio goes through `free_huge_page` (`freeHugeFolio`):
 * back to its node's pool, or to the buddy when temporary or surplus.
 */
export function freeFolio(m: Memmap, folio: number): void {
  if (keepPoisonedOffBuddy(m, folio)) return; // free_pages_prepare: PageHWPoison
  const order = m.order[folio]!;
  const hugetlb = m.folioType[folio] === FOLIO_TYPE_HUGETLB;
  resetFrames(m, folio, 1 << order);
  if (hugetlb) freeHugeFolio(m, folio, order);
  else freeOneBlock(m, folio, order, false);
}
