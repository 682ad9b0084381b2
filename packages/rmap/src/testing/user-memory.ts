import { type Folio, pfnFolio } from '@mmsim/folio';
import type { KernelGen } from '@mmsim/runtime';
import { PAGE_SIZE } from '../constants.js';
import type { MmView } from '../readonly-views.js';
import type { RmapMachine } from './machine.js';

/** A private anonymous mapping of `pages` pages in `mm` (`hugepage`: MADV_HUGEPAGE). */
export function mapAnon(
  m: Pick<RmapMachine, 'vm'>,
  mm: MmView,
  pages: number,
  hugepage = false,
): number {
  return m.vm.mmap(mm, { length: pages * PAGE_SIZE, hugepage });
}

/** Writes `value(i)` to page i of the range from a task (the first touch faults it in). */
export function* writePages(
  m: Pick<RmapMachine, 'vm'>,
  mm: MmView,
  addr: number,
  pages: number,
  value: (i: number) => number,
): KernelGen {
  for (let i = 0; i < pages; i++) yield* m.vm.userWrite(mm, addr + i * PAGE_SIZE, value(i));
}

/** The distinct folios mapping pages [addr, addr + pages), in address order. */
export function foliosOf(
  m: Pick<RmapMachine, 'mem' | 'vm'>,
  mm: MmView,
  addr: number,
  pages: number,
): Folio[] {
  const out: Folio[] = [];
  for (let i = 0; i < pages; i++) {
    const folio = pfnFolio(m.mem, m.vm.followPage(mm, addr + i * PAGE_SIZE));
    if (out[out.length - 1] !== folio) out.push(folio);
  }
  return out;
}
