// biome-ignore-all assist/source/organizeImports: this file is the package's table of contents, kept in reading order by section
/**
 * @mmsim/lru: LRU isolation for mmsim (Linux 6.3). Per-node lruvecs (five lists under
 * `lru_lock`), `folio_isolate_lru` and `folio_putback_lru`, per-CPU lru_add batches and
 * their drains, `lru_cache_disable`, and the NR_ISOLATED accounting rule.
 *
 * This is the public surface. The step functions behind `LruVecs`, its state (`LruState`)
 * and the lruvec and batch classes are in `@mmsim/lru/internal`, which may change in any
 * release.
 */

// The interface other packages import, its default implementation, and the view of its
// lists, batches and invariants (`lru.view`).
export type { LruIsolation } from './lru-isolation.js';
export { LruVecs } from './lru-vecs.js';
export type { LruView } from './view.js';
export type { CheckOptions } from './invariants.js';

// List constants and selection, and the batch size.
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
export { PAGEVEC_SIZE } from './folio-batch.js';

// NR_ISOLATED accounting, usable without an LruVecs.
export { folioIsolatedItem, nodeStatModFolio } from './nr-isolated.js';

// The `mm_lru_insertion` tracepoint's fields.
export type { MmLruInsertion } from './lru-state.js';

// `folio_put`'s fast half (the slow half is `LruIsolation.folioPut`).
export { folioPutFast } from './folio-put.js';

// What `LruIsolation.folioIsolateLruStart` returns.
export {
  ISOLATE_LRU_DONE,
  ISOLATE_LRU_FAILED,
  ISOLATE_LRU_GENERAL,
  ISOLATE_LRU_SPIN,
  ISOLATE_LRU_YIELD,
} from './isolate.js';
