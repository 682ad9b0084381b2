import { type Folio, FRAME_HEAD, folioError, memmapOf, type PhysicalMemory } from './memmap.js';

/** Folio geometry (include/linux/mm.h, Linux 6.3). */

/** `folio_order`: log2 of the number of base pages. */
export function folioOrder(mem: PhysicalMemory, folio: Folio): number {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  return m.order[folio]!;
}

/** `folio_nr_pages`. */
export function folioNrPages(mem: PhysicalMemory, folio: Folio): number {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  return 1 << m.order[folio]!;
}

/** `folio_test_large`: more than one page (PG_head set). */
export function folioTestLarge(mem: PhysicalMemory, folio: Folio): boolean {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  return m.order[folio] !== 0;
}
