import {
  folioTestAnon,
  PG_anon_exclusive,
  type PhysicalMemory,
  pageTestFlag,
  pfnFolio,
} from '@mmsim/folio';
import { EACCES, EINVAL, ENOMEM, type KernelGen, MmsimError } from '@mmsim/runtime';
import {
  PAGE_SIZE,
  PROT_EXEC,
  PROT_GROWSDOWN,
  PROT_GROWSUP,
  PROT_READ,
  PROT_SEM,
  PROT_WRITE,
  PTRS_PER_PTE,
  VM_EXEC,
  VM_GROWSDOWN,
  VM_READ,
  VM_SHARED,
  VM_SOFTDIRTY,
  VM_WRITE,
} from './constants.js';
import type { Mm } from './mm.js';
import { pmdIndexOfVpn } from './page-table.js';
import {
  isWritableMigrationEntry,
  migrationEntryMkReadable,
  PTE_PROTNONE,
  PTE_WRITE,
  pteDirty,
  ptePfn,
  ptePresent,
  pteProtnone,
  pteSoftDirty,
  pteUffdWp,
  SWP_MIGRATION_READ_EXCLUSIVE,
  SWP_TYPE_MASK,
} from './pte.js';
import type { RmapState } from './rmap-state.js';
import { splitHugePmd } from './split-huge-pmd.js';
import { flushTlbRange } from './tlb.js';
import { flushTlbBatchedPending } from './tlb-batch.js';
import type { Vma } from './vma.js';
import { vmaModify } from './vma-merge.js';

/* mprotect(2) (mm/mprotect.c, Linux 6.3). */

/** `VM_ACCESS_FLAGS` (include/linux/mm.h, 6.3). */
const VM_ACCESS_FLAGS = VM_READ | VM_WRITE | VM_EXEC;

/**
 * A writable migration entry made readable, as `change_pte_range` / `change_huge_pmd`
 * (mm/mprotect.c, mm/huge_memory.c, 6.3) do whatever the new protection ("a protection
 * check is difficult, so just be safe and disable write"): readable-exclusive for an
 * anonymous folio, readable for a file one; young, dirty, soft-dirty and uffd-wp kept.
 */
export function migrationEntryWrprotect(mem: PhysicalMemory, entry: number): number {
  const folio = pfnFolio(mem, ptePfn(entry));
  if (folio >= 0 && folioTestAnon(mem, folio)) {
    return ((entry & ~SWP_TYPE_MASK) | SWP_MIGRATION_READ_EXCLUSIVE) >>> 0;
  }
  return migrationEntryMkReadable(entry);
}

/**
 * `can_change_pte_writable(vma, addr, pte)` (mm/mprotect.c, 6.3), under
 * MM_CP_TRY_CHANGE_WRITABLE (`vma_wants_manual_pte_write_upgrade`: a writable VMA): a
 * present, accessible entry may be made writable now, without a write fault, unless
 * soft-dirty tracking (`pte_needs_soft_dirty_wp`: the VMA's VM_SOFTDIRTY is clear and
 * the entry is not soft-dirty) or uffd-wp needs the fault; in a private mapping only an
 * exclusive anonymous page (`PageAnonExclusive`), in a shared one only a dirty entry (the
 * model treats every shared mapping as wanting write-notify for clean pages).
 */
export function canChangePteWritable(ctx: RmapState, vma: Vma, pte: number, pfn: number): boolean {
  if ((vma.flags & VM_WRITE) === 0) return false;
  if (pteProtnone(pte)) return false;
  if ((vma.flags & VM_SOFTDIRTY) === 0 && !pteSoftDirty(pte)) return false;
  if (pteUffdWp(pte)) return false;
  if ((vma.flags & VM_SHARED) === 0) {
    const mem = ctx.mem;
    if (pfn === mem.zeroPfn) return false; // vm_normal_page: NULL
    const folio = pfnFolio(mem, pfn);
    return folioTestAnon(mem, folio) && pageTestFlag(mem, pfn, PG_anon_exclusive);
  }
  return pteDirty(pte);
}

/**
 * `pte_modify(pte, vma->vm_page_prot)` (x86, 6.3) for the VMA's new flags: an
 * inaccessible VMA (PROT_NONE) makes the entry PROT_NONE; otherwise PROT_NONE goes and the
 * write bit comes from `vm_page_prot`, which never has it (a private mapping is COW, the
 * model's shared mappings take a write fault on a clean page); pfn, dirty, young,
 * soft-dirty, uffd-wp are kept (`_PAGE_CHG_MASK`). Then MM_CP_TRY_CHANGE_WRITABLE may set
 * write back (`canChangePteWritable`); `subpagePfn` is the page checked for exclusivity.
 */
function ptemodify(ctx: RmapState, vma: Vma, pte: number, subpagePfn: number): number {
  if ((vma.flags & VM_ACCESS_FLAGS) === 0) return ((pte & ~PTE_WRITE) | PTE_PROTNONE) >>> 0;
  const ptent = (pte & ~(PTE_PROTNONE | PTE_WRITE)) >>> 0;
  if (canChangePteWritable(ctx, vma, ptent, subpagePfn)) return (ptent | PTE_WRITE) >>> 0;
  return ptent;
}

/**
 * Whether replacing `oldpte` by `newpte` needs a TLB flush (`pte_needs_flush`, x86,
 * 6.3): only when access is taken away (write removed, or the entry became PROT_NONE);
 * a more permissive entry is picked up by the next fault's re-walk.
 */
function pteNeedsFlush(oldpte: number, newpte: number): boolean {
  if ((oldpte & PTE_WRITE) !== 0 && (newpte & PTE_WRITE) === 0) return true;
  return (oldpte & PTE_PROTNONE) === 0 && (newpte & PTE_PROTNONE) !== 0;
}

/**
 * `change_protection(tlb, vma, start, end, MM_CP_TRY_CHANGE_WRITABLE)` (mm/mprotect.c,
 * 6.3) after `vma->vm_flags` changed: `change_pmd_range` splits a huge PMD the range
 * covers only partly and changes a fully covered one in place (`change_huge_pmd`);
 * `change_pte_range` runs under each page-table lock, after `flush_tlb_batched_pending`,
 * over present entries (`ptemodify`) and writable migration entries (made readable).
 * Returns the entries changed and the vpn range to flush (`tlb_flush_pte_range`).
 */
function* changeProtection(
  ctx: RmapState,
  vma: Vma,
  start: number,
  end: number,
  flush: { lo: number; hi: number },
): KernelGen<number> {
  const mm = vma.mm;
  const mem = ctx.mem;
  let pages = 0;
  let vpn = start / PAGE_SIZE;
  const endVpn = end / PAGE_SIZE;
  while (vpn < endVpn) {
    const idx = pmdIndexOfVpn(vpn);
    const first = idx * PTRS_PER_PTE;
    const tableEnd = Math.min(endVpn, first + PTRS_PER_PTE);
    if (mm.pmds.has(idx)) {
      if (vpn !== first || tableEnd !== first + PTRS_PER_PTE) {
        yield* splitHugePmd(ctx, vma, vpn * PAGE_SIZE, false, null);
      } else {
        // change_huge_pmd (mm/huge_memory.c, 6.3) under page_table_lock.
        const ptl = mm.pageTableLock;
        if (!ptl.trylock()) yield* ptl.lockContended();
        const pmdv = mm.pmds.get(idx);
        if (pmdv !== undefined && pmdv !== 0) {
          let entry = pmdv;
          if (isWritableMigrationEntry(pmdv)) entry = migrationEntryWrprotect(mem, pmdv);
          else if (ptePresent(pmdv)) entry = ptemodify(ctx, vma, pmdv, ptePfn(pmdv));
          if (entry !== pmdv) {
            mm.pmds.set(idx, entry);
            ctx.rt.charge(ctx.costs.pteUpdate);
            pages += PTRS_PER_PTE;
            if (ptePresent(pmdv) && pteNeedsFlush(pmdv, entry)) {
              flush.lo = Math.min(flush.lo, first);
              flush.hi = Math.max(flush.hi, first + PTRS_PER_PTE);
            }
          }
        }
        ptl.unlock();
        vpn = tableEnd;
        yield; // cond_resched()
        continue;
      }
    }
    const table = mm.pageTables.get(idx);
    if (table !== undefined) {
      const ptl = table.ptl;
      if (!ptl.trylock()) yield* ptl.lockContended();
      flushTlbBatchedPending(ctx, mm);
      for (let v = vpn; v < tableEnd; v++) {
        const pte = table.get(v);
        if (pte === 0) continue;
        let entry: number;
        if (ptePresent(pte)) entry = ptemodify(ctx, vma, pte, ptePfn(pte));
        else if (isWritableMigrationEntry(pte)) entry = migrationEntryWrprotect(mem, pte);
        else continue;
        if (entry === pte) continue;
        table.set(v, entry);
        ctx.rt.charge(ctx.costs.pteUpdate);
        pages++;
        if (ptePresent(pte) && pteNeedsFlush(pte, entry)) {
          if (v < flush.lo) flush.lo = v;
          if (v + 1 > flush.hi) flush.hi = v + 1;
        }
      }
      ptl.unlock();
    }
    vpn = tableEnd;
    yield; // cond_resched()
  }
  return pages;
}

/**
 * `mprotect(start, len, prot)` (`do_mprotect_pkey` + `mprotect_fixup`, mm/mprotect.c,
 * Linux 6.3). Returns 0 or a negative errno:
 *
 * - -EINVAL: both PROT_GROWSDOWN and PROT_GROWSUP; `start` not page-aligned; a prot bit
 *   other than PROT_READ / PROT_WRITE / PROT_EXEC / PROT_SEM (`arch_validate_prot`, x86);
 *   PROT_GROWSDOWN on a VMA without VM_GROWSDOWN; PROT_GROWSUP at all (x86 has no
 *   VM_GROWSUP).
 * - `len` 0: 0 and nothing happens (checked after the alignment of `start`).
 * - -ENOMEM: `start + len` wraps; no VMA in `[start, end)`; the first VMA starts above
 *   `start`; a hole inside the range, or the range runs past the last VMA. The VMAs before
 *   the hole keep their new protection, as in the kernel.
 * - -EACCES: the new protection asks for an access the VMA may not get (VM_MAY*: a
 *   read-only file mapped MAP_SHARED made writable); the VMAs before it keep theirs.
 *
 * Under `mmap_lock` for write, each VMA in the range gets the new VM_READ / VM_WRITE /
 * VM_EXEC (split at the range's edges, merged with its neighbours afterwards, see
 * `vmaModify`), and `change_protection` updates its entries; `tlb_finish_mmu` flushes
 * what lost access once at the end (with `mm->tlb_flush_pending` raised meanwhile). A
 * later access that the VMA no longer allows is a SIGSEGV of the user access (an
 * INVALID_ARGUMENT MmsimError, as for any access outside a VMA). Not modelled: pkeys,
 * READ_IMPLIES_EXEC, VM_ACCOUNT commit charging, the populate of a VM_LOCKED private VMA
 * made writable, hugetlb VMAs.
 */
export function* mprotect(
  ctx: RmapState,
  mm: Mm,
  start: number,
  len: number,
  prot: number,
): KernelGen<number> {
  if (!mm.alive) throw new MmsimError('INVALID_STATE', `mprotect: ${mm} has exited`);
  if (!Number.isSafeInteger(start) || start < 0) {
    throw new MmsimError('INVALID_ARGUMENT', `mprotect: start must be an address, got ${start}`);
  }
  if (!Number.isSafeInteger(len) || len < 0) {
    throw new MmsimError('INVALID_ARGUMENT', `mprotect: len must be a size, got ${len}`);
  }
  if (!Number.isSafeInteger(prot) || prot < 0) {
    throw new MmsimError('INVALID_ARGUMENT', `mprotect: prot must be PROT_* bits, got ${prot}`);
  }
  const grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
  prot &= ~(PROT_GROWSDOWN | PROT_GROWSUP);
  if (grows === (PROT_GROWSDOWN | PROT_GROWSUP)) return -EINVAL;
  if (start % PAGE_SIZE !== 0) return -EINVAL;
  if (len === 0) return 0;
  const end = start + Math.ceil(len / PAGE_SIZE) * PAGE_SIZE;
  if (end > 2 ** 64) return -ENOMEM; // end <= start after the wrap
  if ((prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM)) !== 0) return -EINVAL;
  const sem = mm.mmapLock;
  if (!sem.downWriteTrylock()) yield* sem.downWrite('mprotect');
  try {
    const found = mm.findVma(start);
    if (found === null || found.start >= end) return -ENOMEM;
    if ((grows & PROT_GROWSDOWN) !== 0) {
      start = found.start;
      if ((found.flags & VM_GROWSDOWN) === 0) return -EINVAL;
    } else {
      if (found.start > start) return -ENOMEM;
      if ((grows & PROT_GROWSUP) !== 0) return -EINVAL; // no VM_GROWSUP on x86
    }
    let newprot = 0;
    if ((prot & PROT_READ) !== 0) newprot |= VM_READ;
    if ((prot & PROT_WRITE) !== 0) newprot |= VM_WRITE;
    if ((prot & PROT_EXEC) !== 0) newprot |= VM_EXEC;
    mm.tlbFlushPending++; // tlb_gather_mmu
    const flush = { lo: Number.POSITIVE_INFINITY, hi: 0 };
    let error = 0;
    let nstart = start;
    let tmp = found.start;
    let vma: Vma | null = found;
    while (vma !== null && vma.start < end) {
      if (vma.start !== tmp) {
        error = -ENOMEM;
        break;
      }
      const newflags = newprot | (vma.flags & ~VM_ACCESS_FLAGS);
      // newflags >> 4 puts VM_MAY* where VM_* are.
      if ((newflags & ~(newflags >> 4) & VM_ACCESS_FLAGS) !== 0) {
        error = -EACCES;
        break;
      }
      tmp = Math.min(vma.end, end);
      const from = nstart;
      const to = tmp;
      const changed = yield* vmaModify(
        ctx,
        vma,
        from,
        to,
        (v) => v.flags !== newflags,
        function* (v: Vma): KernelGen {
          v.flags = newflags;
          yield* changeProtection(ctx, v, from, to, flush);
        },
      );
      tmp = Math.max(tmp, Math.min(changed.end, end));
      nstart = tmp;
      vma = mm.findVma(changed.end);
    }
    if (flush.hi > 0) flushTlbRange(ctx, mm, flush.lo, flush.hi - flush.lo);
    mm.tlbFlushPending--; // tlb_finish_mmu
    if (error === 0 && tmp < end) error = -ENOMEM;
    return error;
  } finally {
    sem.upWrite();
  }
}
