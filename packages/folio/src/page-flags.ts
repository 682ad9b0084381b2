import { MmsimError } from '@mmsim/runtime';
import {
  NR_PAGEFLAGS,
  PG_active,
  PG_anon_exclusive,
  PG_head,
  PG_hwpoison,
  PG_locked,
  PG_lru,
  PG_mlocked,
  PG_slab,
  PG_swapbacked,
  PG_swapcache,
  PG_unevictable,
  pageFlagName,
} from './flags.js';
import {
  checkPage,
  type Folio,
  FRAME_HEAD,
  folioError,
  LRU_MARK_SHIFT,
  memmapOf,
  type PhysicalMemory,
} from './memmap.js';

/**
 * Page-flag operations on folios (`folio_test_*`, `folio_set_*`, `folio_clear_*`,
 * `folio_test_set_*`, `folio_test_clear_*` of include/linux/page-flags.h, Linux 6.3). They
 * act on the head's flags word. Each is one plain call, so each is atomic, as the kernel's
 * bit operations are. PG_head belongs to the allocator and cannot be changed here.
 */

function badFlag(flag: number): MmsimError {
  if (flag === PG_head) {
    return new MmsimError(
      'INVALID_ARGUMENT',
      'PG_head is set and cleared by the allocator and by splitFolio, not by flag operations',
    );
  }
  return new MmsimError(
    'INVALID_ARGUMENT',
    `flag must be a PG_* bit number in [0, ${NR_PAGEFLAGS - 1}], got ${String(flag)}`,
  );
}

/**
 * The flags the LRU check tests (PG_lru, and PG_active, PG_swapbacked, PG_unevictable,
 * PG_mlocked, which choose a folio's list): setting or clearing one marks the folio in
 * `lruWritten` for the incremental LRU check.
 */
const LRU_CHECKED_FLAGS =
  (1 << PG_lru) |
  (1 << PG_active) |
  (1 << PG_swapbacked) |
  (1 << PG_unevictable) |
  (1 << PG_mlocked);

/**
 * The flags of a folio the rmap check's verdict on a page-table entry reads (rmap's
 * invariants.ts, `replayEntry`): PG_slab, PG_swapbacked and PG_swapcache (what
 * `folio_mapping` and `mm_counter` answer), PG_locked (a migration entry's folio) and
 * PG_anon_exclusive (PG_mappedtodisk's bit, per page). Setting or clearing one marks the
 * frame in `rmapWritten`, so that the incremental rmap check may pass over the entries of a
 * folio no writer marked without reading its flags.
 */
const RMAP_CHECKED_FLAGS =
  (1 << PG_slab) |
  (1 << PG_swapbacked) |
  (1 << PG_swapcache) |
  (1 << PG_locked) |
  (1 << PG_anon_exclusive);

function okFlag(flag: number): boolean {
  return flag >= 0 && flag < NR_PAGEFLAGS && (flag | 0) === flag;
}

/** `test_bit(flag, &folio->flags)`. */
export function folioTestFlag(mem: PhysicalMemory, folio: Folio, flag: number): boolean {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  if (!okFlag(flag)) throw badFlag(flag);
  return (m.flags[folio]! & (1 << flag)) !== 0;
}

/** `set_bit(flag, &folio->flags)`. */
export function folioSetFlag(mem: PhysicalMemory, folio: Folio, flag: number): void {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  if (!okFlag(flag) || flag === PG_head) throw badFlag(flag);
  m.flags[folio]! |= 1 << flag;
  if (((RMAP_CHECKED_FLAGS >>> flag) & 1) !== 0) m.rmapWritten[folio] = 1;
  if (((LRU_CHECKED_FLAGS >>> flag) & 1) !== 0) m.lruWritten[folio >>> LRU_MARK_SHIFT] = 1;
}

/** `clear_bit(flag, &folio->flags)`. */
export function folioClearFlag(mem: PhysicalMemory, folio: Folio, flag: number): void {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  if (!okFlag(flag) || flag === PG_head) throw badFlag(flag);
  m.flags[folio]! &= ~(1 << flag);
  if (((RMAP_CHECKED_FLAGS >>> flag) & 1) !== 0) m.rmapWritten[folio] = 1;
  if (((LRU_CHECKED_FLAGS >>> flag) & 1) !== 0) m.lruWritten[folio >>> LRU_MARK_SHIFT] = 1;
}

/** `test_and_set_bit`: set the flag and return whether it was already set. */
export function folioTestSetFlag(mem: PhysicalMemory, folio: Folio, flag: number): boolean {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  if (!okFlag(flag) || flag === PG_head) throw badFlag(flag);
  const old = m.flags[folio]!;
  m.flags[folio] = old | (1 << flag);
  if (((RMAP_CHECKED_FLAGS >>> flag) & 1) !== 0) m.rmapWritten[folio] = 1;
  if (((LRU_CHECKED_FLAGS >>> flag) & 1) !== 0) m.lruWritten[folio >>> LRU_MARK_SHIFT] = 1;
  return (old & (1 << flag)) !== 0;
}

/** `test_and_clear_bit`: clear the flag and return whether it was set. */
export function folioTestClearFlag(mem: PhysicalMemory, folio: Folio, flag: number): boolean {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  if (!okFlag(flag) || flag === PG_head) throw badFlag(flag);
  const old = m.flags[folio]!;
  m.flags[folio] = old & ~(1 << flag);
  if (((RMAP_CHECKED_FLAGS >>> flag) & 1) !== 0) m.rmapWritten[folio] = 1;
  if (((LRU_CHECKED_FLAGS >>> flag) & 1) !== 0) m.lruWritten[folio >>> LRU_MARK_SHIFT] = 1;
  return (old & (1 << flag)) !== 0;
}

/** The head's whole flags word (`folio->flags`); format it with `formatFlags`. */
export function folioFlags(mem: PhysicalMemory, folio: Folio): number {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  return m.flags[folio]!;
}

/**
 * `folio_test_swapcache` (6.3): PG_swapcache shares its bit with PG_checked, so it only
 * means "in the swap cache" on a swap-backed folio.
 */
export function folioTestSwapcache(mem: PhysicalMemory, folio: Folio): boolean {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  const f = m.flags[folio]!;
  return (f & (1 << PG_swapbacked)) !== 0 && (f & (1 << PG_swapcache)) !== 0;
}

/** Flags that are kept per page (the kernel's PF_ANY policy) rather than on the head. */
const PER_PAGE_FLAGS = (1 << PG_anon_exclusive) | (1 << PG_hwpoison);

function checkPerPageFlag(flag: number): void {
  if (flag !== PG_anon_exclusive && flag !== PG_hwpoison) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `page flag operations only take the per-page flags PG_anon_exclusive and PG_hwpoison, got ${pageFlagName(flag)} (use the folio flag operations on the head)`,
    );
  }
}

/** `PageAnonExclusive` / `PageHWPoison` on any page of a live folio, tail pages included. */
export function pageTestFlag(mem: PhysicalMemory, pfn: number, flag: number): boolean {
  const m = memmapOf(mem);
  checkPage(m, pfn);
  checkPerPageFlag(flag);
  return (m.flags[pfn]! & (1 << flag)) !== 0;
}

/** `SetPageAnonExclusive` / `SetPageHWPoison` on one page of a live folio. */
export function pageSetFlag(mem: PhysicalMemory, pfn: number, flag: number): void {
  const m = memmapOf(mem);
  checkPage(m, pfn);
  checkPerPageFlag(flag);
  m.flags[pfn]! |= (1 << flag) & PER_PAGE_FLAGS;
  m.rmapWritten[pfn] = 1;
}

/** `ClearPageAnonExclusive` / `ClearPageHWPoison` on one page of a live folio. */
export function pageClearFlag(mem: PhysicalMemory, pfn: number, flag: number): void {
  const m = memmapOf(mem);
  checkPage(m, pfn);
  checkPerPageFlag(flag);
  m.flags[pfn]! &= ~(1 << flag);
  m.rmapWritten[pfn] = 1;
}
