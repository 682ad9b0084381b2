import { folioTestAnon, pageMapcount, pfnFolio } from '@mmsim/folio';
import { type KernelGen, MmsimError } from '@mmsim/runtime';
import { PAGE_SIZE, PTRS_PER_PTE, TASK_SIZE, VM_SOFTDIRTY } from './constants.js';
import { folioMaybeDmaPinned } from './dma-pinned.js';
import { isVmHugetlbPage } from './hugetlb-state.js';
import type { Mm } from './mm.js';
import type { PageTable } from './page-table.js';
import { pmdIndexOfVpn, vpnOf } from './page-table.js';
import {
  isMigrationEntry,
  isSwapPte,
  migrationEntryType,
  PTE_NONE,
  pteClearSoftDirty,
  ptePfn,
  ptePresent,
  pteSoftDirty,
  pteSwpClearSoftDirty,
  pteSwpSoftDirty,
  pteWrprotect,
  SWP_MIGRATION_READ,
  SWP_MIGRATION_READ_EXCLUSIVE,
} from './pte.js';
import type { RmapState } from './rmap-state.js';
import { flushTlbMm } from './tlb.js';
import type { Vma } from './vma.js';

/*
 * Soft-dirty tracking as user space sees it (fs/proc/task_mmu.c, Linux 6.3): reading
 * /proc/PID/pagemap and writing 4 to /proc/PID/clear_refs.
 */

/** `PM_SOFT_DIRTY`: bit 55 of a pagemap entry. */
export const PM_SOFT_DIRTY = 1n << 55n;
/** `PM_MMAP_EXCLUSIVE`: bit 56, the page is mapped exactly once. */
export const PM_MMAP_EXCLUSIVE = 1n << 56n;
/** `PM_FILE`: bit 61, a page-cache page (or shared anon, which is shmem). */
export const PM_FILE = 1n << 61n;
/** `PM_SWAP`: bit 62, a swap-format entry (here: a migration entry). */
export const PM_SWAP = 1n << 62n;
/** `PM_PRESENT`: bit 63. */
export const PM_PRESENT = 1n << 63n;
/** `PM_PFRAME_BITS`: bits 0-54 hold the frame. */
export const PM_PFRAME_MASK = (1n << 55n) - 1n;
/** `MAX_SWAPFILES_SHIFT`: a swap frame is `type | offset << 5`. */
export const MAX_SWAPFILES_SHIFT = 5;
/**
 * The swap type of `SWP_MIGRATION_READ` as a pagemap frame shows it: `MAX_SWAPFILES +
 * SWP_HWPOISON_NUM` = 32 - (4 device + 3 migration + 1 hwpoison + 1 pte-marker) + 1 = 24,
 * for a config with CONFIG_DEVICE_PRIVATE, CONFIG_MIGRATION, CONFIG_MEMORY_FAILURE and
 * CONFIG_PTE_MARKER (include/linux/swap.h, 6.3; distribution x86-64 configs). Readable
 * exclusive is 25, writable 26.
 */
export const SWP_TYPE_MIGRATION_READ = 24;

/** `CLEAR_REFS_SOFT_DIRTY`: the value written to /proc/PID/clear_refs to clear soft-dirty. */
export const CLEAR_REFS_SOFT_DIRTY = 4;

/** One decoded /proc/PID/pagemap entry (as read with CAP_SYS_ADMIN, so frames are shown). */
export interface PagemapEntry {
  /** The 64-bit entry. */
  readonly raw: bigint;
  /** Bits 0-54: the pfn of a present page; `swap type | offset << 5` of a swap entry; else 0. */
  readonly frame: number;
  /** The pfn the entry refers to (present page or migration entry), or -1. */
  readonly pfn: number;
  /** Bit 63. */
  readonly present: boolean;
  /** Bit 62. */
  readonly swap: boolean;
  /** Bit 61. */
  readonly file: boolean;
  /** Bit 56: the page is mapped exactly once (never reported for a migration entry). */
  readonly exclusive: boolean;
  /** Bit 55: the entry is soft-dirty, or its VMA has VM_SOFTDIRTY. */
  readonly softDirty: boolean;
}

function swapType(entry: number): number {
  const type = migrationEntryType(entry);
  if (type === SWP_MIGRATION_READ) return SWP_TYPE_MIGRATION_READ;
  if (type === SWP_MIGRATION_READ_EXCLUSIVE) return SWP_TYPE_MIGRATION_READ + 1;
  return SWP_TYPE_MIGRATION_READ + 2;
}

function makePme(frame: number, flags: bigint, pfn: number): PagemapEntry {
  const raw = (BigInt(frame) & PM_PFRAME_MASK) | flags;
  return {
    raw,
    frame,
    pfn,
    present: (flags & PM_PRESENT) !== 0n,
    swap: (flags & PM_SWAP) !== 0n,
    file: (flags & PM_FILE) !== 0n,
    exclusive: (flags & PM_MMAP_EXCLUSIVE) !== 0n,
    softDirty: (flags & PM_SOFT_DIRTY) !== 0n,
  };
}

/**
 * The pagemap entry of the page at `addr` of `mm` (`pagemap_read`, fs/proc/task_mmu.c,
 * 6.3): outside every VMA 0 (`pagemap_pte_hole` without a VMA); an empty entry of a VMA is
 * soft-dirty if the VMA has VM_SOFTDIRTY; a PTE goes through `pte_to_pagemap_entry` and a
 * huge PMD through `pagemap_pmd_range`:
 *
 * - present: frame = pfn, PM_PRESENT, PM_SOFT_DIRTY from the entry;
 * - migration entry: frame = `swp_type | swp_offset_pfn << 5`, PM_SWAP, PM_SOFT_DIRTY from
 *   `pte_swp_soft_dirty`;
 * - PM_FILE when the page (a PTE's `vm_normal_page`, not the zero page) is not anonymous
 *   (the 6.3 PMD path does not set PM_FILE: that came with a 2024 fix);
 * - PM_MMAP_EXCLUSIVE when there is a page, the entry is not a migration entry and
 *   `page_mapcount(page) == 1` (for a PMD: of the head page);
 * - PM_SOFT_DIRTY also whenever the VMA has VM_SOFTDIRTY.
 */
export function pagemapEntry(ctx: RmapState, mm: Mm, addr: number): PagemapEntry {
  if (!Number.isInteger(addr) || addr < 0 || addr >= TASK_SIZE) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `pagemap: address must be an integer in [0, 2^47), got ${String(addr)}`,
    );
  }
  const vma = mm.vmaLookup(addr);
  if (vma === null) return makePme(0, 0n, -1);
  const vmaSoftDirty = (vma.flags & VM_SOFTDIRTY) !== 0 ? PM_SOFT_DIRTY : 0n;
  if (isVmHugetlbPage(vma)) return pagemapHugetlb(ctx, mm, addr, vmaSoftDirty);
  const vpn = vpnOf(addr);
  const idx = pmdIndexOfVpn(vpn);
  const pmdv = mm.pmds.get(idx);
  if (pmdv !== undefined && pmdv !== PTE_NONE) {
    const offset = vpn % PTRS_PER_PTE;
    return pagemapHuge(ctx, pmdv, offset, vmaSoftDirty);
  }
  const table = mm.pageTables.get(idx);
  const pte = table === undefined ? PTE_NONE : table.get(vpn);
  return pteToPagemapEntry(ctx, pte, vmaSoftDirty);
}

/**
 * `pagemap_hugetlb_range` (fs/proc/task_mmu.c, 6.3) for one page of a hugetlb VMA:
 * soft-dirty only from VM_SOFTDIRTY (the entry's own bit is not read); a present entry
 * gives PM_PRESENT, the page's pfn, PM_FILE for a page-cache folio and PM_MMAP_EXCLUSIVE
 * when mapped once. A migration entry reports nothing more (6.3 reports no swap entry for
 * hugetlb, only uffd-wp, which the model's entry does not carry here).
 */
function pagemapHugetlb(ctx: RmapState, mm: Mm, addr: number, vmaSoftDirty: bigint): PagemapEntry {
  const vpn = vpnOf(addr);
  const pmdv = mm.pmds.get(pmdIndexOfVpn(vpn)) ?? PTE_NONE;
  let flags = vmaSoftDirty;
  if (!ptePresent(pmdv)) return makePme(0, flags, -1);
  const mem = ctx.mem;
  const head = ptePfn(pmdv);
  if (!folioTestAnon(mem, head)) flags |= PM_FILE;
  if (pageMapcount(mem, head) === 1) flags |= PM_MMAP_EXCLUSIVE;
  flags |= PM_PRESENT;
  const pfn = head + (vpn % PTRS_PER_PTE);
  return makePme(pfn, flags, pfn);
}

function pteToPagemapEntry(ctx: RmapState, pte: number, vmaSoftDirty: bigint): PagemapEntry {
  if (pte === PTE_NONE) return makePme(0, vmaSoftDirty, -1);
  const mem = ctx.mem;
  let flags = 0n;
  let frame = 0;
  let page = -1;
  let migration = false;
  const pfn = ptePfn(pte);
  if (ptePresent(pte)) {
    frame = pfn;
    flags |= PM_PRESENT;
    if (pfn !== mem.zeroPfn) page = pfn; // vm_normal_page: the zero page is special
    if (pteSoftDirty(pte)) flags |= PM_SOFT_DIRTY;
  } else if (isSwapPte(pte)) {
    if (pteSwpSoftDirty(pte)) flags |= PM_SOFT_DIRTY;
    frame = swapType(pte) + pfn * 2 ** MAX_SWAPFILES_SHIFT;
    flags |= PM_SWAP;
    migration = isMigrationEntry(pte);
    page = pfn;
  }
  if (page >= 0 && !folioTestAnon(mem, pfnFolio(mem, page))) flags |= PM_FILE;
  if (page >= 0 && !migration && pageMapcount(mem, page) === 1) flags |= PM_MMAP_EXCLUSIVE;
  flags |= vmaSoftDirty;
  return makePme(frame, flags, ptePresent(pte) || migration ? pfn : -1);
}

function pagemapHuge(
  ctx: RmapState,
  pmdv: number,
  offset: number,
  vmaSoftDirty: bigint,
): PagemapEntry {
  const mem = ctx.mem;
  let flags = vmaSoftDirty;
  let frame = 0;
  let page = -1;
  let migration = false;
  const head = ptePfn(pmdv);
  if (ptePresent(pmdv)) {
    page = head;
    flags |= PM_PRESENT;
    if (pteSoftDirty(pmdv)) flags |= PM_SOFT_DIRTY;
    frame = head + offset;
  } else if (isSwapPte(pmdv)) {
    frame = swapType(pmdv) + (head + offset) * 2 ** MAX_SWAPFILES_SHIFT;
    flags |= PM_SWAP;
    if (pteSwpSoftDirty(pmdv)) flags |= PM_SOFT_DIRTY;
    migration = isMigrationEntry(pmdv);
    page = head;
  }
  if (page >= 0 && !migration && pageMapcount(mem, page) === 1) flags |= PM_MMAP_EXCLUSIVE;
  return makePme(frame, flags, page >= 0 ? head + offset : -1);
}

/**
 * `pte_is_pinned` (fs/proc/task_mmu.c, 6.3): clear_refs leaves writable a PTE of a COW
 * mapping whose page may be DMA-pinned, in an mm that has pinned pages, so that a later
 * write cannot COW the pinned page away from the device.
 */
function pteIsPinned(ctx: RmapState, vma: Vma, pte: number): boolean {
  if (!vma.mm.hasPinned || !vma.isCow) return false;
  const pfn = ptePfn(pte);
  if (pfn === ctx.mem.zeroPfn) return false;
  return folioMaybeDmaPinned(ctx, pfnFolio(ctx.mem, pfn));
}

/**
 * `clear_soft_dirty` (fs/proc/task_mmu.c, 6.3) on one PTE: a present entry is
 * write-protected and loses soft-dirty (`ptep_modify_prot_start/commit`), unless pinned;
 * a swap (migration) entry loses `_PAGE_SWP_SOFT_DIRTY`.
 */
function clearSoftDirtyPte(ctx: RmapState, vma: Vma, table: PageTable, vpn: number): void {
  const pte = table.get(vpn);
  if (pte === PTE_NONE) return;
  let next = pte;
  if (ptePresent(pte)) {
    if (pteIsPinned(ctx, vma, pte)) return;
    next = pteClearSoftDirty(pteWrprotect(pte));
  } else if (isSwapPte(pte)) {
    next = pteSwpClearSoftDirty(pte);
  }
  if (next !== pte) {
    table.set(vpn, next);
    ctx.rt.charge(ctx.costs.pteUpdate);
  }
}

/**
 * `clear_soft_dirty_pmd` (fs/proc/task_mmu.c, 6.3): a present huge PMD is write-protected
 * and loses soft-dirty (keeping dirty and young, `pmdp_invalidate`); a PMD migration entry
 * loses its swap soft-dirty bit.
 */
function clearSoftDirtyPmd(ctx: RmapState, mm: Mm, idx: number): void {
  const pmdv = mm.pmds.get(idx);
  if (pmdv === undefined || pmdv === PTE_NONE) return;
  let next = pmdv;
  if (ptePresent(pmdv)) next = pteClearSoftDirty(pteWrprotect(pmdv));
  else if (isMigrationEntry(pmdv)) next = pteSwpClearSoftDirty(pmdv);
  if (next !== pmdv) {
    mm.pmds.set(idx, next);
    ctx.rt.charge(ctx.costs.pteUpdate);
  }
}

/**
 * Writing `type` to /proc/PID/clear_refs (`clear_refs_write`, fs/proc/task_mmu.c, 6.3).
 * Only CLEAR_REFS_SOFT_DIRTY (4) is modelled: under `mmap_lock` for write, every VMA loses
 * VM_SOFTDIRTY (`vma_set_page_prot`: shared writable mappings now want write
 * notification), then the page walk (`clear_refs_pte_range`) clears soft-dirty on every
 * huge PMD (under `page_table_lock`) and PTE (under its page-table lock) and
 * write-protects the present ones, so that the next write faults and sets soft-dirty
 * again; finally `flush_tlb_mm`. Not modelled: the mmu notifiers and uffd-wp.
 */
export function* clearRefs(ctx: RmapState, mm: Mm, type: number): KernelGen {
  if (type !== CLEAR_REFS_SOFT_DIRTY) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `clear_refs: only ${CLEAR_REFS_SOFT_DIRTY} (CLEAR_REFS_SOFT_DIRTY) is modelled, got ${String(type)}`,
    );
  }
  if (!mm.alive) throw new MmsimError('INVALID_STATE', `clear_refs: ${mm} has exited`);
  const sem = mm.mmapLock;
  if (!sem.downWriteTrylock()) yield* sem.downWrite('clear_refs_write');
  for (const vma of mm.vmas) vma.flags &= ~VM_SOFTDIRTY;
  for (const vma of mm.vmas) {
    const startVpn = vma.start / PAGE_SIZE;
    const endVpn = vma.end / PAGE_SIZE;
    let vpn = startVpn;
    while (vpn < endVpn) {
      const idx = pmdIndexOfVpn(vpn);
      const tableEnd = Math.min(endVpn, (idx + 1) * PTRS_PER_PTE);
      if (mm.pmds.has(idx)) {
        const ptl = mm.pageTableLock;
        if (!ptl.trylock()) yield* ptl.lockContended();
        clearSoftDirtyPmd(ctx, mm, idx);
        ptl.unlock();
        vpn = tableEnd;
        continue;
      }
      const table = mm.pageTables.get(idx);
      if (table === undefined) {
        vpn = tableEnd;
        continue;
      }
      const ptl = table.ptl;
      if (!ptl.trylock()) yield* ptl.lockContended();
      for (; vpn < tableEnd; vpn++) clearSoftDirtyPte(ctx, vma, table, vpn);
      ptl.unlock();
    }
  }
  flushTlbMm(ctx, mm);
  sem.upWrite();
}
