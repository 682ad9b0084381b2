import {
  folioNid,
  folioRefCount,
  folioTestFlag,
  folioTestKsm,
  HPAGE_PMD_NR,
  PG_dirty,
  PG_swapbacked,
  pfnFolio,
} from '@mmsim/folio';
import { type KernelGen, MmsimError, VmEvent } from '@mmsim/runtime';
import { PAGE_SIZE, PTRS_PER_PTE } from './constants.js';
import { changeHugePmdNuma } from './huge-pmd-numa.js';
import { isVmHugetlbPage } from './hugetlb-state.js';
import type { Mm } from './mm.js';
import { canChangePteWritable, migrationEntryWrprotect } from './mprotect.js';
import { pmdIndexOfVpn } from './page-table.js';
import {
  isWritableMigrationEntry,
  PTE_WRITE,
  PTE_YOUNG,
  pteClearProtnone,
  pteHwPresent,
  pteMkProtnone,
  ptePfn,
  pteProtnone,
} from './pte.js';
import type { RmapState } from './rmap-state.js';
import { splitHugePmd } from './split-huge-pmd.js';
import { flushTlbRange } from './tlb.js';
import { flushTlbBatchedPending } from './tlb-batch.js';
import type { VmFault } from './vm-fault.js';

/** `sysctl_numa_balancing_mode` bits NUMA_BALANCING_NORMAL and NUMA_BALANCING_MEMORY_TIERING (include/linux/sched/sysctl.h, 6.3). */
const NUMA_BALANCING_NORMAL = 1;
const NUMA_BALANCING_MEMORY_TIERING = 2;

/** Options of `changeProtNuma`. */
export interface ChangeProtNumaOptions {
  /** `sysctl_numa_balancing_mode` (1 NORMAL, 2 MEMORY_TIERING, 3 both); default 1. */
  readonly mode?: number;
  /** `node_is_toptier(nid)`; without it no node counts as top tier. */
  readonly isToptier?: ((nid: number) => boolean) | null;
  /**
   * `xchg_page_access_time(page, now)`: called with each folio a PTE of which is marked on
   * a slow-tier node when `mode` has NUMA_BALANCING_MEMORY_TIERING; the callers keep the
   * scan time for the hot-page threshold. Made once by the caller, not per folio.
   */
  readonly xchgAccessTime?: ((folio: number) => void) | null;
}

/**
 * `change_prot_numa(vma, addr, end)` (mm/mempolicy.c, 6.3) over the PTE-mapped pages of
 * `[addr, addr + length)` of `mm`, as `task_numa_work` runs it under `mmap_lock` for read:
 * `tlb_gather_mmu` (which raises `mm->tlb_flush_pending`), `change_protection` with
 * MM_CP_PROT_NUMA (`change_pte_range`, mm/mprotect.c: under each page-table lock, first
 * `flush_tlb_batched_pending`, then every present entry becomes PROT_NONE, skipping one
 * already PROT_NONE, the zero page, a KSM page, a page of a COW mapping with other
 * references and a dirty file page), then `tlb_finish_mmu`: one flush of the changed range, after which
 * `tlb_flush_pending` drops again. There is a scheduling point between the last page
 * table and the flush, the window in which a PROT_NONE entry is still `pte_accessible`.
 * Counts `numa_pte_updates`; returns the number of entries changed.
 *
 * Huge PMDs (`change_pmd_range`, mm/mprotect.c, 6.3): one the range covers whole goes to
 * `change_huge_pmd` (`changeHugePmdNuma`) under `page_table_lock`; when it becomes PROT_NONE
 * it counts HPAGE_PMD_NR in `numa_pte_updates` and one in `numa_huge_pte_updates`, and its
 * range joins the final flush (`tlb_flush_pmd_range`). One the range covers only partly is
 * split first (`__split_huge_pmd`) and its PTEs are marked like the others. `options.mode`
 * (`sysctl_numa_balancing_mode`, default NUMA_BALANCING_NORMAL) and `options.isToptier`
 * (`node_is_toptier`) give the tiering-mode skip of `change_huge_pmd`.
 *
 * PTEs in memory-tiering mode (`change_pte_range`, mm/mprotect.c, 6.3): when `options.mode`
 * lacks NUMA_BALANCING_NORMAL, an entry whose folio is on a top-tier node
 * (`options.isToptier`) is left as it is; with NUMA_BALANCING_MEMORY_TIERING set, a
 * slow-tier folio that is marked gets its scan time (`xchg_page_access_time`, through
 * `options.xchgAccessTime`) for the hot-page threshold of its hinting fault.
 *
 * Non-present entries (`change_pte_range`, the `is_swap_pte` branch, which runs under
 * MM_CP_PROT_NUMA too): a writable migration entry becomes readable-exclusive (anonymous
 * folio) or readable (file folio), counted in the pages changed (so in `numa_pte_updates`)
 * but not flushed (the CPU never cached it); the folio then comes back read-only.
 *
 * Not modelled: device pages, the same-node skip of single-threaded private VMAs (it needs
 * `numa_node_id()` of the scanning task), uffd-wp, hugetlb VMAs.
 */
export function* changeProtNuma(
  ctx: RmapState,
  mm: Mm,
  addr: number,
  length: number,
  options?: ChangeProtNumaOptions,
): KernelGen<number> {
  if (!mm.alive) throw new MmsimError('INVALID_STATE', `change_prot_numa: ${mm} has exited`);
  if (!Number.isInteger(addr) || addr < 0 || addr % PAGE_SIZE !== 0) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `change_prot_numa: addr must be page-aligned, got ${String(addr)}`,
    );
  }
  if (!Number.isInteger(length) || length <= 0) {
    throw new MmsimError('INVALID_ARGUMENT', `change_prot_numa: bad length ${String(length)}`);
  }
  const mode = options?.mode ?? 1;
  if (!Number.isInteger(mode) || mode < 1 || mode > 3) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `change_prot_numa: numa_balancing mode must be 1, 2 or 3, got ${String(mode)}`,
    );
  }
  const isToptier = options?.isToptier ?? null;
  const xchgAccessTime =
    (mode & NUMA_BALANCING_MEMORY_TIERING) !== 0 ? (options?.xchgAccessTime ?? null) : null;
  const sem = mm.mmapLock;
  if (!sem.downReadTrylock()) yield* sem.downRead('task_numa_work');
  mm.tlbFlushPending++; // tlb_gather_mmu: inc_tlb_flush_pending
  const mem = ctx.mem;
  const startVpn = addr / PAGE_SIZE;
  const endVpn = startVpn + Math.ceil(length / PAGE_SIZE);
  let changed = 0;
  let hugeUpdates = 0;
  let lo = Number.POSITIVE_INFINITY;
  let hi = 0;
  for (const vma of mm.vmas) {
    if (isVmHugetlbPage(vma)) continue; // task_numa_work never passes one (not vma_migratable here)
    const from = Math.max(startVpn, vma.start / PAGE_SIZE);
    const to = Math.min(endVpn, vma.end / PAGE_SIZE);
    let vpn = from;
    while (vpn < to) {
      const idx = pmdIndexOfVpn(vpn);
      const tableEnd = Math.min(to, (idx + 1) * PTRS_PER_PTE);
      if (mm.pmds.has(idx)) {
        const first = idx * PTRS_PER_PTE;
        if (vpn === first && tableEnd === first + PTRS_PER_PTE) {
          const pmdl = mm.pageTableLock;
          if (!pmdl.trylock()) yield* pmdl.lockContended();
          const nr = changeHugePmdNuma(ctx, vma, idx, mode, isToptier);
          pmdl.unlock();
          if (nr === HPAGE_PMD_NR) {
            changed += HPAGE_PMD_NR;
            hugeUpdates++;
            if (first < lo) lo = first;
            if (tableEnd > hi) hi = tableEnd;
          }
          if (nr !== 0) {
            vpn = tableEnd;
            continue;
          }
        } else {
          yield* splitHugePmd(ctx, vma, vpn * PAGE_SIZE, false, null);
        }
      }
      const table = mm.pmds.has(idx) ? undefined : mm.pageTables.get(idx);
      if (table !== undefined) {
        const ptl = table.ptl;
        if (!ptl.trylock()) yield* ptl.lockContended();
        flushTlbBatchedPending(ctx, mm);
        for (let v = vpn; v < tableEnd; v++) {
          const pte = table.get(v);
          if (!pteHwPresent(pte)) {
            // is_swap_pte: "a protection check is difficult", write goes, no flush needed
            if (isWritableMigrationEntry(pte)) {
              table.set(v, migrationEntryWrprotect(mem, pte));
              ctx.rt.charge(ctx.costs.pteUpdate);
              changed++;
            }
            continue; // none, another migration entry, or already PROT_NONE
          }
          const pfn = ptePfn(pte);
          if (pfn === mem.zeroPfn) continue; // vm_normal_page: NULL
          const folio = pfnFolio(mem, pfn);
          if (folioTestKsm(mem, folio)) continue; // 6.3: folio_test_ksm, never hinted
          if (vma.isCow && folioRefCount(mem, folio) !== 1) continue; // shared COW page
          // page_is_file_lru && PageDirty: async migration could not move it
          if (!folioTestFlag(mem, folio, PG_swapbacked) && folioTestFlag(mem, folio, PG_dirty))
            continue;
          // memory tiering alone: the top tier is not scanned
          if (isToptier !== null || xchgAccessTime !== null) {
            const toptier = isToptier?.(folioNid(mem, folio)) === true;
            if (toptier && (mode & NUMA_BALANCING_NORMAL) === 0) continue;
            if (!toptier && xchgAccessTime !== null) xchgAccessTime(folio);
          }
          table.set(v, pteMkProtnone(pte));
          ctx.rt.charge(ctx.costs.pteUpdate);
          changed++;
          if (v < lo) lo = v;
          if (v + 1 > hi) hi = v + 1;
        }
        ptl.unlock();
      }
      vpn = tableEnd;
    }
  }
  yield; // cond_resched() before tlb_finish_mmu
  if (hi > lo) flushTlbRange(ctx, mm, lo, hi - lo);
  mm.tlbFlushPending--; // tlb_finish_mmu: dec_tlb_flush_pending after the flush
  if (changed > 0) ctx.vmstat.countVmEvents(VmEvent.NUMA_PTE_UPDATES, changed);
  // change_pmd_range: count_vm_numa_events(NUMA_HUGE_PTE_UPDATES, nr_huge_updates)
  if (hugeUpdates > 0) ctx.vmstat.countVmEvents(VmEvent.NUMA_HUGE_PTE_UPDATES, hugeUpdates);
  sem.upRead();
  return changed;
}

/**
 * `do_numa_page(vmf)` (mm/memory.c, 6.3) for a PROT_NONE entry: under the page-table lock,
 * if the entry is unchanged, `pte_modify(old_pte, vma->vm_page_prot)` and, while the lock
 * is held, whether it may be writable: `vma_wants_manual_pte_write_upgrade` and
 * `can_change_pte_writable` (6a56ccbcf6c6, 6.2, which replaced the saved-write bit); then
 * `numa_hint_faults`. `migrate_misplaced_page` is called through
 * `RmapState.numaHintFaultHook` when one is installed (@mmsim/callers'
 * `installNumaBalancing`), after the lock is dropped; the hook returns true when it called
 * `migrate_misplaced_page`. The kernel drops the lock with the entry still PROT_NONE; with
 * no target node it maps the entry again under the same lock, young and, if found so,
 * writable (`out_map`); once it has called `migrate_misplaced_page` it forgets `writable`
 * (6a56ccbcf6c6: the information is valid only under the lock), so a failed migration
 * restores the entry read-only, and a migrated folio comes back read-only too (its
 * migration entry was made from a PROT_NONE entry, which has no write bit). The model
 * restores the entry young and read-only first (the migration then unmaps an ordinary
 * read-only entry) and, when the hook found no target, makes it writable under the lock
 * again if it is still the entry it restored. Without a hook the entry is restored
 * writable at once.
 */
export function* doNumaPage(ctx: RmapState, vmf: VmFault): KernelGen<number> {
  const ptl = vmf.table.ptl;
  if (!ptl.trylock()) yield* ptl.lockContended();
  const now = vmf.table.get(vmf.vpn);
  let restored = -1;
  let writable = false;
  const hook = ctx.numaHintFaultHook;
  if (now === vmf.orig && pteProtnone(now)) {
    restored = (pteClearProtnone(now) | PTE_YOUNG) >>> 0;
    writable = canChangePteWritable(ctx, vmf.vma, restored, ptePfn(now));
    vmf.table.set(vmf.vpn, writable && hook === null ? (restored | PTE_WRITE) >>> 0 : restored);
    ctx.rt.charge(ctx.costs.pteUpdate);
    ctx.vmstat.countVmEvents(VmEvent.NUMA_HINT_FAULTS);
  }
  ptl.unlock();
  if (restored < 0 || hook === null) return 0;
  // numa_migrate_prep + migrate_misplaced_page
  const migrateCalled = yield* hook(vmf.vma.mm, vmf.address, ptePfn(now));
  if (!writable || migrateCalled === true) return 0;
  // out_map without a target node: the write bit found under the lock
  if (!ptl.trylock()) yield* ptl.lockContended();
  if (vmf.table.get(vmf.vpn) === restored) {
    vmf.table.set(vmf.vpn, (restored | PTE_WRITE) >>> 0);
    ctx.rt.charge(ctx.costs.pteUpdate);
  }
  ptl.unlock();
  return 0;
}
