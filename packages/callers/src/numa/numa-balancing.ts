import {
  type Folio,
  FolioList,
  folioAlloc,
  folioMapcount,
  folioNid,
  folioNrPages,
  folioOrder,
  folioPut,
  folioTestAnon,
  folioTestFlag,
  folioTestLarge,
  folioTryGet,
  HPAGE_PMD_ORDER,
  nodeStats,
  PG_dirty,
  PG_swapbacked,
  pageMapcount,
  pfnFolio,
} from '@mmsim/folio';
import type { Actor, Kernel } from '@mmsim/kernel';
import { MIGRATE_ASYNC, MR_NUMA_MISPLACED, type NewFolioFn } from '@mmsim/migrate';
import {
  type ChangeProtNumaOptions,
  type MmView,
  type NumaHugeHintFaultHook,
  PAGE_SIZE,
  VM_EXEC,
} from '@mmsim/rmap';
import { type KernelGen, MmsimError, NodeStat, type Task, VmEvent } from '@mmsim/runtime';

/** `sysctl_numa_balancing_mode` bits (include/linux/sched/sysctl.h, 6.3). */
export const NUMA_BALANCING_DISABLED = 0;
export const NUMA_BALANCING_NORMAL = 1;
export const NUMA_BALANCING_MEMORY_TIERING = 2;

/**
 * The NUMA balancing sysctls the model reads (kernel/sched/fair.c, 6.3; under
 * /proc/sys/kernel/ and /sys/kernel/debug/sched/numa_balancing/).
 */
export interface NumaBalancingSysctls {
  /**
   * `kernel.numa_balancing`: NUMA_BALANCING_NORMAL (1), NUMA_BALANCING_MEMORY_TIERING (2)
   * or both (3).
   */
  readonly mode: number;
  /** `numa_balancing_hot_threshold_ms` (default 1000): a slow-tier page faulted within this long of its scan is hot. */
  readonly hotThresholdMs: number;
  /** `numa_balancing_promote_rate_limit_MBps` (default 65536): promotion candidates per second per node. */
  readonly promoteRateLimitMBps: number;
  /** `numa_balancing_scan_size_mb` (default 256): how much `task_numa_work` marks per pass. */
  readonly scanSizeMb: number;
  /** `numa_balancing_scan_delay_ms` (default 1000): virtual time before the first pass. */
  readonly scanDelayMs: number;
  /** `numa_balancing_scan_period_min_ms` (default 1000): virtual time between passes. */
  readonly scanPeriodMinMs: number;
}

/** The 6.3 defaults of `NumaBalancingSysctls`. */
export const DEFAULT_NUMA_BALANCING_SYSCTLS: NumaBalancingSysctls = Object.freeze({
  mode: NUMA_BALANCING_NORMAL,
  hotThresholdMs: 1000,
  promoteRateLimitMBps: 65536,
  scanSizeMb: 256,
  scanDelayMs: 1000,
  scanPeriodMinMs: 1000,
});

/** Why `migrate_misplaced_page` did not migrate a folio, counted in `NumaBalancingStats`. */
export interface NumaRefusals {
  /** `do_numa_page`, 6.3: a PTE-mapped large folio ("TODO: handle PTE-mapped THP"). */
  compound: number;
  /** `numamigrate_isolate_page`: a THP mapped more than once (`total_mapcount > 1`). */
  sharedThp: number;
  /** `migrate_misplaced_page`: a file page mapped more than once in an exec VMA. */
  sharedExecFile: number;
  /** `migrate_misplaced_page`: a dirty file page (MIGRATE_ASYNC cannot move it). */
  dirtyFile: number;
  /** `migrate_balanced_pgdat`: the target node has no room for the folio. */
  targetFull: number;
  /** `isolate_lru_page` failed (not on the LRU, or freed under us). */
  isolate: number;
}

/** What one machine's NUMA balancing did. */
export interface NumaBalancingStats {
  /** Hinting faults seen by `numa_migrate_prep`. */
  hintFaults: number;
  /** Of those, on a folio already on the faulting CPU's node (`numa_hint_faults_local`). */
  local: number;
  /** `mpol_misplaced` said the folio belongs elsewhere. */
  misplaced: number;
  /** `task_numa_work` passes. */
  scans: number;
  /** Mode 2: slow-tier hint faults past the hot threshold (not promoted). */
  cold: number;
  /** Mode 2: hot faults refused by the promotion rate limit. */
  rateLimited: number;
  /** Folios `migrate_pages` moved, and folios it left. */
  migrated: number;
  failed: number;
  readonly refused: NumaRefusals;
  /** The `rc` of every `migrate_pages()` call, in order. */
  readonly results: number[];
}

/**
 * `alloc_misplaced_dst_page(page, node)` (mm/migrate.c, 6.3): a folio of the source's
 * order on the target node only (`__GFP_THISNODE`, no reclaim), or none.
 */
export function allocMisplacedDstFolio(k: Kernel): NewFolioFn<number> {
  return (src, nid) => {
    const folio = folioAlloc(k.mem, folioOrder(k.mem, src), nid, { thisNode: true });
    return folio < 0 ? null : folio;
  };
}

/** Options of `migrateMisplacedFolio`. */
export interface MigrateMisplacedOptions {
  /** The VMA flags of the faulting address (VM_EXEC matters), 0 when unknown. */
  readonly vmFlags?: number;
  /** Filled in: the `migrate_pages()` result, or null when nothing was isolated. */
  readonly result?: { rc: number | null; listLeft: number; leftAfterPutback: number };
  /** Called with the refusal's name when the folio is not isolated. */
  readonly refused?: (why: keyof NumaRefusals) => void;
}

/**
 * `migrate_misplaced_page(page, vma, node)` (mm/migrate.c, 6.3; `migrate_misplaced_folio`
 * in 6.10), for a folio the caller holds no isolation on:
 *
 * - a file folio mapped more than once in an exec VMA, or a dirty file folio: no;
 * - `numamigrate_isolate_page`: a PMD-sized folio mapped more than once: no; the target
 *   node without room for it (`migrate_balanced_pgdat`; the model has no watermarks, so
 *   room means `nr_pages` free pages): no; then `isolate_lru_page` and NR_ISOLATED +=
 *   nr_pages;
 * - `migrate_pages(&list, alloc_misplaced_dst_page, NULL, node, MIGRATE_ASYNC,
 *   MR_NUMA_MISPLACED)`: a large folio is never split for this reason;
 * - a folio left on the list goes back: up to 6.10 only the folio isolated
 *   (`list_del`, NR_ISOLATED -= nr_pages, `putback_lru_page`); with the variant's
 *   `numaHintPutsBackList` (6e49019db5f7, 6.11-rc1) `putback_movable_pages` of the list;
 * - `numa_pages_migrated` += the folios' pages migrated, and `pgpromote_success` on the
 *   target node when the source node is not top tier and the target is.
 *
 * Returns the number of base pages migrated.
 */
export function* migrateMisplacedFolio(
  k: Kernel,
  folio: Folio,
  node: number,
  alloc: NewFolioFn<number>,
  options: MigrateMisplacedOptions = {},
): KernelGen<number> {
  const mem = k.mem;
  const nrPages = folioNrPages(mem, folio);
  const file = !folioTestAnon(mem, folio);
  const refuse = options.refused;
  if (file && folioMapcount(mem, folio) !== 1 && ((options.vmFlags ?? 0) & VM_EXEC) !== 0) {
    refuse?.('sharedExecFile');
    return 0;
  }
  if (file && !folioTestFlag(mem, folio, PG_swapbacked) && folioTestFlag(mem, folio, PG_dirty)) {
    refuse?.('dirtyFile');
    return 0;
  }
  // numamigrate_isolate_page
  // "Do not migrate THP mapped by multiple processes": 6.3 tests total_mapcount, which
  // only PMD-mapped THPs reach (do_numa_page skips PTE-mapped ones, do_huge_pmd_numa_page
  // sees a PMD mapping); the model asks the head page's mapcount (`page_mapcount`: entire
  // plus its own PTE mappings), which is 1 for a THP of one process however it is mapped,
  // as 6.10's folio_likely_mapped_shared does for the callers that pass PTE-mapped ones.
  if (folioOrder(mem, folio) >= HPAGE_PMD_ORDER && pageMapcount(mem, folio) > 1) {
    refuse?.('sharedThp');
    return 0;
  }
  if (nodeStats(mem, node).freePages < nrPages) {
    refuse?.('targetFull');
    return 0;
  }
  if (!folioTryGet(mem, folio)) {
    refuse?.('isolate');
    return 0;
  }
  const list = new FolioList(mem);
  if (yield* k.lru.folioIsolateLru(folio)) {
    list.addTail(folio);
    k.lru.nodeStatModFolio(folio, k.lru.folioIsolatedItem(folio), nrPages);
    folioPut(mem, folio); // the isolation holds its own reference
  } else {
    yield* k.lru.folioPut(folio);
    refuse?.('isolate');
    return 0;
  }
  const srcNid = folioNid(mem, folio);
  const { rc, stats } = yield* k.migrate.migratePages(
    list,
    alloc,
    null,
    node,
    MIGRATE_ASYNC,
    MR_NUMA_MISPLACED,
  );
  if (options.result !== undefined) {
    options.result.rc = rc;
    options.result.listLeft = list.size;
  }
  if (rc !== 0 && !list.isEmpty()) {
    if (k.variant.numaHintPutsBackList) {
      yield* k.migrate.putbackMovablePages(list);
    } else {
      // Up to 6.10: the folio it isolated is assumed to be all there is.
      list.del(folio);
      k.lru.nodeStatModFolio(folio, k.lru.folioIsolatedItem(folio), -nrPages);
      yield* k.lru.folioPutbackLru(folio);
    }
  }
  if (options.result !== undefined) options.result.leftAfterPutback = list.size;
  const succeeded = stats.nrSucceeded;
  if (succeeded > 0) {
    k.vmstat.countVmEvents(VmEvent.NUMA_PAGES_MIGRATED, succeeded);
    if (!nodeIsToptier(k, srcNid) && nodeIsToptier(k, node))
      k.vmstat.modNodePageState(node, NodeStat.PGPROMOTE_SUCCESS, succeeded);
  }
  return succeeded;
}

/**
 * `node_is_toptier(node)` (mm/memory-tiers.c, 6.3), as the model has it: a node with CPUs
 * is top tier (the default tiers put every CPU node in the top tier and CPU-less memory
 * below it).
 */
export function nodeIsToptier(k: Kernel, nid: number): boolean {
  return k.cpusOfNode(nid).length > 0;
}

/**
 * NUMA balancing on one machine (kernel/sched/fair.c, mm/memory.c, mm/migrate.c, 6.3):
 * `install()` hooks the migration half of `do_numa_page` into the model's fault path, and
 * `taskNumaWork` actors mark ranges PROT_NONE so that user accesses take hinting faults.
 */
export class NumaBalancing {
  readonly k: Kernel;
  readonly sysctls: NumaBalancingSysctls;
  readonly stats: NumaBalancingStats = {
    hintFaults: 0,
    local: 0,
    misplaced: 0,
    scans: 0,
    cold: 0,
    rateLimited: 0,
    migrated: 0,
    failed: 0,
    refused: {
      compound: 0,
      sharedThp: 0,
      sharedExecFile: 0,
      dirtyFile: 0,
      targetFull: 0,
      isolate: 0,
    },
    results: [],
  };
  /**
   * When each mm was last scanned, in ns: the model's stand-in for the scan time 6.3 keeps
   * per page in `page->_last_cpupid` (`xchg_page_access_time`).
   */
  readonly #scanTime = new WeakMap<MmView, number>();
  /**
   * The scan time `change_pte_range` stores in a slow-tier folio in memory-tiering mode
   * (`xchg_page_access_time`, mm/mprotect.c, 6.3), in ns, by folio. A PMD-mapped THP
   * (`change_huge_pmd`) falls back to the mm's scan time above.
   */
  readonly #accessTime = new Map<Folio, number>();
  /** Per node: `pgdat->nbp_rl_start` (ns) and `nbp_rl_nr_cand`. */
  readonly #rlStart: Float64Array;
  readonly #rlNrCand: Float64Array;
  /** `mm->numa_scan_offset` of each mm scanned. */
  readonly #scanOffset = new WeakMap<MmView, number>();
  readonly #alloc: NewFolioFn<number>;
  readonly #result = { rc: null as number | null, listLeft: 0, leftAfterPutback: 0 };
  readonly #refused = (why: keyof NumaRefusals): void => {
    this.stats.refused[why]++;
  };

  constructor(k: Kernel, sysctls: Partial<NumaBalancingSysctls> = {}) {
    const s = { ...DEFAULT_NUMA_BALANCING_SYSCTLS, ...sysctls };
    if (s.mode !== 1 && s.mode !== 2 && s.mode !== 3) {
      throw new MmsimError(
        'INVALID_CONFIG',
        `numa_balancing: mode must be 1 (NUMA_BALANCING_NORMAL), 2 (NUMA_BALANCING_MEMORY_TIERING) or 3, got ${String(s.mode)}`,
      );
    }
    if (!Number.isInteger(s.scanSizeMb) || s.scanSizeMb < 1) {
      throw new MmsimError(
        'INVALID_CONFIG',
        `numa_balancing_scan_size_mb must be a positive integer, got ${String(s.scanSizeMb)}`,
      );
    }
    for (const [key, v] of [
      ['numa_balancing_hot_threshold_ms', s.hotThresholdMs],
      ['numa_balancing_promote_rate_limit_MBps', s.promoteRateLimitMBps],
      ['numa_balancing_scan_delay_ms', s.scanDelayMs],
      ['numa_balancing_scan_period_min_ms', s.scanPeriodMinMs],
    ] as const) {
      if (!Number.isInteger(v) || v < 0) {
        throw new MmsimError('INVALID_CONFIG', `${key} must be an integer >= 0, got ${String(v)}`);
      }
    }
    this.k = k;
    this.sysctls = Object.freeze(s);
    this.#alloc = allocMisplacedDstFolio(k);
    this.#protNumaOptions = {
      mode: s.mode,
      isToptier: (nid) => nodeIsToptier(k, nid),
      xchgAccessTime: (folio) => {
        this.#accessTime.set(folio, k.rt.current.cpu.clock);
      },
    };
    this.#rlStart = new Float64Array(k.nrNodes);
    this.#rlNrCand = new Float64Array(k.nrNodes);
  }

  /**
   * The `numa_migrate_prep` / `migrate_misplaced_page` half of `do_huge_pmd_numa_page`,
   * made once (`hugeHintFaultPrep`, `hugeHintFaultMigrate`).
   */
  readonly #hugeHook: NumaHugeHintFaultHook = {
    prep: (mm, address, folio) => this.hugeHintFaultPrep(mm, address, folio),
    migrate: (mm, address, folio, nid) => this.hugeHintFaultMigrate(mm, address, folio, nid),
  };
  /**
   * What `task_numa_work` passes to `change_prot_numa`: the mode and `node_is_toptier`, for
   * `change_huge_pmd`'s tiering-mode skip. Made once.
   */
  readonly #protNumaOptions: ChangeProtNumaOptions;

  /** Hooks `hintFault` into the model's `do_numa_page`, and the THP half into `do_huge_pmd_numa_page`. */
  install(): this {
    this.k.vm.setNumaHintFaultHook((mm, address, pfn) => this.hintFault(mm, address, pfn));
    this.k.vm.setNumaHugeHintFaultHook(this.#hugeHook);
    return this;
  }

  /**
   * `numa_migrate_prep` + `mpol_misplaced` for a PMD-mapped THP (`do_huge_pmd_numa_page`,
   * mm/huge_memory.c, 6.3), with the PMD lock held (`numa_hint_faults` was counted by the
   * fault): `numa_hint_faults_local` when the folio is on the faulting CPU's node (then no
   * target); in memory-tiering mode a slow-tier folio goes through the hot threshold and the
   * promotion rate limit with its HPAGE_PMD_NR pages (`numa_promotion_rate_limit`:
   * `pgpromote_candidate` += 512); a top-tier folio without NUMA_BALANCING_NORMAL stays.
   * Returns the target node (the faulting CPU's) or -1.
   */
  hugeHintFaultPrep(mm: MmView, _address: number, folio: Folio): number {
    const k = this.k;
    const mem = k.mem;
    this.stats.hintFaults++;
    const here = k.rt.current.cpu.node;
    const nid = folioNid(mem, folio);
    if (nid === here) {
      this.stats.local++;
      k.vmstat.countVmEvents(VmEvent.NUMA_HINT_FAULTS_LOCAL);
      return -1;
    }
    if ((this.sysctls.mode & NUMA_BALANCING_MEMORY_TIERING) !== 0 && !nodeIsToptier(k, nid)) {
      if (!this.#shouldPromote(this.#scanTime.get(mm), here, folioNrPages(mem, folio))) return -1;
    } else if ((this.sysctls.mode & NUMA_BALANCING_NORMAL) === 0) {
      return -1;
    }
    this.stats.misplaced++;
    return here;
  }

  /**
   * `migrate_misplaced_page(page, vma, nid)` (mm/migrate.c, 6.3) of a PMD-mapped THP from
   * `do_huge_pmd_numa_page`, the PMD still PROT_NONE: the whole folio, MIGRATE_ASYNC,
   * MR_NUMA_MISPLACED, never split (`numamigrate_isolate_page` refuses a THP mapped more
   * than once). True when it moved.
   */
  *hugeHintFaultMigrate(
    mm: MmView,
    address: number,
    folio: Folio,
    nid: number,
  ): KernelGen<boolean> {
    return (yield* this.#migrate(mm, address, folio, nid)) > 0;
  }

  /** The `migrate_misplaced_page` call of a hinting fault, with its statistics. */
  *#migrate(mm: MmView, address: number, folio: Folio, here: number): KernelGen<number> {
    const vma = mm.vmaLookup(address);
    const result = this.#result;
    result.rc = null;
    const pages = yield* migrateMisplacedFolio(this.k, folio, here, this.#alloc, {
      vmFlags: vma?.flags ?? 0,
      result,
      refused: this.#refused,
    });
    if (result.rc !== null) this.stats.results.push(result.rc);
    if (pages > 0) this.stats.migrated++;
    else if (result.rc !== null) this.stats.failed++;
    return pages;
  }

  /**
   * The rest of `do_numa_page` (mm/memory.c, 6.3) after the entry was found PROT_NONE:
   * a PTE-mapped large folio is left where it is (6.3 has no PTE-mapped THP support
   * there: not split, not migrated); `numa_migrate_prep` counts `numa_hint_faults_local`
   * when the folio is on the faulting CPU's node and asks `mpol_misplaced`: with the default
   * local policy (MPOL_F_MORON) the folio is misplaced when its node is not the CPU's
   * node (the two-stage `should_numa_migrate_memory` filter is not modelled); then
   * `migrate_misplaced_page` to that node. True when `migrate_misplaced_page` was called
   * (the fault then restores the entry read-only, as 6.3 does).
   */
  *hintFault(mm: MmView, address: number, pfn: number): KernelGen<boolean> {
    const k = this.k;
    const mem = k.mem;
    const folio = pfnFolio(mem, pfn);
    if (folio < 0 || pfn === mem.zeroPfn) return false;
    if (folioTestLarge(mem, folio)) {
      this.stats.refused.compound++;
      return false;
    }
    this.stats.hintFaults++;
    const here = k.rt.current.cpu.node;
    const nid = folioNid(mem, folio);
    if (nid === here) {
      this.stats.local++;
      k.vmstat.countVmEvents(VmEvent.NUMA_HINT_FAULTS_LOCAL);
      return false;
    }
    if ((this.sysctls.mode & NUMA_BALANCING_MEMORY_TIERING) !== 0 && !nodeIsToptier(k, nid)) {
      const scanned = this.#accessTime.get(folio) ?? this.#scanTime.get(mm);
      if (!this.#shouldPromote(scanned, here, folioNrPages(mem, folio))) return false;
    } else if ((this.sysctls.mode & NUMA_BALANCING_NORMAL) === 0) {
      return false; // mode 2 alone: a top-tier page is never migrated (should_numa_migrate_memory)
    }
    this.stats.misplaced++;
    yield* this.#migrate(mm, address, folio, here);
    return true;
  }

  /**
   * The memory-tiering half of `should_numa_migrate_memory` (kernel/sched/fair.c, 6.3) for
   * a folio on a slow-tier node: hot when `numa_hint_fault_latency` (now minus `scanned`, the
   * folio's scan time, or its mm's for a PMD-mapped THP) is below `numa_balancing_hot_threshold_ms` (the threshold is not adjusted, as
   * `numa_promotion_adjust_threshold` would); then `numa_promotion_rate_limit` on the
   * target node: `pgpromote_candidate` += nr, and no more than
   * `numa_balancing_promote_rate_limit_MBps` worth of candidates per second.
   */
  #shouldPromote(scanned: number | undefined, dst: number, nr: number): boolean {
    const k = this.k;
    const now = k.rt.current.cpu.clock;
    if (scanned === undefined || now - scanned >= this.sysctls.hotThresholdMs * 1_000_000) {
      this.stats.cold++;
      return false;
    }
    k.vmstat.modNodePageState(dst, NodeStat.PGPROMOTE_CANDIDATE, nr);
    const nrCand = k.vmstat.nodePageState(dst, NodeStat.PGPROMOTE_CANDIDATE);
    if (now - this.#rlStart[dst]! > 1_000_000_000) {
      this.#rlStart[dst] = now;
      this.#rlNrCand[dst] = nrCand;
    }
    const limit = (this.sysctls.promoteRateLimitMBps * 1024 * 1024) / PAGE_SIZE;
    if (nrCand - this.#rlNrCand[dst]! >= limit) {
      this.stats.rateLimited++;
      return false;
    }
    return true;
  }

  /**
   * One pass of `task_numa_work` (kernel/sched/fair.c, 6.3) over `mm`: from
   * `mm->numa_scan_offset`, `change_prot_numa` over up to `numa_balancing_scan_size_mb` of
   * the accessible, migratable VMAs (hugetlb VMAs and read-only file VMAs skipped), then
   * the offset moves on, back to 0 after the last VMA. Returns the PTEs changed
   * (`numa_pte_updates` is counted by `change_prot_numa`).
   */
  *taskNumaWorkPass(mm: MmView): KernelGen<number> {
    let pages = (this.sysctls.scanSizeMb * 1024 * 1024) / PAGE_SIZE;
    let start = this.#scanOffset.get(mm) ?? 0;
    let changed = 0;
    let reached = false;
    for (const vma of mm.vmas) {
      if (vma.end <= start) continue;
      reached = true;
      if (!vmaScannable(vma.flags, vma.file !== null)) continue;
      const from = Math.max(start, vma.start);
      const n = Math.min(pages, (vma.end - from) / PAGE_SIZE);
      if (n <= 0) continue;
      changed += yield* this.k.vm.changeProtNuma(mm, from, n * PAGE_SIZE, this.#protNumaOptions);
      pages -= n;
      start = from + n * PAGE_SIZE;
      if (pages === 0) break;
    }
    // the end of the address space reached: start over (mm->numa_scan_offset = 0)
    this.#scanOffset.set(mm, pages === 0 && reached ? start : 0);
    this.#scanTime.set(mm, this.k.rt.current.cpu.clock);
    this.stats.scans++;
    return changed;
  }
}

const VM_READ = 0x1;
const VM_WRITE = 0x2;
const VM_HUGETLB = 0x00400000;
const VM_ACCESS = 0x7;

/**
 * The VMAs `task_numa_work` skips (kernel/sched/fair.c, 6.3): not `vma_migratable`
 * (hugetlb here), not `vma_is_accessible`, and file mappings that are read-only (shared
 * libraries: `(vm_flags & (VM_READ|VM_WRITE)) == VM_READ`).
 */
function vmaScannable(flags: number, file: boolean): boolean {
  if ((flags & VM_HUGETLB) !== 0 || (flags & VM_ACCESS) === 0) return false;
  return !(file && (flags & (VM_READ | VM_WRITE)) === VM_READ);
}

/** Options of `taskNumaWork`. */
export interface TaskNumaWorkOptions {
  /** Default `task_numa_work`. */
  readonly name?: string;
  readonly cpu: number;
  /** The mm to scan (`current->mm` of the task the work runs in). */
  readonly mm: MmView;
  /** How many passes; default 1. */
  readonly passes?: number;
}

/**
 * An actor running `task_numa_work` (kernel/sched/fair.c, 6.3) for `mm`: waits
 * `numa_balancing_scan_delay_ms` of virtual time, then `passes` passes
 * (`NumaBalancing.taskNumaWorkPass`), `numa_balancing_scan_period_min_ms` apart.
 */
export function taskNumaWork(nb: NumaBalancing, options: TaskNumaWorkOptions): Actor {
  const passes = options.passes ?? 1;
  if (!Number.isInteger(passes) || passes < 1) {
    throw new MmsimError(
      'INVALID_CONFIG',
      `task_numa_work: passes must be >= 1, got ${String(passes)}`,
    );
  }
  const { mm } = options;
  const k = nb.k;
  return {
    name: options.name ?? 'task_numa_work',
    cpu: options.cpu,
    models: 'task_numa_work -> change_prot_numa (kernel/sched/fair.c, mm/mempolicy.c, 6.3)',
    *body(_task: Task): KernelGen {
      k.rt.charge(nb.sysctls.scanDelayMs * 1_000_000);
      for (let i = 0; i < passes; i++) {
        if (!mm.alive) return;
        if (i > 0) k.rt.charge(nb.sysctls.scanPeriodMinMs * 1_000_000);
        yield* nb.taskNumaWorkPass(mm);
        yield;
      }
    },
  };
}
