import type { Folio, PhysicalMemory } from '@mmsim/folio';
import type { AddressSpaceOperationsBase } from '@mmsim/rmap';
import type { KernelGen } from '@mmsim/runtime';
import type { MigrateServices } from './migrate-services.js';
import type { MigrateMode } from './modes.js';

/**
 * `struct writeback_control` (include/linux/writeback.h, 6.3), the fields `writeout()`
 * fills in for `->writepage`.
 */
export interface WritebackControl {
  readonly syncMode: 'WB_SYNC_NONE' | 'WB_SYNC_ALL';
  readonly nrToWrite: number;
  readonly rangeStart: number;
  readonly rangeEnd: number;
  readonly forReclaim: boolean;
}

/**
 * `a_ops->migrate_folio(mapping, dst, src, mode)`: both folios locked; returns
 * MIGRATEPAGE_SUCCESS or a negative errno (-EAGAIN is retried). A generator because it
 * may sleep (buffer locks). `services` is what it may use of the machine.
 */
export type MigrateFolioFn = (
  services: MigrateServices,
  mapping: object,
  dst: Folio,
  src: Folio,
  mode: MigrateMode,
) => KernelGen<number>;

/**
 * `a_ops->writepage(page, wbc)`: called with the folio locked and PG_dirty already
 * cleared (`folio_clear_dirty_for_io`); it starts writeback and unlocks the folio (the
 * task that ends the I/O calls `folioEndWriteback`), or returns AOP_WRITEPAGE_ACTIVATE
 * with the folio still locked. Returns 0 or a negative errno.
 */
export type WritepageFn = (
  services: MigrateServices,
  folio: Folio,
  wbc: WritebackControl,
) => KernelGen<number>;

/** `a_ops->release_folio(folio, gfp)`: drop the folio's private data; true on success. */
export type ReleaseFolioFn = (services: MigrateServices, folio: Folio) => boolean;

/**
 * `struct address_space_operations` (include/linux/fs.h, 6.3), the members migration
 * uses. A page-cache folio is migrated by `migrateFolio`, or by `fallback_migrate_folio`
 * when it is null (which needs `writepage` for dirty folios and `releaseFolio`, or
 * buffer heads, for folios with private data).
 */
export interface AddressSpaceOperations extends AddressSpaceOperationsBase {
  /** The table's kernel name (`ext4_aops`, `shmem_aops`...), used in error messages. */
  readonly name: string;
  /** `migrate_folio`, or null: `fallback_migrate_folio` then. */
  readonly migrateFolio: MigrateFolioFn | null;
  /** `writepage`, or null/absent. */
  readonly writepage?: WritepageFn | null;
  /** `release_folio`, or null/absent: `try_to_free_buffers` then. */
  readonly releaseFolio?: ReleaseFolioFn | null;
}

/**
 * What migration needs of a page cache's `i_pages`: the `xas_store` of
 * `folio_migrate_mapping`. `@mmsim/rmap`'s `AddressSpace` has this shape.
 */
export interface PageCacheMapping {
  replaceFolio(src: Folio, dst: Folio, index: number, nrPages: number): void;
  /**
   * The `i_pages` half of a large folio's split (`xas_split` and the per-tail `__xa_store`
   * of `__split_huge_page`, mm/huge_memory.c 6.3): after the folio-level split, each of the
   * `nrPages` order-0 pieces from `folio` on takes the slot at `index + i`. Optional for
   * mappings that keep no per-index slots.
   */
  splitEntry?(mem: PhysicalMemory, folio: Folio, index: number, nrPages: number): void;
}
