import { MmsimError } from '@mmsim/runtime';
import {
  checkPage,
  type Folio,
  FRAME_HEAD,
  folioError,
  type Memmap,
  memmapOf,
  type PhysicalMemory,
} from './memmap.js';

/**
 * Mapcounts (include/linux/mm.h, mm/rmap.c, Linux 6.3). The model stores them 0-based: a
 * page mapped by no page table has mapcount 0. The kernel stores `_mapcount` and
 * `_entire_mapcount` 1-based from -1 (so -1 means unmapped); add 1 to compare. A large
 * folio mapped by a PMD counts in its entire mapcount; PTE mappings count per page.
 * The folio also keeps the sum of its per-page counts, so folio_mapcount is O(1).
 */

function notRmapped(pfn: number): MmsimError {
  return new MmsimError(
    'CONTRACT_VIOLATION',
    `pfn ${pfn} is the shared zero page: it is never rmapped (vm_normal_page skips it)`,
  );
}

/**
 * `page_mapcount` (6.3): the page's own mapcount plus, on a large folio, the entire
 * mapcount (each PMD mapping maps every page of the folio).
 */
export function pageMapcount(mem: PhysicalMemory, pfn: number): number {
  const m = memmapOf(mem);
  checkPage(m, pfn);
  const head = m.headOf[pfn]!;
  return m.mapcount[pfn]! + m.entireMapcount[head]!;
}

/** One more PTE maps this page (the `_mapcount` increment of `page_add_*_rmap`). */
export function pageMapcountInc(mem: PhysicalMemory, pfn: number): void {
  const m = memmapOf(mem);
  checkPage(m, pfn);
  if (pfn === m.zeroPfn) throw notRmapped(pfn);
  const head = m.headOf[pfn]!;
  m.mapcount[pfn]!++;
  m.totalMapcount[head]!++;
  m.rmapWritten[head] = 1;
}

/** One PTE mapping of this page went away (`page_remove_rmap`). */
export function pageMapcountDec(mem: PhysicalMemory, pfn: number): void {
  const m = memmapOf(mem);
  checkPage(m, pfn);
  if (m.mapcount[pfn]! <= 0) {
    throw new MmsimError(
      'COUNT_UNDERFLOW',
      `pfn ${pfn}: mapcount is 0, so no PTE mapping of it can be removed`,
    );
  }
  const head = m.headOf[pfn]!;
  m.mapcount[pfn]!--;
  m.totalMapcount[head]!--;
  m.rmapWritten[head] = 1;
}

function checkLarge(m: Memmap, folio: number): void {
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  if (m.order[folio] === 0) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `folio ${folio} is order 0: only a large folio can be mapped whole by a PMD`,
    );
  }
}

/** `folio_entire_mapcount`: PMD mappings of the whole folio (0 for order-0 folios). */
export function folioEntireMapcount(mem: PhysicalMemory, folio: Folio): number {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  return m.entireMapcount[folio]!;
}

/** One more PMD maps the whole large folio (`page_add_anon_rmap(..., RMAP_COMPOUND)` etc.). */
export function folioEntireMapcountInc(mem: PhysicalMemory, folio: Folio): void {
  const m = memmapOf(mem);
  checkLarge(m, folio);
  m.entireMapcount[folio]!++;
  m.rmapWritten[folio] = 1;
}

/** One PMD mapping of the whole folio went away (`page_remove_rmap(..., compound)`). */
export function folioEntireMapcountDec(mem: PhysicalMemory, folio: Folio): void {
  const m = memmapOf(mem);
  checkLarge(m, folio);
  if (m.entireMapcount[folio]! <= 0) {
    throw new MmsimError(
      'COUNT_UNDERFLOW',
      `folio ${folio}: entire mapcount is 0, so no PMD mapping of it can be removed`,
    );
  }
  m.entireMapcount[folio]!--;
  m.rmapWritten[folio] = 1;
}

/**
 * `folio_mapcount` (6.3): for a large folio, `folio_total_mapcount`, the entire mapcount
 * plus the sum of the per-page mapcounts; for an order-0 folio, its page's mapcount.
 */
export function folioMapcount(mem: PhysicalMemory, folio: Folio): number {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  return m.entireMapcount[folio]! + m.totalMapcount[folio]!;
}

/** `folio_mapped`: some page table maps some page of the folio. */
export function folioMapped(mem: PhysicalMemory, folio: Folio): boolean {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  return m.entireMapcount[folio]! > 0 || m.totalMapcount[folio]! > 0;
}
