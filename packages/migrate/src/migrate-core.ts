import {
  type AllocOptions,
  FOLIO_TYPE_HUGETLB,
  type Folio,
  FolioList,
  memmapReader,
} from '@mmsim/folio';
import type { AddressSpaceView, HugetlbLifecycle } from '@mmsim/rmap';
import { type KernelGen, MmsimError } from '@mmsim/runtime';
import type { AddressSpaceOperations } from './address-space-operations.js';
import { allocMigrationTarget, type MigrationTargetControl } from './alloc-migration-target.js';
import type { FreeFolioFn, MigrateCallbacks, NewFolioFn } from './callbacks.js';
import type { CopyOffload } from './copy-offload.js';
import type { DriverErrorRecord } from './errors.js';
import {
  folioPutbackActiveHugetlb,
  hugetlbAllocActive,
  hugetlbLifecycle,
  isolateHugetlb,
} from './hugetlb-state.js';
import { setAddressSpaceOperations } from './mapping-aops.js';
import { type MigrateDeps, MigrateEnv } from './migrate-env.js';
import { migratePagesV62 } from './migrate-pages-v6.2.js';
import { migratePagesV63 } from './migrate-pages-v6.3.js';
import { checkMigrateMode, MIGRATE_SYNC_NO_COPY, type MigrateMode } from './modes.js';
import { folioLooksIsolated, isolateMovablePage, putbackMovablePages } from './movable.js';
import type { ReasonCosts } from './reason-costs.js';
import { checkMigrateReason, type MigrateReason } from './reasons.js';
import { type MigratePagesStats, MigrateStats } from './stats.js';
import type { MigrateVariant } from './variants.js';

/** A generator that throws `error` when first resumed: `migratePages`'s misuse, surfaced lazily. */
function* misuse(error: unknown): KernelGen<never> {
  throw error;
}

/** What `migratePages` returns: the kernel's result and the call's statistics. */
export interface MigratePagesResult {
  /**
   * The return value of `migrate_pages()`: the number of folios not migrated (a split
   * large folio counts once; 0 when `from` ends up empty), or -ENOMEM. When it is not 0,
   * the folios left on `from` must be given back with `putbackMovablePages`.
   */
  readonly rc: number;
  /** `struct migrate_pages_stats`; `stats.nrSucceeded` is `*ret_succeeded`. */
  readonly stats: MigratePagesStats;
}

/**
 * The migration core of one machine: `migrate_pages()` in the variant it was built with,
 * and the isolation and putback functions around it. Build it from the machine's parts
 * (as interfaces: `PageLocks`, `LruIsolation`, `Rmap`, `TlbBatch`) and run its generators
 * from a task:
 *
 * ```ts
 * const core = new MigrateCore({ rt, mem, vmstat, locks, lru, rmap: vm, tlb: vm });
 * rt.spawn('migrate', 0, function* () {
 *   const { rc } = yield* core.migratePages(list, core.allocMigrationTarget, null,
 *     { nid: 1, thisNode: true }, MIGRATE_SYNC, MR_SYSCALL);
 *   if (rc !== 0) yield* core.putbackMovablePages(list);
 * });
 * ```
 */
export class MigrateCore {
  /** The shared state, for address-space callbacks and for prototyping with the steps. */
  readonly env: MigrateEnv;
  /**
   * `alloc_migration_target` bound to this machine, to pass as `getNewFolio` with a
   * `MigrationTargetControl` as `private`.
   */
  readonly allocMigrationTarget: NewFolioFn<MigrationTargetControl>;

  constructor(deps: MigrateDeps) {
    const env = new MigrateEnv(deps);
    this.env = env;
    // Made first, then stored: on Node 20 (V8 11.3) a closure stored straight into a
    // property as it is made stays reachable through young-generation collections, and with
    // it the whole machine (docs/exploration.md, "Speed").
    const alloc: NewFolioFn<MigrationTargetControl> = (src, mtc) =>
      allocMigrationTarget(env, src, mtc);
    this.allocMigrationTarget = alloc;
    env.builtinNewFolio = alloc;
  }

  /** The variant this core follows. */
  get variant(): MigrateVariant {
    return this.env.variant;
  }

  /**
   * The driver errors the core caught and undid so far (a `movable_operations` callback
   * that threw or returned a value outside its contract), oldest first.
   */
  get driverErrors(): readonly DriverErrorRecord[] {
    return this.env.driverErrors;
  }

  /** What the `migrate_pages()` calls cost so far, per reason (`ReasonCosts`). */
  get reasonCosts(): ReasonCosts {
    return this.env.reasonCosts;
  }

  /** The kernel WARN_ON_ONCE()s hit so far (`WARNING in site: ...`). */
  get warnings(): readonly string[] {
    return this.env.warnings;
  }

  /**
   * The copy-offload registration of this machine (`migrate_offload_register` /
   * `migrate_offload_unregister`), read by the batch-copy variants.
   */
  get copyOffload(): CopyOffload {
    return this.env.copyOffload;
  }

  /** `h->hugepage_activelist`: hugetlb folios in use. */
  get hugepageActivelist(): FolioList {
    return this.env.hstate.activelist;
  }

  /**
   * `migrate_pages(from, get_new_page, put_new_page, private, mode, reason,
   * &ret_succeeded)`: migrate the isolated folios of `from` to destinations from
   * `getNewFolio`. On return, the folios that were not migrated are at the front of `from`
   * (give them back with `putbackMovablePages` when `rc` is not 0). The variant decides the
   * algorithm (see `VARIANTS`); the default is Linux 6.3.
   *
   * Misuse throws an MmsimError before anything changes: a mode or reason out of range
   * (MIGRATE_SYNC_NO_COPY in a variant after 6.9), `from` not a FolioList of this memory,
   * a folio on it that is not isolated (PG_lru still set, a movable page without
   * PG_isolated, a hugetlb folio still migratable), callbacks that are not functions, no
   * running task. A callback that throws during the migration becomes a
   * `DriverCallbackError`; the migration stops there.
   */
  migratePages<P>(
    from: FolioList,
    getNewFolio: NewFolioFn<P>,
    putNewFolio: FreeFolioFn<P> | null,
    priv: P,
    mode: MigrateMode,
    reason: MigrateReason,
  ): KernelGen<MigratePagesResult> {
    // A plain call that hands back the engine's own generator: a `yield*` into it resumes
    // one generator fewer at every scheduling point of the migration (docs/performance.md,
    // "migrate_pages() without a generator of its own"). The checks run here, when the
    // caller's `yield*` evaluates the call, which is the moment its first resumption ran
    // them before; a misuse still surfaces there (at the first `next()`), as a generator
    // that throws, so nothing changes for a caller that creates the generator first.
    const env = this.env;
    let listPages: number;
    try {
      listPages = this.#checkCall(from, getNewFolio, putNewFolio, mode, reason);
    } catch (error) {
      return misuse(error);
    }
    const cb: MigrateCallbacks = {
      getNewFolio: getNewFolio as NewFolioFn<unknown>,
      putNewFolio: putNewFolio as FreeFolioFn<unknown> | null,
      priv,
    };
    const stats = new MigrateStats();
    return env.variant.engine === 'unmap-and-move'
      ? migratePagesV62(env, from, cb, mode, reason, stats)
      : migratePagesV63(env, from, cb, mode, reason, stats, listPages, from.size);
  }

  /**
   * The argument checks of `migratePages` (throwing its MmsimErrors). Returns the base
   * pages on `from` as the check's own pass over the list counted them, or -1 when a
   * hugetlb folio is among them: with no hugetlb folio the batch engine needs no scan for
   * one, and a list that fits one batch needs no pass to carve it (`migratePagesV63`).
   */
  #checkCall(
    from: FolioList,
    getNewFolio: unknown,
    putNewFolio: unknown,
    mode: MigrateMode,
    reason: MigrateReason,
  ): number {
    const env = this.env;
    void env.rt.current; // throws NO_CURRENT_TASK outside a task
    checkMigrateMode(mode);
    checkMigrateReason(reason);
    if (mode === MIGRATE_SYNC_NO_COPY && !env.variant.hasSyncNoCopy) {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        `MIGRATE_SYNC_NO_COPY does not exist in ${env.variant.name} (removed in 6.10)`,
      );
    }
    this.#checkList(from);
    if (typeof getNewFolio !== 'function') {
      throw new MmsimError('INVALID_ARGUMENT', 'getNewFolio must be a function (get_new_page)');
    }
    if (putNewFolio !== null && typeof putNewFolio !== 'function') {
      throw new MmsimError('INVALID_ARGUMENT', 'putNewFolio must be a function or null');
    }
    // The list's base pages and whether a hugetlb folio is on it, seen by the same pass (a
    // folio that passed the check is a live head).
    const r = memmapReader(env.mem);
    let hugetlb = false;
    let pages = 0;
    for (const folio of from) {
      const problem = folioLooksIsolated(env, folio);
      if (problem !== null) {
        throw new MmsimError(
          'CONTRACT_VIOLATION',
          `migrate_pages: folio ${folio} on the list ${problem}`,
        );
      }
      if (r.folioType[folio] === FOLIO_TYPE_HUGETLB) hugetlb = true;
      pages += 1 << r.order[folio]!; // folio_nr_pages
    }
    return hugetlb ? -1 : pages;
  }

  /** `putback_movable_pages(list)`: give every folio of an isolation list back. */
  putbackMovablePages(list: FolioList): KernelGen {
    this.#checkList(list);
    return putbackMovablePages(this.env, list);
  }

  /** `isolate_movable_page(page, mode)`: isolate a non-LRU movable page (see there). */
  isolateMovablePage(page: number, mode: number): boolean {
    void this.env.rt.current; // throws NO_CURRENT_TASK outside a task
    return isolateMovablePage(this.env, page, mode);
  }

  /** `isolate_hugetlb(folio, list)`. */
  isolateHugetlb(folio: Folio, list: FolioList): boolean {
    this.#checkList(list);
    return isolateHugetlb(this.env.hstate, folio, list);
  }

  /** `folio_putback_active_hugetlb(folio)`. */
  folioPutbackActiveHugetlb(folio: Folio): void {
    folioPutbackActiveHugetlb(this.env.hstate, folio);
  }

  /** A hugetlb folio in use (active, migratable), as the fault path leaves one; or -ENOMEM. */
  hugetlbAllocActive(nid: number, options?: AllocOptions): number {
    return hugetlbAllocActive(this.env.hstate, nid, options);
  }

  /**
   * The hooks the rmap's hugetlb faults use to put the folios they allocate on this core's
   * hugetlb active list and mark them migratable (`VirtualMemory.setHugetlbLifecycle`).
   */
  get hugetlbLifecycle(): HugetlbLifecycle {
    return hugetlbLifecycle(this.env.hstate);
  }

  /**
   * Sets `mapping->a_ops` (and `mapping_can_writeback`) on the address space itself: the
   * free function `setAddressSpaceOperations`, kept on the core for callers that hold
   * only the core.
   */
  setAddressSpaceOperations(
    mapping: AddressSpaceView,
    aops: AddressSpaceOperations,
    options?: { readonly canWriteback?: boolean },
  ): void {
    setAddressSpaceOperations(mapping, aops, options);
  }

  #checkList(list: FolioList): void {
    if (!(list instanceof FolioList) || list.mem !== this.env.mem) {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        'the list must be a FolioList of the same PhysicalMemory as the MigrateCore',
      );
    }
    if (list === this.env.hstate.activelist) {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        'the hugetlb active list is not an isolation list: isolate folios off it first',
      );
    }
  }
}
