import {
  type AllocOptions,
  allocHugetlbFolio,
  allocHugetlbFolioNodemask,
  allocSurplusHugetlbFolio,
  type Folio,
  FolioList,
  folioOnList,
  folioPut,
  folioRefCount,
  folioTestHugetlb,
  folioTestHugetlbTemporary,
  folioTryGet,
  frameArrayU8,
  type HugetlbNodemaskOptions,
  hugetlbMoveTemporaryState,
  type PhysicalMemory,
} from '@mmsim/folio';
import type { HugetlbLifecycle } from '@mmsim/rmap';
import { MmsimError } from '@mmsim/runtime';

/**
 * The hugetlb state migration needs (mm/hugetlb.c, Linux 6.3) for the 2 MiB hstate, kept
 * apart from the migrate core's read-only environment because isolation and putback
 * change it: `h->hugepage_activelist` and the HPageMigratable bit of each folio on it.
 * Surplus and temporary pages live in `@mmsim/folio` (the pool counters); subpools,
 * reservations and hugetlb cgroups are not modelled.
 */
export class HugetlbState {
  readonly mem: PhysicalMemory;
  /** `h->hugepage_activelist`: hugetlb folios in use. */
  readonly activelist: FolioList;
  /**
   * HPageMigratable per pfn (hugetlb heads on the active list that may be isolated): a
   * byte per frame from the machine's buffers, taken when the first folio is marked
   * (`markMigratable`). Until then it is an empty array, whose reads are undefined (not
   * marked) and whose writes of 0 change nothing: most machines have no hugetlb folio, and
   * an explorer builds a machine per schedule.
   */
  migratable: Uint8Array = NOT_MARKED;

  constructor(mem: PhysicalMemory) {
    this.mem = mem;
    this.activelist = new FolioList(mem);
  }
}

/** The `migratable` of a state that has marked no folio yet (never written: length 0). */
const NOT_MARKED = new Uint8Array(0);

/** `folio_set_hugetlb_migratable`'s bit: set, taking the bytes on the first mark. */
function markMigratable(h: HugetlbState, folio: Folio): void {
  let bits = h.migratable;
  if (bits === NOT_MARKED) {
    bits = frameArrayU8(h.mem);
    h.migratable = bits;
  }
  bits[folio] = 1;
}

function checkHugetlb(h: HugetlbState, folio: Folio, fn: string): void {
  if (!folioTestHugetlb(h.mem, folio)) {
    throw new MmsimError('INVALID_ARGUMENT', `${fn}: folio ${folio} is not a hugetlb folio`);
  }
}

/**
 * A hugetlb folio in use, as the fault path leaves one (`alloc_hugetlb_folio` puts it on
 * the active list; `folio_set_hugetlb_migratable` once it is instantiated): allocate one
 * from node `nid`'s pool (falling back unless `thisNode`), else a surplus page from the
 * buddy within `nr_overcommit_hugepages` (`alloc_buddy_hugetlb_folio_with_mpol` ->
 * `alloc_surplus_hugetlb_folio`, mm/hugetlb.c 6.3), and make it active and migratable.
 * Returns the folio (refcount 1, the caller's: usually the page cache's) or -ENOMEM. A
 * model helper for scenarios; not a kernel function.
 */
export function hugetlbAllocActive(h: HugetlbState, nid: number, options?: AllocOptions): number {
  let folio = allocHugetlbFolio(h.mem, nid, options);
  if (folio < 0) folio = allocSurplusHugetlbFolio(h.mem, nid, options);
  if (folio < 0) return folio;
  h.activelist.addTail(folio);
  markMigratable(h, folio);
  return folio;
}

/**
 * The hooks `@mmsim/rmap`'s hugetlb fault path calls (`HugetlbLifecycle`), on this
 * state (mm/hugetlb.c, 6.3): `alloc_hugetlb_folio` puts a new folio on the active list,
 * `folio_set_hugetlb_migratable` marks it once it is instantiated, and `free_huge_page`
 * takes a folio whose last reference goes off the active list and clears the mark.
 */
export function hugetlbLifecycle(h: HugetlbState): HugetlbLifecycle {
  return {
    folioActivate(folio: Folio): void {
      checkHugetlb(h, folio, 'alloc_hugetlb_folio');
      if (folioOnList(h.mem, folio) === null) h.activelist.addTail(folio);
    },
    folioSetMigratable(folio: Folio): void {
      checkHugetlb(h, folio, 'folio_set_hugetlb_migratable');
      markMigratable(h, folio);
    },
    folioFreeing(folio: Folio): void {
      checkHugetlb(h, folio, 'free_huge_page');
      folioOnList(h.mem, folio)?.del(folio);
      h.migratable[folio] = 0;
    },
  };
}

/**
 * `isolate_hugetlb(folio, list)` (mm/hugetlb.c, 6.3, returning bool): a migratable active
 * hugetlb folio gets a reference, loses HPageMigratable and moves to the tail of `list`.
 * False if it is not migratable (already isolated, or not in use) or being freed.
 * NR_ISOLATED is not touched for hugetlb.
 */
export function isolateHugetlb(h: HugetlbState, folio: Folio, list: FolioList): boolean {
  checkHugetlb(h, folio, 'isolate_hugetlb');
  if (h.migratable[folio] !== 1 || !folioTryGet(h.mem, folio)) return false;
  h.migratable[folio] = 0;
  const on = folioOnList(h.mem, folio);
  if (on !== null) on.moveToTail(folio, list);
  else list.addTail(folio);
  return true;
}

/**
 * `folio_putback_active_hugetlb(folio)` (mm/hugetlb.c, 6.3): mark the folio migratable,
 * move it to the tail of the active list, and drop a reference. The last reference frees
 * it to its node's pool, off the active list (`free_huge_page` moves it to the free list).
 */
export function folioPutbackActiveHugetlb(h: HugetlbState, folio: Folio): void {
  const mem = h.mem;
  checkHugetlb(h, folio, 'folio_putback_active_hugetlb');
  markMigratable(h, folio);
  const active = h.activelist;
  const on = folioOnList(mem, folio);
  if (on !== null) on.moveToTail(folio, active);
  else active.addTail(folio);
  if (folioRefCount(mem, folio) === 1) {
    active.del(folio);
    h.migratable[folio] = 0;
  }
  folioPut(mem, folio);
}

/**
 * The hugetlb half of `alloc_migration_target` (mm/migrate.c, 6.3):
 * `alloc_hugetlb_folio_nodemask(h, nid, nmask, gfp)` (mm/hugetlb.c, 6.3). A free page of
 * the pools (`dequeue_hugetlb_folio_nodemask` moves it to the active list), else a
 * temporary page from the buddy (`alloc_migrate_hugetlb_folio`), which is on no list until
 * `folio_putback_active_hugetlb` puts it there. Neither is HPageMigratable yet. `thisNode`
 * is `__GFP_THISNODE` for both steps; `allowAllocFallback: false` (6.10+) for the buddy
 * step only. Returns the folio (refcount 1) or -ENOMEM.
 */
export function hugetlbAllocMigrationTarget(
  h: HugetlbState,
  nid: number,
  options?: HugetlbNodemaskOptions,
): number {
  const folio = allocHugetlbFolioNodemask(h.mem, nid, options);
  if (folio < 0) return folio;
  if (!folioTestHugetlbTemporary(h.mem, folio)) h.activelist.addTail(folio);
  return folio;
}

/**
 * `move_hugetlb_state(old, new, reason)` (mm/hugetlb.c, 6.3): of what it moves, the model
 * has the temporary state: a temporary `dst` hands HPageTemporary to `src` (so src, not
 * dst, leaves the pool when freed) and, across nodes, one surplus page from src's node to
 * dst's when src's node has any (`hugetlbMoveTemporaryState`). The hugetlb cgroup charge
 * and the page-owner reason are not modelled.
 */
export function moveHugetlbState(h: HugetlbState, src: Folio, dst: Folio): void {
  hugetlbMoveTemporaryState(h.mem, src, dst);
}
