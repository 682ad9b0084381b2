import { PAGE_SIZE } from './constants.js';
import type { Vma } from './vma.js';

/**
 * Where a folio of `nrPages` pages at page offset `pgoff` sits in a VMA: the virtual page
 * range `[startVpn, endVpn)` that `page_vma_mapped_walk` scans, clipped to the VMA
 * (`vma_pgoff_address` and `vma_address_end`, mm/internal.h, 6.3). Null when the VMA does
 * not cover any page of it.
 */
export interface VmaPageRange {
  readonly startVpn: number;
  readonly endVpn: number;
}

export function folioVmaRange(vma: Vma, pgoff: number, nrPages: number): VmaPageRange | null {
  const last = pgoff + nrPages - 1;
  if (last < vma.pgoff || pgoff > vma.lastPgoff) return null;
  const vmaStartVpn = vma.start / PAGE_SIZE;
  const vmaEndVpn = vma.end / PAGE_SIZE;
  const startVpn = Math.max(vmaStartVpn, vmaStartVpn + (pgoff - vma.pgoff));
  const endVpn = Math.min(vmaEndVpn, vmaStartVpn + (last - vma.pgoff) + 1);
  return { startVpn, endVpn };
}

/**
 * `folioVmaRange` written into `out` instead of a new object (for the uncontended walks,
 * which run once per migrated folio), for the folio at page offset `vma.pgoff + offset`:
 * false, `out` unchanged, where `folioVmaRange` gives null. The offset is relative to
 * `vm_pgoff` because an anonymous folio's page offset (its vpn) is above 2^30, a number V8
 * boxes when it is passed to a call it does not inline; its offset in its VMA is small.
 */
export function folioVmaRangeAtInto(
  vma: Vma,
  offset: number,
  nrPages: number,
  out: { startVpn: number; endVpn: number },
): boolean {
  // `pgoff + nrPages - 1 < vma.pgoff || pgoff > vma_last_pgoff(vma)`, relative to vm_pgoff.
  if (offset + nrPages - 1 < 0 || offset > vma.nrPages - 1) return false;
  const vmaStartVpn = vma.start / PAGE_SIZE;
  const vmaEndVpn = vma.end / PAGE_SIZE;
  out.startVpn = Math.max(vmaStartVpn, vmaStartVpn + offset);
  out.endVpn = Math.min(vmaEndVpn, vmaStartVpn + (offset + nrPages - 1) + 1);
  return true;
}

/**
 * `vma_address(page, vma)` for a folio (mm/internal.h, 6.3): the address of its first
 * page in the VMA, or the VMA's start when the folio begins before it; -1 (-EFAULT) when
 * the VMA covers no page of it.
 */
export function vmaAddress(vma: Vma, pgoff: number, nrPages: number): number {
  if (pgoff >= vma.pgoff) {
    const address = vma.start + (pgoff - vma.pgoff) * PAGE_SIZE;
    return address >= vma.end ? -1 : address;
  }
  return pgoff + nrPages - 1 >= vma.pgoff ? vma.start : -1;
}
