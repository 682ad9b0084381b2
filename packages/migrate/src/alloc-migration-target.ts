import {
  FOLIO_TYPE_HUGETLB,
  type Folio,
  folioAlloc,
  folioNid,
  folioTestHugetlb,
  memmapReader,
  NUMA_NO_NODE,
  readerIsFolio,
} from '@mmsim/folio';
import { MmsimError } from '@mmsim/runtime';
import { hugetlbAllocMigrationTarget } from './hugetlb-state.js';
import type { MigrateEnv } from './migrate-env.js';
import {
  type MigrateReason,
  MR_MEMORY_FAILURE,
  MR_MEMORY_HOTPLUG,
  MR_MEMPOLICY_MBIND,
  MR_SYSCALL,
  MR_TYPES,
} from './reasons.js';

/**
 * `struct migration_target_control` (mm/internal.h, 6.3), the `private` argument of
 * `alloc_migration_target`.
 */
export interface MigrationTargetControl {
  /** Target node, or NUMA_NO_NODE (-1) for the source's node. */
  readonly nid: number;
  /**
   * `__GFP_THISNODE` in `gfp_mask`: allocate on `nid` only (move_pages and
   * migrate_pages(2) pass `GFP_HIGHUSER_MOVABLE | __GFP_THISNODE`). Default false: fall
   * back to other nodes by distance.
   */
  readonly thisNode?: boolean;
  /**
   * `mtc->reason` (6.10 and later; callers set it to their migrate reason). Read only by
   * variants with `hugetlbFallbackByReason`: a hugetlb target from the buddy may leave
   * `nid` only for memory hotplug, memory failure, the syscalls and mbind
   * (`htlb_allow_alloc_fallback`). Unset: the buddy step follows `thisNode` alone.
   */
  readonly reason?: MigrateReason;
  /**
   * `__GFP_MOVABLE` in `gfp_mask`, default true: the callers pass GFP_HIGHUSER_MOVABLE or
   * `GFP_USER | __GFP_MOVABLE`, so the target may come from ZONE_MOVABLE or a MIGRATE_CMA
   * pageblock. False for `migrate_longterm_unpinnable_pages` (mm/gup.c, 6.3: `GFP_USER |
   * __GFP_NOWARN`, under `memalloc_pin_save`): the target is then a ZONE_NORMAL page
   * outside CMA. For a hugetlb target (6.3 `alloc_hugetlb_folio_nodemask` under
   * PF_MEMALLOC_PIN) the pool dequeue passes over pages that are not longterm-pinnable and
   * the buddy step takes ZONE_NORMAL outside CMA (see `allocHugetlbFolioNodemask`).
   */
  readonly movable?: boolean;
}

/**
 * `htlb_allow_alloc_fallback(reason)` (include/linux/hugetlb.h, 6.10+): the reasons whose
 * hugetlb migration target may come from another node's buddy.
 */
export function htlbAllowAllocFallback(reason: MigrateReason): boolean {
  return (
    reason === MR_MEMORY_HOTPLUG ||
    reason === MR_MEMORY_FAILURE ||
    reason === MR_SYSCALL ||
    reason === MR_MEMPOLICY_MBIND
  );
}

/**
 * `alloc_migration_target(src, private)` (mm/migrate.c, 6.3), the standard `get_new_page`:
 * a folio of src's order on `mtc.nid` (src's node for NUMA_NO_NODE). A hugetlb src gets a
 * folio from the hugetlb pools, or a temporary one from the buddy when they are empty
 * (`alloc_hugetlb_folio_nodemask`, see `hugetlbAllocMigrationTarget`); a large src an order-`folio_order(src)` folio (GFP_TRANSHUGE without
 * __GFP_RECLAIM: the model has no reclaim anyway). Zones, nodemasks and __GFP_HIGHMEM are
 * not modelled. Returns null when there is no memory, and also when the fault site
 * `migrate.alloc_migration_target` fires. Charges one `pageAlloc`.
 */
export function allocMigrationTarget(
  env: MigrateEnv,
  src: Folio,
  mtc: MigrationTargetControl,
): Folio | null {
  const mem = env.mem;
  if (typeof mtc !== 'object' || mtc === null) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      'alloc_migration_target: private must be a MigrationTargetControl { nid, thisNode? }',
    );
  }
  const { nid: want, thisNode = false, reason, movable } = mtc;
  if (!Number.isInteger(want) || want < NUMA_NO_NODE || want >= mem.nrNodes) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `alloc_migration_target: nid must be NUMA_NO_NODE or a node in [0, ${mem.nrNodes - 1}], got ${String(want)}`,
    );
  }
  if (reason !== undefined && !(Number.isInteger(reason) && reason >= 0 && reason < MR_TYPES)) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `alloc_migration_target: reason must be a MigrateReason in [0, ${MR_TYPES - 1}], got ${String(reason)}`,
    );
  }
  if (movable !== undefined && typeof movable !== 'boolean') {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `alloc_migration_target: movable must be a boolean, got ${String(movable)}`,
    );
  }
  const nid = want === NUMA_NO_NODE ? folioNid(mem, src) : want;
  env.rt.charge(env.costs.pageAlloc);
  if (env.allocFault.fire()) return null;
  // src's type and order through the memmap reader (src is isolated: a live head; the
  // accessor throws its error if it is not).
  const r = memmapReader(mem);
  if (!readerIsFolio(r, src)) folioTestHugetlb(mem, src);
  if (r.folioType[src] === FOLIO_TYPE_HUGETLB) {
    const allowAllocFallback =
      !env.variant.hugetlbFallbackByReason ||
      reason === undefined ||
      htlbAllowAllocFallback(reason);
    const folio = hugetlbAllocMigrationTarget(env.hstate, nid, {
      thisNode,
      allowAllocFallback,
      movable: movable !== false,
    });
    return folio < 0 ? null : folio;
  }
  const order = r.order[src]!; // folio_test_large(src) ? folio_order(src) : 0
  const opts = ALLOC_OPTIONS;
  opts.thisNode = thisNode;
  opts.movable = movable;
  const folio = folioAlloc(mem, order, nid, opts);
  return folio < 0 ? null : folio;
}

/** The options of `allocMigrationTarget`'s buddy allocation, refilled by each call (read at once, kept by nobody). */
const ALLOC_OPTIONS: { thisNode: boolean; movable: boolean | undefined } = {
  thisNode: false,
  movable: undefined,
};
