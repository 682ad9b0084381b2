import type { Folio } from '@mmsim/folio';
import type { KernelGen } from '@mmsim/runtime';

/**
 * What the rest of mmsim needs from the LRU layer (the migration core imports this as a
 * type only; `LruVecs` is the default implementation, and a test may hand in a fake).
 * Every member names the Linux 6.3 function it models. Members that may spin on
 * `lru_lock` or sleep are generators, called with `yield*` from a running task.
 */
export interface LruIsolation {
  /**
   * `folio_isolate_lru` (mm/vmscan.c): true when the folio was taken off its LRU list
   * (one more reference, PG_lru clear), false when it was on none. The caller holds a
   * reference, and accounts NR_ISOLATED itself (`nodeStatModFolio`).
   */
  folioIsolateLru(folio: Folio): KernelGen<boolean>;
  /**
   * Optional: `folioIsolateLru` as plain calls for as far as it runs without suspending
   * the task. Returns `ISOLATE_LRU_FAILED` (false) or `ISOLATE_LRU_DONE` (true) when it ran
   * to its end; `ISOLATE_LRU_YIELD` or `ISOLATE_LRU_SPIN` when it stopped at its scheduling
   * point or at a held `lru_lock`, having won PG_lru: the caller must then run
   * `folioIsolateLruFinish` at once; `ISOLATE_LRU_GENERAL` when it did nothing (run
   * `folioIsolateLru`). Same steps, charges and decisions as `folioIsolateLru`.
   */
  folioIsolateLruStart?(folio: Folio): number;
  /** With `folioIsolateLruStart`: the rest of an isolation it left pending; true. */
  folioIsolateLruFinish?(folio: Folio, state: number): KernelGen<boolean>;
  /** `folio_putback_lru` (mm/vmscan.c): `folio_add_lru`, then drop the isolation reference. */
  folioPutbackLru(folio: Folio): KernelGen;
  /** `folio_add_lru` (mm/swap.c): queue on this CPU's lru_add batch with a reference. */
  folioAddLru(folio: Folio): KernelGen;
  /**
   * `folio_put` (include/linux/mm.h) for a folio that may be on the LRU: the last reference
   * takes it off its list (`__page_cache_release`) before it is freed. Hot paths call the
   * exported `folioPutFast` first and this only when it returns false.
   */
  folioPut(folio: Folio): KernelGen;
  /** `lru_add_drain` (mm/swap.c): move this CPU's batch to the LRU. */
  lruAddDrain(): KernelGen;
  /**
   * Optional fast path of `folioAddLru`, as a plain call: true when the folio was queued
   * (and the batch moved if it had to) with nothing that could spin; false, having changed
   * nothing, when the caller must run `folioAddLru`. Same steps and charges either way.
   */
  folioAddLruUncontended?(folio: Folio): boolean;
  /** Optional fast path of `lruAddDrain`, as a plain call; false: nothing changed, run `lruAddDrain`. */
  lruAddDrainUncontended?(): boolean;
  /**
   * Optional fast path of `folioAddLru(folio)` followed at once by `lruAddDrain()`, as a
   * plain call when this CPU's batch is empty: true when both were done (the folio is on
   * its LRU list), with the same steps and charges as the two calls; false, having changed
   * nothing, when the caller must make the two calls (or their fast paths).
   */
  folioAddLruDrainUncontended?(folio: Folio): boolean;
  /** `lru_add_drain_all` (mm/swap.c): move every CPU's batch to the LRU; may sleep. */
  lruAddDrainAll(): KernelGen;
  /** `lru_cache_disable` (mm/swap.c): count up, then drain every CPU; may sleep. */
  lruCacheDisable(): KernelGen;
  /** `lru_cache_enable` (include/linux/swap.h): count down. */
  lruCacheEnable(): void;
  /** `lru_cache_disabled` (include/linux/swap.h). */
  lruCacheDisabled(): boolean;
  /** `folio_is_file_lru` (include/linux/mm_inline.h): 1 without PG_swapbacked, else 0. */
  folioIsFileLru(folio: Folio): 0 | 1;
  /** `NR_ISOLATED_ANON + folio_is_file_lru(folio)`: the item an isolated folio counts in. */
  folioIsolatedItem(folio: Folio): number;
  /** `node_stat_mod_folio` (include/linux/vmstat.h): add `nr` to the folio node's `item`. */
  nodeStatModFolio(folio: Folio, item: number, nr: number): void;
}
