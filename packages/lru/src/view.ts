import { type Folio, type FolioList, folioOnList } from '@mmsim/folio';
import { checkInt } from '@mmsim/runtime';
import type { FolioBatch } from './folio-batch.js';
import { assertLru, type CheckOptions, checkLru } from './invariants.js';
import { badLru, NR_LRU_LISTS } from './lru-list.js';
import { type LruState, WHERE_BATCH } from './lru-state.js';
import type { Lruvec } from './lruvec.js';
import type { MlockBatch } from './mlock-batch.js';

let stateOfView: (view: LruView) => LruState;

/** The LRU state behind a view (internal: for the tests that compare `checkLru`'s two forms). */
export function lruStateOf(view: LruView): LruState {
  return stateOfView(view);
}

/**
 * A read-only view of the LRU layer for checks, tests and tools: list contents and sizes
 * per node, batch contents per CPU, `lru_disable_count`, and the invariant checker. Bad
 * node, CPU or list arguments throw INVALID_ARGUMENT.
 */
export class LruView {
  readonly #s: LruState;

  constructor(s: LruState) {
    this.#s = s;
  }

  static {
    stateOfView = (view) => view.#s;
  }

  get nrNodes(): number {
    return this.#s.lruvecs.length;
  }

  get nrCpus(): number {
    return this.#s.batches.length;
  }

  /** `lru_disable_count`. */
  get lruDisableCount(): number {
    return this.#s.disableCount;
  }

  #lruvec(nid: number): Lruvec {
    checkInt('nid', nid, 0, this.#s.lruvecs.length - 1);
    return this.#s.lruvecs[nid] as Lruvec;
  }

  #list(nid: number, lru: number): FolioList {
    const lv = this.#lruvec(nid);
    if (!Number.isInteger(lru) || lru < 0 || lru >= NR_LRU_LISTS) throw badLru(lru);
    return lv.lists[lru] as FolioList;
  }

  #batch(cpu: number): FolioBatch {
    checkInt('cpu', cpu, 0, this.#s.batches.length - 1);
    return this.#s.batches[cpu] as FolioBatch;
  }

  /** The folios on list `lru` of node `nid`, head (most recently added) first. */
  listFolios(nid: number, lru: number): Folio[] {
    return this.#list(nid, lru).toArray();
  }

  /** The number of folios on list `lru` of node `nid`. */
  listLength(nid: number, lru: number): number {
    return this.#list(nid, lru).size;
  }

  /** The size of list `lru` of node `nid` in base pages (`lruvec_lru_size`). */
  listPages(nid: number, lru: number): number {
    this.#list(nid, lru);
    return this.#lruvec(nid).sizes[lru] as number;
  }

  /**
   * The folios waiting in CPU `cpu`'s lru_add batch, in queue order: those queued, then
   * those of a move in flight that have not reached their list yet.
   */
  batchFolios(cpu: number): Folio[] {
    return this.#batch(cpu).pending();
  }

  /** The number of folios waiting in CPU `cpu`'s lru_add batch. */
  batchLength(cpu: number): number {
    const b = this.#batch(cpu);
    return b.nr + (b.drainNr - b.drainPos);
  }

  /**
   * Where `folio` is on the LRU: `{ nid, lru }` of the list it is linked on, or null (off
   * the LRU, in a batch, or on some other list).
   */
  folioLru(folio: Folio): { readonly nid: number; readonly lru: number } | null {
    const list = folioOnList(this.#s.mem, folio);
    if (list === null) return null;
    for (const lv of this.#s.lruvecs) {
      const lru = lv.lists.indexOf(list);
      if (lru >= 0) return { nid: lv.nid, lru };
    }
    return null;
  }

  /** Whether `folio` waits in some CPU's lru_add batch. */
  inBatch(folio: Folio): boolean {
    folioOnList(this.#s.mem, folio); // validates the folio
    return this.#s.where[folio] === WHERE_BATCH;
  }

  /** `folio->mlock_count` of a folio (meaningful on the unevictable list; 0 before any mlock). */
  mlockCount(folio: Folio): number {
    return this.#s.mlockCount === null ? 0 : (this.#s.mlockCount[folio] as number);
  }

  /** The folios queued in CPU `cpu`'s mlock_fbatch (each entry once, oldest first). */
  mlockBatchFolios(cpu: number): Folio[] {
    checkInt('cpu', cpu, 0, this.#s.mlockBatches.length - 1);
    const b = this.#s.mlockBatches[cpu] as MlockBatch;
    return b.entries.map((e) => Math.floor(e / 4));
  }

  /** The invariant problems, one message each; empty when sound. */
  check(options?: CheckOptions): string[] {
    return checkLru(this.#s, options);
  }

  /** Throws INVARIANT_VIOLATED when `check` finds a problem. */
  assertSound(options?: CheckOptions): void {
    assertLru(this.#s, options);
  }
}
