import {
  MIGRATE_ASYNC,
  MIGRATE_MODE_NAMES,
  MIGRATE_SYNC_LIGHT,
  type MigrateMode,
} from './modes.js';
import type { VariantSteps } from './variant-steps.js';

/**
 * Variants of the migration core: the kernels whose `migrate_pages()` the model can run.
 * A variant is a small set of named policy differences read by the shared engine, not a
 * copy of it. `v6.3` is the default and the reference (torvalds/linux v6.3 mm/migrate.c).
 */

export type VariantName =
  | 'v6.2'
  | 'rfc-2022'
  | 'v6.3-rc1'
  | 'v6.3'
  | 'v6.4'
  | 'v6.10'
  | 'v6.11'
  | 'v6.12'
  | 'v6.17'
  | 'batch-copy';

export interface MigrateVariant {
  /** A built-in variant's name, or the free-form name of one made by `defineVariant`. */
  readonly name: VariantName | (string & {});
  /** One line: which kernel, and what makes it different. */
  readonly description: string;
  /** Where the behaviour comes from (commits, threads). */
  readonly sources: readonly string[];
  /**
   * `'unmap-and-move'`: one folio at a time through `unmap_and_move()`, hugetlb and other
   * folios in one pass loop (Linux 6.2 and before). `'batch'`: the unmap / move split of
   * the 2023 series, `migrate_hugetlbs()` first, then batches (6.3-rc1 and later).
   */
  readonly engine: 'unmap-and-move' | 'batch';
  /**
   * How a synchronous caller's folios are batched. `'batch-all-modes'`: batches of up to
   * NR_MAX_BATCHED_MIGRATION pages in every mode, NR_MAX_MIGRATE_PAGES_RETRY passes (the
   * RFC, 6.3-rc1). `'async-first'`: `migrate_pages_sync()`, an ASYNC batch with
   * NR_MAX_MIGRATE_ASYNC_RETRY passes, then one folio at a time in the caller's mode with
   * NR_MAX_MIGRATE_SYNC_RETRY passes (6.3-rc3, 2ef7dbb26990). Unused by `unmap-and-move`.
   * `'batch-sync-light'` (a prototype knob, no kernel did it): MIGRATE_SYNC_LIGHT batches
   * like MIGRATE_ASYNC, MIGRATE_SYNC (and SYNC_NO_COPY) go through `migrate_pages_sync()`.
   * This is the one source of truth for "which modes batch": `variantBatchesMode()` and
   * `variantBatchModes()` derive the mode list from it.
   */
  readonly syncBatching: 'batch-all-modes' | 'async-first' | 'batch-sync-light';
  /**
   * Where `migrate_pages()` cuts the next batch off `from`. `'over-limit'`: the carving loop
   * stops when the running total exceeds NR_MAX_BATCHED_MIGRATION (`nr_pages > ...`) and
   * cuts before the folio that crossed it, which starts the next batch; a batch holds at
   * most NR_MAX_BATCHED_MIGRATION pages (the RFC, 42012e0436d4 in 6.3-rc1). `'at-limit'`:
   * the loop stops once the total reaches the limit (`nr_pages >= ...`) and cuts after
   * that folio, so it ends the batch (fb3592c41a44, 6.3-rc3). Unused by `unmap-and-move`.
   */
  readonly batchLimit: 'over-limit' | 'at-limit';
  /**
   * `force = pass > 2` (counting passes from 0): a sync mode sleeps on a contended src
   * lock and waits for writeback only from the fourth pass on; earlier passes give
   * -EAGAIN. Removed from `migrate_folio_unmap` by 2ef7dbb26990 (6.3-rc3). The hugetlb
   * path keeps it in every variant.
   */
  readonly forceFromPass3: boolean;
  /**
   * What a synchronous mode does, inside a batch that already holds an unmapped (locked)
   * folio, with a src folio lock it would otherwise sleep on (`folio_lock` in
   * `migrate_folio_unmap`). Before the batch holds a lock, and in MIGRATE_ASYNC, every
   * strategy behaves as the kernel does (trylock, then sleep only in a sync mode and, with
   * `forceFromPass3`, only from the fourth pass).
   * - `'sleep'`: sleep in `folio_lock` (the September 2022 RFC; also 6.3 and later, whose
   *   sync modes are never batched, so they never hold another folio's lock there).
   * - `'deadlock-avoid'`: 6.3-rc1's `avoid_force_lock` (42012e0436d4): return -EDEADLOCK;
   *   the batch moves and unlocks what it holds and starts over. Writeback waits and buffer
   *   locks were not covered. Removed by fb3592c41a44 (6.3-rc3). This replaces the former
   *   boolean `avoidForceLock` (`true` is `'deadlock-avoid'`, `false` is `'sleep'`), which
   *   `defineVariant` and variant files still accept.
   * - `'trylock'`: a prototype knob, no kernel did it: give up with -EAGAIN as
   *   MIGRATE_ASYNC does, and retry the folio in the next pass.
   */
  readonly batchLockStrategy: 'sleep' | 'deadlock-avoid' | 'trylock';
  /**
   * MIGRATE_SYNC_LIGHT sleeps on a contended src lock only when src is PG_uptodate, and on
   * a contended buffer lock only when the buffer is uptodate (a lock held for read I/O is
   * given up on): Douglas Anderson's "migrate_pages: avoid blocking for IO in
   * MIGRATE_SYNC_LIGHT", 4bb6dc79d987, merged for 6.5 (posted after 6.3 was released; not
   * part of 2ef7dbb26990). Before it, a SYNC_LIGHT caller sleeps in `folio_lock` and
   * `lock_buffer` whatever the uptodate bits say.
   */
  readonly syncLightNeedsUptodate: boolean;
  /**
   * The `try_to_migrate()` flags of the unmap step: `'never'` 0 (a flush per PTE, 6.2),
   * `'always'` TTU_BATCH_FLUSH (7e12beb8ca2a, 6.3-rc1), `'async-only'` TTU_BATCH_FLUSH for
   * MIGRATE_ASYNC only (fb3592c41a44, 6.3-rc3).
   */
  readonly batchFlush: 'never' | 'always' | 'async-only';
  /**
   * `set_tlb_ubc_flush_pending()` takes the old PTE and records nothing when it is not
   * `pte_accessible()` (a PROT_NONE NUMA-hint entry whose change was flushed): no deferred
   * flush, no batch flush, no IPI for it. Huang Ying, 4d4b6d66db63 "mm,unmap: avoid
   * flushing TLB in batch if PTE is inaccessible" (6.4-rc1, after the 0-day report against
   * 7e12beb8ca2a). Read by the rmap (`VirtualMemoryOptions.tlbBatchSkipsInaccessible`),
   * not by the migrate core. Before it (6.3) every cleared PTE of a batch is recorded.
   */
  readonly tlbBatchSkipsInaccessible: boolean;
  /**
   * Where the pieces of a split large folio are migrated. `'in-batch'`: at the end of the
   * same `migrate_pages_batch()` (of the same `migrate_pages()` loop in 6.2) with the full
   * pass budget and their small-folio failures not counted. `'after-batch'`: by
   * `migrate_pages()` after each batch, MIGRATE_ASYNC, one pass (a21d2133215b, 6.3-rc3).
   */
  readonly splitRetry: 'in-batch' | 'after-batch';
  /**
   * `if (list_empty(from)) rc = 0;` at the end of `migrate_pages()`: when nothing is left
   * for the caller to put back (every piece of every split large folio migrated), the
   * result is 0, not the count of the large folios that were split. Baolin Wang's
   * 03e5f82ea632 (posted 2022-10-24, 6.1-rc, Cc stable), kept by 42012e0436d4 (6.3-rc1) and
   * every later batch engine. The September 2022 RFC predates it and returns the count.
   */
  readonly allMigratedReturnsZero: boolean;
  /**
   * `remove_migration_pte()` write-protects a PTE restored from a non-writable migration
   * entry, whatever write bit `mk_pte(new, vma->vm_page_prot)` gave it (Peter Xu, "mm/migrate:
   * fix read-only page got writable when recover pte", 20221114000447.1681003-2-peterx@redhat.com,
   * merged for 6.1-rc6 with Cc stable; Fixes: b1f9e876862d "mm/uffd: enable write protection
   * for shmem & hugetlbfs", 5.19). Every built-in variant (6.2 and later) has it; false is the
   * 6.1-rc4 restore, where a uffd-wp-protected shmem page came back writable (read by
   * @mmsim/rmap through the composition root, not by the migrate core).
   */
  readonly restoreWrprotectsReadEntry: boolean;
  /** `try_split_folio()` only trylocks in MIGRATE_ASYNC (2e6506e1c4ee, 6.11). */
  readonly splitTrylockInAsync: boolean;
  /**
   * `folio_migrate_mapping()` moves NR_SHMEM_THPS (nr_shmem_hugepages) of a PMD-mappable
   * shmem folio to the new node, next to NR_SHMEM (Jan Glauber, "mm: Fix shmem THP counters
   * on migration", 20230622094720.510540-1-jglauber@digitalocean.com, posted after 6.4-rc7,
   * merged for 6.5). 6.3 and 6.4 leave the counter on the old node.
   */
  readonly migrateMovesShmemThps: boolean;
  /**
   * `split_huge_page_to_list()` lowers NR_FILE_THPS / NR_SHMEM_THPS only for a PMD-mappable
   * page-cache folio (Stefan Roesch, "mm: Fix for negative counter: nr_file_hugepages",
   * v2 20231107181805.4188397-1-shr@devkernel.io, merged through mm-hotfixes for 6.7, Cc stable). Before it, the split of any
   * large page-cache folio lowered them, driving nr_file_hugepages negative.
   */
  readonly splitThpCountersPmdOnly: boolean;
  /**
   * A LONGTERM_PIN split retry undoes the failure it had just counted (851ae6424697,
   * "migrate_pages_batch: fix statistics for longterm pin retry", 6.4).
   */
  readonly longtermPinRetryUncounts: boolean;
  /**
   * `__buffer_migrate_folio()` with `check_refs` (`buffer_migrate_folio_norefs`, block
   * devices) holds `mapping->i_private_lock` from the buffer-count check to the end of the
   * migration, copy included (Jan Kara, ebdf4de5642f "mm: migrate: fix reference check race
   * between __find_get_block() and migration", 5.0). Copying a large folio reschedules
   * between pages (`folio_copy` -> `cond_resched`), a sleep in atomic context once block
   * devices have large folios (3c20917120ce, 6.15-rc1). Off: the lock covers only the count
   * check and BH_Migrate on the head buffer tells `__find_get_block_slow` to back off
   * (Davidlohr Bueso, 2d900efff915 "mm/migrate: fix sleep in atomic for large folios and
   * buffer heads", 6.15-rc4, 20250418015921.132400-8-dave@stgolabs.net). On in every
   * built-in variant but `v6.17`.
   */
  readonly norefsLockCoversCopy: boolean;
  /**
   * Block devices cache their metadata in large folios when the logical block size is
   * larger than a page (Luis Chamberlain et al., 3c20917120ce "block/bdev: enable large
   * folio support for large logical block sizes", 6.15-rc1). Off in every built-in variant
   * but `v6.17`; read by the scenarios that populate a block device, not by the migrate core.
   */
  readonly blockDevLargeFolios: boolean;
  /** MIGRATE_SYNC_NO_COPY exists (removed in 6.10). */
  readonly hasSyncNoCopy: boolean;
  /**
   * `__migrate_folio()` (the `migrate_folio` of anonymous, shmem and swap-cache folios and
   * `filemap_migrate_folio`) checks src's references, copies it with `folio_mc_copy()`,
   * and only then freezes the references and moves the mapping (`__folio_migrate_mapping`):
   * a reference taken during the copy makes the freeze fail, -EAGAIN after a wasted copy,
   * and the move is retried in a later pass. Kefeng Wang's series "mm: migrate: support
   * poisoned recover from migrate folio" ("mm: migrate: split folio_migrate_mapping()",
   * "mm: migrate: support poisoned recover from migrate folio", 2024, 6.12), so that a
   * memory error during the copy fails the migration instead of crashing. The model's copy
   * is a scheduling point (other CPUs run while it copies). Before it (6.3): the freeze and
   * the mapping move first, then `folio_migrate_copy()`; a reference that appears after the
   * freeze cannot stop the move. The buffer-head and hugetlbfs helpers are not switched.
   */
  readonly copyBeforeFreeze: boolean;
  /**
   * A hugetlb migration target from the buddy (the pools being empty) stays on the target
   * node unless `htlb_allow_alloc_fallback(mtc->reason)`: memory hotplug, memory failure,
   * the syscalls and mbind may fall back (Baolin Wang, "mm: hugetlb: make the hugetlb
   * migration strategy consistent", 2024, 6.10). Before it only __GFP_THISNODE decided.
   */
  readonly hugetlbFallbackByReason: boolean;
  /**
   * `struct migrate_pages_stats` has `nr_split` (every large folio split before migrating,
   * THPs included): `migrate_pages_sync()` counts the async phase's `nr_split` as failures
   * instead of only `nr_thp_split`, and `mm_migrate_pages` prints it as `nr_split`
   * (`large_folio_split`). Zi Yan, "mm/migrate: correct nr_failed in migrate_pages_sync()"
   * (Fixes: 2ef7dbb26990) and "mm/migrate: add nr_split to trace_mm_migrate_pages stats.",
   * October 2023 (6.7).
   */
  readonly countsNrSplit: boolean;
  /**
   * `migrate_folio_unmap()` records PAGE_WAS_MLOCKED when src is mlocked, and
   * `migrate_folio_move()` calls `lru_add_drain()` only for such a folio instead of for
   * every mapped one (Baolin Wang, "mm: migrate: record the mlocked page status to remove
   * unnecessary lru drain", 6.7).
   */
  readonly drainOnlyMlocked: boolean;
  /**
   * The unmap-to-move state lives in `dst->private` only (anon_vma and the PAGE_WAS_*
   * bits); `dst->mapping` is no longer borrowed, so a pfn walker sees no bogus mapping
   * ("mm: migrate: fix getting incorrect page mapping during page migration", December
   * 2023, 6.7, stable).
   */
  readonly dstStateInPrivate: boolean;
  /**
   * Compaction's `isolate_migratepages_block()` isolates large folios: a compound page is
   * skipped only when `skip_isolation_on_order()` says so (order >= pageblock_order, or
   * order >= cc->order for a targeted compaction). Before (6.3), every compound page was
   * skipped unless `cc->alloc_contig`. Zi Yan, "mm/compaction: enable compacting >0 order
   * folios" (series "Enable >0 order folio memory compaction", 6.9). Read by the
   * compaction-style migrator, not by the migrate core.
   */
  readonly compactionIsolatesLarge: boolean;
  /**
   * `__alloc_contig_migrate_range()` fires the `mm_alloc_contig_migrate_range_info`
   * tracepoint (start, end, migratetype, pages migrated / reclaimed / mapped) when it ends.
   * Richard Chang, c8b360031218 "mm: add alloc_contig_migrate_range allocation
   * statistics" (6.9). Read by the CMA caller (`alloc_contig_range`); changes no schedule.
   */
  readonly allocContigRangeInfo: boolean;
  /**
   * `migrate_pages_batch()` first splits a large folio (more than 2 pages) that sits on the
   * deferred-split queue, counting the split as a failure (Zi Yan, 7262f208ca68 "mm/migrate:
   * split source folio if it is on deferred split list", 6.10-rc1, with Hugh Dickins'
   * 6.10-rc hotfix that counts it in `nr_failed`).
   */
  readonly splitsDeferredFirst: boolean;
  /**
   * With `splitsDeferredFirst`: the split of a deferred-split folio counts in `nr_failed`
   * (Hugh Dickins, 8e279f970b5c "mm/migrate: fix kernel BUG at mm/compaction.c:2761!",
   * 6.10-rc4, `46c948b4-4dd8-6e03-4c7b-ce4e81cfa536@google.com`). Without it (7262f208ca68
   * as merged in 6.10-rc1) a batch whose only trouble was such a folio returns 0 even when
   * split pieces failed their one best-effort pass and are left on `from`: the caller, told
   * of complete success, puts nothing back (compact_zone's VM_BUG_ON). No built-in variant
   * has it off; `defineVariant({ extends: 'v6.10', deferredSplitCountsFailed: false })` is
   * 6.10-rc1.
   */
  readonly deferredSplitCountsFailed: boolean;
  /**
   * That split also counts in `nr_thp_failed` for a THP (Zi Yan, "mm/migrate: make
   * migrate_pages_batch() stats consistent", 20240620012712.19804-1-zi.yan@sent.com, 6.11).
   */
  readonly deferredSplitCountsThpFailed: boolean;
  /**
   * `NR_MAX_BATCHED_MIGRATION` (mm/migrate.c, 6.3; 512 base pages, HPAGE_PMD_NR): the most
   * base pages `migrate_pages()` carves into one batch (`batchLimit` says where it cuts).
   * A prototype knob; every built-in variant has 512. Unused by `unmap-and-move`.
   */
  readonly batchSize: number;
  /**
   * `NR_MAX_MIGRATE_PAGES_RETRY` (10 in every kernel the model follows) per caller mode:
   * the passes `migrate_pages()` gives a folio of a MIGRATE_ASYNC caller (`passesAsync`),
   * a MIGRATE_SYNC_LIGHT one (`passesSyncLight`) and a MIGRATE_SYNC / SYNC_NO_COPY one
   * (`passesSync`): the passes of the batch, or of `unmap_and_move()` in 6.2. For a mode
   * that goes through `migrate_pages_sync()` it is the total of the async phase
   * (`asyncFirstPasses`) and the one-folio sync phase, as in 6.3, where
   * NR_MAX_MIGRATE_SYNC_RETRY = NR_MAX_MIGRATE_PAGES_RETRY - NR_MAX_MIGRATE_ASYNC_RETRY
   * (Hugh Dickins asked that a folio keep 10 passes in all). Hugetlb folios
   * (`migrate_hugetlbs`) keep NR_MAX_MIGRATE_PAGES_RETRY, and the best-effort pass over
   * split pieces stays one pass.
   */
  readonly passesAsync: number;
  /** See `passesAsync`: the passes of a MIGRATE_SYNC_LIGHT caller's folios. */
  readonly passesSyncLight: number;
  /** See `passesAsync`: the passes of a MIGRATE_SYNC (or SYNC_NO_COPY) caller's folios. */
  readonly passesSync: number;
  /**
   * `NR_MAX_MIGRATE_ASYNC_RETRY` (3, 2ef7dbb26990, 6.3-rc3): the passes of the MIGRATE_ASYNC
   * batch `migrate_pages_sync()` tries first for a synchronous caller. Must stay below the
   * mode's passes (the one-folio phase gets the rest). Only read with `syncBatching` values
   * that send a mode through `migrate_pages_sync()`.
   */
  readonly asyncFirstPasses: number;
  /**
   * Whether the batch engine splits a large folio it cannot migrate whole (a prototype
   * knob): `'on-failure'` (every kernel the model follows: `try_split_folio()` after
   * -ENOMEM, when THP migration is unsupported, and from 6.10 for a folio on the
   * deferred-split queue); `'never'`: no split, the large folio fails as a whole (-ENOMEM
   * still ends the unmap phase; a THP without THP migration support goes to `ret_folios`;
   * a deferred-split folio migrates whole). Unused by `unmap-and-move`.
   */
  readonly splitPolicy: 'on-failure' | 'never';
  /**
   * Where the content of a folio is copied. `'in-move'`: in the move step, folio by folio
   * (`folio_migrate_copy` / `folio_mc_copy`), every kernel. `'batch-precopy'`: after the
   * batch's TLB flush, the folios a registered copy provider takes (its reason mask, the
   * reference count as expected, not movable_ops) are copied in one call and marked
   * FOLIO_CONTENT_COPIED, and the move step skips their copy (Shivank Garg, "Accelerate
   * page migration with batch copying and hardware offload", RFC v6 2026-06-30; see
   * `migrate-folios-precopy.ts`). Without a registered provider it behaves as `'in-move'`.
   */
  readonly copyStrategy: 'in-move' | 'batch-precopy';
  /**
   * The protocol of non-LRU movable pages (`movable_operations`). `folio-6.3`: the driver
   * tags a page with `__SetPageMovable(page, mops)` (`page->mapping = mops |
   * PAGE_MAPPING_MOVABLE`), clears it with `__ClearPageMovable` on release and on a
   * successful `migrate_page` (src), and the core treats an isolated page that lost its
   * operations as released by its driver (success without `migrate_page`); the isolation
   * flag is PG_isolated. `page-type-2025`: David Hildenbrand's "mm/migration: rework
   * movable_ops page migration (part 1)" (merged for 6.17; e.g. "mm: convert "movable"
   * flag in page->mapping to a page flag", 20250704102524.326966-21-david@redhat.com): the
   * operations follow from the page type (PageOffline for balloon pages, PageZsmalloc) plus
   * the PG_movable_ops flag, are sticky until the page is freed (no `__ClearPageMovable`,
   * `migrate_page` is always called), the callbacks are `isolate_movable_ops_page` /
   * `migrate_movable_ops_page` / `putback_movable_ops_page`, and the isolation flag is
   * PageMovableOpsIsolated (PG_movable_ops_isolated). z3fold and zbud were removed earlier
   * (6.15), leaving balloon and zsmalloc as the users. The page lock is still held across
   * `migrate_page` in both.
   */
  readonly movableProtocol: 'folio-6.3' | 'page-type-2025';
  /**
   * `migrate_misplaced_folio()` (the NUMA-hinting fault) gives back everything left on its
   * list after a failed `migrate_pages()` (`putback_movable_pages`), not just the folio it
   * isolated: since 6.10 that folio may have been split on the way (deferred split), and the
   * pieces were left isolated (Peter Xu, 6e49019db5f7 "mm/migrate: putback split folios when
   * numa hint migration fails", 20240708215537.2630610-1-peterx@redhat.com, 6.11-rc1). Read
   * by the NUMA-hint actor, not by the migrate core.
   */
  readonly numaHintPutsBackList: boolean;
  /**
   * How move_pages(2) finds the folio at an address (`add_page_for_migration` /
   * `add_folio_for_migration` and `do_pages_stat_array`, mm/migrate.c). Read by the
   * system-call layer (`@mmsim/syscalls`), not by the migrate core.
   * - `'follow-page'`: `follow_page(vma, addr, FOLL_GET | FOLL_DUMP)` (4.3 to 6.11): an empty
   *   entry of an anonymous VMA (a page never touched) is -EFAULT (`no_page_table` with
   *   FOLL_DUMP), a migration entry -ENOENT; the shared test is `page_mapcount(page) > 1`
   *   on the page the address resolves to (6.3); a hugetlb folio is isolated only when the
   *   address resolves to its head page, any other page of it keeps the provisional -EACCES.
   * - `'folio-walk'`: `folio_walk_start(..., FW_ZEROPAGE)` (David Hildenbrand, 7dff875c9436
   *   "mm/migrate: convert add_page_for_migration() from follow_page() to folio_walk" and
   *   the do_pages_stat_array conversion of the same series, 6.12): no folio mapped is
   *   -ENOENT, the zero page -EFAULT, the shared test `folio_likely_mapped_shared()`, and
   *   every page of a folio resolves to the folio (LTP move_pages04 tags 7dff875c9436).
   */
  readonly movePagesLookup: 'follow-page' | 'folio-walk';
  /**
   * Replacement step functions (`VariantSteps`): the engine calls them instead of its own.
   * Not a policy setting: only a module variant can carry functions. Their names and source
   * text go into the content hash.
   */
  readonly steps?: VariantSteps;
}

/**
 * The knobs a prototype turns: every built-in variant has these values, the ones of the
 * kernels the model follows (NR_MAX_BATCHED_MIGRATION, NR_MAX_MIGRATE_PAGES_RETRY,
 * NR_MAX_MIGRATE_ASYNC_RETRY, split on failure, copy in the move step).
 */
export const PROTOTYPE_KNOB_DEFAULTS = Object.freeze({
  batchSize: 512,
  passesAsync: 10,
  passesSyncLight: 10,
  passesSync: 10,
  asyncFirstPasses: 3,
  splitPolicy: 'on-failure',
  copyStrategy: 'in-move',
} as const);

/**
 * Whether `migrate_pages()` runs a `mode` caller's folios as batches in that mode (else
 * `migrate_pages_sync()`: an async batch, then one folio at a time), derived from
 * `syncBatching`, the one source of truth. MIGRATE_ASYNC always batches.
 */
export function variantBatchesMode(variant: MigrateVariant, mode: MigrateMode): boolean {
  if (mode === MIGRATE_ASYNC) return true;
  switch (variant.syncBatching) {
    case 'batch-all-modes':
      return true;
    case 'batch-sync-light':
      return mode === MIGRATE_SYNC_LIGHT;
    default:
      return false;
  }
}

/** The modes a variant batches in (`variantBatchesMode`), by their kernel names. */
export function variantBatchModes(variant: MigrateVariant): string[] {
  return MIGRATE_MODE_NAMES.filter((_, mode) => variantBatchesMode(variant, mode as MigrateMode));
}

/**
 * The passes a `mode` caller's folios get (`passesAsync`, `passesSyncLight`,
 * `passesSync`; NR_MAX_MIGRATE_PAGES_RETRY in the kernels the model follows).
 */
export function variantPasses(variant: MigrateVariant, mode: MigrateMode): number {
  if (mode === MIGRATE_ASYNC) return variant.passesAsync;
  return mode === MIGRATE_SYNC_LIGHT ? variant.passesSyncLight : variant.passesSync;
}

/** The switches of the changes after 6.3, all off: the kernels up to 6.3 share them. */
const BEFORE_6_4 = Object.freeze({
  tlbBatchSkipsInaccessible: false,
  splitTrylockInAsync: false,
  migrateMovesShmemThps: false,
  splitThpCountersPmdOnly: false,
  norefsLockCoversCopy: true,
  blockDevLargeFolios: false,
  longtermPinRetryUncounts: false,
  hasSyncNoCopy: true,
  copyBeforeFreeze: false,
  hugetlbFallbackByReason: false,
  countsNrSplit: false,
  drainOnlyMlocked: false,
  dstStateInPrivate: false,
  compactionIsolatesLarge: false,
  allocContigRangeInfo: false,
  splitsDeferredFirst: false,
  deferredSplitCountsFailed: false,
  deferredSplitCountsThpFailed: false,
  movableProtocol: 'folio-6.3',
  numaHintPutsBackList: false,
  movePagesLookup: 'follow-page',
} as const);

const V6_3: MigrateVariant = Object.freeze({
  name: 'v6.3',
  description:
    'Linux 6.3 final: batched unmap / one TLB flush / move, MIGRATE_ASYNC batches only; a ' +
    'sync caller gets an async batch first, then one folio at a time (the 6.3-rc3 fixes)',
  sources: Object.freeze([
    'torvalds/linux v6.3 mm/migrate.c',
    '6.3-rc1 series: 5b855937096a e5bfff8b10e4 42012e0436d4 64c8902ed441 5dfab109d519 80562ba0d837 ebe75e475106 7e12beb8ca2a 6f7d760e86fa',
    '6.3-rc3 fixes: fb3592c41a44 a21d2133215b 2ef7dbb26990 (https://lkml.iu.edu/hypermail/linux/kernel/2303.0/02379.html)',
  ]),
  engine: 'batch',
  syncBatching: 'async-first',
  batchLimit: 'at-limit',
  forceFromPass3: false,
  batchLockStrategy: 'sleep',
  syncLightNeedsUptodate: false,
  batchFlush: 'async-only',
  splitRetry: 'after-batch',
  allMigratedReturnsZero: true,
  restoreWrprotectsReadEntry: true,
  ...BEFORE_6_4,
  ...PROTOTYPE_KNOB_DEFAULTS,
});

/**
 * What the kernels after 6.3 changed in the model's scope, up to 6.10 (each switch's doc
 * comment names its commit).
 */
const AFTER_6_3_SOURCES: readonly string[] = Object.freeze([
  '851ae6424697 "migrate_pages_batch: fix statistics for longterm pin retry" (6.4)',
  '4d4b6d66db63 "mm,unmap: avoid flushing TLB in batch if PTE is inaccessible" (6.4)',
  '4bb6dc79d987 "migrate_pages: avoid blocking for IO in MIGRATE_SYNC_LIGHT" (Douglas Anderson, 6.5)',
  '"mm/migrate: correct nr_failed in migrate_pages_sync()" and "mm/migrate: add nr_split to trace_mm_migrate_pages stats." (Zi Yan, 6.7)',
  '"mm: migrate: record the mlocked page status to remove unnecessary lru drain" (Baolin Wang, 6.7)',
  'Baolin Wang, "mm: migrate: fix getting incorrect page mapping during page migration" (6.7)',
  '"mm/compaction: enable compacting >0 order folios" (Zi Yan, 20240220183220.1451315-3-zi.yan@sent.com, 6.9)',
  '"mm/migrate: remove MIGRATE_SYNC_NO_COPY mode" (6.10)',
  'Baolin Wang "mm: hugetlb: make the hugetlb migration strategy consistent" (3519fcd41522817307a05b40fb551e2e17e68101.1709719720.git.baolin.wang@linux.alibaba.com, 6.10)',
  '7262f208ca68 "mm/migrate: split source folio if it is on deferred split list" (6.10-rc1) and Hugh Dickins\' 6.10-rc hotfix counting it in nr_failed',
  '8e279f970b5c "mm/migrate: fix kernel BUG at mm/compaction.c:2761!" (Hugh Dickins, 46c948b4-4dd8-6e03-4c7b-ce4e81cfa536@google.com, 6.10-rc4)',
  'Jan Glauber, "mm: Fix shmem THP counters on migration" (20230622094720.510540-1-jglauber@digitalocean.com, 6.5)',
  'Stefan Roesch, "mm: Fix for negative counter: nr_file_hugepages" (v2 20231107181805.4188397-1-shr@devkernel.io, 6.7)',
]);

/** Linux 6.10: the base of v6.11, and the kernel of the split-lock deadlock. */
const V6_10: MigrateVariant = Object.freeze({
  ...V6_3,
  name: 'v6.10',
  description:
    'Linux 6.10 as far as the model goes: 6.3 plus the 6.4-6.10 changes (the LONGTERM_PIN ' +
    'statistics fix, no batched flush for inaccessible PTEs, the SYNC_LIGHT uptodate rule, nr_split, the PAGE_WAS_MLOCKED drain, ' +
    'the unmap state in dst->private, compaction of large folios, deferred-split folios ' +
    'split first, no MIGRATE_SYNC_NO_COPY, hugetlb targets kept on their node unless the ' +
    'reason allows fallback); an ASYNC batch holding unmapped folios sleeps in folio_lock ' +
    'when a large folio must be split (Gao Xiang, 6.10-rc7)',
  sources: Object.freeze([
    'Gao Xiang 20240729021306.398286-1-hsiangkao@linux.alibaba.com (the deadlock on 6.10-rc7, fixed by 2e6506e1c4ee in 6.11)',
    ...AFTER_6_3_SOURCES,
  ]),
  syncLightNeedsUptodate: true,
  longtermPinRetryUncounts: true,
  tlbBatchSkipsInaccessible: true,
  hasSyncNoCopy: false,
  hugetlbFallbackByReason: true,
  countsNrSplit: true,
  drainOnlyMlocked: true,
  dstStateInPrivate: true,
  compactionIsolatesLarge: true,
  allocContigRangeInfo: true,
  splitsDeferredFirst: true,
  deferredSplitCountsFailed: true,
  migrateMovesShmemThps: true,
  splitThpCountersPmdOnly: true,
});

const V6_11: MigrateVariant = Object.freeze({
  ...V6_10,
  name: 'v6.11',
  description:
    'Linux 6.11 as far as the model goes: 6.10 plus the try_split_folio() trylock in ' +
    'MIGRATE_ASYNC (2e6506e1c4ee, the fix of the Gao Xiang deadlock) and deferred splits ' +
    'counted in nr_thp_failed',
  sources: Object.freeze([
    '2e6506e1c4ee "mm/migrate: fix deadlock in migrate_pages_batch() on large folios" (20240729021306.398286-1-hsiangkao@linux.alibaba.com)',
    '"mm/migrate: make migrate_pages_batch() stats consistent" (Zi Yan, 6.11)',
    '6e49019db5f7 "mm/migrate: putback split folios when numa hint migration fails" (Peter Xu, 20240708215537.2630610-1-peterx@redhat.com, 6.11-rc1)',
    ...AFTER_6_3_SOURCES,
  ]),
  splitTrylockInAsync: true,
  deferredSplitCountsThpFailed: true,
  numaHintPutsBackList: true,
});

/** Linux 6.12: `copyBeforeFreeze` on top of 6.11; the base of v6.17. */
const V6_12: MigrateVariant = Object.freeze({
  ...V6_11,
  name: 'v6.12',
  description:
    'Linux 6.12 as far as the model goes: 6.11 plus __migrate_folio copying with ' +
    'folio_mc_copy() before the reference freeze, -EAGAIN when a reference appears ' +
    'during the copy (Kefeng Wang); move_pages(2) finds folios with folio_walk ' +
    '(7dff875c9436)',
  sources: Object.freeze([
    'Kefeng Wang, "mm: migrate: split folio_migrate_mapping()" and "mm: migrate: support poisoned recover from migrate folio" (2024, 6.12)',
    'mm/migrate.c __migrate_folio as quoted in 2025 patches against mainline (folio_expected_ref_count era): check refs, folio_mc_copy, __folio_migrate_mapping',
    '7dff875c9436 "mm/migrate: convert add_page_for_migration() from follow_page() to folio_walk" (David Hildenbrand, 20240802155524.517137-5-david@redhat.com, 6.12)',
    ...V6_11.sources,
  ]),
  copyBeforeFreeze: true,
  movePagesLookup: 'folio-walk',
});

/** The variants, by name. */
export const VARIANTS: Readonly<Record<VariantName, MigrateVariant>> = Object.freeze({
  'v6.2': Object.freeze({
    name: 'v6.2',
    description:
      'Linux 6.2: unmap_and_move() one folio at a time, try_to_migrate(src, 0) flushes the ' +
      'TLB for every PTE; sync modes sleep on the src lock and writeback from pass 3',
    sources: Object.freeze(['torvalds/linux v6.2 mm/migrate.c (migrate_pages, unmap_and_move)']),
    engine: 'unmap-and-move',
    syncBatching: 'batch-all-modes',
    batchLimit: 'over-limit',
    forceFromPass3: true,
    batchLockStrategy: 'sleep',
    syncLightNeedsUptodate: false,
    batchFlush: 'never',
    splitRetry: 'in-batch',
    allMigratedReturnsZero: true,
    restoreWrprotectsReadEntry: true,
    ...BEFORE_6_4,
    ...PROTOTYPE_KNOB_DEFAULTS,
  }),
  'rfc-2022': Object.freeze({
    name: 'rfc-2022',
    description:
      'The September 2022 RFC "migrate_pages(): batch TLB flushing": batches in every mode, ' +
      'and a sync pass from pass 3 sleeps in folio_lock while holding the locks of the folios ' +
      'already unmapped in the batch (the deadlock Alistair Popple pointed out)',
    sources: Object.freeze([
      'RFC cover 20220921060616.73086-1-ying.huang@intel.com (lore.kernel.org/linux-mm)',
      'Alistair Popple 87o7v2lbn4.fsf@nvdebian.thelocal; Yang Shi; John Hubbard (same thread)',
    ]),
    engine: 'batch',
    syncBatching: 'batch-all-modes',
    batchLimit: 'over-limit',
    forceFromPass3: true,
    batchLockStrategy: 'sleep',
    syncLightNeedsUptodate: false,
    batchFlush: 'always',
    splitRetry: 'in-batch',
    allMigratedReturnsZero: false,
    restoreWrprotectsReadEntry: true,
    ...BEFORE_6_4,
    ...PROTOTYPE_KNOB_DEFAULTS,
  }),
  'v6.3-rc1': Object.freeze({
    name: 'v6.3-rc1',
    description:
      'Linux 6.3-rc1: batches in every mode; a contended sync src lock returns -EDEADLOCK ' +
      'when the batch already holds unmapped folios, but writeback waits and buffer locks ' +
      'still sleep inside a batch (Hugh Dickins and Pengfei Xu deadlocks)',
    sources: Object.freeze([
      'torvalds/linux v6.3-rc1 mm/migrate.c (migrate_pages_batch with avoid_force_lock)',
      'v1 cover http://mail.spinics.net/lists/linux-mm/msg322073.html',
      'Hugh Dickins 87a6c8c-c5c1-67dc-1e32-eb30831d6e3d@google.com; Huang 874jrg7kke.fsf@yhuang6-desk2.ccr.corp.intel.com',
    ]),
    engine: 'batch',
    syncBatching: 'batch-all-modes',
    batchLimit: 'over-limit',
    forceFromPass3: true,
    batchLockStrategy: 'deadlock-avoid',
    syncLightNeedsUptodate: false,
    batchFlush: 'always',
    splitRetry: 'in-batch',
    allMigratedReturnsZero: true,
    restoreWrprotectsReadEntry: true,
    ...BEFORE_6_4,
    ...PROTOTYPE_KNOB_DEFAULTS,
  }),
  'v6.3': V6_3,
  'v6.4': Object.freeze({
    ...V6_3,
    name: 'v6.4',
    description:
      'Linux 6.4 as far as the model goes: 6.3 plus the batched unmap that records no TLB ' +
      'flush for an inaccessible (PROT_NONE NUMA-hint) PTE and the LONGTERM_PIN split-retry ' +
      'statistics fix',
    sources: Object.freeze([
      '4d4b6d66db63 "mm,unmap: avoid flushing TLB in batch if PTE is inaccessible" (Huang Ying, 20230424065408.188498-1-ying.huang@intel.com, 6.4-rc1)',
      '851ae6424697 "migrate_pages_batch: fix statistics for longterm pin retry" (6.4)',
      'torvalds/linux v6.4 mm/rmap.c (set_tlb_ubc_flush_pending), arch/x86/include/asm/pgtable.h (pte_accessible)',
    ]),
    longtermPinRetryUncounts: true,
    tlbBatchSkipsInaccessible: true,
  }),
  'v6.10': V6_10,
  'v6.11': V6_11,
  'v6.12': V6_12,
  'v6.17': Object.freeze({
    ...V6_12,
    name: 'v6.17',
    description:
      'Linux 6.17 as far as the model goes: 6.12 plus large block-device folios with ' +
      'buffer_migrate_folio_norefs holding i_private_lock over the buffer check only ' +
      '(BH_Migrate, 6.15) and the movable_ops rework (the page type and PG_movable_ops ' +
      'decide, operations sticky until the page is freed, PG_movable_ops_isolated; David ' +
      'Hildenbrand)',
    sources: Object.freeze([
      'David Hildenbrand, "mm/migration: rework movable_ops page migration (part 1)" v2 (20250704102524.326966-1-david@redhat.com), merged through mm-stable in July 2025 for 6.17',
      '3d388584d599 "mm: convert "movable" flag in page->mapping to a page flag", 84caf98838a3 "mm: stop storing migration_ops in page->mapping", 92f091769fde "mm: rename PG_isolated to PG_movable_ops_isolated", 457d7b3adb11 "mm: remove __folio_test_movable()"',
      '3c20917120ce "block/bdev: enable large folio support for large logical block sizes" (6.15-rc1)',
      '2d900efff915 "mm/migrate: fix sleep in atomic for large folios and buffer heads" (Davidlohr Bueso, 20250418015921.132400-8-dave@stgolabs.net, 6.15-rc4)',
      ...V6_12.sources,
    ]),
    blockDevLargeFolios: true,
    norefsLockCoversCopy: false,
    movableProtocol: 'page-type-2025',
  }),
  // The series is based on mm-unstable, which has every 6.11 change: the variant extends
  // V6_11 as a whole, so a later 6.11 setting cannot be left out of it.
  'batch-copy': Object.freeze({
    ...V6_11,
    name: 'batch-copy',
    description:
      'The batch-copy series under review (Shivank Garg and Zi Yan, RFC v6, June 2026) on the ' +
      "kernel it was posted against, 6.11 here: after the batch's TLB flush the folios a registered copy " +
      'provider takes (reason mask, reference count as expected, not movable_ops) are copied ' +
      'in one call (DMA channels or CPU threads) and marked FOLIO_CONTENT_COPIED; the move ' +
      'phase skips their copy and copies the rest, and any -EAGAIN retry, on the CPU',
    sources: Object.freeze([
      'RFC v6 cover "[PATCH RFC v6 0/5] Accelerate page migration with batch copying and hardware offload" (Shivank Garg, 2026-06-30, https://lkml.iu.edu/hypermail/linux/kernel/2606.3/10552.html)',
      'RFC v6 2/5 "mm/migrate: add batch-copy path in migrate_pages_batch" (https://lkml.iu.edu/hypermail/linux/kernel/2606.3/10551.html)',
      'RFC v6 3/5 "mm/migrate: add copy offload registration infrastructure" (https://lkml.iu.edu/hypermail/linux/kernel/2606.3/10543.html)',
      'RFC v6 4/5 "drivers/migrate_offload: add DMA batch copy driver (dcbm)" (https://lkml.iu.edu/hypermail/linux/kernel/2606.3/10553.html)',
      'v5 review: David Hildenbrand (FOLIO_CONTENT_COPIED, https://lkml.iu.edu/2606.1/00977.html), David Rientjes on the reason mask (https://lkml.iu.edu/2605.3/00676.html)',
      'RFC v4 (20260309120725.308854-3-shivankg@amd.com): pre-copy the batch before the move phase; srcu_read_lock placement',
      'Zi Yan, "mm: add multithreaded page copy" RFC (January 2025): the CPU-thread provider',
      '2e6506e1c4ee and the 6.11 statistics fix (the base: v6.11)',
      '6e49019db5f7 "mm/migrate: putback split folios when numa hint migration fails" (Peter Xu, 6.11-rc1)',
      ...AFTER_6_3_SOURCES,
    ]),
    copyStrategy: 'batch-precopy',
  }),
});

/** The default variant. */
export const DEFAULT_VARIANT: VariantName = 'v6.3';
