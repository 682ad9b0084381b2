import { PG_reserved } from './flags.js';
import { FRAME_HEAD, type Memmap, markWritten, memmapOf, type PhysicalMemory } from './memmap.js';

/**
 * The shared zero page (`ZERO_PAGE(0)`, `my_zero_pfn`): one reserved frame that every
 * read fault of never-written anonymous memory maps. The model puts it at the first pfn of
 * node 0, outside the buddy, with PG_reserved and content 0. It is never freed: references
 * may be taken and put, but its own base reference stays; its content cannot be written.
 */
export function reserveZeroPage(m: Memmap, pfn: number): void {
  m.state[pfn] = FRAME_HEAD;
  m.order[pfn] = 0;
  m.headOf[pfn] = pfn;
  m.refcount[pfn] = 1;
  m.flags[pfn] = 1 << PG_reserved;
  m.content[pfn] = 0;
  m.zeroPfn = pfn;
  markWritten(m, pfn);
}

/** `is_zero_pfn`: whether `pfn` is the shared zero page. */
export function isZeroPfn(mem: PhysicalMemory, pfn: number): boolean {
  return pfn === memmapOf(mem).zeroPfn;
}
