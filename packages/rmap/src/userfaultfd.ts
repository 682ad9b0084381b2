import { type KernelGen, MmsimError } from '@mmsim/runtime';
import { PAGE_SIZE, PTRS_PER_PTE, VM_UFFD_WP } from './constants.js';
import type { Mm } from './mm.js';
import { pmdIndexOfVpn } from './page-table.js';
import {
  isMigrationEntry,
  pteClearUffdWp,
  pteMkuffdWp,
  ptePresent,
  pteSwpClearUffdWp,
  pteSwpMkuffdWp,
} from './pte.js';
import type { RmapState } from './rmap-state.js';
import { flushTlbRange } from './tlb.js';

/*
 * The smallest part of userfaultfd write-protection (fs/userfaultfd.c, mm/userfaultfd.c,
 * mm/mprotect.c, Linux 6.3) that migration needs: registering a range in write-protect
 * mode (VM_UFFD_WP) and UFFDIO_WRITEPROTECT on its PTEs. Not modelled: the userfaultfd
 * file and its events, `handle_userfault` (a write to a protected PTE is refused by
 * `do_wp_page`), PTE markers for none PTEs, huge PMDs (the range must be PTE-mapped).
 */

/** Checks `[addr, addr + length)` is page-aligned and inside one VMA of `mm`. */
function rangeVma(mm: Mm, addr: number, length: number, what: string) {
  if (!Number.isInteger(addr) || !Number.isInteger(length) || length <= 0) {
    throw new MmsimError('INVALID_ARGUMENT', `${what}: bad range ${addr} + ${length}`);
  }
  if (addr % PAGE_SIZE !== 0 || length % PAGE_SIZE !== 0) {
    throw new MmsimError('INVALID_ARGUMENT', `${what}: range must be page-aligned`);
  }
  const vma = mm.findVma(addr);
  if (vma === null || vma.start > addr || vma.end < addr + length) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `${what}: [0x${addr.toString(16)}, 0x${(addr + length).toString(16)}) is not inside one VMA of ${mm}`,
    );
  }
  return vma;
}

/**
 * `UFFDIO_REGISTER` with UFFDIO_REGISTER_MODE_WP (`userfaultfd_register`, fs/userfaultfd.c,
 * 6.3) of a whole VMA: it gains VM_UFFD_WP. Only whole VMAs (no split); `vm_page_prot` is
 * left alone, as 6.1 and 6.3 do.
 */
export function userfaultfdRegisterWp(mm: Mm, addr: number, length: number): void {
  const vma = rangeVma(mm, addr, length, 'UFFDIO_REGISTER');
  if (vma.start !== addr || vma.end !== addr + length) {
    throw new MmsimError('INVALID_ARGUMENT', 'UFFDIO_REGISTER: the model registers whole VMAs');
  }
  vma.flags |= VM_UFFD_WP;
}

/**
 * `UFFDIO_WRITEPROTECT` (`mwriteprotect_range`, mm/userfaultfd.c, 6.3): under `mmap_lock`
 * for read, `change_protection` with MM_CP_UFFD_WP (`wp`) or MM_CP_UFFD_WP_RESOLVE
 * (`!wp`) on every PTE of the range, under its page-table lock: a present PTE is
 * write-protected and marked (`pte_mkuffd_wp`) or unmarked (`pte_clear_uffd_wp`, staying
 * read-only: the next write faults); a migration entry gets or loses the swap uffd-wp bit
 * (`pte_swp_mkuffd_wp`). Then the range's TLB entries are flushed. The VMA must have
 * VM_UFFD_WP (else -ENOENT in the kernel; INVALID_STATE here).
 */
export function* uffdioWriteprotect(
  ctx: RmapState,
  mm: Mm,
  addr: number,
  length: number,
  wp: boolean,
): KernelGen {
  const vma = rangeVma(mm, addr, length, 'UFFDIO_WRITEPROTECT');
  if ((vma.flags & VM_UFFD_WP) === 0) {
    throw new MmsimError('INVALID_STATE', `UFFDIO_WRITEPROTECT: ${vma} is not registered for wp`);
  }
  const sem = mm.mmapLock;
  if (!sem.downReadTrylock()) yield* sem.downRead('mwriteprotect_range');
  const startVpn = addr / PAGE_SIZE;
  const endVpn = (addr + length) / PAGE_SIZE;
  let vpn = startVpn;
  while (vpn < endVpn) {
    const idx = pmdIndexOfVpn(vpn);
    const tableEnd = Math.min(endVpn, (idx + 1) * PTRS_PER_PTE);
    if (mm.pmds.has(idx)) {
      sem.upRead();
      throw new MmsimError('INVALID_ARGUMENT', 'UFFDIO_WRITEPROTECT: huge PMDs are not modelled');
    }
    const table = mm.pageTables.get(idx);
    if (table === undefined) {
      vpn = tableEnd;
      continue;
    }
    const ptl = table.ptl;
    if (!ptl.trylock()) yield* ptl.lockContended();
    for (; vpn < tableEnd; vpn++) {
      const pte = table.get(vpn);
      let next = pte;
      if (ptePresent(pte)) next = wp ? pteMkuffdWp(pte) : pteClearUffdWp(pte);
      else if (isMigrationEntry(pte)) next = wp ? pteSwpMkuffdWp(pte) : pteSwpClearUffdWp(pte);
      if (next !== pte) {
        table.set(vpn, next);
        ctx.rt.charge(ctx.costs.pteUpdate);
      }
    }
    ptl.unlock();
  }
  flushTlbRange(ctx, mm, startVpn, endVpn - startVpn);
  sem.upRead();
}
