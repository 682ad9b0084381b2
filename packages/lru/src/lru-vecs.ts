import type { Folio, PhysicalMemory } from '@mmsim/folio';
import { checkInt, type KernelGen, type Runtime, type Spinlock, type VmStat } from '@mmsim/runtime';
import {
  lruAddDrainAll,
  lruAddDrain as lruAddDrainImpl,
  lruAddDrainUncontended as lruAddDrainUncontendedImpl,
  lruCacheDisabled as lruCacheDisabledImpl,
  lruCacheDisable as lruCacheDisableImpl,
  lruCacheEnable as lruCacheEnableImpl,
} from './drain.js';
import {
  folioEvictable as folioEvictableImpl,
  mappingClearUnevictable,
  mappingSetUnevictable,
  mappingUnevictable,
} from './evictable.js';
import { folioPutLru } from './folio-put.js';
import {
  folioIsolateLruFinish as folioIsolateLruFinishImpl,
  folioIsolateLru as folioIsolateLruImpl,
  folioIsolateLruPlain,
} from './isolate.js';
import {
  folioAddLruDrainUncontended as folioAddLruDrainUncontendedImpl,
  folioAddLru as folioAddLruImpl,
  folioAddLruUncontended as folioAddLruUncontendedImpl,
} from './lru-add.js';
import type { LruIsolation } from './lru-isolation.js';
import { folioIsFileLru as folioIsFileLruImpl } from './lru-list.js';
import { LruState } from './lru-state.js';
import type { Lruvec } from './lruvec.js';
import {
  mlockDrainLocal as mlockDrainLocalImpl,
  mlockFolio as mlockFolioImpl,
  mlockNewFolio as mlockNewFolioImpl,
  munlockFolio as munlockFolioImpl,
} from './mlock.js';
import {
  folioIsolatedItem as folioIsolatedItemImpl,
  nodeStatModFolio as nodeStatModFolioImpl,
} from './nr-isolated.js';
import { folioPutbackLru as folioPutbackLruImpl } from './putback.js';
import { LruView } from './view.js';

/**
 * The default `LruIsolation`: one lruvec per node (five lists under its `lru_lock`), one
 * lru_add batch per CPU, `lru_disable_count`, and the NR_ISOLATED helpers, over the
 * machine's runtime, memory and vmstat (Linux 6.3, no memcg, no MGLRU). Build one per
 * PhysicalMemory: the lists it keeps live in that memory's memmap.
 *
 * ```ts
 * const lru = new LruVecs(rt, mem, vmstat);
 * rt.spawn('migrate', 0, function* () {
 *   if (yield* lru.folioIsolateLru(folio)) {
 *     lru.nodeStatModFolio(folio, lru.folioIsolatedItem(folio), folioNrPages(mem, folio));
 *   }
 * });
 * ```
 */
export class LruVecs implements LruIsolation {
  /** Read-only views and the invariant checker. */
  readonly view: LruView;
  readonly #s: LruState;

  constructor(rt: Runtime, mem: PhysicalMemory, vmstat: VmStat) {
    this.#s = new LruState(rt, mem, vmstat);
    this.view = new LruView(this.#s);
  }

  folioIsolateLru(folio: Folio): KernelGen<boolean> {
    return folioIsolateLruImpl(this.#s, folio);
  }

  folioIsolateLruStart(folio: Folio): number {
    return folioIsolateLruPlain(this.#s, folio);
  }

  folioIsolateLruFinish(folio: Folio, state: number): KernelGen<boolean> {
    return folioIsolateLruFinishImpl(this.#s, folio, state);
  }

  folioPutbackLru(folio: Folio): KernelGen {
    return folioPutbackLruImpl(this.#s, folio);
  }

  folioAddLru(folio: Folio): KernelGen {
    return folioAddLruImpl(this.#s, folio);
  }

  folioPut(folio: Folio): KernelGen {
    return folioPutLru(this.#s, folio);
  }

  lruAddDrain(): KernelGen {
    return lruAddDrainImpl(this.#s);
  }

  folioAddLruUncontended(folio: Folio): boolean {
    return folioAddLruUncontendedImpl(this.#s, folio);
  }

  lruAddDrainUncontended(): boolean {
    return lruAddDrainUncontendedImpl(this.#s);
  }

  folioAddLruDrainUncontended(folio: Folio): boolean {
    return folioAddLruDrainUncontendedImpl(this.#s, folio);
  }

  lruAddDrainAll(): KernelGen {
    return lruAddDrainAll(this.#s);
  }

  lruCacheDisable(): KernelGen {
    return lruCacheDisableImpl(this.#s);
  }

  lruCacheEnable(): void {
    lruCacheEnableImpl(this.#s);
  }

  lruCacheDisabled(): boolean {
    return lruCacheDisabledImpl(this.#s);
  }

  folioIsFileLru(folio: Folio): 0 | 1 {
    return folioIsFileLruImpl(this.#s.mem, folio);
  }

  folioIsolatedItem(folio: Folio): number {
    return folioIsolatedItemImpl(this.#s.mem, folio);
  }

  nodeStatModFolio(folio: Folio, item: number, nr: number): void {
    nodeStatModFolioImpl(this.#s.mem, this.#s.vmstat, folio, item, nr);
  }

  /**
   * `mlock_folio` (mm/mlock.c, 6.3): PG_mlocked (`nr_mlock`, `unevictable_pgs_mlocked`
   * the first time) and queue on this CPU's mlock_fbatch. A plain call, so that rmap may
   * call it under a page-table lock; true when the kernel would move the batch now, and
   * the caller then runs `mlockDrainLocal` once it may take `lru_lock`.
   */
  mlockFolio(folio: Folio): boolean {
    return mlockFolioImpl(this.#s, folio);
  }

  /**
   * `mlock_new_folio` (mm/mlock.c, 6.3): `folio_add_lru_vma` of a new folio in a VM_LOCKED
   * VMA. Same return as `mlockFolio`.
   */
  mlockNewFolio(folio: Folio): boolean {
    return mlockNewFolioImpl(this.#s, folio);
  }

  /** `munlock_folio` (mm/mlock.c, 6.3): queue for munlock. Same return as `mlockFolio`. */
  munlockFolio(folio: Folio): boolean {
    return munlockFolioImpl(this.#s, folio);
  }

  /** `mlock_drain_local` (mm/mlock.c, 6.3): move this CPU's mlock_fbatch. */
  mlockDrainLocal(): KernelGen {
    return mlockDrainLocalImpl(this.#s);
  }

  /** `folio_evictable` (mm/internal.h, 6.3): not mlocked and not in an unevictable mapping. */
  folioEvictable(folio: Folio): boolean {
    return folioEvictableImpl(this.#s, folio);
  }

  /**
   * `mapping_set_unevictable` (include/linux/pagemap.h, 6.3) on the address-space object
   * that page-cache folios point at (`folioSetMapping(mem, folio, 0, mapping)`): their next
   * trip through `lru_add_fn` puts them on LRU_UNEVICTABLE.
   */
  mappingSetUnevictable(mapping: object): void {
    mappingSetUnevictable(this.#s, mapping);
  }

  /** `mapping_clear_unevictable` (include/linux/pagemap.h, 6.3). */
  mappingClearUnevictable(mapping: object): void {
    mappingClearUnevictable(this.#s, mapping);
  }

  /** `mapping_unevictable` (include/linux/pagemap.h, 6.3). */
  mappingUnevictable(mapping: object | null): boolean {
    return mappingUnevictable(this.#s, mapping);
  }

  /**
   * `lruvec->lru_lock` of node `nid`, for code that holds it around its own list work (and
   * for tests that want contention). Taking it while calling `folioIsolateLru` deadlocks,
   * as in the kernel.
   */
  lruLock(nid: number): Spinlock {
    checkInt('nid', nid, 0, this.#s.mem.nrNodes - 1);
    return (this.#s.lruvecs[nid] as Lruvec).lock;
  }
}
