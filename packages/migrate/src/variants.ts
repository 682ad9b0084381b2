/**
 * Variants of the migration core: the kernels whose `migrate_pages()` the model can run.
 * A variant is a small set of named policy differences read by the shared engine, not a
 * copy of it. `v6.3` is the default and the reference (torvalds/linux v6.3 mm/migrate.c).
 */

export type VariantName = 'v6.2' | 'rfc-2022' | 'v6.3-rc1' | 'v6.3' | 'v6.10' | 'v6.11';

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
   */
  readonly syncBatching: 'batch-all-modes' | 'async-first';
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
   * 6.3-rc1's `avoid_force_lock`: once the batch holds an unmapped (locked) folio, a src
   * lock that would be taken by sleeping returns -EDEADLOCK instead; the batch moves and
   * unlocks what it holds and starts over. Writeback waits and buffer locks were not
   * covered. Removed by fb3592c41a44 (6.3-rc3).
   */
  readonly avoidForceLock: boolean;
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
  /** `try_split_folio()` only trylocks in MIGRATE_ASYNC (2e6506e1c4ee, 6.11). */
  readonly splitTrylockInAsync: boolean;
  /**
   * A LONGTERM_PIN split retry undoes the failure it had just counted (851ae6424697,
   * "migrate_pages_batch: fix statistics for longterm pin retry", 6.4).
   */
  readonly longtermPinRetryUncounts: boolean;
  /** MIGRATE_SYNC_NO_COPY exists (removed in 6.10). */
  readonly hasSyncNoCopy: boolean;
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
   * `migrate_pages_batch()` first splits a large folio (more than 2 pages) that sits on the
   * deferred-split queue, counting the split as a failure (Zi Yan, 7262f208ca68 "mm/migrate:
   * split source folio if it is on deferred split list", 6.10-rc1, with Hugh Dickins'
   * 6.10-rc hotfix that counts it in `nr_failed`).
   */
  readonly splitsDeferredFirst: boolean;
  /**
   * That split also counts in `nr_thp_failed` for a THP (Zi Yan, "mm/migrate: make
   * migrate_pages_batch() stats consistent", 20240620012712.19804-1-zi.yan@sent.com, 6.11).
   */
  readonly deferredSplitCountsThpFailed: boolean;
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
}

/** The switches of the changes after 6.3, all off: the kernels up to 6.3 share them. */
const BEFORE_6_4 = Object.freeze({
  splitTrylockInAsync: false,
  longtermPinRetryUncounts: false,
  hasSyncNoCopy: true,
  hugetlbFallbackByReason: false,
  countsNrSplit: false,
  drainOnlyMlocked: false,
  dstStateInPrivate: false,
  compactionIsolatesLarge: false,
  splitsDeferredFirst: false,
  deferredSplitCountsThpFailed: false,
  movableProtocol: 'folio-6.3',
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
  avoidForceLock: false,
  syncLightNeedsUptodate: false,
  batchFlush: 'async-only',
  splitRetry: 'after-batch',
  allMigratedReturnsZero: true,
  ...BEFORE_6_4,
});

/**
 * What the kernels after 6.3 changed in the model's scope, up to 6.10 (each switch's doc
 * comment names its commit).
 */
const AFTER_6_3_SOURCES: readonly string[] = Object.freeze([
  '851ae6424697 "migrate_pages_batch: fix statistics for longterm pin retry" (6.4)',
  '4d4b6d66db63 "mm,unmap: avoid flushing TLB in batch if PTE is inaccessible" (6.4): no switch, the model has no present-but-inaccessible PTEs',
  '4bb6dc79d987 "migrate_pages: avoid blocking for IO in MIGRATE_SYNC_LIGHT" (Douglas Anderson, 6.5)',
  '"mm/migrate: correct nr_failed in migrate_pages_sync()" and "mm/migrate: add nr_split to trace_mm_migrate_pages stats." (Zi Yan, 6.7)',
  '"mm: migrate: record the mlocked page status to remove unnecessary lru drain" (Baolin Wang, 6.7)',
  'Baolin Wang, "mm: migrate: fix getting incorrect page mapping during page migration" (6.7)',
  '"mm/compaction: enable compacting >0 order folios" (Zi Yan, 20240220183220.1451315-3-zi.yan@sent.com, 6.9)',
  '"mm/migrate: remove MIGRATE_SYNC_NO_COPY mode" (6.10)',
  'Baolin Wang "mm: hugetlb: make the hugetlb migration strategy consistent" (3519fcd41522817307a05b40fb551e2e17e68101.1709719720.git.baolin.wang@linux.alibaba.com, 6.10)',
  '7262f208ca68 "mm/migrate: split source folio if it is on deferred split list" (6.10-rc1) and Hugh Dickins\' 6.10-rc hotfix counting it in nr_failed',
]);

/** Linux 6.10: the base of v6.11, and the kernel of the split-lock deadlock. */
const V6_10: MigrateVariant = Object.freeze({
  ...V6_3,
  name: 'v6.10',
  description:
    'Linux 6.10 as far as the model goes: 6.3 plus the 6.4-6.10 changes (the LONGTERM_PIN ' +
    'statistics fix, the SYNC_LIGHT uptodate rule, nr_split, the PAGE_WAS_MLOCKED drain, ' +
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
  hasSyncNoCopy: false,
  hugetlbFallbackByReason: true,
  countsNrSplit: true,
  drainOnlyMlocked: true,
  dstStateInPrivate: true,
  compactionIsolatesLarge: true,
  splitsDeferredFirst: true,
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
    avoidForceLock: false,
    syncLightNeedsUptodate: false,
    batchFlush: 'never',
    splitRetry: 'in-batch',
    allMigratedReturnsZero: true,
    ...BEFORE_6_4,
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
    avoidForceLock: false,
    syncLightNeedsUptodate: false,
    batchFlush: 'always',
    splitRetry: 'in-batch',
    allMigratedReturnsZero: false,
    ...BEFORE_6_4,
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
    avoidForceLock: true,
    syncLightNeedsUptodate: false,
    batchFlush: 'always',
    splitRetry: 'in-batch',
    allMigratedReturnsZero: true,
    ...BEFORE_6_4,
  }),
  'v6.3': V6_3,
  'v6.10': V6_10,
  'v6.11': Object.freeze({
    ...V6_10,
    name: 'v6.11',
    description:
      'Linux 6.11 as far as the model goes: 6.10 plus the try_split_folio() trylock in ' +
      'MIGRATE_ASYNC (2e6506e1c4ee, the fix of the Gao Xiang deadlock) and deferred splits ' +
      'counted in nr_thp_failed',
    sources: Object.freeze([
      '2e6506e1c4ee "mm/migrate: fix deadlock in migrate_pages_batch() on large folios" (20240729021306.398286-1-hsiangkao@linux.alibaba.com)',
      '"mm/migrate: make migrate_pages_batch() stats consistent" (Zi Yan, 6.11)',
      ...AFTER_6_3_SOURCES,
    ]),
    splitTrylockInAsync: true,
    deferredSplitCountsThpFailed: true,
  }),
});

/** The default variant. */
export const DEFAULT_VARIANT: VariantName = 'v6.3';
