import { checkPhysicalMemory } from '@mmsim/folio';
import type { Kernel } from '@mmsim/kernel';
import type { Invariant } from '@mmsim/runtime';
import { firstProblem, strided } from './invariant.js';

/**
 * `rmap-consistent`: the virtual-memory model agrees with itself (`VirtualMemory.check`):
 * every page-table entry lies in a VMA and points at a live folio the rmap finds again,
 * migration entries point at locked folios, mapcounts equal the entries and refcounts
 * cover mappings, page cache and pins, anon_vma chains hold. At the end also: no TLB
 * caches a translation the page tables lost, no deferred flush is pending.
 *
 * Kernel rules (mm/rmap.c, mm/migrate.c, mm/memory.c, kernel/fork.c, 6.3): rmap finds
 * every mapping of a folio (`rmap_walk`: through the anon_vma chain or `i_mmap`, at
 * `folio->index`); a migration entry points at a locked folio; `_mapcount` and the rss
 * counters change with the entries under the PTE lock. It accepts the legal states of
 * the operations that run concurrently with it: a page-cache src whose mapping
 * `move_to_new_folio` cleared while `remove_migration_ptes(src, dst)` has not yet
 * reached every VMA; VMAs detached by munmap / exit still counted in `num_active_vmas`
 * until `unlink_anon_vmas`; references held beyond the mappings (a zap's gathered pages,
 * GUP, isolation), since only a lower refcount is reported. See `checkRmap` for each.
 *
 * Incremental on steps: a step check compares the page-table entries whose table, VMAs
 * and folio are as its last sound pass recorded them, and the folios whose counts, frames
 * and mappings did not change, with that pass's record instead of checking them again
 * (`checkRmap`'s `incremental`), and runs the rest in full; a pass that finds anything
 * reports the full check's problems, so it gives the full check's verdict at the same step
 * for every write made through the model's functions. The end check is always full, so a
 * write straight into a page table's entries or the memmap's counts (which `PageTable.set`
 * and the folio setters would have marked) is found at the end at the latest.
 */
export function rmapConsistent(k: Kernel, stride: number): Invariant {
  return strided('rmap-consistent', stride, (phase) =>
    firstProblem(k.vm.check({ quiescent: phase === 'end', incremental: phase === 'step' })),
  );
}

/**
 * `memmap-consistent`: the physical memory model agrees with itself
 * (`checkPhysicalMemory`): each frame free in one buddy block or in one folio, tails
 * pointing at live heads, no negative counts, kept mapcount sums right, free lists and
 * folio lists well linked, hugetlb pools counted, the zero page intact.
 *
 * Kernel rule (mm/page_alloc.c, mm/debug.c, 6.3): what `bad_page` / CONFIG_DEBUG_VM
 * checks: a free page is in exactly one buddy block of its order (`page_is_buddy`), and
 * buddies merge on free (`__free_one_page`, under `zone->lock`: one step in the model, as
 * are allocation and a folio split); a tail's `compound_head` points at its head. The
 * model has no per-CPU page lists, so no free page escapes the buddy lists.
 *
 * Incremental on steps: a step check reads again only the blocks and folios the memory
 * map's writers changed since the last sound check (`checkPhysicalMemory`'s
 * `incremental`), so it finds what a full check finds at the same step for every write
 * made through the model's functions; the end check is always full, so a write that
 * bypassed them (straight into the arrays) is found at the end at the latest. The first
 * step check of a machine takes it as built for its last sound check (`trustBuilt`: the
 * kernel's memory configuration is frozen, so every machine built from it starts as the
 * same memory map, checked once) and reads what changed since the build.
 */
export function memmapConsistent(k: Kernel, stride: number): Invariant {
  return strided('memmap-consistent', stride, (phase) =>
    firstProblem(
      checkPhysicalMemory(k.mem, { incremental: phase === 'step', trustBuilt: phase === 'step' }),
    ),
  );
}
