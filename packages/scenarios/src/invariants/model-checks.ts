import { checkPhysicalMemory } from '@mmsim/folio';
import type { Kernel } from '@mmsim/kernel';
import type { Invariant } from '@mmsim/runtime';
import { firstProblem, strided } from './invariant.js';

/**
 * `rmap-consistent`: the virtual-memory model agrees with itself (`VirtualMemory.check`):
 * every page-table entry lies in a VMA and points at a live folio the rmap finds again,
 * migration entries point at locked folios, mapcounts equal the entries and refcounts
 * cover mappings, page cache and pins, anon_vma chains hold. At the end also: no TLB
 * caches a translation the page tables lost, no deferred flush is pending.
 */
export function rmapConsistent(k: Kernel, stride: number): Invariant {
  return strided('rmap-consistent', stride, (phase) =>
    firstProblem(k.vm.check({ quiescent: phase === 'end' })),
  );
}

/**
 * `memmap-consistent`: the physical memory model agrees with itself
 * (`checkPhysicalMemory`): each frame free in one buddy block or in one folio, tails
 * pointing at live heads, no negative counts, kept mapcount sums right, free lists and
 * folio lists well linked, hugetlb pools counted, the zero page intact.
 */
export function memmapConsistent(k: Kernel, stride: number): Invariant {
  return strided('memmap-consistent', stride, () => firstProblem(checkPhysicalMemory(k.mem)));
}
