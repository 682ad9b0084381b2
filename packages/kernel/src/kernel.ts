import {
  type BufferRecycler,
  createPhysicalMemory,
  declareCmaArea,
  type Folio,
  folioNrPages,
  folioTestFlag,
  type HugetlbMeminfo,
  type HugetlbNodeCounters,
  hugetlbMeminfo,
  hugetlbNodeCounters,
  hugetlbSetNrOvercommitHugePages,
  machineBuffer,
  nodeFreePages,
  nodeSpannedPages,
  nodeStartPfn,
  numPoisonedPages,
  PG_writeback,
  type PhysicalMemory,
  type PhysicalMemoryConfig,
  pfnFolio,
  pfnValid,
  releasePhysicalMemory,
} from '@mmsim/folio';
import { type LruIsolation, LruVecs, type LruView } from '@mmsim/lru';
import {
  type DriverErrorRecord,
  MigrateCore,
  type MigrateDeps,
  type MigrateVariant,
  resolveVariant,
} from '@mmsim/migrate';
import { type DependencyChecker, type PageLocks, PageLockTable } from '@mmsim/page-lock';
import {
  type AddressSpaceView,
  type FileOptions,
  type MmView,
  type Rmap,
  type TlbBatch,
  VirtualMemory,
} from '@mmsim/rmap';
import {
  type KernelGen,
  MmsimError,
  NodeStat,
  type RunResult,
  Runtime,
  type Task,
  VmStat,
} from '@mmsim/runtime';
import type { Actor } from './actor.js';
import { type KernelConfig, type ResolvedKernelConfig, resolveKernelConfig } from './config.js';
import { lockClassOf } from './lock-classes.js';
import { kernelMadvise, softOfflinePage } from './memory-failure.js';
import { checkPart, type MigrateEngine, type PartsContext } from './parts.js';
import { ShadowMemory } from './shadow.js';

/**
 * Something outside the page tables, page caches and LRU that keeps references on folios
 * (a driver that owns movable pages, a scenario that keeps a folio), so that the
 * frame-accounting invariant knows whose they are.
 */
export interface ReferenceHolder {
  readonly name: string;
  /** The references this holder has on `folio` now. */
  refs(folio: Folio): number;
}

/** `Kernel.files` looks files up linearly up to this many, then in a set. */
const FILES_SCAN_LIMIT = 16;

const PAGE_LOCKS_METHODS = ['folioTrylock', 'folioLock', 'folioUnlock', 'folioWaitWriteback'];
const LRU_METHODS = [
  'folioIsolateLru',
  'folioPutbackLru',
  'folioAddLru',
  'folioPut',
  'nodeStatModFolio',
];
const RMAP_METHODS = ['tryToMigrate', 'removeMigrationPtes', 'folioMapped', 'folioGetAnonVma'];
const TLB_METHODS = ['tryToUnmapFlush', 'tryToUnmapFlushDirty', 'flushTlbBatchedPending'];
const MIGRATE_METHODS = ['migratePages', 'putbackMovablePages', 'allocMigrationTarget'];

/**
 * One simulated machine: the runtime (tasks, CPUs, clocks, strategy), physical memory with
 * its NUMA nodes and hugetlb pools, vmstat, page locks, LRU, virtual memory (processes,
 * files, page tables, TLBs) and the migrate core of the configured variant, wired
 * together. Build it with `createKernel`.
 */
export class Kernel {
  /** The configuration as resolved (defaults filled in). */
  readonly config: ResolvedKernelConfig;
  readonly rt: Runtime;
  readonly mem: PhysicalMemory;
  readonly vmstat: VmStat;
  /** The page locks everyone uses (the default `PageLockTable`, or the replacement). */
  readonly locks: PageLocks;
  /** The LRU everyone uses (the default `LruVecs`, or the replacement). */
  readonly lru: LruIsolation;
  /** Processes, files, page tables, TLBs, user accesses. */
  readonly vm: VirtualMemory;
  /** The rmap the migrate core sees (`vm` unless replaced). */
  readonly rmap: Rmap;
  /** The TLB batch the migrate core sees (`vm` unless replaced). */
  readonly tlb: TlbBatch;
  /** The migrate core. */
  readonly migrate: MigrateEngine;
  /** The default LRU, whose view the LRU invariant checks (the replacement usually wraps it). */
  readonly lruVecs: LruVecs;
  /** The last value written at each user-visible place (see `ShadowMemory`). */
  readonly shadow: ShadowMemory;
  readonly #files: AddressSpaceView[] = [];
  readonly #holders: ReferenceHolder[] = [];
  readonly #core: MigrateCore;

  /**
   * @internal use `createKernel`. With a `recycler`, the machine's per-frame arrays come
   * from it and go back to it on `release` (an explorer's machines, one per schedule).
   */
  constructor(config: ResolvedKernelConfig, recycler: BufferRecycler | null = null) {
    this.config = config;
    // Options given as undefined are the runtime's defaults (no hook, no footprint log).
    const rt = new Runtime({
      cpus: config.cpuNodes.length,
      cpuNodes: config.cpuNodes,
      seed: config.seed,
      strategy: config.strategy,
      costs: config.costs,
      maxSteps: config.maxSteps,
      meta: config.meta,
      onStep: config.onStep,
      footprints: config.footprints,
    });
    const mem = createPhysicalMemory(memorySpec(config), recycler);
    hugetlbSetNrOvercommitHugePages(mem, config.nrOvercommitHugePages);
    for (const area of config.cma) declareCmaArea(mem, area.base, area.pages);
    const nrNodes = config.nodes.length;
    const vmstat = new VmStat(nrNodes, machineBuffer(mem, VmStat.bufferBytes(nrNodes)));
    // nr_free_pages is the buddy's own per-node free count (zone NR_FREE_PAGES, 6.3).
    vmstat.setNodeGauge(NodeStat.NR_FREE_PAGES, (nid) => nodeFreePages(mem, nid));
    // nr_writeback: the pages of the folios under writeback, which 6.3 moves by
    // folio_nr_pages in __folio_start_writeback / __folio_end_writeback; counted when read.
    vmstat.setNodeGauge(NodeStat.NR_WRITEBACK, (nid) => nodeWritebackPages(mem, nid));
    const ctx: PartsContext = { rt, mem, vmstat };
    const dc = config.dependencyChecking;
    const baseLocks = new PageLockTable(rt, mem, {
      pageLockUnfairness: config.pageLockUnfairness,
      dependencyChecking: dc === null ? false : { classOf: lockClassOf(mem, dc.lockClass) },
    });
    const parts = config.parts;
    const locks =
      parts.pageLocks === undefined
        ? baseLocks
        : checkPart('pageLocks', parts.pageLocks(baseLocks, ctx), PAGE_LOCKS_METHODS);
    const lruVecs = new LruVecs(rt, mem, vmstat);
    const lru =
      parts.lru === undefined ? lruVecs : checkPart('lru', parts.lru(lruVecs, ctx), LRU_METHODS);
    // The rmap-side policies of a variant: how remove_migration_pte restores a read entry,
    // and whether a batched unmap records a flush for an inaccessible PTE (4d4b6d66db63, 6.4).
    const { restoreWrprotectsReadEntry, tlbBatchSkipsInaccessible } = resolveVariant(
      config.variant,
    );
    const vm = new VirtualMemory(rt, mem, locks, vmstat, {
      lru,
      zeroPage: config.zeroPage,
      restoreWrprotectsReadEntry,
      tlbBatchSkipsInaccessible,
      shmemEnabled: config.shmemEnabled,
    });
    // The scheduler tells the virtual memory of context switches (mm_cpumask, lazy TLB).
    rt.setContextSwitchHook(vm.contextSwitch);
    const rmap =
      parts.rmap === undefined ? vm : checkPart('rmap', parts.rmap(vm, ctx), RMAP_METHODS);
    const tlb = parts.tlb === undefined ? vm : checkPart('tlb', parts.tlb(vm, ctx), TLB_METHODS);
    const deps: MigrateDeps = {
      rt,
      mem,
      vmstat,
      locks,
      lru,
      rmap,
      tlb,
      variant: config.variant,
      thpMigrationSupported: config.thpMigrationSupported,
      hugepageMigrationSupported: config.hugepageMigrationSupported,
    };
    const core = new MigrateCore(deps);
    // Hugetlb folios the faults allocate join the core's active list (alloc_hugetlb_folio).
    vm.setHugetlbLifecycle(core.hugetlbLifecycle);
    const migrate =
      parts.migrate === undefined
        ? core
        : checkPart('migrate', parts.migrate(deps, core), MIGRATE_METHODS);
    if (Object.keys(config.faults).length > 0) rt.faults.configure(config.faults);
    this.rt = rt;
    this.mem = mem;
    this.vmstat = vmstat;
    this.locks = locks;
    this.lru = lru;
    this.lruVecs = lruVecs;
    this.vm = vm;
    this.rmap = rmap;
    this.tlb = tlb;
    this.migrate = migrate;
    this.#core = core;
    this.shadow = new ShadowMemory(mem, vm);
  }

  /** The variant the migrate core follows. */
  get variant(): MigrateVariant {
    return this.migrate.variant;
  }

  /** The page-lock dependency checker, or null when it is off. */
  get checker(): DependencyChecker | null {
    return this.locks.checker;
  }

  /**
   * The LRU view the LRU invariant checks: the replacement's own `view` if it has one,
   * else the default `LruVecs`' (right when the replacement wraps it).
   */
  get lruView(): LruView {
    const own = (this.lru as { view?: unknown }).view;
    if (typeof own === 'object' && own !== null && typeof (own as LruView).check === 'function') {
      return own as LruView;
    }
    return this.lruVecs.view;
  }

  /**
   * Node `nid`'s 2 MiB hugetlb counters as
   * /sys/devices/system/node/node<nid>/hugepages/hugepages-2048kB/ shows them:
   * `nr_hugepages`, `free_hugepages`, `surplus_hugepages`.
   */
  hugetlbNodeCounters(nid: number): HugetlbNodeCounters {
    return hugetlbNodeCounters(this.mem, nid);
  }

  /** The hugetlb lines of /proc/meminfo: HugePages_Total, _Free, _Rsvd, _Surp. */
  hugetlbMeminfo(): HugetlbMeminfo {
    return hugetlbMeminfo(this.mem);
  }

  /** Number of NUMA nodes. */
  get nrNodes(): number {
    return this.mem.nrNodes;
  }

  /** The CPUs of node `nid`, in id order. */
  cpusOfNode(nid: number): number[] {
    const out: number[] = [];
    this.config.cpuNodes.forEach((n, cpu) => {
      if (n === nid) out.push(cpu);
    });
    return out;
  }

  /** A new process (`mm_alloc`). */
  createProcess(name?: string): MmView {
    return this.vm.createProcess(name);
  }

  /** A regular file (page cache, i_mmap, "disk" words), known to the kernel's invariants. */
  createFile(name: string, options: FileOptions = {}): AddressSpaceView {
    const file = this.vm.createFile(name, options);
    this.#files.push(file);
    return file;
  }

  /**
   * Every file whose page cache the invariants look at: the ones made with `createFile`,
   * and the shmem files behind the live processes' shared anonymous mappings.
   */
  get files(): readonly AddressSpaceView[] {
    // The created files first, then each other file a mapping uses, once, in the order the
    // processes and their VMAs come. A machine has a few files: a linear search, and a set
    // only past FILES_SCAN_LIMIT of them.
    const out = this.#files.slice();
    let seen: Set<AddressSpaceView> | null = null;
    for (const mm of this.vm.processes) {
      for (const vma of mm.vmas) {
        const file = vma.file;
        if (file === null) continue;
        if (seen === null && out.length > FILES_SCAN_LIMIT) seen = new Set(out);
        if (seen === null ? out.includes(file) : seen.has(file)) continue;
        out.push(file);
        seen?.add(file);
      }
    }
    return out;
  }

  /**
   * The errors of non-LRU movable page drivers that the migrate core caught and undid (a
   * callback that threw or returned a value outside its contract), oldest first. The
   * default core's, whether or not `parts.migrate` wraps it.
   */
  get driverErrors(): readonly DriverErrorRecord[] {
    return this.#core.driverErrors;
  }

  /** Registers a holder of folio references outside the model's own structures. */
  addReferenceHolder(holder: ReferenceHolder): void {
    this.#holders.push(holder);
  }

  /** The registered reference holders. */
  get referenceHolders(): readonly ReferenceHolder[] {
    return this.#holders;
  }

  /**
   * `madvise(addr, len, advice)` of `mm`: MADV_SOFT_OFFLINE here (`madvise_inject_error`,
   * -EPERM unless `capable`, the CAP_SYS_ADMIN answer of the syscall layer), every other
   * advice through `vm.madvise`. Returns 0 or -errno (see memory-failure.ts).
   */
  madvise(
    mm: MmView,
    addr: number,
    length: number,
    advice: number,
    capable: boolean,
  ): KernelGen<number> {
    return kernelMadvise(this, mm, addr, length, advice, capable);
  }

  /**
   * `soft_offline_page(pfn, flags)` (mm/memory-failure.c, 6.3): migrate the page's data
   * away (MR_MEMORY_FAILURE) or take it off the buddy, and keep the frame out of use
   * (PG_hwpoison). 0, -ENXIO, -EIO or -EBUSY (see memory-failure.ts).
   */
  softOfflinePage(pfn: number, flags = 0): KernelGen<number> {
    return softOfflinePage(this, pfn, flags);
  }

  /**
   * `ksm_do_scan(pages)` (mm/ksm.c, 6.3) as ksmd runs it: `lru_add_drain_all()` at the start
   * of every full scan, so that pages still sitting in a per-CPU LRU batch (whose reference
   * `write_protect_page` would count) can merge. Returns the number of pages scanned.
   */
  ksmDoScan(pages: number): KernelGen<number> {
    // The drain closure is made here, not per machine (few machines run ksmd).
    return this.vm.ksmDoScan(pages, () => this.lru.lruAddDrainAll());
  }

  /** `num_poisoned_pages`: pages soft-offlined (or otherwise poisoned) so far. */
  get numPoisonedPages(): number {
    return numPoisonedPages(this.mem);
  }

  /** Spawns an actor as a task on its CPU. */
  spawn(actor: Actor): Task {
    if (!Number.isInteger(actor.cpu) || actor.cpu < 0 || actor.cpu >= this.rt.cpus.length) {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        `actor ${actor.name}: cpu must be in [0, ${this.rt.cpus.length - 1}], got ${String(actor.cpu)}`,
      );
    }
    const task = this.rt.spawn(
      actor.name,
      actor.cpu,
      (t) => actor.body(t),
      actor.declaresFootprints === true,
    );
    actor.slot?.set(task);
    return task;
  }

  /**
   * Hands the machine's per-frame arrays back to the recycler it was built with (nothing to
   * do without one), for the next machine; the kernel must not be used afterwards. An
   * explorer calls it when a schedule's instance is done with.
   */
  release(): void {
    releasePhysicalMemory(this.mem);
  }

  /** Runs the machine (once): see `Runtime.run`. */
  run(): RunResult {
    return this.rt.run();
  }
}

/**
 * Builds a machine from a configuration: validates it (a bad value throws
 * `MmsimError('INVALID_CONFIG')` naming the field and why, and nothing is built), then
 * wires runtime, physical memory, vmstat, page locks, LRU, virtual memory and the migrate
 * core of the chosen variant, using any replacement parts the configuration gives.
 *
 * The test fixtures wire the same parts with fewer options: `createMigrateMachine` of
 * `@mmsim/migrate/test` (on `createRmapMachine` of `@mmsim/rmap/test`, on
 * `createLruMachine` of `@mmsim/lru/test`) builds the default parts only, with no
 * configuration checking, replacement parts, fault injection or shadow memory. Use those
 * to test one layer; use `createKernel` to run actors and scenarios on the whole machine.
 *
 * ```ts
 * const kernel = createKernel({ nodes: [{ pages: 2048 }, { pages: 2048 }], variant: 'v6.3' });
 * ```
 */
export function createKernel(config: KernelConfig): Kernel {
  return new Kernel(resolveKernelConfig(config));
}

/** The physical memory specs built for resolved configurations, by their `nodes`. */
const memorySpecs = new WeakMap<
  ResolvedKernelConfig['nodes'],
  { readonly distances: ResolvedKernelConfig['distances']; readonly spec: PhysicalMemoryConfig }
>();

/**
 * The physical memory a resolved configuration describes, as `createPhysicalMemory` takes
 * it: built once per configuration (an explorer's instances share their configuration's
 * `nodes` and `distances`, see scenario-target.ts) and frozen all through, so that
 * `createPhysicalMemory` checks it once and machines share its distance tables. A resolved
 * configuration is read-only.
 */
function memorySpec(config: ResolvedKernelConfig): PhysicalMemoryConfig {
  const known = memorySpecs.get(config.nodes);
  if (known !== undefined && known.distances === config.distances) return known.spec;
  const spec: PhysicalMemoryConfig = Object.freeze({
    nodes: Object.freeze(
      config.nodes.map((n) =>
        Object.freeze({
          pages: n.pages,
          hugetlbPages: n.hugetlbPages,
          ...(n.movablePages === undefined ? {} : { movablePages: n.movablePages }),
          memory: Object.freeze({ accessFactor: n.accessFactor, copyFactor: n.copyFactor }),
        }),
      ),
    ),
    distances: Object.freeze(config.distances.map((row) => Object.freeze([...row]))),
  });
  memorySpecs.set(config.nodes, { distances: config.distances, spec });
  return spec;
}

/** Pages of node `nid` in folios with PG_writeback set (the NR_WRITEBACK gauge). */
function nodeWritebackPages(mem: PhysicalMemory, nid: number): number {
  const start = nodeStartPfn(mem, nid);
  const end = start + nodeSpannedPages(mem, nid);
  let pages = 0;
  for (let pfn = start; pfn < end; pfn++) {
    if (!pfnValid(mem, pfn) || pfnFolio(mem, pfn) !== pfn) continue;
    if (folioTestFlag(mem, pfn, PG_writeback)) pages += folioNrPages(mem, pfn);
  }
  return pages;
}
