import type { FolioList } from '@mmsim/folio';
import { type KernelGen, tracedFunction } from '@mmsim/runtime';
import type { MigrateCallbacks } from './callbacks.js';
import { listHead } from './lists.js';
import type { MigrateEnv } from './migrate-env.js';
import { migratePagesBatch } from './migrate-pages-batch.js';
import { MIGRATE_ASYNC, type MigrateMode } from './modes.js';
import type { MigrateReason } from './reasons.js';
import { MigrateStats } from './stats.js';
import { variantPasses } from './variants.js';

/**
 * `migrate_pages_sync(from, get_new_page, put_new_page, private, mode, reason, ret_folios,
 * split_folios, stats)` (mm/migrate.c, 6.3-rc3, 2ef7dbb26990): a synchronous caller's
 * batch, optimistically in MIGRATE_ASYNC first, then pessimistically one folio at a time.
 *
 * 1. `migrate_pages_batch` in MIGRATE_ASYNC with NR_MAX_MIGRATE_ASYNC_RETRY (3) passes and
 *    stats of its own; its permanent failures go to a private list. Its successes and THP
 *    splits count. On -ENOMEM its failures count too and everything goes to `ret_folios`.
 * 2. A THP split in the async phase counts as one failure (`nr_thp_failed` and the
 *    result); the other async failures are not counted, since they are retried: the
 *    private list is appended to `from`, which then holds the -EAGAIN leftovers followed by
 *    the permanent async failures (-EBUSY of writeback, of dirty page cache...).
 * 3. Each folio of `from` in turn goes alone through `migrate_pages_batch` in the caller's
 *    mode with NR_MAX_MIGRATE_SYNC_RETRY (7) passes, so it may sleep on its locks and
 *    writeback while holding no other folio lock; what is left goes to `ret_folios`.
 *
 * The pass counts are the variant's `asyncFirstPasses` and the mode's passes less those
 * (3 and 7 in every built-in variant); a variant's `steps.migratePagesBatch` replaces
 * `migrate_pages_batch` in both phases.
 *
 * Returns the failures counted, or -ENOMEM. 6.3 counts only THP splits of the async
 * phase; a split of a smaller large folio there is not counted, so `migrate_pages()` may
 * return 0 with unmigrated pieces left on the list. Variants with `countsNrSplit` (6.7+,
 * Zi Yan's "mm/migrate: correct nr_failed in migrate_pages_sync()", Fixes: 2ef7dbb26990)
 * count the async phase's `nr_split` instead.
 */
export const migratePagesSync = tracedFunction('migrate_pages_sync', migratePagesSyncBody);
function migratePagesSyncBody(
  env: MigrateEnv,
  from: FolioList,
  cb: MigrateCallbacks,
  mode: MigrateMode,
  reason: MigrateReason,
  retFolios: FolioList,
  splitFolios: FolioList,
  stats: MigrateStats,
): KernelGen<number> {
  return new MigratePagesSyncRun(env, from, cb, mode, reason, retFolios, splitFolios, stats);
}

/** Where a `MigratePagesSyncRun` is. */
const S_START = 0;
/** The MIGRATE_ASYNC batch is running. */
const S_ASYNC = 1;
/** The next folio of `from` goes alone, or the call ends. */
const S_NEXT = 2;
/** A one-folio batch in the caller's mode is running. */
const S_ONE = 3;
const S_ENDED = 4;

/**
 * `migrate_pages_sync` (above) as an iterator its caller steps (`yield*`), not a generator:
 * each `next()` steps the batch call in progress (`migrate_pages_batch` or the variant's
 * step) directly and, in the one in which that returns, goes on with this function's own
 * work up to the next batch's first scheduling point or its own end, as the generator did
 * in the same `next()`. So a scheduling point inside a batch resumes one generator fewer.
 * Nothing runs before the first `next()` (as with a generator, a call only builds it).
 */
class MigratePagesSyncRun implements KernelGen<number> {
  readonly #env: MigrateEnv;
  readonly #from: FolioList;
  readonly #cb: MigrateCallbacks;
  readonly #mode: MigrateMode;
  readonly #reason: MigrateReason;
  readonly #retFolios: FolioList;
  readonly #splitFolios: FolioList;
  readonly #stats: MigrateStats;
  #state = S_START;
  /** The batch call in progress, null between calls. */
  #batch: KernelGen<number> | null = null;
  #batchStep: typeof migratePagesBatch = migratePagesBatch;
  #syncPasses = 0;
  /** The async phase's leftovers, then the one-folio batch (`folios` of the kernel). */
  #folios: FolioList | null = null;
  #astats: MigrateStats | null = null;
  #nrFailed = 0;
  /** What the batch returned in a `throw()` it caught, for `next()` to go on with. */
  #returned: IteratorReturnResult<number> | null = null;

  constructor(
    env: MigrateEnv,
    from: FolioList,
    cb: MigrateCallbacks,
    mode: MigrateMode,
    reason: MigrateReason,
    retFolios: FolioList,
    splitFolios: FolioList,
    stats: MigrateStats,
  ) {
    this.#env = env;
    this.#from = from;
    this.#cb = cb;
    this.#mode = mode;
    this.#reason = reason;
    this.#retFolios = retFolios;
    this.#splitFolios = splitFolios;
    this.#stats = stats;
  }

  next(): IteratorResult<void, number> {
    for (;;) {
      switch (this.#state) {
        case S_START: {
          // The variant's knobs and batch step, read once per call: NR_MAX_MIGRATE_ASYNC_RETRY
          // and NR_MAX_MIGRATE_SYNC_RETRY (the mode's passes less the async ones).
          const env = this.#env;
          const variant = env.variant;
          const asyncPasses = variant.asyncFirstPasses;
          this.#syncPasses = variantPasses(variant, this.#mode) - asyncPasses;
          this.#batchStep = variant.steps?.migratePagesBatch ?? migratePagesBatch;
          const folios = listHead(env.mem);
          this.#folios = folios;
          this.#astats = new MigrateStats();
          // Try to migrate in batch with MIGRATE_ASYNC mode first.
          this.#batch = this.#batchStep(
            env,
            this.#from,
            this.#cb,
            MIGRATE_ASYNC,
            this.#reason,
            folios,
            this.#splitFolios,
            this.#astats,
            asyncPasses,
          );
          this.#state = S_ASYNC;
          break;
        }
        case S_ASYNC: {
          const r = this.#returned ?? (this.#batch as KernelGen<number>).next();
          if (r.done !== true) return r;
          this.#returned = null;
          this.#batch = null;
          const rc = r.value;
          const stats = this.#stats;
          const astats = this.#astats as MigrateStats;
          const folios = this.#folios as FolioList;
          stats.nrSucceeded += astats.nrSucceeded;
          stats.nrThpSucceeded += astats.nrThpSucceeded;
          stats.nrThpSplit += astats.nrThpSplit;
          stats.nrSplit += astats.nrSplit;
          if (rc < 0) {
            stats.nrFailedPages += astats.nrFailedPages;
            stats.nrThpFailed += astats.nrThpFailed;
            folios.spliceTailInit(this.#retFolios);
            return this.#end(rc);
          }
          stats.nrThpFailed += astats.nrThpSplit;
          // 6.7+ counts every large folio split (nr_split includes the THPs); 6.3 only THPs.
          this.#nrFailed += this.#env.variant.countsNrSplit ? astats.nrSplit : astats.nrThpSplit;
          // Fall back to one folio at a time, synchronously. Every failure but THP splits is
          // retried, so it is not counted.
          folios.spliceTailInit(this.#from);
          this.#state = S_NEXT;
          break;
        }
        case S_NEXT: {
          const from = this.#from;
          if (from.isEmpty()) return this.#end(this.#nrFailed);
          const folios = this.#folios as FolioList;
          from.moveTo(from.first(), folios);
          this.#batch = this.#batchStep(
            this.#env,
            folios,
            this.#cb,
            this.#mode,
            this.#reason,
            this.#retFolios,
            this.#splitFolios,
            this.#stats,
            this.#syncPasses,
          );
          this.#state = S_ONE;
          break;
        }
        case S_ONE: {
          const r = this.#returned ?? (this.#batch as KernelGen<number>).next();
          if (r.done !== true) return r;
          this.#returned = null;
          this.#batch = null;
          const rc = r.value;
          (this.#folios as FolioList).spliceTailInit(this.#retFolios);
          if (rc < 0) return this.#end(rc);
          this.#nrFailed += rc;
          this.#state = S_NEXT;
          break;
        }
        default:
          return { done: true, value: undefined as unknown as number };
      }
    }
  }

  #end(rc: number): IteratorReturnResult<number> {
    this.#state = S_ENDED;
    return { done: true, value: rc };
  }

  /** As a generator's `return()` at a `yield*`: the batch in progress is returned first. */
  return(value: number): IteratorResult<void, number> {
    const batch = this.#batch;
    this.#batch = null;
    this.#state = S_ENDED;
    batch?.return(undefined as unknown as number);
    return { done: true, value };
  }

  /**
   * As a generator's `throw()` at a `yield*`: the batch in progress gets the error; this
   * function catches nothing, so what the batch throws (or the error, between batches)
   * ends it.
   */
  throw(error: unknown): IteratorResult<void, number> {
    const batch = this.#batch;
    if (batch === null || this.#state === S_ENDED) {
      this.#state = S_ENDED;
      throw error;
    }
    let r: IteratorResult<void, number>;
    try {
      r = batch.throw(error);
    } catch (thrown) {
      this.#batch = null;
      this.#state = S_ENDED;
      throw thrown;
    }
    if (r.done !== true) return r;
    // The batch caught it and returned: go on as after its return.
    this.#returned = r;
    return this.next();
  }

  [Symbol.iterator](): this {
    return this;
  }
}
