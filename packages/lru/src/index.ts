/**
 * @mmsim/lru: LRU isolation for mmsim (Linux 6.3). Per-node lruvecs (five lists under
 * `lru_lock`), `folio_isolate_lru` and `folio_putback_lru`, per-CPU lru_add batches and
 * their drains, `lru_cache_disable`, and the NR_ISOLATED accounting rule.
 *
 * Contents:
 * - `LruIsolation`: the interface other packages import; `LruVecs`: its default
 *   implementation, with `lru.view` (an `LruView`) for lists, batches and invariants;
 * - list constants and selection: `LRU_*`, `NR_LRU_LISTS`, `folioLruList`,
 *   `folioIsFileLru`, `lruListName`; the batch size `PAGEVEC_SIZE`;
 * - NR_ISOLATED accounting usable without an LruVecs: `folioIsolatedItem`,
 *   `nodeStatModFolio`;
 * - the `mm_lru_insertion` tracepoint's fields: `MmLruInsertion`;
 * - `folio_put`'s fast half, `folioPutFast` (the slow half is `LruIsolation.folioPut`).
 */

export { PAGEVEC_SIZE } from './folio-batch.js';
export { folioPutFast } from './folio-put.js';
export type { CheckOptions } from './invariants.js';
export type { LruIsolation } from './lru-isolation.js';
export {
  folioIsFileLru,
  folioLruList,
  LRU_ACTIVE,
  LRU_ACTIVE_ANON,
  LRU_ACTIVE_FILE,
  LRU_BASE,
  LRU_FILE,
  LRU_INACTIVE_ANON,
  LRU_INACTIVE_FILE,
  LRU_LIST_NAMES,
  LRU_UNEVICTABLE,
  lruListName,
  NR_LRU_LISTS,
} from './lru-list.js';
export { LruVecs } from './lru-vecs.js';
export { folioIsolatedItem, nodeStatModFolio } from './nr-isolated.js';
export type { MmLruInsertion } from './state.js';
export type { LruView } from './view.js';
