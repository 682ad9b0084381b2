import {
  FOLIO_TYPE_HUGETLB,
  type FolioList,
  folioTestHugetlb,
  type MemmapReader,
  memmapReader,
  readerIsFolio,
} from '@mmsim/folio';
import type { KernelGen } from '@mmsim/runtime';
import type { MigrateCallbacks } from './callbacks.js';
import { kernelBug } from './errors.js';
import { traceFoliosIsolated } from './journey.js';
import { listCutBefore, listHead } from './lists.js';
import type { MigratePagesResult } from './migrate-core.js';
import type { MigrateEnv } from './migrate-env.js';
import { listHasHugetlb, migrateHugetlbs } from './migrate-hugetlbs.js';
import { migratePagesBatch } from './migrate-pages-batch.js';
import { migratePagesSync } from './migrate-pages-sync.js';
import { MIGRATE_ASYNC, type MigrateMode } from './modes.js';
import type { MigrateReason } from './reasons.js';
import { type MigrateStats, migratePagesEnd } from './stats.js';
import { variantBatchesMode, variantPasses } from './variants.js';

/**
 * `migrate_pages(from, get_new_page, put_new_page, private, mode, reason, &succeeded)`
 * (mm/migrate.c, 6.3) for the batch engine (variants `rfc-2022`, `v6.3-rc1`, `v6.3`,
 * `v6.11`); the arguments were checked by `MigrateCore.migratePages`.
 *
 * 1. `mm_migrate_pages_start`; `migrate_hugetlbs` (-ENOMEM ends here).
 * 2. Carve the next batch off the front of `from`: hugetlb folios still there (their
 *    retries are used up; already counted) move to the tail of `ret_folios`. The limit is
 *    the variant's `batchSize` (NR_MAX_BATCHED_MIGRATION in every built-in variant). With
 *    `batchLimit: 'at-limit'` (fb3592c41a44, 6.3-rc3) the batch ends with the folio that
 *    brings it to NR_MAX_BATCHED_MIGRATION base pages; with `'over-limit'` (the RFC and
 *    42012e0436d4, 6.3-rc1) it ends before the folio that takes it past the limit, which
 *    starts the next batch. Otherwise it takes all.
 * 3. MIGRATE_ASYNC: `migrate_pages_batch` with NR_MAX_MIGRATE_PAGES_RETRY passes (the
 *    variant's `passesAsync`...). Other modes: `migrate_pages_sync` in 6.3; in 6.3-rc1
 *    and the RFC the same batch call as ASYNC, in the caller's mode (`syncBatching`, read
 *    through `variantBatchesMode`). A variant's `steps.migratePagesBatch` replaces
 *    `migrate_pages_batch` here. What is left of the batch goes to the tail of
 *    `ret_folios`. -ENOMEM: the split pieces too, and stop.
 * 4. 6.3: the pieces of folios split in this batch get one best-effort pass, MIGRATE_ASYNC,
 *    its result ignored (the large folio was already counted once), its leftovers to
 *    `ret_folios`.
 * 5. Add the batch's failures; loop while `from` is not empty.
 * 6. `ret_folios` is spliced onto the front of `from` for the caller's
 *    `putback_movable_pages`; if `from` is then empty the result is 0 (every piece of every
 *    split folio made it; `allMigratedReturnsZero`, 03e5f82ea632: 6.3-rc1 and later, not
 *    the RFC). The vm events and `mm_migrate_pages` are emitted on every path.
 *
 * Returns `MigratePagesResult`: as `rc` the number of folios not migrated (a split large
 * folio counts once) or -ENOMEM, and a snapshot of `stats` (what `MigrateCore.migratePages`
 * hands its caller, with no generator of its own between them).
 * `listPages` and `listSize` are what the caller's pass over `from` counted when it saw no
 * hugetlb folio there (`MigrateCore`'s argument check reads every folio's type and order):
 * the list's base pages and folios; -1 (the default) when a hugetlb folio may be on it.
 * Untraced and with no hugetlb folio, `migrate_hugetlbs` is then skipped without a scan of
 * the list of its own, and the first batch of a list of at most `batchSize` pages is the
 * whole list, taken without the carve's pass (every limit of step 2 gives all of it then: no
 * folio brings the count past the limit, and the one that brings it to the limit is the
 * last). A list whose size is not `listSize` any more (a caller that changed it between the
 * call and the generator's first resumption) is carved as usual.
 *
 * It is an iterator its caller steps (`yield*`), not a generator: each `next()` steps the
 * call in progress (`migrate_hugetlbs`, a batch, `migrate_pages_sync`, the split pieces'
 * pass) directly and, in the `next()` in which that returns, goes on with this function's
 * own work up to the next call's first scheduling point or the end, as the generator did.
 * A scheduling point inside a batch then resumes one generator fewer. Nothing runs before
 * the first `next()`.
 */
export function migratePagesV63(
  env: MigrateEnv,
  from: FolioList,
  cb: MigrateCallbacks,
  mode: MigrateMode,
  reason: MigrateReason,
  stats: MigrateStats,
  listPages = -1,
  listSize = -1,
): KernelGen<MigratePagesResult> {
  return new MigratePagesRun(env, from, cb, mode, reason, stats, listPages, listSize);
}

/** Where a `MigratePagesRun` is. */
const P_START = 0;
/** `migrate_hugetlbs` is running. */
const P_HUGETLBS = 1;
/** The next batch is carved off `from`. */
const P_CARVE = 2;
/** The batch (or `migrate_pages_sync`) is running. */
const P_BATCH = 3;
/** The split pieces' pass is running. */
const P_SPLIT = 4;
/** The end: `ret_folios` back on `from`, the counts and events. */
const P_FINISH = 5;
const P_ENDED = 6;

/** `migratePagesV63`'s state between its `next()` calls (the generator's locals). */
class MigratePagesRun implements KernelGen<MigratePagesResult> {
  readonly #env: MigrateEnv;
  readonly #from: FolioList;
  readonly #cb: MigrateCallbacks;
  readonly #mode: MigrateMode;
  readonly #reason: MigrateReason;
  readonly #stats: MigrateStats;
  readonly #listPages: number;
  readonly #listSize: number;
  #state = P_START;
  /** The call in progress; null between calls. */
  #inner: KernelGen<number> | null = null;
  #costStartNs = 0;
  #costIpis = 0;
  #retFolios: FolioList | null = null;
  #splitFolios: FolioList | null = null;
  /** The batch carved off `from`, while it runs. */
  #folios: FolioList | null = null;
  #batchSize = 0;
  #passes = 0;
  #batchesMode = false;
  #batchStep: typeof migratePagesBatch = migratePagesBatch;
  #overLimit = false;
  #reader: MemmapReader | null = null;
  #skipHugetlbs = false;
  #takeAll = false;
  #rcGather = 0;
  /** The batch's result while the split pieces' pass runs. */
  #rc = 0;

  constructor(
    env: MigrateEnv,
    from: FolioList,
    cb: MigrateCallbacks,
    mode: MigrateMode,
    reason: MigrateReason,
    stats: MigrateStats,
    listPages: number,
    listSize: number,
  ) {
    this.#env = env;
    this.#from = from;
    this.#cb = cb;
    this.#mode = mode;
    this.#reason = reason;
    this.#stats = stats;
    this.#listPages = listPages;
    this.#listSize = listSize;
  }

  next(): IteratorResult<void, MigratePagesResult> {
    for (;;) {
      switch (this.#state) {
        case P_START:
          this.#start();
          break;
        case P_HUGETLBS: {
          const r = (this.#inner as KernelGen<number>).next();
          if (r.done !== true) return r;
          this.#inner = null;
          this.#rcGather = r.value;
          this.#afterHugetlbs();
          break;
        }
        case P_CARVE:
          this.#carve();
          break;
        case P_BATCH: {
          const r = (this.#inner as KernelGen<number>).next();
          if (r.done !== true) return r;
          this.#inner = null;
          this.#afterBatch(r.value);
          break;
        }
        case P_SPLIT: {
          const r = (this.#inner as KernelGen<number>).next();
          if (r.done !== true) return r;
          this.#inner = null;
          this.#afterSplit();
          break;
        }
        case P_FINISH:
          return this.#finish();
        default:
          return { done: true, value: undefined as unknown as MigratePagesResult };
      }
    }
  }

  /** Step 1, and the variant's knobs read once per call. */
  #start(): void {
    const env = this.#env;
    const from = this.#from;
    const mode = this.#mode;
    const reason = this.#reason;
    const tp = env.tp;
    if (tp.start.enabled) tp.start.emit({ mode, reason });
    this.#costStartNs = env.rt.currentTask?.cpu.clock ?? 0; // per-reason cost attribution
    this.#costIpis = env.reasonCosts.ipiMark(env.vmstat);
    traceFoliosIsolated(env, from);
    const mem = env.mem;
    const retFolios = listHead(mem);
    this.#retFolios = retFolios;
    this.#splitFolios = listHead(mem);
    const variant = env.variant;
    // The variant's knobs and steps, read once per call (NR_MAX_BATCHED_MIGRATION, the
    // mode's NR_MAX_MIGRATE_PAGES_RETRY, whether the mode batches, the batch loop).
    this.#batchSize = variant.batchSize;
    this.#passes = variantPasses(variant, mode);
    this.#batchesMode = variantBatchesMode(variant, mode);
    this.#batchStep = variant.steps?.migratePagesBatch ?? migratePagesBatch;
    this.#overLimit = variant.batchLimit === 'over-limit';
    this.#reader = memmapReader(mem);
    // (Untraced and without a hugetlb folio on the list, migrate_hugetlbs does nothing.)
    const skip = !env.rt.functions.enabled && !(this.#listPages < 0 && listHasHugetlb(env, from));
    this.#skipHugetlbs = skip;
    if (skip) {
      this.#rcGather = 0;
      this.#afterHugetlbs();
      return;
    }
    this.#inner = migrateHugetlbs(env, from, this.#cb, mode, reason, this.#stats, retFolios);
    this.#state = P_HUGETLBS;
  }

  #afterHugetlbs(): void {
    // The list as the caller counted it (nothing ran since) fits one batch: the carve's pass
    // would take all of it and move nothing to `ret_folios`.
    const listPages = this.#listPages;
    this.#takeAll =
      this.#skipHugetlbs &&
      listPages >= 0 &&
      listPages <= this.#batchSize &&
      this.#from.size === this.#listSize;
    this.#state = this.#rcGather >= 0 ? P_CARVE : P_FINISH;
  }

  /** Step 2, then the batch's call (step 3) up to its first `next()`. */
  #carve(): void {
    const env = this.#env;
    const mem = env.mem;
    const from = this.#from;
    const retFolios = this.#retFolios as FolioList;
    const reader = this.#reader as MemmapReader;
    const batchSize = this.#batchSize;
    const overLimit = this.#overLimit;
    let nrPages = 0;
    let cut = -1;
    let full = false;
    // (The first batch of a list that fits one is all of it; see `listPages`.)
    if (this.#takeAll) this.#takeAll = false;
    else {
      for (const folio of from) {
        // (A folio on the list is a live head; the accessor throws if it is not.)
        if (!readerIsFolio(reader, folio)) folioTestHugetlb(mem, folio);
        // Hugetlb folios left on the list used up their retries.
        if (reader.folioType[folio] === FOLIO_TYPE_HUGETLB) {
          from.moveToTail(folio, retFolios);
          continue;
        }
        nrPages += 1 << reader.order[folio]!; // folio_nr_pages
        if (overLimit) {
          // Before fb3592c41a44: past the limit, this folio starts the next batch.
          if (nrPages > batchSize) {
            if (folio === from.first()) {
              // The kernel would carve empty batches forever; no folio it migrates this
              // way is larger than NR_MAX_BATCHED_MIGRATION (HPAGE_PMD_NR) pages (a
              // smaller `batchSize` makes it reachable).
              throw kernelBug(
                'migrate_pages',
                `folio ${folio} alone exceeds NR_MAX_BATCHED_MIGRATION (${batchSize} pages)`,
              );
            }
            full = true;
            cut = folio;
            break;
          }
        } else if (nrPages >= batchSize) {
          full = true;
          cut = from.next(folio);
          break;
        }
      }
    }
    const folios = listHead(mem);
    if (full) listCutBefore(folios, from, cut);
    else from.spliceInit(folios);
    this.#folios = folios;
    const cb = this.#cb;
    const mode = this.#mode;
    const reason = this.#reason;
    const splitFolios = this.#splitFolios as FolioList;
    this.#inner = this.#batchesMode
      ? this.#batchStep(
          env,
          folios,
          cb,
          mode,
          reason,
          retFolios,
          splitFolios,
          this.#stats,
          this.#passes,
        )
      : migratePagesSync(env, folios, cb, mode, reason, retFolios, splitFolios, this.#stats);
    this.#state = P_BATCH;
  }

  /** The rest of step 3, and step 4's pass started or step 5. */
  #afterBatch(rc: number): void {
    const retFolios = this.#retFolios as FolioList;
    const splitFolios = this.#splitFolios as FolioList;
    (this.#folios as FolioList).spliceTailInit(retFolios);
    this.#folios = null;
    if (rc < 0) {
      this.#rcGather = rc;
      splitFolios.spliceTailInit(retFolios);
      this.#state = P_FINISH;
      return;
    }
    if (!splitFolios.isEmpty()) {
      // Failures are not counted: each split folio already counted as one. Minimal
      // effort: MIGRATE_ASYNC, one pass.
      this.#rc = rc;
      this.#inner = this.#batchStep(
        this.#env,
        splitFolios,
        this.#cb,
        MIGRATE_ASYNC,
        this.#reason,
        retFolios,
        null,
        this.#stats,
        1,
      );
      this.#state = P_SPLIT;
      return;
    }
    this.#rcGather += rc;
    this.#state = this.#from.isEmpty() ? P_FINISH : P_CARVE;
  }

  /** The rest of step 4, and step 5. */
  #afterSplit(): void {
    (this.#splitFolios as FolioList).spliceTailInit(this.#retFolios as FolioList);
    this.#rcGather += this.#rc;
    this.#state = this.#from.isEmpty() ? P_FINISH : P_CARVE;
  }

  /** Step 6. */
  #finish(): IteratorReturnResult<MigratePagesResult> {
    this.#state = P_ENDED;
    const env = this.#env;
    const from = this.#from;
    const stats = this.#stats;
    const reason = this.#reason;
    // Permanent failures go back on the migration list; the caller puts them back.
    (this.#retFolios as FolioList).spliceInit(from);
    // 0 if every split piece of every failed large folio was migrated (03e5f82ea632, kept by
    // 42012e0436d4 in 6.3-rc1; the September 2022 RFC predates it and returns the count).
    if (env.variant.allMigratedReturnsZero && from.isEmpty()) this.#rcGather = 0;
    env.reasonCosts.end(
      reason,
      stats,
      (env.rt.currentTask?.cpu.clock ?? 0) - this.#costStartNs,
      this.#costIpis,
      env.vmstat,
    );
    migratePagesEnd(env, stats, this.#mode, reason);
    return { done: true, value: { rc: this.#rcGather, stats: stats.snapshot() } };
  }

  /** As a generator's `return()` at a `yield*`: the call in progress is returned first. */
  return(value: MigratePagesResult): IteratorResult<void, MigratePagesResult> {
    const inner = this.#inner;
    this.#inner = null;
    this.#state = P_ENDED;
    inner?.return(0);
    return { done: true, value };
  }

  /**
   * As a generator's `throw()` at a `yield*`: the call in progress gets the error. This
   * function catches nothing, so what the call throws (or the error, between calls) ends it;
   * a call that catches it and returns is gone on from as after its return.
   */
  throw(error: unknown): IteratorResult<void, MigratePagesResult> {
    const inner = this.#inner;
    const state = this.#state;
    if (inner === null || state === P_ENDED) {
      this.#state = P_ENDED;
      throw error;
    }
    let r: IteratorResult<void, number>;
    try {
      r = inner.throw(error);
    } catch (thrown) {
      this.#inner = null;
      this.#state = P_ENDED;
      throw thrown;
    }
    if (r.done !== true) return r;
    this.#inner = null;
    if (state === P_HUGETLBS) {
      this.#rcGather = r.value;
      this.#afterHugetlbs();
    } else if (state === P_BATCH) this.#afterBatch(r.value);
    else this.#afterSplit();
    return this.next();
  }

  [Symbol.iterator](): this {
    return this;
  }
}
