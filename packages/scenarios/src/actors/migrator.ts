import {
  compactionSkipsFolio,
  ISOLATION_DONE,
  ISOLATION_FAILED,
  ISOLATION_GENERAL,
  isolateForMigration,
  isolateForMigrationFinish,
  isolateForMigrationStart,
} from '@mmsim/callers';
import {
  type Folio,
  FolioList,
  folioAlloc,
  folioNid,
  folioPut,
  folioTestHugetlb,
  folioTestLarge,
} from '@mmsim/folio';
import { type Actor, type Kernel, pageCacheDeclaresFootprints } from '@mmsim/kernel';
import type {
  MigrateMode,
  MigratePagesResult,
  MigrateReason,
  MigrationTargetControl,
  NewFolioFn,
} from '@mmsim/migrate';
import { type KernelGen, MmsimError, PF_MEMALLOC, type Task } from '@mmsim/runtime';
import type { MigrateCallLedger } from '../invariants/migrate-calls.js';
import { MigratorFootprint, recordEachStep } from './migrator-footprint.js';
import { type FolioSelector, selectorRecordsFootprints } from './selectors.js';

/**
 * How the migrator gets its folios and their destinations:
 * - `'syscall'`: move_pages(2) / migrate_pages(2) / mbind: `lru_cache_disable()` (which
 *   drains every CPU's LRU batch) around the isolation, destinations from
 *   `alloc_migration_target` on the target node with `__GFP_THISNODE`;
 * - `'compaction'`: compaction's `lru_add_drain()` of this CPU, destinations from
 *   `compaction_alloc`: order-0 pages the free scanner isolated on the target node, so a
 *   large folio gets none (-ENOMEM, then `try_split_folio`), as compaction of large folios
 *   does when no free block of their order is found. Which large folios compaction isolates
 *   at all follows the variant (`compactionSkipsFolio`): none before 6.9.
 */
export type MigratorStyle = 'syscall' | 'compaction';

/** Options of `migrator`. */
export interface MigratorOptions {
  /** Default `migrate`. */
  readonly name?: string;
  readonly cpu: number;
  readonly mode: MigrateMode;
  readonly reason: MigrateReason;
  /** How many isolate / migrate / putback rounds. */
  readonly rounds: number;
  /**
   * The target node of each round: a list cycled through (default `[1, 0]`: node 1, then
   * back to node 0, ...) or a function of the round.
   */
  readonly targets?: readonly number[] | ((round: number) => number);
  /** The folios to isolate each round, in order (they form the migration list's order). */
  readonly select: FolioSelector;
  /** Default `'syscall'`. */
  readonly style?: MigratorStyle;
  /** Skip folios already on the target node, as move_pages does. Default true. */
  readonly skipOnTarget?: boolean;
  /** Run with PF_MEMALLOC, as direct compaction does (src locks are then only trylocked). */
  readonly pfMemalloc?: boolean;
  /**
   * `'compaction'` style: `cc->order`, the order the compaction works for; -1 (the default)
   * is a whole-node compaction (`/proc/sys/vm/compact_memory`, `compact_node`, proactive
   * compaction: `is_via_compact_memory`), else the order of a direct compaction's
   * allocation. Only 6.9+ variants read it (`skip_isolation_on_order`).
   */
  readonly compactOrder?: number;
  /** Counters to fill in. */
  readonly stats?: MigratorStats;
  /** Where to report each `migrate_pages()` result and each round's leftovers. */
  readonly ledger?: MigrateCallLedger;
  /**
   * Asked before each round with the migrator CPU's virtual clock (ns): `true` ends the
   * run early, before `rounds` (a test of fixed duration, as `pmbench-migrate`'s
   * `durationNs`). Default: run all `rounds`.
   */
  readonly until?: (clockNs: number) => boolean;
}

/** What a migrator did. */
export interface MigratorStats {
  rounds: number;
  /** Folios isolated (LRU, movable and hugetlb). */
  isolated: number;
  /** Base pages migrated (`nr_succeeded`). */
  pagesMigrated: number;
  /** Base pages that failed (`nr_failed_pages`). */
  pagesFailed: number;
  /** `migrate_pages()` calls, and the return value of each. */
  readonly results: number[];
  /** Virtual time (ns, on the migrator's CPU) when the first round started and the last ended. */
  startNs: number;
  endNs: number;
  /** Virtual ns spent inside `migrate_pages()` calls. */
  migrateNs: number;
}

/** A new, zeroed `MigratorStats`. */
export function migratorStats(): MigratorStats {
  return {
    rounds: 0,
    isolated: 0,
    pagesMigrated: 0,
    pagesFailed: 0,
    results: [],
    startNs: 0,
    endNs: 0,
    migrateNs: 0,
  };
}

// One home for the isolation of a folio for migration and for compaction's large-folio
// rule: @mmsim/callers (re-exported here for existing importers).
export { compactionSkipsFolio, isolateForMigration } from '@mmsim/callers';

/**
 * A migrator: round after round, isolates the folios its selector gives (in that order:
 * the list order `migrate_pages` sees), calls `migrate_pages(list, get_new_page, ...,
 * mode, reason)` towards the round's target node, and, when that returns nonzero, gives
 * back what did not migrate with `putback_movable_pages` (a 0 promises an empty list).
 * It stands for move_pages(2) / migratepages(8)
 * (`do_pages_move` -> `do_move_pages_to_node`, `do_migrate_pages`; mm/migrate.c,
 * mm/mempolicy.c) in the `'syscall'` style, and for compaction (`compact_zone` ->
 * `isolate_migratepages` -> `migrate_pages(compaction_alloc, compaction_free)`,
 * mm/compaction.c) in the `'compaction'` style; Linux 6.3.
 */
export function migrator(k: Kernel, options: MigratorOptions): Actor {
  const { mode, reason, rounds, select } = options;
  if (!Number.isInteger(rounds) || rounds < 0) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `rounds must be a non-negative integer, got ${String(rounds)}`,
    );
  }
  const targets = options.targets ?? [1, 0];
  // A target that is not a node of the machine is a mistake of the scenario (its config
  // has fewer nodes than its actors assume): refused before the run, not a crash inside it.
  if (typeof targets !== 'function') {
    const bad = targets.find((t) => !Number.isInteger(t) || t < 0 || t >= k.nrNodes);
    if (bad !== undefined) {
      throw new MmsimError(
        'INVALID_CONFIG',
        `actor ${options.name ?? 'migrate'} targets node ${String(bad)}, but the machine has nodes 0..${k.nrNodes - 1}`,
      );
    }
  }
  const targetOf =
    typeof targets === 'function'
      ? targets
      : (round: number) => targets[round % targets.length] as number;
  const style = options.style ?? 'syscall';
  const skipOnTarget = options.skipOnTarget ?? true;
  const compactOrder = options.compactOrder ?? -1;
  if (!Number.isInteger(compactOrder) || compactOrder < -1) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `compactOrder must be -1 or a folio order, got ${String(options.compactOrder)}`,
    );
  }
  const stats = options.stats ?? migratorStats();
  const ledger = options.ledger;
  const name = options.name ?? 'migrate';
  // Compaction over a recording scan declares its footprints (see MigratorFootprint): each
  // step records what its phase may touch. The move_pages style stays global
  // (lru_cache_disable drains every CPU; alloc_migration_target allocates in the core).
  const declares =
    style === 'compaction' && selectorRecordsFootprints(select) && pageCacheDeclaresFootprints(k);
  return {
    name,
    cpu: options.cpu,
    declaresFootprints: declares,
    models:
      style === 'syscall'
        ? 'move_pages(2) / migratepages(8): isolate (folio_isolate_lru + NR_ISOLATED), migrate_pages(alloc_migration_target), putback_movable_pages (mm/migrate.c, 6.3)'
        : 'compaction: isolate_migratepages_block (large folios per variant), migrate_pages(compaction_alloc, compaction_free), putback_movable_pages (mm/compaction.c, 6.3; 6.9+)',
    body: (task: Task): KernelGen => {
      const plan = { k, options, mode, reason, rounds, select, targetOf, style, skipOnTarget };
      const outputs = { compactOrder, stats, ledger, name };
      // Footprints recorded (dfs, dpor): each step first records its phase's objects.
      if (!declares || k.rt.footprints === null)
        return migratorBody(plan, outputs, task, undefined);
      const fp = new MigratorFootprint(k, options.cpu);
      return recordEachStep(migratorBody(plan, outputs, task, fp), fp);
    },
  };
}

/** What `migrator` resolved from its options, for its body. */
interface MigratorPlan {
  readonly k: Kernel;
  readonly options: MigratorOptions;
  readonly mode: MigrateMode;
  readonly reason: MigrateReason;
  readonly rounds: number;
  readonly select: FolioSelector;
  readonly targetOf: (round: number) => number;
  readonly style: MigratorStyle;
  readonly skipOnTarget: boolean;
}

/** What `migrator` reports into, for its body. */
interface MigratorOutputs {
  readonly compactOrder: number;
  readonly stats: MigratorStats;
  readonly ledger: MigrateCallLedger | undefined;
  readonly name: string;
}

/** `migrator`'s task body (a module-level generator: see `initTask` in scenario.ts). With
 * `fp` (a compaction migrator that declares its footprints), each phase records its objects. */
function* migratorBody(
  { k, options, mode, reason, rounds, select, targetOf, style, skipOnTarget }: MigratorPlan,
  { compactOrder, stats, ledger, name }: MigratorOutputs,
  task: Task,
  fp: MigratorFootprint | undefined,
): KernelGen {
  const mem = k.mem;
  const alloc = compactionAlloc(k, fp);
  const free = compactionFree(k);
  if (options.pfMemalloc === true) task.flags |= PF_MEMALLOC;
  stats.startNs = task.cpu.clock;
  for (let round = 0; round < rounds; round++) {
    if (options.until?.(task.cpu.clock) === true) break;
    const target = targetOf(round);
    const list = new FolioList(mem);
    if (style === 'syscall') yield* k.lru.lruCacheDisable();
    else {
      fp?.drain();
      // As plain calls when nothing in it can spin (`lru_add_drain`'s uncontended path).
      if (k.lru.lruAddDrainUncontended?.() !== true) yield* k.lru.lruAddDrain();
    }
    for (const folio of select(round, target)) {
      if (folio === null) continue;
      if (skipOnTarget && folioNid(mem, folio) === target) continue;
      if (style === 'compaction' && compactionSkipsFolio(k, folio, compactOrder)) continue;
      fp?.isolate(folio);
      // As plain calls while nothing suspends; the generators from where it would.
      const state = isolateForMigrationStart(k, folio, list, mode);
      if (state === ISOLATION_DONE) stats.isolated++;
      else if (state === ISOLATION_FAILED) continue;
      else if (
        state === ISOLATION_GENERAL
          ? yield* isolateForMigration(k, folio, list, mode)
          : yield* isolateForMigrationFinish(k, folio, list, state)
      ) {
        stats.isolated++;
      }
    }
    if (style === 'syscall') k.lru.lruCacheEnable();
    if (list.size > 0) {
      fp?.migrate(list);
      const before = task.cpu.clock;
      const result: MigratePagesResult =
        style === 'syscall'
          ? yield* k.migrate.migratePages(
              list,
              k.migrate.allocMigrationTarget,
              null,
              { nid: target, thisNode: true } satisfies MigrationTargetControl,
              mode,
              reason,
            )
          : yield* k.migrate.migratePages(list, alloc, free, target, mode, reason);
      stats.migrateNs += task.cpu.clock - before;
      stats.results.push(result.rc);
      stats.pagesMigrated += result.stats.nrSucceeded;
      stats.pagesFailed += result.stats.nrFailedPages;
      // As compact_zone and do_move_pages_to_node: put back only after a failure; a 0
      // means the list is empty (the convention Hugh Dickins' 8e279f970b5c restored).
      ledger?.migratePagesReturned(name, result.rc, list.size);
      if (result.rc !== 0 && list.size > 0) yield* k.migrate.putbackMovablePages(list);
    }
    ledger?.isolationEnded(name, list.size);
    stats.rounds++;
    // cond_resched() between rounds: the same step and decision as a `yield`, taken
    // without suspending when this task runs on (`Runtime.virtualStep`).
    if (!k.rt.virtualStep()) yield;
  }
  stats.endNs = task.cpu.clock;
  if (options.pfMemalloc === true) task.flags &= ~PF_MEMALLOC;
}

/**
 * `compaction_alloc(src, cc)` (mm/compaction.c): an order-0 free page of the target node
 * for an order-0 src; none for a large src (the free scanner keeps order-0 pages). A
 * hugetlb src gets a page from the target node's pool, as `alloc_contig_range` would.
 * With `fp` (a migrator that declares its footprints), each destination joins the
 * footprint of the `migrate_pages()` call.
 */
export function compactionAlloc(k: Kernel, fp?: MigratorFootprint): NewFolioFn<number> {
  return (src, nid) => {
    if (folioTestHugetlb(k.mem, src))
      return k.migrate.allocMigrationTarget(src, { nid, thisNode: true });
    if (folioTestLarge(k.mem, src)) return null;
    const folio = folioAlloc(k.mem, 0, nid, { thisNode: true });
    if (folio < 0) return null;
    fp?.addDestination(folio);
    return folio;
  };
}

/** `compaction_free(dst, cc)`: an unused destination goes back (here: to the buddy). */
export function compactionFree(k: Kernel): (dst: Folio, nid: number) => void {
  return (dst) => folioPut(k.mem, dst);
}
