import type { AddressSpaceOperations } from './address-space-operations.js';
import { bufferMigrateFolio, bufferMigrateFolioNorefs } from './buffer-migrate-folio.js';
import { hugetlbfsMigrateFolio } from './hugetlbfs-migrate-folio.js';
import { filemapMigrateFolio, migrateFolio } from './migrate-folio.js';

/** `shmem_aops` (mm/shmem.c, 6.3): `.migrate_folio = migrate_folio`. */
export const SHMEM_AOPS: AddressSpaceOperations = Object.freeze({
  name: 'shmem_aops',
  migrateFolio,
});

/**
 * A filesystem without buffer heads whose folios may carry private data, as
 * `xfs_address_space_operations` / iomap users do: `.migrate_folio = filemap_migrate_folio`.
 * The default for page-cache mappings whose address space has no `aops` set.
 */
export const FILEMAP_AOPS: AddressSpaceOperations = Object.freeze({
  name: 'filemap_aops',
  migrateFolio: filemapMigrateFolio,
});

/** A buffer-head filesystem (`ext4_aops`, 6.3): `.migrate_folio = buffer_migrate_folio`. */
export const BUFFER_AOPS: AddressSpaceOperations = Object.freeze({
  name: 'ext4_aops',
  migrateFolio: bufferMigrateFolio,
});

/** A block device (`def_blk_aops`, 6.3): `.migrate_folio = buffer_migrate_folio_norefs`. */
export const BLOCKDEV_AOPS: AddressSpaceOperations = Object.freeze({
  name: 'def_blk_aops',
  migrateFolio: bufferMigrateFolioNorefs,
});

/** `hugetlbfs_aops` (fs/hugetlbfs/inode.c, 6.3): `.migrate_folio = hugetlbfs_migrate_folio`. */
export const HUGETLBFS_AOPS: AddressSpaceOperations = Object.freeze({
  name: 'hugetlbfs_aops',
  migrateFolio: hugetlbfsMigrateFolio,
});

/** The built-in tables: their callbacks are the core's own and are not wrapped. */
export const BUILTIN_AOPS: ReadonlySet<AddressSpaceOperations> = new Set([
  SHMEM_AOPS,
  FILEMAP_AOPS,
  BUFFER_AOPS,
  BLOCKDEV_AOPS,
  HUGETLBFS_AOPS,
]);
