import {
  type Folio,
  type FolioList,
  FRAME_HEAD,
  folioMapped,
  folioMapping,
  folioNrPages,
  folioTestAnon,
  folioTestHugetlb,
  folioTestMovable,
  folioTestSwapcache,
  frameView,
  PG_locked,
} from '@mmsim/folio';
import type { Kernel } from '@mmsim/kernel';
import { BLOCKDEV_AOPS, BUFFER_AOPS, FILEMAP_AOPS, mappingAops, SHMEM_AOPS } from '@mmsim/migrate';
import { type AddressSpaceView, isAddressSpace } from '@mmsim/rmap';
import {
  FP_FOLIO,
  FP_LRU_LIST,
  FP_MAPPING,
  FP_PCP,
  FP_ZONE,
  type KernelGen,
  type Runtime,
} from '@mmsim/runtime';

/**
 * The `a_ops` whose `migrate_folio` touches nothing but the folio, its buffers (which count
 * as the folio), its mapping's page cache and the runtime locks it takes: `migrate_folio`
 * (shmem), `filemap_migrate_folio`, `buffer_migrate_folio`, `buffer_migrate_folio_norefs`.
 * None of them writes a folio out (`fallback_migrate_folio` -> `writeout` would submit I/O to
 * a device the migrator does not name), and none is a driver's.
 */
const DECLARED_AOPS: ReadonlySet<object> = new Set([
  SHMEM_AOPS,
  FILEMAP_AOPS,
  BUFFER_AOPS,
  BLOCKDEV_AOPS,
]);

/**
 * The footprint of a compaction-style migrator (`migrator`, style `'compaction'`): the
 * objects its code may touch until its next scheduling point, recorded at the start of each
 * of its steps (`recordEachStep`) and whenever it enters a new phase. A superset of what the
 * code touches, so sound; coarse during `migrate_pages()`, where every step records every
 * folio of the call.
 *
 * Phases and what they record:
 * - `drain` (`lru_add_drain` of this CPU): the node's lruvecs (`FP_LRU_LIST`), this CPU's
 *   folio batches (`FP_PCP`) and every folio in its lru_add batch (PG_lru is set on them);
 *   global when its mlock batch is not empty (`mlock_drain_local` reaches other state);
 * - `isolate` (`isolate_migratepages_block` -> `folio_isolate_lru`, NR_ISOLATED, a put that
 *   may free): the folio, the lruvecs, this CPU's batches, the zones (`FP_ZONE`); global for a
 *   hugetlb or non-LRU movable folio (the hstate lists, a driver's `isolate_page`);
 * - `migrate` (`migrate_pages(compaction_alloc, compaction_free)` and
 *   `putback_movable_pages`): every folio of the list and every destination
 *   `compaction_alloc` handed out (unmap, move, the new folio's allocation, the old one's
 *   free, putback), their mappings' page caches (`FP_MAPPING`), the lruvecs, this CPU's
 *   batches and the zones. Global unless every folio is an order-0 page-cache folio (not
 *   anonymous, not in the swap cache, not mapped by any VMA: `try_to_migrate` and
 *   `remove_migration_ptes` then touch no page table) whose mapping uses a built-in `a_ops`
 *   that never writes a folio out (`DECLARED_AOPS`), and the variant replaces no step and
 *   copies in the move (`copyStrategy: 'in-move'`, no copy provider).
 *
 * The vmstat counters the migrator adds to (NR_ISOLATED_*, NR_FILE_PAGES, NR_FILE_DIRTY,
 * NR_WRITEBACK, the compaction and migration events) are not recorded: adds commute, no
 * declared code reads them, and every reader is a global step or the end-of-run check
 * (NR_ISOLATED is written as `FP_VMSTAT` by `isolateLruFolioHeld`, which declared code of
 * other callers may read one day). The migrator's own ledger and statistics are its own.
 */
export class MigratorFootprint {
  readonly #k: Kernel;
  readonly #rt: Runtime;
  readonly #cpu: number;
  /** `drain` / `isolate`: the folios the phase writes. `migrate`: the list's folios. */
  readonly #folios: Folio[] = [];
  /** `migrate`: the address space of each folio of `#folios` (same index). */
  readonly #mappings: AddressSpaceView[] = [];
  /** `migrate`: the destinations handed out so far. */
  readonly #dsts: Folio[] = [];
  #migrate = false;
  #global = false;

  constructor(k: Kernel, cpu: number) {
    this.#k = k;
    this.#rt = k.rt;
    this.#cpu = cpu;
  }

  /**
   * Records the phase's objects in the running step (or makes it global). In the `migrate`
   * phase only the list's folios that are locked now, and their page caches: a step of
   * `migrate_pages()` touches a folio it does not hold locked only where it starts on it,
   * and there it records it itself (`migrate_pages_batch` and `migrate_pages` (6.2) touch
   * each folio after their `cond_resched()`, `folio_trylock` / `folio_lock` record theirs);
   * what it reads of the others before that (order, hugetlb) does not change while they are
   * isolated. Choosing by PG_locked reads every folio of the list, so each one not locked
   * now is recorded as read: otherwise the step's footprint would depend on a flag another
   * task writes (a page-cache locker holding one of the list's folios) without being
   * ordered with that write, and reordering two steps found independent would change the
   * footprint of one of them, which DPOR's races and sleep sets assume cannot happen (it
   * lost 3 interleaving classes of a locker and compact_memory at bound 2).
   */
  record(): void {
    const rt = this.#rt;
    if (this.#global) {
      rt.touchAll();
      return;
    }
    const k = this.#k;
    const folios = this.#folios;
    if (this.#migrate) {
      // A folio of the list may have been freed (migrated): read the frames directly.
      const frames = frameView(k.mem);
      for (let i = 0; i < folios.length; i++) {
        const m = this.#mappings[i] as AddressSpaceView;
        // mmap() of the file since the call began (a global step): page tables are in play.
        if (m.iMmap.size > 0) {
          rt.touchAll();
          return;
        }
        const f = folios[i] as Folio;
        if (
          frames.state[f] === FRAME_HEAD &&
          ((frames.flags[f] as number) & (1 << PG_locked)) !== 0
        ) {
          rt.touchKernel(FP_FOLIO, f, true);
          rt.touchKernel(FP_MAPPING, m.id, true);
        } else rt.touchKernel(FP_FOLIO, f, false);
      }
      for (const f of this.#dsts) rt.touchKernel(FP_FOLIO, f, true);
    } else {
      for (const f of folios) rt.touchKernel(FP_FOLIO, f, true);
    }
    const cpu = this.#cpu;
    const view = k.lruView;
    if (view.mlockBatchFolios(cpu).length > 0) {
      rt.touchAll();
      return;
    }
    if (view.batchLength(cpu) > 0) {
      for (const f of view.batchFolios(cpu)) rt.touchKernel(FP_FOLIO, f, true);
    }
    rt.touchKernel(FP_PCP, cpu, true);
    for (let nid = 0; nid < k.nrNodes; nid++) {
      rt.touchKernel(FP_LRU_LIST, nid, true);
      rt.touchKernel(FP_ZONE, nid, true);
    }
  }

  /** Phase `drain`: `lru_add_drain()` of this CPU. */
  drain(): void {
    this.#reset();
    this.record();
  }

  /** Phase `isolate`: isolating `folio`. */
  isolate(folio: Folio): void {
    this.#reset();
    const mem = this.#k.mem;
    if (folioTestHugetlb(mem, folio) || folioTestMovable(mem, folio)) this.#global = true;
    else this.#folios.push(folio);
    this.record();
  }

  /**
   * Phase `migrate`: `migrate_pages()` of `list`, then the putback of what is left. The
   * step that enters it reads every folio of the list (`migrate_pages` checks and carves
   * the list): all of them, and their page caches, are recorded here.
   */
  migrate(list: FolioList): void {
    this.#reset();
    const k = this.#k;
    const mem = k.mem;
    const rt = this.#rt;
    const variant = k.variant;
    if (variant.steps !== undefined || variant.copyStrategy !== 'in-move') this.#global = true;
    for (const folio of list) {
      if (this.#global) break;
      const mapping =
        folioTestAnon(mem, folio) ||
        folioTestSwapcache(mem, folio) ||
        folioTestHugetlb(mem, folio) ||
        folioNrPages(mem, folio) !== 1 ||
        folioMapped(mem, folio)
          ? null
          : folioMapping(mem, folio);
      if (
        mapping === null ||
        !isAddressSpace(mapping) ||
        mapping.iMmap.size > 0 ||
        !DECLARED_AOPS.has(mappingAops(mem, mapping, folio))
      ) {
        this.#global = true;
        break;
      }
      this.#folios.push(folio);
      this.#mappings.push(mapping);
      rt.touchKernel(FP_FOLIO, folio, true);
      rt.touchKernel(FP_MAPPING, mapping.id, true);
    }
    this.#migrate = true;
    this.record();
  }

  /** `compaction_alloc` handed out `dst` during the `migrate` phase. */
  addDestination(dst: Folio): void {
    this.#dsts.push(dst);
    this.#rt.touchKernel(FP_FOLIO, dst, true);
  }

  #reset(): void {
    this.#folios.length = 0;
    this.#mappings.length = 0;
    this.#dsts.length = 0;
    this.#migrate = false;
    this.#global = false;
  }
}

/**
 * Runs `body`, recording `fp`'s objects at the start of each of its steps (before the body's
 * code of that step runs): the body's steps then touch at most what the phase they are in
 * names, whichever scheduling point inside the kernel code they resumed at. Used only when
 * footprints are recorded; it adds no scheduling point.
 */
export function* recordEachStep<R>(body: KernelGen<R>, fp: MigratorFootprint): KernelGen<R> {
  let finished = false;
  try {
    fp.record();
    let r = body.next();
    while (r.done !== true) {
      try {
        yield r.value;
      } catch (error) {
        fp.record();
        r = body.throw(error);
        continue;
      }
      fp.record();
      r = body.next();
    }
    finished = true;
    return r.value;
  } finally {
    if (!finished) body.return(undefined as R);
  }
}
