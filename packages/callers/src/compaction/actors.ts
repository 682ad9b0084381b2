import {
  folioAlloc,
  folioPut,
  populatedZone,
  setAllocFailureHook,
  ZONE_MOVABLE,
  ZONE_NORMAL,
} from '@mmsim/folio';
import type { Actor, Kernel } from '@mmsim/kernel';
import { MIGRATE_SYNC_LIGHT } from '@mmsim/migrate';
import { type KernelGen, MmsimError, PF_KTHREAD, type Task, VmEvent } from '@mmsim/runtime';
import {
  allocPagesDirectCompact,
  compactionDeferReset,
  compactionDeferred,
  compactionSuitable,
  compactNodes,
  compactZone,
  deferCompaction,
  fragmentationScoreNode,
  proactiveCompactNode,
  shouldProactiveCompactNode,
} from './compact-zone.js';
import {
  COMPACT_COMPLETE,
  COMPACT_CONTINUE,
  COMPACT_MAX_DEFER_SHIFT,
  COMPACT_PARTIAL_SKIPPED,
  COMPACT_PRIO_ASYNC,
  COMPACT_SUCCESS,
  CompactControl,
  type CompactResult,
  MIN_COMPACT_COSTLY_PRIORITY,
  MIN_COMPACT_PRIORITY,
  PAGE_ALLOC_COSTLY_ORDER,
  populatedZones,
  zoneCompaction,
} from './control.js';
import { compactionTracepoints } from './tracepoints.js';

/** What a compaction actor did: one entry per `compact_zone` (or direct attempt) result. */
export interface CompactionActorStats {
  /** `compact_zone` results (COMPACT_*), in order. */
  readonly results: CompactResult[];
  /** kcompactd: `kcompactd_do_work` runs; direct: allocations that succeeded. */
  runs: number;
  /** kcompactd: `proactive_compact_node` runs (on a timeout, score above the high mark). */
  proactive: number;
}

/** A new, empty `CompactionActorStats`. */
export function compactionActorStats(): CompactionActorStats {
  return { results: [], runs: 0, proactive: 0 };
}

/** `pgdat->kcompactd_*`: the kcompactd state of one node (mm/compaction.c, 6.3). */
interface KcompactdNode {
  /** `kcompactd_max_order`: the highest order asked for since the last run (0: none). */
  maxOrder: number;
  /**
   * `kcompactd_highest_zoneidx`: the lowest `highest_zoneidx` a waker asked for since the last
   * run; `pgdat->nr_zones - 1` (the node's highest populated zone) when none did.
   */
  highestZoneidx: number;
  /** kcompactd is in `wait_event_freezable_timeout` (`wq_has_sleeper`). */
  sleeping: boolean;
  /** A kcompactd actor runs for this node. */
  running: boolean;
}

const kcompactdNodes = new WeakMap<Kernel, KcompactdNode[]>();

function kcompactdNode(k: Kernel, nid: number): KcompactdNode {
  let list = kcompactdNodes.get(k);
  if (list === undefined) {
    list = [];
    kcompactdNodes.set(k, list);
  }
  let n = list[nid];
  if (n === undefined) {
    n = { maxOrder: 0, highestZoneidx: nodeHighestZone(k, nid), sleeping: false, running: false };
    list[nid] = n;
  }
  return n;
}

/**
 * `pgdat->nr_zones - 1`: the highest zone of node `nid` with pages (ZONE_MOVABLE when the
 * node has one, else ZONE_NORMAL, into which the model folds ZONE_DMA / ZONE_DMA32).
 */
function nodeHighestZone(k: Kernel, nid: number): number {
  return populatedZone(k.mem, nid, ZONE_MOVABLE) ? ZONE_MOVABLE : ZONE_NORMAL;
}

/**
 * `wakeup_kcompactd(pgdat, order, highest_zoneidx)` (mm/compaction.c, Linux 6.3): records
 * the order (the highest asked for) and the zone bound (the lowest `highest_zoneidx` asked
 * for), and, when kcompactd sleeps and its node is suitable for compaction at that order up
 * to that zone (`kcompactd_node_suitable`), wakes it (`mm_compaction_wakeup_kcompactd`,
 * which prints the waker's `highest_zoneidx`). Order 0 never wakes it. `highestZoneidx`
 * defaults to ZONE_MOVABLE, a movable allocation's `gfp_zone`. Returns whether it woke it.
 */
export function wakeupKcompactd(
  k: Kernel,
  nid: number,
  order: number,
  highestZoneidx: number = ZONE_MOVABLE,
): boolean {
  if (order <= 0) return false;
  const n = kcompactdNode(k, nid);
  if (n.maxOrder < order) n.maxOrder = order;
  if (n.highestZoneidx > highestZoneidx) n.highestZoneidx = highestZoneidx;
  if (!n.sleeping) return false;
  if (!kcompactdNodeSuitable(k, nid, n.maxOrder, n.highestZoneidx)) return false;
  const tp = compactionTracepoints(k.rt).wakeupKcompactd;
  if (tp.enabled) tp.emit({ nid, order, highest_zoneidx: highestZoneidx });
  n.sleeping = false;
  return true;
}

/**
 * `kcompactd_node_suitable(pgdat)` (mm/compaction.c, Linux 6.3): some populated zone of
 * the node, up to `highestZoneidx` (`kcompactd_highest_zoneidx`; default every zone), is
 * `compaction_suitable` (COMPACT_CONTINUE) for `order`.
 */
export function kcompactdNodeSuitable(
  k: Kernel,
  nid: number,
  order: number,
  highestZoneidx: number = ZONE_MOVABLE,
): boolean {
  for (const zone of populatedZones(k, nid)) {
    if (zone > highestZoneidx) break;
    if (compactionSuitable(k, nid, order, zone) === COMPACT_CONTINUE) return true;
  }
  return false;
}

/**
 * `kcompactd_do_work(pgdat)` (mm/compaction.c, Linux 6.3): one round of the node's
 * compaction daemon for the order it was woken for: `compact_daemon_wake`,
 * `mm_compaction_kcompactd_wake`; then for every populated zone of the node, lowest first,
 * up to `kcompactd_highest_zoneidx` (`cc.highest_zoneidx`): unless deferred or
 * unsuitable, `compact_zone` in MIGRATE_SYNC_LIGHT (6.3 sets `.mode = MIGRATE_SYNC_LIGHT`;
 * the issue text says MIGRATE_ASYNC, the kernel does not), with skip hints honoured;
 * success resets the zone's deferral, COMPLETE / PARTIAL_SKIPPED defers it;
 * `compact_daemon_migrate_scanned` / `compact_daemon_free_scanned` counted per zone. At
 * the end the order and zone bound are reset unless a waker asked for more meanwhile.
 * Returns the highest result, or null when every zone was passed over.
 */
export function* kcompactdDoWork(k: Kernel, nid: number): KernelGen<CompactResult | null> {
  const n = kcompactdNode(k, nid);
  const order = n.maxOrder;
  const highestZoneidx = n.highestZoneidx;
  const tp = compactionTracepoints(k.rt).kcompactdWake;
  if (tp.enabled) tp.emit({ nid, order, highest_zoneidx: highestZoneidx });
  k.vmstat.countVmEvents(VmEvent.COMPACT_DAEMON_WAKE);
  let result: CompactResult | null = null;
  for (const zone of populatedZones(k, nid)) {
    if (zone > highestZoneidx) break;
    const z = zoneCompaction(k, nid, zone);
    if (compactionDeferred(z, order)) continue;
    if (compactionSuitable(k, nid, order, zone) !== COMPACT_CONTINUE) continue;
    const cc = new CompactControl(k, { order, mode: MIGRATE_SYNC_LIGHT, nid, zone });
    const status = yield* compactZone(k, cc);
    if (status === COMPACT_SUCCESS) compactionDeferReset(z, order, false);
    else if (status === COMPACT_PARTIAL_SKIPPED || status === COMPACT_COMPLETE) {
      deferCompaction(z, order);
    }
    k.vmstat.countVmEvents(VmEvent.COMPACT_DAEMON_MIGRATE_SCANNED, cc.total_migrate_scanned);
    k.vmstat.countVmEvents(VmEvent.COMPACT_DAEMON_FREE_SCANNED, cc.total_free_scanned);
    if (result === null || status > result) result = status;
  }
  if (n.maxOrder <= order) n.maxOrder = 0;
  if (n.highestZoneidx >= highestZoneidx) n.highestZoneidx = nodeHighestZone(k, nid);
  return result;
}

/** Options of `kcompactd`. */
export interface KcompactdOptions {
  /** Default `kcompactd<nid>`. */
  readonly name?: string;
  readonly cpu: number;
  /** The node it compacts. */
  readonly nid: number;
  /** How many timeouts (`HPAGE_FRAG_CHECK_INTERVAL_MSEC`, 500 ms) it sleeps through before it ends. */
  readonly timeouts: number;
  /**
   * Virtual ns between two checks of its wake-up condition while it sleeps. Default 10 ms:
   * the model's timed sleep cannot be cut short, so a wake-up is seen at the next check.
   */
  readonly checkNs?: number;
  readonly stats?: CompactionActorStats;
}

/** `HPAGE_FRAG_CHECK_INTERVAL_MSEC` (mm/compaction.c, 6.3): kcompactd's timeout, in ns. */
export const KCOMPACTD_TIMEOUT_NS = 500_000_000;

/**
 * kcompactd (`kcompactd()`, mm/compaction.c, Linux 6.3), the per-node compaction daemon:
 * sleeps in `wait_event_freezable_timeout(kcompactd_wait, kcompactd_work_requested,
 * 500 ms)` and, when woken by `wakeup_kcompactd`, runs `kcompactd_do_work`
 * (MIGRATE_SYNC_LIGHT). The allocator wakes it: the actor installs the allocation-failure
 * hook of the machine's memory (`setAllocFailureHook`), called when an order > 0
 * allocation fails, the point where `__alloc_pages_slowpath` wakes kswapd, which wakes
 * kcompactd on a node with enough, but fragmented, free memory (kswapd is not modelled).
 * A wait that times out with no order asked for is the proactive path: when
 * `should_proactive_compact_node` (`vm.compaction_proactiveness`, default 20: the node's
 * fragmentation score above 90), `proactive_compact_node`; if the score did not go down,
 * the next wait is `500 ms << COMPACT_MAX_DEFER_SHIFT`. Ends after `timeouts` waits.
 */
export function kcompactd(k: Kernel, options: KcompactdOptions): Actor {
  const { nid, timeouts } = options;
  if (!Number.isInteger(nid) || nid < 0 || nid >= k.nrNodes) {
    throw new MmsimError(
      'INVALID_CONFIG',
      `kcompactd: node ${String(nid)} is not a node of the machine (0..${k.nrNodes - 1})`,
    );
  }
  if (!Number.isInteger(timeouts) || timeouts < 0) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `kcompactd: timeouts must be a non-negative integer, got ${String(timeouts)}`,
    );
  }
  const checkNs = options.checkNs ?? 10_000_000;
  if (!(checkNs > 0) || !Number.isFinite(checkNs)) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `kcompactd: checkNs must be > 0, got ${String(checkNs)}`,
    );
  }
  const stats = options.stats ?? compactionActorStats();
  installWakeupHook(k);
  return {
    name: options.name ?? `kcompactd${nid}`,
    cpu: options.cpu,
    models:
      'kcompactd: wait_event_freezable_timeout(kcompactd_wait), kcompactd_do_work -> compact_zone (MIGRATE_SYNC_LIGHT, MR_COMPACTION), woken by wakeup_kcompactd (mm/compaction.c, 6.3)',
    *body(task: Task): KernelGen {
      // kthread_create_on_node (kernel/kthread.c, 6.3): a kernel thread (PF_KTHREAD), whose
      // SIGKILL is dropped (kernel/signal.c sig_task_ignored): fatal_signal_pending stays false.
      task.flags |= PF_KTHREAD;
      const n = kcompactdNode(k, nid);
      n.running = true;
      let timeout = KCOMPACTD_TIMEOUT_NS;
      for (let t = 0; t < timeouts; t++) {
        n.sleeping = true;
        for (let slept = 0; slept < timeout && n.sleeping; slept += checkNs) {
          yield* k.rt.sleepFor(checkNs);
        }
        n.sleeping = false;
        timeout = KCOMPACTD_TIMEOUT_NS;
        if (n.maxOrder > 0) {
          const status = yield* kcompactdDoWork(k, nid);
          stats.runs++;
          if (status !== null) stats.results.push(status);
          continue;
        }
        // Timed out: the proactive work, deferred 64 times as long without progress.
        if (shouldProactiveCompactNode(k, nid)) {
          const prevScore = fragmentationScoreNode(k, nid);
          const status = yield* proactiveCompactNode(k, nid);
          stats.proactive++;
          stats.results.push(status);
          if (fragmentationScoreNode(k, nid) >= prevScore) {
            timeout = KCOMPACTD_TIMEOUT_NS * (1 << COMPACT_MAX_DEFER_SHIFT);
          }
        }
      }
      n.running = false;
    },
  };
}

const hooked = new WeakSet<Kernel>();

/** Installs `wakeupKcompactd` as the machine's allocation-failure hook (once). */
function installWakeupHook(k: Kernel): void {
  if (hooked.has(k)) return;
  hooked.add(k);
  setAllocFailureHook(k.mem, (nid, order, highestZoneidx) => {
    wakeupKcompactd(k, nid, order, highestZoneidx);
  });
}

/** Options of `compactMemory`. */
export interface CompactMemoryOptions {
  /** Default `compact_memory`. */
  readonly name?: string;
  readonly cpu: number;
  /** Writes of 1 to /proc/sys/vm/compact_memory. Default 1. */
  readonly writes?: number;
  /** The nodes to compact; default every node (compact_nodes). */
  readonly nodes?: readonly number[];
  readonly stats?: CompactionActorStats;
}

/**
 * `echo 1 > /proc/sys/vm/compact_memory`: `sysctl_compaction_handler` -> `compact_nodes`
 * -> `compact_node` on each node: `lru_add_drain_all()`, then `compact_zone` with order
 * -1, MIGRATE_SYNC, the whole zone, skip hints ignored, MR_COMPACTION (mm/compaction.c,
 * Linux 6.3). `writes` times.
 */
export function compactMemory(k: Kernel, options: CompactMemoryOptions): Actor {
  const writes = options.writes ?? 1;
  if (!Number.isInteger(writes) || writes < 0) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `compactMemory: writes must be a non-negative integer, got ${String(writes)}`,
    );
  }
  const nodes = options.nodes;
  if (nodes !== undefined) {
    const bad = nodes.find((n) => !Number.isInteger(n) || n < 0 || n >= k.nrNodes);
    if (bad !== undefined) {
      throw new MmsimError(
        'INVALID_CONFIG',
        `compactMemory: node ${String(bad)} is not a node of the machine (0..${k.nrNodes - 1})`,
      );
    }
  }
  const stats = options.stats ?? compactionActorStats();
  return {
    name: options.name ?? 'compact_memory',
    cpu: options.cpu,
    models:
      'sysctl compact_memory: compact_nodes -> compact_node -> compact_zone (order -1, MIGRATE_SYNC, whole zone, MR_COMPACTION) (mm/compaction.c, 6.3)',
    body: (): KernelGen => compactMemoryBody(k, nodes, writes, stats),
  };
}

/**
 * `compactMemory`'s task body: a module-level generator, not a generator closure made per
 * actor (on Node 20 the first call of a generator closure gives it an initial map in the
 * old generation, which keeps the closure's context, the whole machine, alive through every
 * young-generation collection until a full one).
 */
function* compactMemoryBody(
  k: Kernel,
  nodes: readonly number[] | undefined,
  writes: number,
  stats: CompactionActorStats,
): KernelGen {
  for (let w = 0; w < writes; w++) {
    const results = yield* compactNodes(k, nodes);
    stats.results.push(...results);
    stats.runs++;
  }
}

/** Options of `directCompaction`. */
export interface DirectCompactionOptions {
  /** Default `alloc`. */
  readonly name?: string;
  readonly cpu: number;
  /** The node of the allocation (its zonelist is that node only: `__GFP_THISNODE`). */
  readonly nid: number;
  /** The allocation's order (> 0). */
  readonly order: number;
  /** Allocations to try. Default 1. */
  readonly allocations?: number;
  /** Free each allocated folio before the next attempt (default true). */
  readonly free?: boolean;
  readonly stats?: CompactionActorStats;
}

/**
 * An order > 0 allocation that falls into direct compaction (`__alloc_pages_slowpath` ->
 * `__alloc_pages_direct_compact` -> `try_to_compact_pages`, mm/page_alloc.c and
 * mm/compaction.c, Linux 6.3): first the allocation itself; on failure direct compaction
 * at INIT_COMPACT_PRIORITY (MIGRATE_ASYNC), then, as `should_compact_retry` raises the
 * priority, at COMPACT_PRIO_SYNC_LIGHT (MIGRATE_SYNC_LIGHT) and, for orders up to
 * PAGE_ALLOC_COSTLY_ORDER, COMPACT_PRIO_SYNC_FULL (still MIGRATE_SYNC_LIGHT, whole zone),
 * each under PF_MEMALLOC, with `compact_stall` and `compact_success` / `compact_fail`.
 * Reclaim between the attempts is not modelled.
 */
export function directCompaction(k: Kernel, options: DirectCompactionOptions): Actor {
  const { nid, order } = options;
  if (!Number.isInteger(nid) || nid < 0 || nid >= k.nrNodes) {
    throw new MmsimError(
      'INVALID_CONFIG',
      `directCompaction: node ${String(nid)} is not a node of the machine (0..${k.nrNodes - 1})`,
    );
  }
  if (!Number.isInteger(order) || order < 1 || order > 10) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `directCompaction: order must be 1..10, got ${String(order)}`,
    );
  }
  const allocations = options.allocations ?? 1;
  const free = options.free ?? true;
  const stats = options.stats ?? compactionActorStats();
  const minPriority =
    order > PAGE_ALLOC_COSTLY_ORDER ? MIN_COMPACT_COSTLY_PRIORITY : MIN_COMPACT_PRIORITY;
  const allocate = (): number => folioAlloc(k.mem, order, nid, { thisNode: true });
  return {
    name: options.name ?? 'alloc',
    cpu: options.cpu,
    models:
      '__alloc_pages_direct_compact -> try_to_compact_pages -> compact_zone_order (MIGRATE_ASYNC, then MIGRATE_SYNC_LIGHT; PF_MEMALLOC; MR_COMPACTION) (mm/page_alloc.c, mm/compaction.c, 6.3)',
    *body(): KernelGen {
      const held: number[] = [];
      for (let a = 0; a < allocations; a++) {
        let folio = allocate();
        for (let prio = COMPACT_PRIO_ASYNC; folio < 0 && prio >= minPriority; prio--) {
          const r = yield* allocPagesDirectCompact(k, [nid], order, prio, allocate);
          stats.results.push(r.result);
          folio = r.folio;
        }
        if (folio >= 0) {
          stats.runs++;
          if (free) folioPut(k.mem, folio);
          else held.push(folio);
        }
      }
      for (const f of held) folioPut(k.mem, f);
    },
  };
}
