import {
  type AllocOptions,
  allocHugetlbFolio,
  type Folio,
  type FolioList,
  folioOnList,
  folioPut,
  folioRefCount,
  folioTestHugetlb,
  folioTryGet,
} from '@mmsim/folio';
import { type KernelGen, MmsimError } from '@mmsim/runtime';
import { MIGRATEPAGE_SUCCESS } from './constants.js';
import { folioMigrateCopy, folioMigrateFlags } from './folio-migrate-flags.js';
import { migrateHugePageMoveMapping } from './folio-migrate-mapping.js';
import type { MigrateContext } from './migrate-env.js';
import { MIGRATE_SYNC_NO_COPY, type MigrateMode } from './modes.js';

/**
 * The hugetlb side migration needs (mm/hugetlb.c, fs/hugetlbfs/inode.c, Linux 6.3), for the
 * 2 MiB hstate: its `hugepage_activelist` (`ctx.hugepageActivelist`) and the
 * HPageMigratable bit of each folio on it. Subpools, reservations, surplus pages and
 * hugetlb cgroups are not modelled.
 */

function checkHugetlb(ctx: MigrateContext, folio: Folio, fn: string): void {
  if (!folioTestHugetlb(ctx.mem, folio)) {
    throw new MmsimError('INVALID_ARGUMENT', `${fn}: folio ${folio} is not a hugetlb folio`);
  }
}

/**
 * A hugetlb folio in use, as the fault path leaves one (`alloc_hugetlb_folio` puts it on
 * the active list; `folio_set_hugetlb_migratable` once it is instantiated): allocate one
 * from node `nid`'s pool (falling back unless `thisNode`) and make it active and
 * migratable. Returns the folio (refcount 1, the caller's: usually the page cache's) or
 * -ENOMEM. A model helper for scenarios; not a kernel function.
 */
export function hugetlbAllocActive(
  ctx: MigrateContext,
  nid: number,
  options?: AllocOptions,
): number {
  const folio = allocHugetlbFolio(ctx.mem, nid, options);
  if (folio < 0) return folio;
  ctx.hugepageActivelist.addTail(folio);
  ctx.hugetlbMigratable[folio] = 1;
  return folio;
}

/**
 * `isolate_hugetlb(folio, list)` (mm/hugetlb.c, 6.3, returning bool): a migratable active
 * hugetlb folio gets a reference, loses HPageMigratable and moves to the tail of `list`.
 * False if it is not migratable (already isolated, or not in use) or being freed.
 * NR_ISOLATED is not touched for hugetlb.
 */
export function isolateHugetlb(ctx: MigrateContext, folio: Folio, list: FolioList): boolean {
  checkHugetlb(ctx, folio, 'isolate_hugetlb');
  if (ctx.hugetlbMigratable[folio] !== 1 || !folioTryGet(ctx.mem, folio)) return false;
  ctx.hugetlbMigratable[folio] = 0;
  const on = folioOnList(ctx.mem, folio);
  if (on !== null) on.moveToTail(folio, list);
  else list.addTail(folio);
  return true;
}

/**
 * `folio_putback_active_hugetlb(folio)` (mm/hugetlb.c, 6.3): mark the folio migratable,
 * move it to the tail of the active list, and drop a reference. The last reference frees
 * it to its node's pool, off the active list (`free_huge_page` moves it to the free list).
 */
export function folioPutbackActiveHugetlb(ctx: MigrateContext, folio: Folio): void {
  const mem = ctx.mem;
  checkHugetlb(ctx, folio, 'folio_putback_active_hugetlb');
  ctx.hugetlbMigratable[folio] = 1;
  const active = ctx.hugepageActivelist;
  const on = folioOnList(mem, folio);
  if (on !== null) on.moveToTail(folio, active);
  else active.addTail(folio);
  if (folioRefCount(mem, folio) === 1) {
    active.del(folio);
    ctx.hugetlbMigratable[folio] = 0;
  }
  folioPut(mem, folio);
}

/**
 * `move_hugetlb_state(old, new, reason)` (mm/hugetlb.c, 6.3): moves the hugetlb cgroup
 * charge, the page-owner reason and the temporary (surplus) state, adjusting the surplus
 * counters when the nodes differ. The model has none of these: nothing to move.
 */
export function moveHugetlbState(_ctx: MigrateContext, _src: Folio, _dst: Folio): void {}

/**
 * `hugetlbfs_migrate_folio(mapping, dst, src, mode)` (fs/hugetlbfs/inode.c, 6.3):
 * `migrate_huge_page_move_mapping`, the subpool moves (not modelled), then copy and flags
 * (flags only for MIGRATE_SYNC_NO_COPY). `src->private` keeps its hugetlb data.
 */
export function* hugetlbfsMigrateFolio(
  ctx: MigrateContext,
  mapping: object,
  dst: Folio,
  src: Folio,
  mode: MigrateMode,
): KernelGen<number> {
  const rc = migrateHugePageMoveMapping(ctx, mapping, dst, src);
  if (rc !== MIGRATEPAGE_SUCCESS) return rc;
  if (mode !== MIGRATE_SYNC_NO_COPY) folioMigrateCopy(ctx, dst, src);
  else folioMigrateFlags(ctx, dst, src);
  return MIGRATEPAGE_SUCCESS;
}
