import { type Folio, folioNid, pageMapcount, pfnFolio } from '@mmsim/folio';
import { EFAULT, EIO, type KernelGen } from '@mmsim/runtime';
import { PAGE_SIZE, PTRS_PER_PTE, VM_IO } from './constants.js';
import {
  MPOL_MF_DISCONTIG_OK,
  MPOL_MF_INVERT,
  MPOL_MF_MOVE,
  MPOL_MF_MOVE_ALL,
  MPOL_MF_STRICT,
  type Nodemask,
} from './mempolicy.js';
import type { Mm } from './mm.js';
import { pmdIndexOfVpn } from './page-table.js';
import { isMigrationEntry, PTE_NONE, ptePfn, ptePresent } from './pte.js';
import type { RmapState } from './rmap-state.js';
import type { Vma } from './vma.js';

/**
 * Isolates a folio for migration onto the caller's list (`folio_isolate_lru` plus the
 * NR_ISOLATED count); false when it cannot be isolated (already isolated, off the LRU).
 * The rmap package has no LRU of its own: the composition passes this in.
 */
export type IsolateFolioFn = (folio: Folio) => KernelGen<boolean>;

/** `struct queue_pages` (mm/mempolicy.c, 6.3). */
interface QueuePages {
  readonly flags: number;
  readonly nmask: Nodemask;
  readonly start: number;
  readonly end: number;
  first: Vma | null;
  readonly isolate: IsolateFolioFn;
  /** Folios queued (the length of the kernel's pagelist). */
  queued: number;
}

/**
 * `vma_migratable(vma)` (include/linux/mempolicy.h, 6.3): not VM_IO / VM_PFNMAP (the model
 * has VM_IO only); DAX and the hugetlb / zone checks have no counterpart in the model.
 */
export function vmaMigratable(vma: Vma): boolean {
  return (vma.flags & VM_IO) === 0;
}

/**
 * `queue_folio_required(folio, qp)` (mm/mempolicy.c, 6.3): the folio's node is in the
 * mask, or, with MPOL_MF_INVERT, is not.
 */
function queueFolioRequired(ctx: RmapState, folio: Folio, qp: QueuePages): boolean {
  const inMask = qp.nmask[folioNid(ctx.mem, folio)] !== 0;
  return inMask === ((qp.flags & MPOL_MF_INVERT) === 0);
}

/**
 * `migrate_folio_add(folio, foliolist, flags)` (mm/mempolicy.c, 6.3): a folio is queued
 * when MPOL_MF_MOVE_ALL is given or its first page is mapped once (`page_mapcount` of the
 * head page == 1: a shared folio is not worth moving); one that cannot be isolated gives
 * -EIO with MPOL_MF_STRICT, and is passed over otherwise. Returns 0 or -EIO.
 */
function* migrateFolioAdd(ctx: RmapState, folio: Folio, qp: QueuePages): KernelGen<number> {
  if ((qp.flags & MPOL_MF_MOVE_ALL) !== 0 || pageMapcount(ctx.mem, folio) === 1) {
    if (yield* qp.isolate(folio)) qp.queued++;
    else if ((qp.flags & MPOL_MF_STRICT) !== 0) return -EIO;
  }
  return 0;
}

/**
 * `queue_folios_pmd(pmd, ptl, addr, end, walk)` (mm/mempolicy.c, 6.3) for a PMD-level
 * entry, under `page_table_lock`: a PMD migration entry gives -EIO (whatever the flags:
 * 6.3 stops the walk there); a folio that the policy wants elsewhere is queued with
 * MOVE / MOVE_ALL (1 when the VMA is not migratable or `migrate_folio_add` fails), and
 * gives -EIO without them (MPOL_MF_STRICT alone).
 */
function* queueFoliosPmd(
  ctx: RmapState,
  vma: Vma,
  pmdv: number,
  qp: QueuePages,
): KernelGen<number> {
  if (isMigrationEntry(pmdv)) return -EIO;
  if (!ptePresent(pmdv)) return 0;
  const folio = pfnFolio(ctx.mem, ptePfn(pmdv));
  if (!queueFolioRequired(ctx, folio, qp)) return 0;
  if ((qp.flags & (MPOL_MF_MOVE | MPOL_MF_MOVE_ALL)) !== 0) {
    if (!vmaMigratable(vma) || (yield* migrateFolioAdd(ctx, folio, qp)) !== 0) return 1;
    return 0;
  }
  return -EIO;
}

/**
 * `queue_folios_pte_range(pmd, addr, end, walk)` (mm/mempolicy.c, 6.3) over one page
 * table's part of `[startVpn, endVpn)`, under its lock (a huge PMD goes to
 * `queueFoliosPmd`): entries not present (none, migration entries) and the zero page are
 * passed over; a folio on a node the walk wants is queued with MOVE / MOVE_ALL (an
 * unmigratable VMA stops the table with 1, a failed isolation under STRICT makes the
 * result 1 but the walk goes on); without them (STRICT alone) the first such folio stops
 * the walk with -EIO. Returns 0, 1 or -EIO.
 */
function* queueFoliosPteRange(
  ctx: RmapState,
  vma: Vma,
  startVpn: number,
  endVpn: number,
  qp: QueuePages,
): KernelGen<number> {
  const mm = vma.mm;
  const idx = pmdIndexOfVpn(startVpn);
  if (mm.pmds.has(idx)) {
    const ptl = mm.pageTableLock;
    if (!ptl.trylock()) yield* ptl.lockContended();
    const pmdv = mm.pmds.get(idx);
    const ret = pmdv === undefined ? 0 : yield* queueFoliosPmd(ctx, vma, pmdv, qp);
    ptl.unlock();
    return ret;
  }
  const table = mm.pageTables.get(idx);
  if (table === undefined) return 0;
  const mem = ctx.mem;
  const move = (qp.flags & (MPOL_MF_MOVE | MPOL_MF_MOVE_ALL)) !== 0;
  let hasUnmovable = false;
  let vpn = startVpn;
  const ptl = table.ptl;
  if (!ptl.trylock()) yield* ptl.lockContended();
  for (; vpn < endVpn; vpn++) {
    const pte = table.get(vpn);
    if (pte === PTE_NONE || !ptePresent(pte)) continue;
    const pfn = ptePfn(pte);
    if (pfn === mem.zeroPfn) continue; // vm_normal_folio: no folio
    const folio = pfnFolio(mem, pfn);
    if (!queueFolioRequired(ctx, folio, qp)) continue;
    if (!move) break;
    if (!vmaMigratable(vma)) {
      hasUnmovable = true;
      break;
    }
    if ((yield* migrateFolioAdd(ctx, folio, qp)) !== 0) hasUnmovable = true;
  }
  ptl.unlock();
  if (hasUnmovable) return 1;
  return vpn !== endVpn ? -EIO : 0;
}

/**
 * `queue_pages_test_walk(start, end, walk)` (mm/mempolicy.c, 6.3) for one VMA of the
 * range: without MPOL_MF_DISCONTIG_OK, a hole before the first VMA or after any VMA
 * inside the range is -EFAULT; an unmigratable VMA is skipped (1) unless MPOL_MF_STRICT;
 * the VMA is walked (0) when a MOVE / STRICT flag asks for it, skipped (1) otherwise.
 */
function queuePagesTestWalk(vma: Vma, qp: QueuePages): number {
  const flags = qp.flags;
  const discontigOk = (flags & MPOL_MF_DISCONTIG_OK) !== 0;
  if (qp.first === null) {
    qp.first = vma;
    if (!discontigOk && qp.start < vma.start) return -EFAULT; // hole at the head
  }
  const next = vma.mm.findVma(vma.end);
  if (!discontigOk && vma.end < qp.end && (next === null || vma.end < next.start)) {
    return -EFAULT; // hole in the middle or at the tail
  }
  if (!vmaMigratable(vma) && (flags & MPOL_MF_STRICT) === 0) return 1;
  if ((flags & (MPOL_MF_STRICT | MPOL_MF_MOVE | MPOL_MF_MOVE_ALL)) !== 0) return 0;
  return 1;
}

/** What `queuePagesRange` returns. */
export interface QueuePagesResult {
  /** 0, 1 (some folio could not be queued, with STRICT), -EIO or -EFAULT. */
  readonly ret: number;
  /** Folios isolated through the `isolate` callback. */
  readonly queued: number;
}

/**
 * `queue_pages_range(mm, start, end, nodes, flags, pagelist)` (mm/mempolicy.c, 6.3):
 * `walk_page_range` over `[start, end)` of `mm` (the caller holds `mmap_lock`) with
 * `queue_pages_test_walk` per VMA and `queue_folios_pte_range` per page table; the folios
 * on a node in `nodes` (not in it, with MPOL_MF_INVERT) are isolated with `isolate`. A
 * nonzero step result ends the walk; a range with no VMA at all is -EFAULT. Hugetlb
 * VMAs (`queue_folios_hugetlb`) are not walked here.
 */
export function* queuePagesRange(
  ctx: RmapState,
  mm: Mm,
  start: number,
  end: number,
  nodes: Nodemask,
  flags: number,
  isolate: IsolateFolioFn,
): KernelGen<QueuePagesResult> {
  const qp: QueuePages = { flags, nmask: nodes, start, end, first: null, isolate, queued: 0 };
  let err = 0;
  let vma = mm.findVma(start);
  walk: while (vma !== null && vma.start < end) {
    const r = queuePagesTestWalk(vma, qp);
    if (r < 0) {
      err = r;
      break;
    }
    if (r === 0) {
      const from = Math.max(start, vma.start) / PAGE_SIZE;
      const to = Math.min(end, vma.end) / PAGE_SIZE;
      let vpn = from;
      while (vpn < to) {
        const tableEnd = Math.min(to, (pmdIndexOfVpn(vpn) + 1) * PTRS_PER_PTE);
        const ret = yield* queueFoliosPteRange(ctx, vma, vpn, tableEnd, qp);
        if (ret !== 0) {
          err = ret;
          break walk;
        }
        vpn = tableEnd;
      }
    }
    vma = mm.findVma(vma.end);
  }
  if (qp.first === null) err = -EFAULT; // the whole range is a hole
  return { ret: err, queued: qp.queued };
}

/**
 * The node of the page mapped at `addr` of `mm`, as `lookup_node(mm, addr)`
 * (mm/mempolicy.c, 6.3: `get_user_pages_locked` with FOLL_GET, then `page_to_nid`) sees
 * it, without faulting: the node of the present page (the zero page's too), or -EFAULT
 * when nothing present maps the address (the kernel would fault it in first; the
 * caller does that).
 */
export function nodeOfAddress(ctx: RmapState, mm: Mm, addr: number): number {
  const vpn = Math.floor(addr / PAGE_SIZE);
  const idx = pmdIndexOfVpn(vpn);
  const pmdv = mm.pmds.get(idx);
  if (pmdv !== undefined) {
    if (!ptePresent(pmdv)) return -EFAULT;
    return folioNid(ctx.mem, pfnFolio(ctx.mem, ptePfn(pmdv)));
  }
  const table = mm.pageTables.get(idx);
  if (table === undefined) return -EFAULT;
  const pte = table.get(vpn);
  if (!ptePresent(pte)) return -EFAULT;
  return folioNid(ctx.mem, pfnFolio(ctx.mem, ptePfn(pte)));
}
