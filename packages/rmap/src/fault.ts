import { type KernelGen, VmEvent } from '@mmsim/runtime';
import { doNumaPage } from './change-prot-numa.js';
import {
  FAULT_FLAG_UNSHARE,
  FAULT_FLAG_WRITE,
  VM_FAULT_FALLBACK,
  VM_FAULT_SIGSEGV,
} from './constants.js';
import { doAnonymousPage, doAnonymousPagePlain } from './fault-anon.js';
import { doFault, doFaultPlain } from './fault-file.js';
import {
  doHugePmdAnonymousPage,
  doHugePmdWpPage,
  hugePmdSetAccessed,
  thpEligible,
} from './huge-fault.js';
import { doHugePmdNumaPage } from './huge-pmd-numa.js';
import { hugetlbFault } from './hugetlb-fault.js';
import { isVmHugetlbPage } from './hugetlb-state.js';
import {
  migrationEntryWait,
  migrationEntryWaitPlain,
  pmdMigrationEntryWait,
} from './migration-entry-wait.js';
import { type PageTable, pmdIndexOf, vpnOf } from './page-table.js';
import {
  isMigrationEntry,
  PTE_NONE,
  PTE_YOUNG,
  pteMkdirty,
  ptePresent,
  pteProtnone,
  pteWrite,
} from './pte.js';
import type { RmapState } from './rmap-state.js';
import type { VmFault } from './vm-fault.js';
import type { Vma } from './vma.js';
import { doWpPage } from './wp-fault.js';

/**
 * `handle_pte_fault(vmf)` (mm/memory.c, 6.3): dispatch on the PTE read without the lock.
 * None: `do_anonymous_page` or `do_fault`. A migration entry: `do_swap_page`, which waits
 * in `migration_entry_wait` and returns 0 so the access is retried. PROT_NONE (a NUMA
 * hinting entry): `do_numa_page`. Present: a write (or
 * unshare) to a read-only PTE is `do_wp_page`; otherwise the PTE is made young (and dirty
 * on write, `pte_mkdirty`: soft-dirty too) under the lock, a spurious fault.
 */
function* handlePteFault(
  ctx: RmapState,
  vma: Vma,
  address: number,
  flags: number,
): KernelGen<number> {
  const vpn = vpnOf(address);
  const pmdNone = !vma.mm.pageTables.has(pmdIndexOf(address));
  const table = vma.mm.pageTable(pmdIndexOf(address));
  const orig = table.get(vpn);
  const vmf: VmFault = { vma, address, vpn, flags, table, orig, pmdNone };
  if (orig === PTE_NONE) {
    if (vma.file === null) return yield* doAnonymousPage(ctx, vmf);
    return yield* doFault(ctx, vmf);
  }
  if (!ptePresent(orig)) {
    if (isMigrationEntry(orig)) yield* migrationEntryWait(ctx, table, vpn);
    return 0;
  }
  if (pteProtnone(orig)) return yield* doNumaPage(ctx, vmf); // vma_is_accessible: checked
  const ptl = table.ptl;
  if (!ptl.trylock()) yield* ptl.lockContended();
  const now = table.get(vpn);
  if (now !== orig) {
    ptl.unlock();
    return 0;
  }
  let entry = orig;
  if ((flags & (FAULT_FLAG_WRITE | FAULT_FLAG_UNSHARE)) !== 0) {
    if (!pteWrite(orig)) return yield* doWpPage(ctx, vmf);
    if ((flags & FAULT_FLAG_WRITE) !== 0) entry = pteMkdirty(entry);
  }
  entry = (entry | PTE_YOUNG) >>> 0;
  if (entry !== orig) {
    table.set(vpn, entry);
    ctx.rt.charge(ctx.costs.pteUpdate);
  }
  ptl.unlock();
  return 0;
}

/**
 * `handle_mm_fault(vma, address, flags)` / `__handle_mm_fault` (mm/memory.c, 6.3), with
 * the caller holding `mmap_lock` for read. Counts `pgfault`. At the PMD level: an empty
 * PMD of a THP-eligible VMA gets a THP (falling back to PTEs if none can be allocated);
 * a PMD migration entry waits; a PROT_NONE huge PMD (a NUMA hinting entry) is
 * `do_huge_pmd_numa_page`; a write to a read-only huge PMD goes to
 * `do_huge_pmd_wp_page` (which may split it and fall back); other huge-PMD faults only
 * mark it accessed. Everything else is `handle_pte_fault`. Returns VM_FAULT_* bits (0 when
 * the access should simply be retried).
 */
export function* handleMmFault(
  ctx: RmapState,
  vma: Vma,
  address: number,
  flags: number,
): KernelGen<number> {
  ctx.vmstat.countVmEvents(VmEvent.PGFAULT);
  return yield* handleMmFaultCounted(ctx, vma, address, flags);
}

/** `handle_mm_fault` after its `pgfault` count. */
function* handleMmFaultCounted(
  ctx: RmapState,
  vma: Vma,
  address: number,
  flags: number,
): KernelGen<number> {
  if (address < vma.start || address >= vma.end) return VM_FAULT_SIGSEGV;
  if (isVmHugetlbPage(vma)) return yield* hugetlbFault(ctx, vma, address, flags);
  const mm = vma.mm;
  const idx = pmdIndexOf(address);
  const pmdv = mm.pmds.get(idx);
  if (pmdv === undefined) {
    if (!mm.pageTables.has(idx) && thpEligible(vma, address)) {
      const ret = yield* doHugePmdAnonymousPage(ctx, vma, address);
      if ((ret & VM_FAULT_FALLBACK) === 0) return ret;
    }
  } else if (pmdv !== 0) {
    if (isMigrationEntry(pmdv)) {
      yield* pmdMigrationEntryWait(ctx, mm, idx);
      return 0;
    }
    // pmd_protnone && vma_is_accessible (do_user_addr_fault checked the access)
    if (pteProtnone(pmdv)) return yield* doHugePmdNumaPage(ctx, vma, address, pmdv);
    if ((flags & (FAULT_FLAG_WRITE | FAULT_FLAG_UNSHARE)) !== 0 && !pteWrite(pmdv)) {
      const ret = yield* doHugePmdWpPage(ctx, vma, address, pmdv, flags);
      if ((ret & VM_FAULT_FALLBACK) === 0) return ret;
    } else {
      return yield* hugePmdSetAccessed(ctx, vma, address, flags);
    }
  } else {
    return 0; // a PMD being changed under its lock: retry
  }
  return yield* handlePteFault(ctx, vma, address, flags);
}

/**
 * `handle_mm_fault` as plain calls where it can be: the first touch of a private
 * anonymous page in an existing page table (`do_anonymous_page`, see
 * `doAnonymousPagePlain`) and the first touch of a page of a file mapping (`do_fault`, see
 * `doFaultPlain`) run without a generator, and a fault on a migration entry
 * without one up to its sleep (`migrationEntryWaitPlain`); every other fault, and those when
 * they might have to wait, returns the generator that goes on from where the plain part
 * stopped (which changed nothing but the `pgfault` count, or took the PTE lock of a
 * migration entry): run it at once with `yield*`, in the same step, for the VM_FAULT_*
 * bits. The same steps, charges and results as `handleMmFault`.
 */
export function handleMmFaultPlain(
  ctx: RmapState,
  vma: Vma,
  address: number,
  flags: number,
): number | KernelGen<number> {
  ctx.vmstat.countVmEvents(VmEvent.PGFAULT);
  const mm = vma.mm;
  const idx = pmdIndexOf(address);
  if (
    address < vma.start ||
    address >= vma.end ||
    isVmHugetlbPage(vma) ||
    mm.pmds.get(idx) !== undefined
  ) {
    return handleMmFaultCounted(ctx, vma, address, flags);
  }
  if (vma.file !== null) return fileFaultPlain(ctx, vma, address, flags, idx);
  const table = mm.pageTables.get(idx);
  // no page table yet: a THP may be due, or the table is allocated (`pmdNone`)
  if (table === undefined) return handleMmFaultCounted(ctx, vma, address, flags);
  const vpn = vpnOf(address);
  const orig = table.get(vpn);
  if (orig !== PTE_NONE) {
    // `do_swap_page` of a migration entry (`handle_pte_fault` above): the wait, plainly
    // up to where it may sleep.
    if (isMigrationEntry(orig)) return migrationEntryWaitPlain(ctx, table, vpn);
    return handlePteFault(ctx, vma, address, flags);
  }
  return doAnonymousPagePlain(ctx, { vma, address, vpn, flags, table, orig, pmdNone: false });
}

/**
 * `handleMmFaultPlain` for a file VMA with no PMD mapping (`thpEligible` is false for file
 * VMAs, so `__handle_mm_fault` goes to `handle_pte_fault`): the page table is allocated
 * as `handlePteFault` does (`pmdNone` when it was not there), a PTE that is none is
 * `doFaultPlain`, a migration entry `migrationEntryWaitPlain`, anything else the
 * `handlePteFault` generator.
 */
function fileFaultPlain(
  ctx: RmapState,
  vma: Vma,
  address: number,
  flags: number,
  idx: number,
): number | KernelGen<number> {
  const mm = vma.mm;
  const vpn = vpnOf(address);
  const pmdNone = !mm.pageTables.has(idx);
  if (!pmdNone) {
    const orig = (mm.pageTables.get(idx) as PageTable).get(vpn);
    if (orig !== PTE_NONE) {
      if (isMigrationEntry(orig)) {
        return migrationEntryWaitPlain(ctx, mm.pageTables.get(idx) as PageTable, vpn);
      }
      return handlePteFault(ctx, vma, address, flags);
    }
  }
  const table = mm.pageTable(idx);
  return doFaultPlain(ctx, { vma, address, vpn, flags, table, orig: PTE_NONE, pmdNone });
}
