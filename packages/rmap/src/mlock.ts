import { type Folio, folioTestLarge } from '@mmsim/folio';
import type { KernelGen } from '@mmsim/runtime';
import { VM_IO, VM_LOCKED } from './constants.js';
import type { RmapState } from './rmap-state.js';
import type { Vma } from './vma.js';

/*
 * mlock on the rmap side (mm/mlock.c, mm/internal.h, mm/rmap.c, Linux 6.3). The folio
 * state (PG_mlocked, nr_mlock, the mlock_fbatch, the unevictable list) is the LRU's; here
 * are the places where mapping and unmapping a page in a VM_LOCKED VMA mlock or munlock
 * it. The mlock() / munlock() system calls are in mlock-syscall.ts.
 */

/**
 * `mlock_vma_folio(folio, vma, compound)` (mm/internal.h, 6.3), called at the end of
 * `page_add_anon_rmap` / `page_add_file_rmap`: in a VM_LOCKED VMA (and not VM_SPECIAL:
 * VM_IO is `mlock_vma_pages_range`'s marker that the walk counts the folio itself), a
 * PMD mapping or a PTE mapping of a small folio mlocks it (`mlock_folio`). Returns true
 * when the caller must run `mlockDrainLocal` (the kernel would drain at once).
 */
export function mlockVmaFolio(ctx: RmapState, folio: Folio, vma: Vma, compound: boolean): boolean {
  if ((vma.flags & (VM_LOCKED | VM_IO)) !== VM_LOCKED) return false;
  if (!compound && folioTestLarge(ctx.mem, folio)) return false;
  const lru = ctx.lru;
  if (lru === null || lru.mlockFolio === undefined) return false;
  return lru.mlockFolio(folio);
}

/**
 * `munlock_vma_folio(folio, vma, compound)` (mm/internal.h, 6.3), called by
 * `page_remove_rmap` in a VM_LOCKED VMA: a PMD mapping or a PTE mapping of a small folio
 * queues it for munlock (`munlock_folio`). Returns true when the caller must run
 * `mlockDrainLocal`.
 */
export function munlockVmaFolio(
  ctx: RmapState,
  folio: Folio,
  vma: Vma,
  compound: boolean,
): boolean {
  if ((vma.flags & VM_LOCKED) === 0) return false;
  if (!compound && folioTestLarge(ctx.mem, folio)) return false;
  const lru = ctx.lru;
  if (lru === null || lru.munlockFolio === undefined) return false;
  return lru.munlockFolio(folio);
}

/** `mlock_drain_local()` (mm/mlock.c, 6.3), when an LRU with mlock is attached. */
export function* mlockDrainLocal(ctx: RmapState): KernelGen {
  const lru = ctx.lru;
  if (lru !== null && lru.mlockDrainLocal !== undefined) yield* lru.mlockDrainLocal();
}
