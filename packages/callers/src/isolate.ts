import {
  type Folio,
  type FolioList,
  folioNrPages,
  folioOrder,
  folioPut,
  folioTestHugetlb,
  folioTestLarge,
  folioTestMovable,
  folioTryGet,
  HPAGE_PMD_ORDER,
} from '@mmsim/folio';
import type { Kernel } from '@mmsim/kernel';
import { ISOLATE_ASYNC_MIGRATE, MIGRATE_ASYNC, type MigrateMode } from '@mmsim/migrate';
import { FP_FOLIO, FP_VMSTAT, type KernelGen } from '@mmsim/runtime';

/**
 * The LRU part of isolating a folio for migration, for a caller that already holds a
 * lookup reference on it (`get_page_unless_zero` in `isolate_migratepages_block`,
 * `folio_get` in `add_page_for_migration`; mm/compaction.c, mm/migrate.c, Linux 6.3):
 * `folio_isolate_lru` (PG_lru cleared, off its list under `lru_lock`, an isolation
 * reference taken), NR_ISOLATED_{ANON,FILE} += its pages (`node_stat_mod_folio`), onto
 * `list`; then the lookup reference is dropped, by an LRU-aware put when the isolation
 * failed (it may be the last reference). Returns whether it was isolated. `atHead`:
 * `list_add` (compaction puts each folio at the head of `cc->migratepages`) rather than
 * `list_add_tail` (move_pages).
 */
export function* isolateLruFolioHeld(
  k: Kernel,
  folio: Folio,
  list: FolioList,
  atHead = false,
): KernelGen<boolean> {
  let isolated = false;
  if (yield* k.lru.folioIsolateLru(folio)) {
    if (atHead) list.add(folio);
    else list.addTail(folio);
    const item = k.lru.folioIsolatedItem(folio);
    k.rt.touchKernel(FP_VMSTAT, item, true); // NR_ISOLATED_{ANON,FILE}
    k.lru.nodeStatModFolio(folio, item, folioNrPages(k.mem, folio));
    isolated = true;
  }
  if (isolated)
    folioPut(k.mem, folio); // the isolation holds its own reference
  else yield* k.lru.folioPut(folio); // may be the last one: LRU-aware put
  return isolated;
}

/**
 * Isolates one folio for migration onto `list`, as the callers of migrate_pages() do:
 * a hugetlb folio with `isolate_hugetlb`; a non-LRU movable page with
 * `isolate_movable_page` (not counted in NR_ISOLATED); an LRU folio with a lookup
 * reference (`folio_try_get`), then `isolateLruFolioHeld` (`add_page_for_migration`,
 * mm/migrate.c; `isolate_migratepages_block`, mm/compaction.c, 6.3). Returns whether it
 * was isolated. No caller-specific refusal rules: compaction's are in
 * `isolateMigratepagesBlock`.
 */
export function* isolateForMigration(
  k: Kernel,
  folio: Folio,
  list: FolioList,
  mode: MigrateMode,
): KernelGen<boolean> {
  const mem = k.mem;
  if (folioTestHugetlb(mem, folio)) return k.migrate.isolateHugetlb(folio, list);
  if (folioTestMovable(mem, folio)) {
    const isolateMode = mode === MIGRATE_ASYNC ? ISOLATE_ASYNC_MIGRATE : 0;
    if (!k.migrate.isolateMovablePage(folio, isolateMode)) return false;
    list.addTail(folio);
    return true;
  }
  k.rt.touchKernel(FP_FOLIO, folio, true); // folio_try_get
  if (!folioTryGet(mem, folio)) return false; // freed under us
  return yield* isolateLruFolioHeld(k, folio, list);
}

/**
 * `skip_isolation_on_order(order, target_order)` (mm/compaction.c, 6.9+): whether
 * compaction passes over a large folio of `order` when it works for `compactOrder` (-1: a
 * whole-node compaction, `is_via_compact_memory`). True for a folio of at least
 * pageblock_order (HPAGE_PMD_ORDER on x86), or, outside a whole-node compaction, of at
 * least the target order.
 */
export function skipIsolationOnOrder(order: number, compactOrder: number): boolean {
  if (compactOrder !== -1 && order >= compactOrder) return true;
  return order >= HPAGE_PMD_ORDER;
}

/**
 * Whether compaction's `isolate_migratepages_block` (mm/compaction.c) passes over `folio`
 * because it is large (not counting hugetlb folios, handled apart). 6.3 skips every
 * compound page unless `cc->alloc_contig`. 6.9 and later (variant
 * `compactionIsolatesLarge`; Zi Yan, "mm/compaction: enable compacting >0 order folios")
 * skip a large folio only when `skip_isolation_on_order(order, cc->order)` holds.
 */
export function compactionSkipsFolio(k: Kernel, folio: Folio, compactOrder: number): boolean {
  const mem = k.mem;
  if (!folioTestLarge(mem, folio) || folioTestHugetlb(mem, folio)) return false;
  if (!k.variant.compactionIsolatesLarge) return true;
  return skipIsolationOnOrder(folioOrder(mem, folio), compactOrder);
}
