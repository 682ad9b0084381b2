// biome-ignore-all assist/source/organizeImports: this file is a table of contents, kept in reading order by section
/**
 * @mmsim/lru/internal: may change in any release. The step functions behind `LruVecs` and
 * the state they share, for prototypes and tests; users of the model need only
 * `@mmsim/lru`.
 *
 * The steps take an `LruState` first: the lruvec of each node, the lru_add batch of each
 * CPU, `lru_disable_count` and the drain lock.
 */

// The state the modules share, and what it is made of.
export {
  LruState,
  requireTask,
  WHERE_BATCH,
  WHERE_ISOLATING,
  WHERE_NONE,
  WHERE_RELEASING,
} from './lru-state.js';
export { Lruvec } from './lruvec.js';
export { FolioBatch } from './folio-batch.js';
export { lruUncontended } from './uncontended.js';
export { badLru, lruListOfFlags } from './lru-list.js';

// Adding to the LRU: the per-CPU batches and their drains.
export { checkAddable, drainBatch, folioAddLru, folioBatchMoveLru, queueFolio } from './lru-add.js';
export {
  lruAddDrain,
  lruAddDrainAll,
  lruAddDrainAllForce,
  lruCacheDisable,
  lruCacheDisabled,
  lruCacheEnable,
} from './drain.js';

// Isolation and putback.
export {
  folioIsolateLru,
  folioIsolateLruFinish,
  folioIsolateLruPlain,
  folioIsolateLruStart,
} from './isolate.js';
export { folioPutbackLru } from './putback.js';
export {
  folioEvictable,
  mappingClearUnevictable,
  mappingSetUnevictable,
  mappingUnevictable,
} from './evictable.js';

// Releasing folios: folio_put's slow half and release_pages.
export { folioPutLru, folioPutSlow, releasePages } from './folio-put.js';

// mlock (mm/mlock.c): the per-CPU mlock_fbatch and its entries.
export {
  MLOCK_LRU_FOLIO,
  MLOCK_MUNLOCK,
  MLOCK_NEW_FOLIO,
  MlockBatch,
} from './mlock-batch.js';
export {
  mlockCounts,
  mlockDrainLocal,
  mlockFolio,
  mlockFolioBatch,
  mlockNewFolio,
  mlockPending,
  munlockFolio,
  munlockPending,
  needMlockDrain,
} from './mlock.js';

// Invariants.
export {
  assertLru,
  checkLru,
  type LruCheckState,
  lruLooksSound,
  reportLru,
} from './invariants.js';
export { lruStateOf } from './view.js';
