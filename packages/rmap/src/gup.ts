import { type Folio, folioTestAnon, PG_anon_exclusive, pageTestFlag, pfnFolio } from '@mmsim/folio';
import { EINTR, fatalSignalPending, type KernelGen, MmsimError } from '@mmsim/runtime';
import {
  FAULT_FLAG_UNSHARE,
  FAULT_FLAG_WRITE,
  PTRS_PER_PTE,
  VM_FAULT_ERROR,
  VM_FAULT_SIGSEGV_ACCESS,
  VM_FAULT_SIGSEGV_NO_VMA,
  VM_READ,
} from './constants.js';
import { folioPin, folioUnpinCount, pinRefs } from './dma-pinned.js';
import { handleMmFault } from './fault.js';
import { folioPutRefsFast, folioPutRefsSlow } from './folio-release.js';
import type { Mm } from './mm.js';
import { pmdIndexOf, vpnOf } from './page-table.js';
import { pteHwPresent, ptePfn, pteWrite } from './pte.js';
import type { RmapState } from './rmap-state.js';
import { faultError } from './user-access.js';
import type { Vma } from './vma.js';

/**
 * Long-term pins of user pages (`pin_user_pages` with FOLL_PIN, mm/gup.c, 6.3): what a
 * driver doing DMA holds, and what makes `try_to_migrate` give up on an anon-exclusive
 * page. Pins are recorded per mm (the model's stand-in for the driver that holds them)
 * and released by `unpinUserPage` or when the mm exits.
 */

const NEEDS_FAULT = -1;
const NEEDS_UNSHARE = -2;

/**
 * `follow_page_mask` with FOLL_PIN under the page-table lock: pin the page mapped at
 * `addr` and return its pfn, or NEEDS_FAULT / NEEDS_UNSHARE. A read-only pin of an
 * anonymous page that is not exclusive must break COW first (`gup_must_unshare`).
 */
function* followAndPin(ctx: RmapState, vma: Vma, addr: number, write: boolean): KernelGen<number> {
  const mm = vma.mm;
  const vpn = vpnOf(addr);
  const idx = pmdIndexOf(addr);
  const huge = mm.pmds.get(idx);
  const table = huge === undefined ? mm.pageTables.get(idx) : undefined;
  if (huge === undefined && table === undefined) return NEEDS_FAULT;
  const ptl = huge !== undefined ? mm.pageTableLock : table!.ptl;
  if (!ptl.trylock()) yield* ptl.lockContended();
  try {
    let pfn: number;
    let folio: Folio;
    const entry = huge !== undefined ? mm.pmds.get(idx) : table!.get(vpn);
    // FOLL_NUMA (every pin without FOLL_FORCE, 6.3): a PROT_NONE entry takes the NUMA
    // hinting fault first (follow_page_pte's `pte_protnone` test).
    if (entry === undefined || !pteHwPresent(entry) || (write && !pteWrite(entry))) {
      return NEEDS_FAULT;
    }
    if (huge !== undefined) {
      folio = ptePfn(entry);
      pfn = folio + (vpn % PTRS_PER_PTE);
    } else {
      pfn = ptePfn(entry);
      folio = pfn === ctx.mem.zeroPfn ? pfn : pfnFolio(ctx.mem, pfn);
    }
    if (
      !write &&
      pfn !== ctx.mem.zeroPfn &&
      vma.isCow &&
      folioTestAnon(ctx.mem, folio) &&
      !pageTestFlag(ctx.mem, huge !== undefined ? folio : pfn, PG_anon_exclusive)
    ) {
      return NEEDS_UNSHARE;
    }
    folioPin(ctx, folio);
    mm.pins.set(pfn, (mm.pins.get(pfn) ?? 0) + 1);
    mm.hasPinned = true;
    return pfn;
  } finally {
    ptl.unlock();
  }
}

/**
 * `pin_user_pages(addr, 1, FOLL_PIN | FOLL_LONGTERM [| FOLL_WRITE])` (mm/gup.c, 6.3):
 * fault the page in as needed (a write fault for a writable pin, an unshare fault for a
 * read-only pin of a COW-shared anonymous page), then pin it. Returns the pinned pfn, or
 * -EINTR when the calling task has a fatal signal pending: `__get_user_pages` (mm/gup.c,
 * 6.3) tests `fatal_signal_pending(current)` at its `retry:` label, after the VMA checks and
 * before each `follow_page_mask` (so again after every fault-in), and gives up with -EINTR
 * (no more faulting in, no more allocating for a task that is dying); nothing is pinned then.
 * An address outside every VMA, or a writable pin of a read-only VMA, throws
 * INVALID_ARGUMENT and changes nothing.
 */
export function* pinUserPage(
  ctx: RmapState,
  mm: Mm,
  addr: number,
  write: boolean,
): KernelGen<number> {
  if (!mm.alive) throw new MmsimError('INVALID_STATE', `${mm} has exited`);
  if (!Number.isInteger(addr) || addr < 0) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `address must be a non-negative integer, got ${String(addr)}`,
    );
  }
  for (let tries = 0; tries < 1000; tries++) {
    const sem = mm.mmapLock;
    if (!sem.downReadTrylock()) yield* sem.downRead('pin_user_pages');
    let ret: number;
    try {
      const vma = mm.vmaLookup(addr);
      // check_vma_flags (mm/gup.c, 6.3): no FOLL_FORCE, so VM_WRITE / VM_READ are needed.
      if (vma === null || (write ? !vma.writable : (vma.flags & VM_READ) === 0)) {
        throw faultError(
          mm,
          addr,
          write,
          vma === null ? VM_FAULT_SIGSEGV_NO_VMA : VM_FAULT_SIGSEGV_ACCESS,
        );
      }
      // __get_user_pages' `retry:` check (the fault site signal.fatal_signal_pending).
      if (fatalSignalPending(ctx.rt, ctx.rt.current)) return -EINTR;
      const pfn = yield* followAndPin(ctx, vma, addr, write);
      if (pfn >= 0) return pfn;
      const flags = write ? FAULT_FLAG_WRITE : pfn === NEEDS_UNSHARE ? FAULT_FLAG_UNSHARE : 0;
      ret = yield* handleMmFault(ctx, vma, addr, flags);
    } finally {
      sem.upRead();
    }
    if ((ret & VM_FAULT_ERROR) !== 0) throw faultError(mm, addr, write, ret);
  }
  throw new MmsimError(
    'INVARIANT_VIOLATED',
    `pinning 0x${addr.toString(16)} of ${mm} never succeeded`,
  );
}

/**
 * `unpin_user_page(page)` (mm/gup.c, 6.3) for a pin taken through `mm`: drop the pin's
 * references (1024 on an order-0 folio, 1 and a `_pincount` on a large one); the last
 * reference frees the folio. A pfn that `mm` holds no pin on throws INVALID_ARGUMENT.
 */
export function* unpinUserPage(ctx: RmapState, mm: Mm, pfn: number): KernelGen {
  const held = mm.pins.get(pfn);
  if (held === undefined) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `unpin_user_page: ${mm} holds no pin on pfn ${String(pfn)} (the page is not pinned by this process)`,
    );
  }
  if (held > 1) mm.pins.set(pfn, held - 1);
  else mm.pins.delete(pfn);
  yield* releasePin(ctx, pfn);
}

/** Drops one pin on the folio of `pfn` (`unpin_user_page` -> `gup_put_folio`, mm/gup.c, 6.3). */
export function* releasePin(ctx: RmapState, pfn: number): KernelGen {
  const folio = pfn === ctx.mem.zeroPfn ? pfn : pfnFolio(ctx.mem, pfn);
  const refs = pinRefs(ctx, folio);
  folioUnpinCount(ctx, folio);
  if (!folioPutRefsFast(ctx, folio, refs)) yield* folioPutRefsSlow(ctx, folio, refs);
}
