import type { Folio } from '@mmsim/folio';
import type { KernelGen } from '@mmsim/runtime';
import type { ShmemHuge } from './shmem.js';

/**
 * How folios enter and leave the LRU, for a composition that has one (`@mmsim/lru`'s
 * `LruVecs` fits this shape). Without it, new folios stay off any LRU and a last put
 * frees the folio directly.
 */
export interface FolioLifecycle {
  /** `folio_add_lru_vma`: a folio was just mapped for the first time. */
  folioAddLru(folio: Folio): KernelGen;
  /**
   * `folio_add_lru` as plain calls, optional: true when the folio was added (nothing in
   * it had to spin), false having changed nothing (then `folioAddLru`). `LruVecs` has it.
   */
  folioAddLruUncontended?(folio: Folio): boolean;
  /** `folio_put` of a folio that may be on the LRU (the last put takes it off first). */
  folioPut(folio: Folio): KernelGen;
  /** `lru_add_drain`: do_wp_page drains this CPU's batch before its refcount test. */
  lruAddDrain(): KernelGen;
  /**
   * mlock (mm/mlock.c, 6.3), optional: without these, VM_LOCKED VMAs do not mlock their
   * folios. `mlockFolio`, `mlockNewFolio` and `munlockFolio` queue on this CPU's
   * mlock_fbatch (a plain call, usable under a page-table lock) and return true when the
   * kernel would move the batch at once; the caller then runs `mlockDrainLocal`.
   */
  mlockFolio?(folio: Folio): boolean;
  /** `mlock_new_folio`: `folio_add_lru_vma` of a new folio in a VM_LOCKED VMA. */
  mlockNewFolio?(folio: Folio): boolean;
  /** `munlock_folio`. */
  munlockFolio?(folio: Folio): boolean;
  /** `mlock_drain_local`. */
  mlockDrainLocal?(): KernelGen;
}

/** Options of `VirtualMemory`. */
export interface VirtualMemoryOptions {
  /** LRU hooks; default none. */
  readonly lru?: FolioLifecycle;
  /**
   * A read fault of never-written anonymous memory maps the shared zero page, as 6.3 does
   * (`do_anonymous_page`). Default true; false allocates a page on every first touch.
   */
  readonly zeroPage?: boolean;
  /**
   * `remove_migration_pte` write-protects a PTE restored from a non-writable migration
   * entry (Peter Xu, "mm/migrate: fix read-only page got writable when recover pte",
   * 6.1-rc, 20221114000447.1681003-2-peterx@redhat.com). Default true; false is the
   * kernel before the fix (see remove-migration-ptes.ts). The migrate variant's setting
   * of the same name, passed by the composition root.
   */
  readonly restoreWrprotectsReadEntry?: boolean;
  /**
   * `set_tlb_ubc_flush_pending` records no deferred flush for a PTE that is not
   * `pte_accessible` (a PROT_NONE entry whose change was flushed): Huang Ying's
   * 4d4b6d66db63 "mm,unmap: avoid flushing TLB in batch if PTE is inaccessible", 6.4.
   * Default false (6.3). A kernel takes it from its migrate variant.
   */
  readonly tlbBatchSkipsInaccessible?: boolean;
  /**
   * /sys/kernel/mm/transparent_hugepage/shmem_enabled (mm/shmem.c, 6.3): whether faults of
   * MAP_SHARED | MAP_ANONYMOUS memory may allocate PMD-size shmem folios ('always',
   * 'within_size', 'advise' with `hugepage`). Default 'never', the kernel's default.
   */
  readonly shmemEnabled?: ShmemHuge;
}
