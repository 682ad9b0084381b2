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
import {
  folioPutFast,
  ISOLATE_LRU_DONE,
  ISOLATE_LRU_FAILED,
  ISOLATE_LRU_GENERAL,
} from '@mmsim/lru';
import { ISOLATE_ASYNC_MIGRATE, MIGRATE_ASYNC, type MigrateMode } from '@mmsim/migrate';
import { FP_FOLIO, FP_VMSTAT, type KernelGen, MmsimError } from '@mmsim/runtime';

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
  if (yield* k.lru.folioIsolateLru(folio)) {
    isolatedHeld(k, folio, list, atHead);
    return true;
  }
  yield* k.lru.folioPut(folio); // may be the last one: LRU-aware put
  return false;
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

/** `isolateForMigrationStart`: not isolated, and nothing is left to do (false). */
export const ISOLATION_FAILED = 0;
/** `isolateForMigrationStart`: isolated onto the list (true). */
export const ISOLATION_DONE = 1;
/**
 * `isolateForMigrationStart`: nothing was done, because the kernel's LRU has no plain-call
 * isolation (`LruIsolation.folioIsolateLruStart`): run `isolateForMigration`.
 */
export const ISOLATION_GENERAL = -1;
/**
 * `isolateForMigrationStart`: not isolated, and the lookup reference must be dropped by
 * an LRU-aware put that may be the last one: run `isolateForMigrationFinish`.
 */
export const ISOLATION_PUT = 4;
/**
 * `isolateForMigrationStart`: the lookup reference is taken and nothing else is done (the
 * LRU's plain calls are switched off): run `isolateForMigrationFinish`, which runs
 * `isolateLruFolioHeld`.
 */
export const ISOLATION_HELD = 5;

/**
 * `isolateForMigration` (above) as plain calls for as far as it runs without suspending
 * the task: `ISOLATION_DONE` / `ISOLATION_FAILED` when it ran to its end (true / false);
 * `ISOLATION_GENERAL` when it did nothing (run `isolateForMigration`); any other value
 * when it stopped where the generator would suspend (the scheduling point of
 * `folio_isolate_lru`, a held `lru_lock`, or a last put), having done what comes before:
 * run `isolateForMigrationFinish(k, folio, list, state)` at once. The same steps, charges,
 * decisions and results as `isolateForMigration`.
 */
export function isolateForMigrationStart(
  k: Kernel,
  folio: Folio,
  list: FolioList,
  mode: MigrateMode,
): number {
  const mem = k.mem;
  const lru = k.lru;
  if (lru.folioIsolateLruStart === undefined || lru.folioIsolateLruFinish === undefined) {
    return ISOLATION_GENERAL;
  }
  if (folioTestHugetlb(mem, folio)) {
    return k.migrate.isolateHugetlb(folio, list) ? ISOLATION_DONE : ISOLATION_FAILED;
  }
  if (folioTestMovable(mem, folio)) {
    const isolateMode = mode === MIGRATE_ASYNC ? ISOLATE_ASYNC_MIGRATE : 0;
    if (!k.migrate.isolateMovablePage(folio, isolateMode)) return ISOLATION_FAILED;
    list.addTail(folio);
    return ISOLATION_DONE;
  }
  k.rt.touchKernel(FP_FOLIO, folio, true); // folio_try_get
  if (!folioTryGet(mem, folio)) return ISOLATION_FAILED; // freed under us
  return isolateLruFolioHeldStart(k, folio, list, false);
}

/**
 * `isolateLruFolioHeld` (above) as plain calls for as far as it runs without suspending the
 * task, for a caller that holds the lookup reference: `ISOLATION_DONE` / `ISOLATION_FAILED`
 * when it ran to its end (true / false), any other value when it stopped where the generator
 * would suspend (or did nothing, the LRU's plain calls being off: `ISOLATION_HELD`): then run
 * `isolateForMigrationFinish(k, folio, list, state, atHead)` at once. The same steps,
 * charges, decisions and results as `isolateLruFolioHeld`; compaction's migration scanner
 * isolates through it so that an isolation that runs through makes no generator.
 */
export function isolateLruFolioHeldStart(
  k: Kernel,
  folio: Folio,
  list: FolioList,
  atHead: boolean,
): number {
  const lru = k.lru;
  if (lru.folioIsolateLruStart === undefined) return ISOLATION_HELD;
  const state = lru.folioIsolateLruStart(folio);
  if (state === ISOLATE_LRU_DONE) {
    isolatedHeld(k, folio, list, atHead);
    return ISOLATION_DONE;
  }
  if (state === ISOLATE_LRU_GENERAL) return ISOLATION_HELD;
  if (state === ISOLATE_LRU_FAILED) {
    // The lookup reference: a plain put unless it may be the last one.
    return folioPutFast(k.mem, folio, 1) ? ISOLATION_FAILED : ISOLATION_PUT;
  }
  return state;
}

/**
 * The rest of an `isolateForMigrationStart` or `isolateLruFolioHeldStart` that returned
 * neither `ISOLATION_DONE`, `ISOLATION_FAILED` nor `ISOLATION_GENERAL`; `atHead` as given
 * to `isolateLruFolioHeldStart` (false after `isolateForMigrationStart`). Returns whether
 * the folio was isolated.
 */
export function* isolateForMigrationFinish(
  k: Kernel,
  folio: Folio,
  list: FolioList,
  state: number,
  atHead = false,
): KernelGen<boolean> {
  if (state === ISOLATION_PUT) {
    yield* k.lru.folioPut(folio);
    return false;
  }
  if (state === ISOLATION_HELD) return yield* isolateLruFolioHeld(k, folio, list, atHead);
  const finish = k.lru.folioIsolateLruFinish;
  if (finish === undefined) {
    throw new MmsimError(
      'INVALID_STATE',
      'isolateForMigrationFinish: the LRU has no folioIsolateLruFinish, so no isolation can be pending',
    );
  }
  yield* finish.call(k.lru, folio, state);
  isolatedHeld(k, folio, list, atHead);
  return true;
}

/** An isolated folio joins `list`, counts in NR_ISOLATED, and its lookup reference goes. */
function isolatedHeld(k: Kernel, folio: Folio, list: FolioList, atHead: boolean): void {
  if (atHead) list.add(folio);
  else list.addTail(folio);
  const item = k.lru.folioIsolatedItem(folio);
  k.rt.touchKernel(FP_VMSTAT, item, true); // NR_ISOLATED_{ANON,FILE}
  k.lru.nodeStatModFolio(folio, item, folioNrPages(k.mem, folio));
  folioPut(k.mem, folio); // the isolation holds its own reference
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
