import type { Folio } from '@mmsim/folio';
import type { KernelGen } from '@mmsim/runtime';
import { MIGRATEPAGE_SUCCESS } from './constants.js';
import { folioMigrateCopy, folioMigrateFlags } from './folio-migrate-flags.js';
import { migrateHugePageMoveMapping } from './folio-migrate-mapping.js';
import type { MigrateServices } from './migrate-services.js';
import { MIGRATE_SYNC_NO_COPY, type MigrateMode } from './modes.js';

/**
 * `hugetlbfs_migrate_folio(mapping, dst, src, mode)` (fs/hugetlbfs/inode.c, 6.3):
 * `migrate_huge_page_move_mapping`, the subpool moves (not modelled), then copy and flags
 * (flags only for MIGRATE_SYNC_NO_COPY). `src->private` keeps its hugetlb data.
 */
export function* hugetlbfsMigrateFolio(
  services: MigrateServices,
  mapping: object,
  dst: Folio,
  src: Folio,
  mode: MigrateMode,
): KernelGen<number> {
  const rc = migrateHugePageMoveMapping(services, mapping, dst, src);
  if (rc !== MIGRATEPAGE_SUCCESS) return rc;
  if (mode !== MIGRATE_SYNC_NO_COPY) folioMigrateCopy(services, dst, src);
  else folioMigrateFlags(services, dst, src);
  return MIGRATEPAGE_SUCCESS;
}
