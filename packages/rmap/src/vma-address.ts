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
 * which run once per migrated folio): false, `out` unchanged, where `folioVmaRange` gives
 * null.
 */
export function folioVmaRangeInto(
  vma: Vma,
  pgoff: number,
  nrPages: number,
  out: { startVpn: number; endVpn: number },
): boolean {
  const last = pgoff + nrPages - 1;
  if (last < vma.pgoff || pgoff > vma.lastPgoff) return false;
  const vmaStartVpn = vma.start / PAGE_SIZE;
  const vmaEndVpn = vma.end / PAGE_SIZE;
  out.startVpn = Math.max(vmaStartVpn, vmaStartVpn + (pgoff - vma.pgoff));
  out.endVpn = Math.min(vmaEndVpn, vmaStartVpn + (last - vma.pgoff) + 1);
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
