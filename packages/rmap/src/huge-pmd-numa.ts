import {
  folioNid,
  folioTestAnon,
  HPAGE_PMD_NR,
  PG_anon_exclusive,
  pageTestFlag,
} from '@mmsim/folio';
import { type KernelGen, VmEvent } from '@mmsim/runtime';
import { VM_SHARED, VM_SOFTDIRTY, VM_WRITE } from './constants.js';
import { migrationEntryWrprotect } from './mprotect.js';
import { pmdIndexOf } from './page-table.js';
import {
  isMigrationEntry,
  isWritableMigrationEntry,
  PTE_PROTNONE,
  PTE_WRITE,
  PTE_YOUNG,
  pteDirty,
  pteMkProtnone,
  ptePfn,
  pteProtnone,
  pteSoftDirty,
  pteUffdWp,
} from './pte.js';
import type { RmapState } from './rmap-state.js';
import type { Vma } from './vma.js';

/**
 * NUMA hinting on PMD-mapped THPs (mm/huge_memory.c, mm/mprotect.c, 6.3): the huge-PMD
 * half of `change_prot_numa` (`change_pmd_range` -> `change_huge_pmd` with
 * MM_CP_PROT_NUMA) and of the hinting fault (`do_huge_pmd_numa_page`).
 */

/** `sysctl_numa_balancing_mode` bit NUMA_BALANCING_NORMAL (include/linux/sched/sysctl.h, 6.3). */
const NUMA_BALANCING_NORMAL = 1;

/**
 * `change_huge_pmd(tlb, vma, pmd, addr, PAGE_NONE, MM_CP_PROT_NUMA)` (mm/huge_memory.c,
 * 6.3), with `page_table_lock` held by the caller (`__pmd_trans_huge_lock`). Returns what
 * the kernel returns: 0 when the PMD is no longer huge (the caller goes down to the PTE
 * level), 1 when the huge PMD was handled without a change, HPAGE_PMD_NR when it became
 * a PROT_NONE hinting entry.
 *
 * - A PMD migration entry is not hinted, but a writable one is made readable (readable-
 *   exclusive for anon) whatever the new protection: 6.3 does this for MM_CP_PROT_NUMA
 *   too, the "protection check is difficult" branch that runs before the prot_numa test.
 * - Skipped: the huge zero page (not modelled: a read fault allocates a THP), a PMD already
 *   PROT_NONE, and a folio on a top-tier node when `numa_balancing_mode` lacks
 *   NUMA_BALANCING_NORMAL (memory-tiering mode alone scans only the slow tier). 6.3 has no
 *   "already on the target node" skip for PMDs (`change_pte_range` has one for PTEs of
 *   single-threaded private VMAs; the model's PTE path does not have it either). The
 *   tiering mode's `xchg_page_access_time` is the callers' per-mm scan time.
 * - Otherwise `pmdp_invalidate_ad` (x86: no flush of its own) and `pmd_modify(PAGE_NONE)`:
 *   the write bit goes, dirty / young / soft-dirty stay; the flush is left to
 *   `tlb_finish_mmu` (`tlb_flush_pmd_range`, added by the caller).
 */
export function changeHugePmdNuma(
  ctx: RmapState,
  vma: Vma,
  pmdIndex: number,
  mode: number,
  isToptier: ((nid: number) => boolean) | null,
): number {
  const mm = vma.mm;
  const pmdv = mm.pmds.get(pmdIndex);
  if (pmdv === undefined || pmdv === 0) return 0;
  if (isMigrationEntry(pmdv)) {
    if (isWritableMigrationEntry(pmdv)) {
      mm.pmds.set(pmdIndex, migrationEntryWrprotect(ctx.mem, pmdv));
      ctx.rt.charge(ctx.costs.pteUpdate);
    }
    return 1;
  }
  if (pteProtnone(pmdv)) return 1;
  if ((mode & NUMA_BALANCING_NORMAL) === 0 && isToptier !== null) {
    if (isToptier(folioNid(ctx.mem, ptePfn(pmdv)))) return 1;
  }
  mm.pmds.set(pmdIndex, pteMkProtnone(pmdv));
  ctx.rt.charge(ctx.costs.pteUpdate);
  return HPAGE_PMD_NR;
}

/**
 * `can_change_pmd_writable(vma, addr, pmd)` (mm/huge_memory.c, 6.3) behind
 * `vma_wants_manual_pte_write_upgrade` (a VM_WRITE VMA; the model's shared mappings want
 * write-notify, so only a dirty PMD qualifies there): no for PROT_NONE, for soft-dirty
 * tracking that needs the write fault, for uffd-wp; in a private mapping only an exclusive
 * anonymous THP.
 */
function canChangePmdWritable(ctx: RmapState, vma: Vma, pmd: number): boolean {
  if ((vma.flags & VM_WRITE) === 0) return false;
  if (pteProtnone(pmd)) return false;
  if ((vma.flags & VM_SOFTDIRTY) === 0 && !pteSoftDirty(pmd)) return false;
  if (pteUffdWp(pmd)) return false;
  if ((vma.flags & VM_SHARED) === 0) {
    const folio = ptePfn(pmd);
    return folioTestAnon(ctx.mem, folio) && pageTestFlag(ctx.mem, folio, PG_anon_exclusive);
  }
  return pteDirty(pmd);
}

/**
 * `do_huge_pmd_numa_page(vmf)` (mm/huge_memory.c, 6.3), for the PROT_NONE huge PMD `orig`
 * read without the lock (`handle_mm_fault`'s `pmd_protnone` branch):
 *
 * - under `page_table_lock`, give up if the PMD changed; compute the PMD the VMA's
 *   protection gives (`pmd_modify(oldpmd, vma->vm_page_prot)`) and whether it may be
 *   writable at once (`can_change_pmd_writable`);
 * - `numa_migrate_prep`: `numa_hint_faults` here, then (through
 *   `RmapState.numaHugeHintFaultHook`) `numa_hint_faults_local` and `mpol_misplaced`;
 *   no target node: the PMD is restored under the same lock hold;
 * - otherwise the lock is dropped with the PMD still PROT_NONE and
 *   `migrate_misplaced_page` moves the whole THP (its migration entry replaces the PMD;
 *   `remove_migration_pmd` maps the new THP with the VMA's protection). When it did not
 *   move, the lock is taken again and, if the PMD is unchanged, restored — not writable
 *   (6.3 clears `writable` once the lock was dropped): a write takes the
 *   `do_huge_pmd_wp_page` fault, which reuses an exclusive THP.
 *
 * The `writable` computation is 6a56ccbcf6c6 ("mm/autonuma: use can_change_(pte|pmd)_writable()
 * to replace savedwrite", v6.3-rc1). The restored PMD is young (`pmd_mkyoung`). Returns 0
 * (the access is retried).
 * `task_numa_fault` (the scheduler's placement statistics) is not modelled.
 */
export function* doHugePmdNumaPage(
  ctx: RmapState,
  vma: Vma,
  address: number,
  orig: number,
): KernelGen<number> {
  const mm = vma.mm;
  const idx = pmdIndexOf(address);
  const ptl = mm.pageTableLock;
  if (!ptl.trylock()) yield* ptl.lockContended();
  if (mm.pmds.get(idx) !== orig) {
    ptl.unlock();
    return 0;
  }
  // pmd_modify(oldpmd, vma->vm_page_prot): PROT_NONE goes, vm_page_prot never has write.
  const pmd = (orig & ~(PTE_PROTNONE | PTE_WRITE)) >>> 0;
  const writable = canChangePmdWritable(ctx, vma, pmd);
  const folio = ptePfn(orig); // vm_normal_page_pmd: never NULL, no huge zero page
  ctx.vmstat.countVmEvents(VmEvent.NUMA_HINT_FAULTS); // numa_migrate_prep
  const hook = ctx.numaHugeHintFaultHook;
  const target = hook === null ? -1 : hook.prep(mm, address, folio);
  if (target < 0) {
    mm.pmds.set(idx, (pmd | PTE_YOUNG | (writable ? PTE_WRITE : 0)) >>> 0);
    ctx.rt.charge(ctx.costs.pteUpdate);
    ptl.unlock();
    return 0;
  }
  ptl.unlock();
  if (yield* hook!.migrate(mm, address, folio, target)) return 0;
  if (!ptl.trylock()) yield* ptl.lockContended();
  if (mm.pmds.get(idx) === orig) {
    mm.pmds.set(idx, (pmd | PTE_YOUNG) >>> 0);
    ctx.rt.charge(ctx.costs.pteUpdate);
  }
  ptl.unlock();
  return 0;
}
