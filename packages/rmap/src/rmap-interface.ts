import type { Folio } from '@mmsim/folio';
import type { KernelGen } from '@mmsim/runtime';
import type { AnonVmaView, MmView } from './readonly-views.js';
import type { RmapWalkControl } from './rmap-walk.js';

/**
 * What the migration core needs from the rmap side (Linux 6.3, mm/rmap.c and
 * mm/migrate.c). `migrate` imports it as a type; `VirtualMemory` is the default
 * implementation, and a unit test may hand in a fake. Members that may sleep or spin on a
 * lock are generators, called with `yield*` from a running task.
 */
export interface Rmap {
  /**
   * `try_to_migrate(folio, flags)`: replace every mapping of a locked folio (the caller
   * holds a reference) by migration entries. Flags: TTU_RMAP_LOCKED, TTU_SPLIT_HUGE_PMD,
   * TTU_SYNC, TTU_BATCH_FLUSH. Check `folioMapped` afterwards.
   */
  tryToMigrate(folio: Folio, flags: number): KernelGen;
  /**
   * `remove_migration_ptes(src, dst, locked)`: every migration entry of `src` becomes a
   * mapping of `dst` (of `src` again on failure, with `dst === src`). `dst` must already
   * have src's mapping and index.
   */
  removeMigrationPtes(src: Folio, dst: Folio, locked: boolean): KernelGen;
  /**
   * Optional fast path of `tryToMigrate`, as a plain call: true when done with nothing that
   * could sleep, spin or pass a scheduling point (a singly-mapped anon folio, locks free);
   * false, having changed nothing, when the caller must run `tryToMigrate`.
   */
  tryToMigrateUncontended?(folio: Folio, flags: number): boolean;
  /** Optional fast path of `removeMigrationPtes`, as `tryToMigrateUncontended` is of `tryToMigrate`. */
  removeMigrationPtesUncontended?(src: Folio, dst: Folio, locked: boolean): boolean;
  /** `rmap_walk(folio, rwc)`. */
  rmapWalk(folio: Folio, rwc: RmapWalkControl): KernelGen;
  /** `rmap_walk_locked(folio, rwc)`: the caller holds the anon_vma or i_mmap lock. */
  rmapWalkLocked(folio: Folio, rwc: RmapWalkControl): KernelGen;
  /** `folio_get_anon_vma(folio)`: a reference on a mapped anon folio's anon_vma, or null. */
  folioGetAnonVma(folio: Folio): AnonVmaView | null;
  /** `put_anon_vma(anon_vma)`. */
  putAnonVma(anonVma: AnonVmaView): void;
  /** `folio_anon_vma(folio)`: the anon_vma a folio's mapping points at, or null. */
  folioAnonVma(folio: Folio): AnonVmaView | null;
  /** `folio_mapped(folio)`: some page table maps some page of it. */
  folioMapped(folio: Folio): boolean;
  /** `folio_mapcount(folio)`. */
  folioMapcount(folio: Folio): number;
}

/**
 * The batched TLB flushing of the 2023 series (mm/rmap.c, arch/x86/mm/tlb.c, 6.3), on the
 * current task's `tlbflush_unmap_batch`.
 */
export interface TlbBatch {
  /** `try_to_unmap_flush()`: flush everything the task's batch deferred. */
  tryToUnmapFlush(): void;
  /** `try_to_unmap_flush_dirty()`: the same, only if a dirty PTE was deferred. */
  tryToUnmapFlushDirty(): void;
  /** `flush_tlb_batched_pending(mm)`: flush an mm whose deferred flush may be outstanding. */
  flushTlbBatchedPending(mm: MmView): void;
  /**
   * Model only: the caller returns with the task's batch pending where the kernel skips the
   * flush too (see `leaveTlbBatchPending`). Optional: replacements may omit it.
   */
  leaveTlbBatchPending?(site: string): void;
}

/** Both interfaces, as the migration core receives them from the composition root. */
export type RmapOps = Rmap & TlbBatch;
