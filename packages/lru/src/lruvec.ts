import { type Folio, FolioList, folioOnList, type PhysicalMemory } from '@mmsim/folio';
import { MmsimError, NodeStat, type Runtime, Spinlock, type VmStat } from '@mmsim/runtime';
import { NR_LRU_LISTS } from './lru-list.js';

/** `NR_LRU_BASE`: the node vmstat item of LRU_INACTIVE_ANON; the others follow in enum order. */
const NR_LRU_BASE = NodeStat.NR_INACTIVE_ANON;

/**
 * `struct lruvec` of one node (include/linux/mmzone.h, Linux 6.3, without memcg: the
 * node's own lruvec, `pgdat->__lruvec`, and without MGLRU): the five LRU lists, their sizes
 * in base pages, and `lru_lock`, which serialises every change of the lists.
 *
 * One difference from 6.3: the kernel no longer links LRU_UNEVICTABLE folios (since 5.18
 * `folio->lru` of an unevictable folio holds its `mlock_count`, and `lruvec_add_folio` only
 * counts it); the model links them on a real list so that they can be enumerated and
 * checked. The sizes and the vmstat items are the same either way.
 */
export class Lruvec {
  readonly nid: number;
  /** `lruvec->lists[lru]`, indexed by `enum lru_list`. Front = most recently added. */
  readonly lists: readonly FolioList[];
  /** Per list, in base pages: `lruvec_lru_size` (the sum of `lru_zone_size` over zones). */
  readonly sizes: Float64Array;
  /** `lruvec->lru_lock`. */
  readonly lock: Spinlock;
  readonly #mem: PhysicalMemory;
  readonly #vmstat: VmStat;

  constructor(rt: Runtime, mem: PhysicalMemory, vmstat: VmStat, nid: number) {
    this.nid = nid;
    this.#mem = mem;
    this.#vmstat = vmstat;
    const lists: FolioList[] = [];
    for (let lru = 0; lru < NR_LRU_LISTS; lru++) lists.push(new FolioList(mem));
    this.lists = Object.freeze(lists);
    this.sizes = new Float64Array(NR_LRU_LISTS);
    this.lock = new Spinlock(rt, `lru_lock node ${nid}`);
  }

  /**
   * `update_lru_size` (include/linux/mm_inline.h, 6.3): the list size and the node's
   * `nr_inactive_anon + lru` vmstat item move together, by `nrPages` base pages.
   */
  updateLruSize(lru: number, nrPages: number): void {
    this.sizes[lru] = (this.sizes[lru] as number) + nrPages;
    this.#vmstat.modNodePageState(this.nid, NR_LRU_BASE + lru, nrPages);
  }

  /**
   * `lruvec_add_folio` (include/linux/mm_inline.h, 6.3): add `folio` at the head of list
   * `lru` (its `folio_lru_list`, computed by the caller) and count its pages. The caller
   * holds `lru_lock` and sets PG_lru.
   */
  addFolio(folio: Folio, lru: number, nrPages: number): void {
    (this.lists[lru] as FolioList).add(folio);
    this.updateLruSize(lru, nrPages);
  }

  /**
   * `lruvec_del_folio` (include/linux/mm_inline.h, 6.3): unlink `folio` and uncount its
   * pages; returns the list it was on. The kernel recomputes the list from the flags; the
   * model uses the list the folio is really on, so a flag changed behind the LRU's back
   * cannot corrupt the sizes (the invariant checker reports such a folio). The caller holds
   * `lru_lock`.
   */
  delFolio(folio: Folio, nrPages: number): number {
    const lru = this.listIndexOf(folio);
    if (lru < 0) {
      throw new MmsimError(
        'INVARIANT_VIOLATED',
        `folio ${folio} should be on an LRU list of node ${this.nid} but is not`,
      );
    }
    (this.lists[lru] as FolioList).del(folio);
    this.updateLruSize(lru, -nrPages);
    return lru;
  }

  /** The index of the list of this lruvec that `folio` is on, or -1. */
  listIndexOf(folio: Folio): number {
    const list = folioOnList(this.#mem, folio);
    if (list === null) return -1;
    const lists = this.lists;
    for (let lru = 0; lru < lists.length; lru++) if (lists[lru] === list) return lru;
    return -1;
  }
}
