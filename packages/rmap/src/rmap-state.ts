import type { Folio, PhysicalMemory } from '@mmsim/folio';
import type { PageLocks } from '@mmsim/page-lock';
import type { CostModel, KernelGen, Runtime, Task, VmStat } from '@mmsim/runtime';
import type { AddressSpace } from './address-space.js';
import type { HugetlbRmap } from './hugetlb-state.js';
import type { IncrementalRmapState } from './invariants/incremental.js';
import type { KsmState } from './ksm.js';
import { TaskMempolicies } from './mempolicy.js';
import type { Mm } from './mm.js';
import type { MmView } from './readonly-views.js';
import type { ShmemHuge } from './shmem.js';
import type { TlbFlushUnmapBatch } from './tlb-batch.js';
import { TlbStats } from './tlb-stats.js';
import { RmapTracepoints } from './tracepoints.js';
import type { FolioLifecycle, VirtualMemoryOptions } from './virtual-memory-options.js';

/**
 * The migration half of a NUMA hinting fault (mm/memory.c `do_numa_page`, 6.3): called by
 * the faulting task with the mm, the faulting address and the pfn the entry maps, after
 * the page-table lock is dropped. Returns true when it called `migrate_misplaced_page`
 * (then `do_numa_page` does not make the entry writable again), false or nothing when it
 * found no target node.
 */
export type NumaHintFaultHook = (
  mm: MmView,
  address: number,
  pfn: number,
) => KernelGen<boolean | undefined>;

/**
 * The half of `do_huge_pmd_numa_page` (mm/huge_memory.c, 6.3) that lives above this
 * package (@mmsim/callers' `NumaBalancing`), for a PROT_NONE huge PMD mapping `folio`.
 */
export interface NumaHugeHintFaultHook {
  /**
   * `numa_migrate_prep` after `numa_hint_faults` was counted, with the PMD lock held (it
   * must not yield): `numa_hint_faults_local`, then `mpol_misplaced`. Returns the target
   * node, or -1 (NUMA_NO_NODE) to leave the folio where it is.
   */
  prep(mm: MmView, address: number, folio: number): number;
  /**
   * `migrate_misplaced_page(page, vma, nid)` with the PMD lock dropped and the PMD still
   * PROT_NONE; true when the folio moved.
   */
  migrate(mm: MmView, address: number, folio: number, nid: number): KernelGen<boolean>;
}

/**
 * The state every module of the package shares: the machine it runs on, the registries
 * of live mms and files, the per-task unmap batches, the pin counts of large folios
 * (`folio->_pincount`, which @mmsim/folio does not keep), counters and tracepoints.
 */
export class RmapState {
  readonly rt: Runtime;
  readonly mem: PhysicalMemory;
  readonly locks: PageLocks;
  readonly vmstat: VmStat;
  readonly costs: CostModel;
  readonly lru: FolioLifecycle | null;
  readonly useZeroPage: boolean;
  /** `VirtualMemoryOptions.restoreWrprotectsReadEntry`. */
  readonly restoreWrprotectsReadEntry: boolean;
  /** `set_tlb_ubc_flush_pending` skips inaccessible PTEs (4d4b6d66db63, 6.4). */
  readonly tlbBatchSkipsInaccessible: boolean;
  /**
   * /sys/kernel/mm/transparent_hugepage/shmem_enabled: the `huge=` setting of the internal
   * shmem mount, which new MAP_SHARED | MAP_ANONYMOUS mappings' files take (see shmem.ts).
   */
  shmemHuge: ShmemHuge;
  readonly trace: RmapTracepoints;
  readonly tlbStats: TlbStats;
  /** Live mms (not yet through exit_mmap). */
  readonly mms = new Set<Mm>();
  /** Files created through this instance. */
  readonly files = new Set<AddressSpace>();
  /** `current->tlb_ubc` of each task that has used one (entries are never removed). */
  readonly batches = new Map<Task, TlbFlushUnmapBatch>();
  /**
   * The task whose `batches` entry was read last, and that entry (see `taskTlbBatchOrNull`):
   * a migration asks for the same task's batch once per unmapped PTE and at each flush.
   */
  lastBatchTask: Task | null = null;
  lastBatch: TlbFlushUnmapBatch | null = null;
  /**
   * Per CPU, `cpu_tlbstate.loaded_mm` (arch/x86/mm/tlb.c, 6.3): the mm whose page tables
   * the CPU runs on, null for `init_mm` (no user mm loaded yet, or switched away from one).
   */
  readonly loadedMm: (Mm | null)[];
  /** Per CPU, `cpu_tlbstate_shared.is_lazy`: a kernel thread runs on the loaded mm. */
  readonly tlbLazy: Uint8Array;
  /**
   * The hugetlb state (`hugetlbOf`), created on first use. A field rather than a side table
   * keyed by this object: a WeakMap entry keeps its key and value through young-generation
   * collections, so every explored machine would outlive its schedule until a full one.
   */
  hugetlb: HugetlbRmap | null = null;
  /**
   * What the incremental rmap check (`checkRmap`'s `incremental`) remembers of this machine,
   * created by its first pass: a field for the reason given at `hugetlb`.
   */
  rmapCheck: IncrementalRmapState | null = null;
  /**
   * `task->mm` as far as the model knows it: the mm a task last accessed as a user task
   * (set at its first user access, `switch_mm` to it). Tasks not here are kernel threads.
   */
  readonly taskMm = new Map<Task, Mm>();
  /** Per task: `mempolicy`, `il_prev`, `mems_allowed` (mm/mempolicy.c, 6.3). */
  readonly taskMempolicies = new TaskMempolicies();
  /** `_pincount` of large folios with FOLL_PIN pins. */
  readonly pincount = new Map<Folio, number>();
  /**
   * `try_to_migrate_one` passes a scheduling point between clearing a PTE and installing
   * its migration entry (`VirtualMemory.setUnmapWindow`). Default false.
   */
  unmapWindow = false;
  /**
   * The PTEs `try_to_migrate_one` has cleared and not yet replaced by a migration entry,
   * with the page-table lock held (only with `unmapWindow`): the invariants count them as
   * still mapping their page, as the kernel's counters do in that window.
   */
  readonly unmapPending = new Set<{
    readonly mm: Mm;
    readonly vpn: number;
    readonly pte: number;
  }>();
  /** KSM's state (mm/ksm.c), created by the first `ksmMadvise` or scan. */
  ksm: KsmState | null = null;
  /**
   * What `do_numa_page` calls after it has made a hinting entry usable again
   * (`VirtualMemory.setNumaHintFaultHook`): the `numa_migrate_prep` + `migrate_misplaced_page`
   * half of the fault, which lives above this package (@mmsim/callers). Null: none.
   */
  numaHintFaultHook: NumaHintFaultHook | null = null;
  /**
   * What `do_huge_pmd_numa_page` calls for a PROT_NONE huge PMD
   * (`VirtualMemory.setNumaHugeHintFaultHook`). Null: the PMD is made usable again and
   * nothing migrates (`numa_migrate_prep` found no target).
   */
  numaHugeHintFaultHook: NumaHugeHintFaultHook | null = null;
  mmIds = 0;
  anonVmaIds = 0;
  fileIds = 0;
  /** anon_vmas allocated and not yet freed. */
  liveAnonVmas = 0;

  constructor(
    rt: Runtime,
    mem: PhysicalMemory,
    locks: PageLocks,
    vmstat: VmStat,
    options: VirtualMemoryOptions,
  ) {
    this.rt = rt;
    this.mem = mem;
    this.locks = locks;
    this.vmstat = vmstat;
    this.costs = rt.costs;
    this.lru = options.lru ?? null;
    this.useZeroPage = options.zeroPage ?? true;
    this.restoreWrprotectsReadEntry = options.restoreWrprotectsReadEntry ?? true;
    this.tlbBatchSkipsInaccessible = options.tlbBatchSkipsInaccessible ?? false;
    this.shmemHuge = options.shmemEnabled ?? 'never';
    this.trace = new RmapTracepoints(rt);
    this.tlbStats = new TlbStats(rt.cpus.length);
    this.loadedMm = new Array<Mm | null>(rt.cpus.length).fill(null);
    this.tlbLazy = new Uint8Array(rt.cpus.length);
  }
}
