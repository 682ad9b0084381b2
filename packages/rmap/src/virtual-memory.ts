import {
  type Folio,
  folioIndex,
  folioMapcount,
  folioMapped,
  folioNrPages,
  folioOrder,
  type PhysicalMemory,
} from '@mmsim/folio';
import type { PageLocks } from '@mmsim/page-lock';
import {
  type ContextSwitchHook,
  type KernelGen,
  MmsimError,
  type Runtime,
  type Task,
  type VmStat,
} from '@mmsim/runtime';
import type { AddressSpace } from './address-space.js';
import { allocByPolicy } from './alloc.js';
import { type AnonVma, folioAnonVma, folioGetAnonVma, putAnonVma } from './anon-vma.js';
import { type ChangeProtNumaOptions, changeProtNuma } from './change-prot-numa.js';
import { folioMaybeDmaPinned } from './dma-pinned.js';
import { exitMmap } from './exit.js';
import { forkMm } from './fork.js';
import { pinUserPage, unpinUserPage } from './gup.js';
import { type HugetlbLifecycle, hugetlbOf } from './hugetlb-state.js';
import { assertRmap, checkRmap, type RmapCheckOptions } from './invariants.js';
import {
  folioStableNode,
  type KsmStableNode,
  type KsmStats,
  ksmDoScan,
  ksmMadvise,
  ksmStats,
} from './ksm.js';
import { madvise } from './madvise.js';
import { type Mempolicy, type Nodemask, nodesWithMemory } from './mempolicy.js';
import { mbindRange, mpolRebindMm } from './mempolicy-vma.js';
import {
  type IsolateFolioFn,
  nodeOfAddress,
  type QueuePagesResult,
  queuePagesRange,
} from './mempolicy-walk.js';
import { mlockRange } from './mlock-syscall.js';
import type { Mm } from './mm.js';
import { createFile, createMm, type MmapOptions, mmap } from './mmap.js';
import { mprotect } from './mprotect.js';
import { mremap } from './mremap.js';
import { munmap } from './munmap.js';
import {
  filemapAddFolio,
  filemapAddFolioPlain,
  filemapRemoveFolio,
  hugetlbAddToPageCache,
} from './page-cache.js';
import { clearRefs, type PagemapEntry, pagemapEntry } from './pagemap.js';
import type { AddressSpaceView, AnonVmaView, MmView, VmaView } from './readonly-views.js';
import { removeMigrationPtes, removeMigrationPtesFast } from './remove-migration-ptes.js';
import type { Rmap, TlbBatch } from './rmap-interface.js';
import { type NumaHintFaultHook, type NumaHugeHintFaultHook, RmapState } from './rmap-state.js';
import { type RmapWalkControl, rmapWalk, rmapWalkLocked } from './rmap-walk.js';
import { checkShmemHuge, type ShmemHuge } from './shmem.js';
import { contextSwitchMm } from './tlb.js';
import {
  flushTlbBatchedPending,
  leaveTlbBatchPending,
  type TlbFlushUnmapBatch,
  taskTlbBatch,
  tlbFlushBatchedGenerations,
  tryToUnmapFlush,
  tryToUnmapFlushDirty,
} from './tlb-batch.js';
import type { TlbStats } from './tlb-stats.js';
import { invalidateMappingPages, truncateInodePages } from './truncate.js';
import { tryToMigrate, tryToMigrateFast } from './try-to-migrate.js';
import {
  doUserAddrFault,
  userRead,
  userReadFast,
  userReadFaulted,
  userReadFaultedPlain,
  userReadPlain,
  userWrite,
  userWriteFast,
  userWriteFaulted,
  userWriteFaultedPlain,
  userWritePlain,
} from './user-access.js';
import { uffdioWriteprotect, userfaultfdRegisterWp } from './userfaultfd.js';
import {
  type FolioMapping,
  folioMappings,
  followPage,
  lookupPte,
  type PteView,
  presentPfnAt,
} from './view.js';
import type { VirtualMemoryOptions } from './virtual-memory-options.js';
import { vmaAddress } from './vma-address.js';

/** Options of `createFile`. */
export interface FileOptions {
  /** The file's initial content words, page index = array index (others read 0). */
  readonly content?: readonly number[];
  /**
   * A hugetlbfs file: mapping it gives VM_HUGETLB mappings of 2 MiB pages (see
   * `hugetlbMmap`); its page cache holds hugetlb folios at huge-page indices. No content.
   */
  readonly hugetlb?: boolean;
}

let stateOfVm: (vm: VirtualMemory) => RmapState;

/** The state behind a `VirtualMemory` (for `@mmsim/rmap/internal`: tests, prototypes). */
export function rmapStateOf(vm: VirtualMemory): RmapState {
  return stateOfVm(vm);
}

/**
 * The virtual-memory side of one simulated machine: processes (mm, VMAs, page tables,
 * anon_vma trees, fork, exit), files (page cache, i_mmap), user accesses through per-CPU
 * TLBs and page faults, the rmap (walks, `try_to_migrate`, `remove_migration_ptes`) and
 * batched TLB flushing, following Linux 6.3. It implements `Rmap` and `TlbBatch`, the
 * interfaces the migration core imports.
 *
 * Build it on the runtime, the physical memory, the page locks and the vmstat of the same
 * machine. Functions that may sleep or spin are generators to call with `yield*` from a
 * running task; `createProcess`, `createFile`, `mmap` and the views are plain calls that
 * may also be used before the run.
 */
export class VirtualMemory implements Rmap, TlbBatch {
  readonly rt: Runtime;
  readonly mem: PhysicalMemory;
  readonly locks: PageLocks;
  readonly vmstat: VmStat;
  readonly #ctx: RmapState;

  static {
    stateOfVm = (vm) => vm.#ctx;
  }

  constructor(
    rt: Runtime,
    mem: PhysicalMemory,
    locks: PageLocks,
    vmstat: VmStat,
    options: VirtualMemoryOptions = {},
  ) {
    if (typeof options !== 'object' || options === null) {
      throw new MmsimError('INVALID_CONFIG', 'VirtualMemory options must be an object');
    }
    if (vmstat.nrNodes !== mem.nrNodes) {
      throw new MmsimError(
        'INVALID_CONFIG',
        `vmstat has ${vmstat.nrNodes} nodes but the memory has ${mem.nrNodes}`,
      );
    }
    for (const cpu of rt.cpus) {
      if (cpu.node >= mem.nrNodes) {
        throw new MmsimError(
          'INVALID_CONFIG',
          `CPU ${cpu.id} is on node ${cpu.node}, but the memory has nodes 0..${mem.nrNodes - 1}`,
        );
      }
    }
    if (options.zeroPage !== undefined && typeof options.zeroPage !== 'boolean') {
      throw new MmsimError('INVALID_CONFIG', 'zeroPage must be a boolean');
    }
    if (options.shmemEnabled !== undefined) checkShmemHuge(options.shmemEnabled, 'shmemEnabled');
    const skip = options.tlbBatchSkipsInaccessible;
    if (skip !== undefined && typeof skip !== 'boolean') {
      throw new MmsimError('INVALID_CONFIG', 'tlbBatchSkipsInaccessible must be a boolean');
    }
    this.rt = rt;
    this.mem = mem;
    this.locks = locks;
    this.vmstat = vmstat;
    if (
      options.restoreWrprotectsReadEntry !== undefined &&
      typeof options.restoreWrprotectsReadEntry !== 'boolean'
    ) {
      throw new MmsimError('INVALID_CONFIG', 'restoreWrprotectsReadEntry must be a boolean');
    }
    this.#ctx = new RmapState(rt, mem, locks, vmstat, options);
  }

  // Processes and mappings

  /** A new process with an empty address space (`mm_alloc`). */
  createProcess(name?: string): MmView {
    return createMm(this.#ctx, name);
  }

  /** `fork()`: the child's address space (see `forkMm`). */
  fork(parent: MmView, name?: string): KernelGen<MmView> {
    return forkMm(this.#ctx, parent as Mm, name);
  }

  /** `exit_mmap`: tear the process's address space down, freeing what only it held. */
  exit(mm: MmView): KernelGen {
    return exitMmap(this.#ctx, mm as Mm);
  }

  /**
   * Hooks through which hugetlb folios the faults allocate join and leave the migration
   * side's active list (`h->hugepage_activelist`, HPageMigratable); the kernel composition
   * sets them (see `HugetlbLifecycle`).
   */
  setHugetlbLifecycle(lifecycle: HugetlbLifecycle | null): void {
    hugetlbOf(this.#ctx).lifecycle = lifecycle;
  }

  /**
   * `mmap()`; returns the address. MAP_HUGETLB or a hugetlbfs file maps 2 MiB hugetlb pages
   * and may return -EINVAL / -ENOMEM (see `hugetlbMmap`).
   */
  mmap(mm: MmView, options: MmapOptions): number {
    return mmap(this.#ctx, mm as Mm, options);
  }

  /**
   * `mlock(addr, len)`: VM_LOCKED on the VMAs of the range (split at its ends), their
   * mapped folios mlocked, then the range populated; returns 0 or -ENOMEM (see
   * `mlockRange`). `mmap` with MAP_LOCKED gives a VM_LOCKED VMA without populating it.
   */
  mlock(mm: MmView, addr: number, length: number): KernelGen<number> {
    return mlockRange(this.#ctx, mm as Mm, addr, length, true);
  }

  /** `munlock(addr, len)`: VM_LOCKED cleared, the range's folios munlocked; 0 or -ENOMEM. */
  munlock(mm: MmView, addr: number, length: number): KernelGen<number> {
    return mlockRange(this.#ctx, mm as Mm, addr, length, false);
  }

  /** `munmap()`. */
  munmap(mm: MmView, addr: number, length: number): KernelGen<number> {
    return munmap(this.#ctx, mm as Mm, addr, length);
  }

  /**
   * `mprotect(addr, len, prot)`: the VMAs of the range get the new protection (split and
   * merged as needed) and their entries follow; 0 or -EINVAL / -ENOMEM / -EACCES (see
   * `mprotect` in mprotect.ts for each case).
   */
  mprotect(mm: MmView, addr: number, length: number, prot: number): KernelGen<number> {
    return mprotect(this.#ctx, mm as Mm, addr, length, prot);
  }

  /**
   * `madvise(addr, len, advice)` for MADV_DONTNEED (/_LOCKED), MADV_HUGEPAGE,
   * MADV_NOHUGEPAGE and MADV_NORMAL / RANDOM / SEQUENTIAL: 0, -EINVAL or -ENOMEM (see
   * `madvise` in madvise.ts). MADV_SOFT_OFFLINE goes through `Kernel.madvise`.
   */
  madvise(mm: MmView, addr: number, length: number, advice: number): KernelGen<number> {
    return madvise(this.#ctx, mm as Mm, addr, length, advice);
  }

  /**
   * `mremap(addr, oldLen, newLen, flags, newAddr)`: shrink, grow in place, or move the
   * mapping (MREMAP_MAYMOVE / FIXED / DONTUNMAP) with its page tables; the (new) address
   * or -EINVAL / -EFAULT / -ENOMEM (see `mremap` in mremap.ts).
   */
  mremap(
    mm: MmView,
    addr: number,
    oldLen: number,
    newLen: number,
    flags: number,
    newAddr = 0,
  ): KernelGen<number> {
    return mremap(this.#ctx, mm as Mm, addr, oldLen, newLen, flags, newAddr);
  }

  /** The live processes. */
  get processes(): readonly MmView[] {
    return [...this.#ctx.mms];
  }

  // Files

  /** A regular file with an empty page cache. */
  createFile(name: string, options: FileOptions = {}): AddressSpaceView {
    if (options.hugetlb !== undefined && typeof options.hugetlb !== 'boolean') {
      throw new MmsimError('INVALID_ARGUMENT', 'hugetlb must be a boolean');
    }
    return createFile(this.#ctx, name, options.content, false, options.hugetlb === true);
  }

  /** /sys/kernel/mm/transparent_hugepage/shmem_enabled as set now (see shmem.ts). */
  get shmemEnabled(): ShmemHuge {
    return this.#ctx.shmemHuge;
  }

  /**
   * A write of /sys/kernel/mm/transparent_hugepage/shmem_enabled (`shmem_enabled_store`,
   * mm/shmem.c, 6.3): the internal shmem mount's `huge=` becomes `value` for the shared
   * anonymous mappings created from now on (the model gives each its own file, which takes
   * the setting at mmap time). A value that is not a `ShmemHuge` is INVALID_CONFIG.
   */
  setShmemEnabled(value: ShmemHuge): void {
    this.#ctx.shmemHuge = checkShmemHuge(value, 'shmemEnabled');
  }

  /** `truncate_inode_pages` of an unmapped file: its cached pages and data go. */
  truncate(file: AddressSpaceView): KernelGen {
    return truncateInodePages(this.#ctx, file as AddressSpace);
  }

  /** Write back, then drop the unmapped, unused pages of a file's cache; returns how many. */
  invalidateMappingPages(file: AddressSpaceView): KernelGen<number> {
    return invalidateMappingPages(this.#ctx, file as AddressSpace);
  }

  /**
   * `filemap_add_folio`: a new folio (any order) the caller holds a reference on joins
   * `file`'s page cache at `index`, locked, and goes on the LRU (see page-cache.ts).
   * Returns 0, or -EEXIST when part of its range is cached already.
   */
  filemapAddFolio(file: AddressSpaceView, folio: Folio, index: number): KernelGen<number> {
    return filemapAddFolio(this.#ctx, file as AddressSpace, folio, index);
  }

  /**
   * `filemapAddFolio` as plain calls while its `folio_add_lru` is uncontended: 0 or -EEXIST,
   * or the generator that finishes the LRU add and returns 0 (run it at once with `yield*`,
   * in the same step). The same steps, charges and results as `filemapAddFolio`.
   */
  filemapAddFolioPlain(
    file: AddressSpaceView,
    folio: Folio,
    index: number,
  ): number | KernelGen<number> {
    return filemapAddFolioPlain(this.#ctx, file as AddressSpace, folio, index);
  }

  /**
   * `__filemap_remove_folio` of a locked, unmapped folio: it leaves `file`'s page cache and
   * loses its mapping; the caller then puts the cache's references.
   */
  filemapRemoveFolio(file: AddressSpaceView, folio: Folio): void {
    filemapRemoveFolio(this.#ctx, file as AddressSpace, folio, folioIndex(this.mem, folio));
  }

  /** `hugetlb_add_to_page_cache`: the caller's reference on a hugetlb folio becomes the cache's. */
  hugetlbAddToPageCache(file: AddressSpaceView, folio: Folio, index: number): void {
    hugetlbAddToPageCache(this.mem, file as AddressSpace, folio, index);
  }

  // User access

  /** A load by the current task; see `userRead` in user-access.ts. */
  userRead(mm: MmView, addr: number): KernelGen<number> {
    return userRead(this.#ctx, mm as Mm, addr);
  }

  /** A store by the current task. */
  userWrite(mm: MmView, addr: number, value: number): KernelGen {
    return userWrite(this.#ctx, mm as Mm, addr, value);
  }

  /**
   * The fault-free half of a load: the word, or NaN when the access needs a fault: then
   * `userReadFaulted` (not `userRead`: the failed attempt already walked and charged).
   */
  userReadFast(mm: MmView, addr: number): number {
    return userReadFast(this.#ctx, mm as Mm, addr);
  }

  /** The fault-free half of a store: false when `userWriteFaulted` is needed. */
  userWriteFast(mm: MmView, addr: number, value: number): boolean {
    return userWriteFast(this.#ctx, mm as Mm, addr, value);
  }

  /** The rest of `userRead` after a `userReadFast` that returned NaN. */
  userReadFaulted(mm: MmView, addr: number): KernelGen<number> {
    return userReadFaulted(this.#ctx, mm as Mm, addr);
  }

  /** The rest of `userWrite` after a `userWriteFast` that returned false. */
  userWriteFaulted(mm: MmView, addr: number, value: number): KernelGen {
    return userWriteFaulted(this.#ctx, mm as Mm, addr, value);
  }

  /**
   * `userRead` as plain calls while no fault has to wait: the word, or the generator that
   * finishes the load (run it at once with `yield*`, in the same step). A first touch that
   * needs no wait completes without a generator.
   */
  userReadPlain(mm: MmView, addr: number): number | KernelGen<number> {
    return userReadPlain(this.#ctx, mm as Mm, addr);
  }

  /** `userWrite` as plain calls while no fault has to wait: null when done; see `userReadPlain`. */
  userWritePlain(mm: MmView, addr: number, value: number): KernelGen | null {
    return userWritePlain(this.#ctx, mm as Mm, addr, value);
  }

  /** `userReadFaulted` as plain calls while no fault has to wait; see `userReadPlain`. */
  userReadFaultedPlain(mm: MmView, addr: number): number | KernelGen<number> {
    return userReadFaultedPlain(this.#ctx, mm as Mm, addr);
  }

  /** `userWriteFaulted` as plain calls while no fault has to wait; see `userWritePlain`. */
  userWriteFaultedPlain(mm: MmView, addr: number, value: number): KernelGen | null {
    return userWriteFaultedPlain(this.#ctx, mm as Mm, addr, value);
  }

  /** `do_user_addr_fault` with FAULT_FLAG_* `flags`; returns VM_FAULT_* bits. */
  handleUserFault(mm: MmView, addr: number, flags: number): KernelGen<number> {
    return doUserAddrFault(this.#ctx, mm as Mm, addr, flags);
  }

  /**
   * `pin_user_pages` of one page (FOLL_PIN | FOLL_LONGTERM); returns the pfn, or -EINTR when
   * the calling task has a fatal signal pending (`__get_user_pages`, mm/gup.c, 6.3).
   */
  pinUserPage(mm: MmView, addr: number, write: boolean): KernelGen<number> {
    return pinUserPage(this.#ctx, mm as Mm, addr, write);
  }

  /** `unpin_user_page` of a pin taken through `mm`. */
  unpinUserPage(mm: MmView, pfn: number): KernelGen {
    return unpinUserPage(this.#ctx, mm as Mm, pfn);
  }

  // KSM (mm/ksm.c, 6.3; see ksm.ts)

  /**
   * `madvise(addr, length, MADV_MERGEABLE | MADV_UNMERGEABLE)` as `ksm_madvise` handles it:
   * returns 0 or -errno (see `ksmMadvise` in ksm.ts). Takes `mmap_lock` for write.
   */
  ksmMadvise(mm: MmView, addr: number, length: number, advice: number): KernelGen<number> {
    return ksmMadvise(this.#ctx, mm as Mm, addr, length, advice);
  }

  /**
   * One `ksm_do_scan(pages)` of ksmd: up to `pages` mergeable pages scanned and merged;
   * returns how many were scanned (fewer at the end of a full scan). `drainAll` is
   * `lru_add_drain_all`, run at the start of each full scan (the kernel's `LruIsolation`).
   */
  ksmDoScan(pages: number, drainAll?: () => KernelGen): KernelGen<number> {
    return ksmDoScan(this.#ctx, pages, drainAll);
  }

  /** The /sys/kernel/mm/ksm counters: pages_shared, pages_sharing, pages_unshared, full_scans. */
  get ksmStats(): KsmStats {
    return ksmStats(this.#ctx);
  }

  /** The stable node of a KSM folio (`folio_stable_node`), or null. */
  ksmStableNode(folio: Folio): KsmStableNode | null {
    return folioStableNode(this.mem, folio);
  }

  // Views

  /** The decoded entry mapping `addr` (throws outside every VMA). */
  lookupPte(mm: MmView, addr: number): PteView {
    return lookupPte(mm as Mm, addr);
  }

  /**
   * The /proc/PID/pagemap entry of the page at `addr` (pfn, present, swap, file, exclusive,
   * soft-dirty; see `pagemapEntry`).
   */
  pagemap(mm: MmView, addr: number): PagemapEntry {
    return pagemapEntry(this.#ctx, mm as Mm, addr);
  }

  /**
   * Writes `type` to /proc/PID/clear_refs; only 4 (CLEAR_REFS_SOFT_DIRTY) is modelled:
   * every VMA and entry of `mm` loses soft-dirty and present entries are write-protected.
   */
  clearRefs(mm: MmView, type: number): KernelGen {
    return clearRefs(this.#ctx, mm as Mm, type);
  }

  /**
   * `UFFDIO_REGISTER` in write-protect mode of the whole VMA `[addr, addr + length)`: it
   * gains VM_UFFD_WP (see userfaultfd.ts).
   */
  userfaultfdRegisterWp(mm: MmView, addr: number, length: number): void {
    userfaultfdRegisterWp(mm as Mm, addr, length);
  }

  /** `UFFDIO_WRITEPROTECT` of `[addr, addr + length)`: protect (`wp`) or resolve. */
  uffdioWriteprotect(mm: MmView, addr: number, length: number, wp: boolean): KernelGen {
    return uffdioWriteprotect(this.#ctx, mm as Mm, addr, length, wp);
  }

  /**
   * Opens the window between the two stores of `try_to_migrate_one` (mm/rmap.c, 6.3):
   * the PTE is cleared (`ptep_clear_flush`, or `ptep_get_and_clear` with a batched flush)
   * and only then the migration entry is set, both under the page-table lock. A fault on
   * another CPU reads the PTE without that lock (`handle_pte_fault`), so it can see
   * `pte_none` in between and take the `do_fault` path (for shmem: a page-cache reference
   * and a wait for the folio lock) instead of `migration_entry_wait` (Dev Jain, 2024,
   * 20240801081657.1386743-1-dev.jain@arm.com). With `on`, the walk passes a scheduling
   * point there, still holding the lock; off (the default), both stores are one step, as
   * every scenario before this switch ran them. Only PTE-mapped pages have the window.
   */
  setUnmapWindow(on: boolean): void {
    if (typeof on !== 'boolean') {
      throw new MmsimError('INVALID_ARGUMENT', 'setUnmapWindow takes a boolean');
    }
    this.#ctx.unmapWindow = on;
  }

  /**
   * `change_prot_numa` over `[addr, addr + length)` of `mm` (what `task_numa_work` does):
   * present PTEs become PROT_NONE NUMA hinting entries, the range is flushed once, and the
   * next access takes a NUMA hinting fault that makes the entry usable again. Returns the
   * number of entries changed (see `changeProtNuma`).
   */
  changeProtNuma(
    mm: MmView,
    addr: number,
    length: number,
    options?: ChangeProtNumaOptions,
  ): KernelGen<number> {
    return changeProtNuma(this.#ctx, mm as Mm, addr, length, options);
  }

  /**
   * Installs (or, with null, removes) the migration half of NUMA hinting faults: what
   * `do_numa_page` calls after making a hinting entry usable (see `NumaHintFaultHook`).
   */
  setNumaHintFaultHook(hook: NumaHintFaultHook | null): void {
    this.#ctx.numaHintFaultHook = hook;
  }

  /**
   * Installs (or, with null, removes) the `numa_migrate_prep` / `migrate_misplaced_page`
   * half of `do_huge_pmd_numa_page` (see `NumaHugeHintFaultHook`).
   */
  setNumaHugeHintFaultHook(hook: NumaHugeHintFaultHook | null): void {
    this.#ctx.numaHugeHintFaultHook = hook;
  }

  /** `mm->tlb_flush_pending`: page-table changes whose TLB flush is still to come. */
  tlbFlushPending(mm: MmView): number {
    return (mm as Mm).tlbFlushPending;
  }

  // Memory policies (mm/mempolicy.c, 6.3)

  /** `task->mempolicy`, or null for the default (local allocation). */
  taskMempolicy(task: Task): Mempolicy | null {
    return this.#ctx.taskMempolicies.policy.get(task) ?? null;
  }

  /**
   * Sets `task->mempolicy` (null: the default), as `do_set_mempolicy` does once the policy
   * is made; an interleave policy restarts at `il_prev = MAX_NUMNODES - 1`.
   */
  setTaskMempolicy(task: Task, pol: Mempolicy | null): void {
    const state = this.#ctx.taskMempolicies;
    if (pol === null) state.policy.delete(task);
    else state.policy.set(task, pol);
    state.ilPrev.delete(task);
  }

  /** `task->il_prev`: the node of the task's last interleaved allocation, or MAX_NUMNODES - 1. */
  taskIlPrev(task: Task): number {
    return this.#ctx.taskMempolicies.ilPrev.get(task) ?? 63;
  }

  /** `task->mems_allowed` (`cpuset_current_mems_allowed`), or undefined for every node. */
  taskMemsAllowed(task: Task): Nodemask | undefined {
    return this.#ctx.taskMempolicies.memsAllowed.get(task);
  }

  /**
   * Sets `task->mems_allowed` (`cpuset_change_task_nodemask`), which every allocation of
   * the task honours; undefined lifts the constraint (the root cpuset).
   */
  setTaskMemsAllowed(task: Task, mems: Nodemask | undefined): void {
    const state = this.#ctx.taskMempolicies;
    if (mems === undefined) state.memsAllowed.delete(task);
    else state.memsAllowed.set(task, mems.slice());
  }

  /** `node_states[N_MEMORY]`: the nodes that have memory. */
  nodesWithMemory(): Nodemask {
    return nodesWithMemory(this.mem);
  }

  /** `vma_lookup(mm, addr)`: the VMA containing `addr`, or null. */
  vmaLookup(mm: MmView, addr: number): VmaView | null {
    return (mm as Mm).vmaLookup(addr);
  }

  /**
   * `mbind_range` for every VMA of `[start, end)` (see `mbindRange`): split at the edges,
   * the new policy set, alike neighbours merged. The caller holds `mmap_lock` for write.
   */
  mbindRange(mm: MmView, start: number, end: number, pol: Mempolicy | null): KernelGen<number> {
    return mbindRange(this.#ctx, mm as Mm, start, end, pol);
  }

  /**
   * `queue_pages_range` (see `queuePagesRange`): the folios of `[start, end)` on (or, with
   * MPOL_MF_INVERT, off) `nodes` are isolated through `isolate`. The caller holds
   * `mmap_lock`.
   */
  queuePagesRange(
    mm: MmView,
    start: number,
    end: number,
    nodes: Nodemask,
    flags: number,
    isolate: IsolateFolioFn,
  ): KernelGen<QueuePagesResult> {
    return queuePagesRange(this.#ctx, mm as Mm, start, end, nodes, flags, isolate);
  }

  /** `mpol_rebind_mm`: every VMA policy of `mm` rebound to new cpuset mems. */
  mpolRebindMm(mm: MmView, mems: Nodemask): KernelGen {
    return mpolRebindMm(mm as Mm, mems);
  }

  /** The node of the page present at `addr`, or -EFAULT (see `nodeOfAddress`). */
  nodeOfAddress(mm: MmView, addr: number): number {
    return nodeOfAddress(this.#ctx, mm as Mm, addr);
  }

  /**
   * `new_folio(src, start)` of do_mbind (mm/mempolicy.c 6.3 `new_page`): the destination
   * of a folio mbind migrates, allocated by the new policy of the first VMA from `start`
   * that maps it (`vma_alloc_folio` at that address), in the current task; the task
   * policy applies when no VMA maps it. Null when no memory.
   */
  mbindNewFolio(mm: MmView, start: number, src: Folio): Folio | null {
    const ctx = this.#ctx;
    const index = folioIndex(this.mem, src);
    const nr = folioNrPages(this.mem, src);
    let vma: Mm['vmas'][number] | null = null;
    let address = 0;
    for (const v of (mm as Mm).vmas) {
      if (v.end <= start) continue;
      const a = vmaAddress(v, index, nr);
      if (a !== -1) {
        vma = v;
        address = a;
        break;
      }
    }
    const task = this.rt.current;
    const pol = vma?.policy ?? ctx.taskMempolicies.policy.get(task) ?? null;
    const dst = allocByPolicy(ctx, pol, vma, address, folioOrder(this.mem, src), task);
    return dst < 0 ? null : dst;
  }

  /** The pfn mapped at `addr` (throws when nothing present maps it). */
  followPage(mm: MmView, addr: number): number {
    return followPage(mm as Mm, addr);
  }

  /**
   * The pfn a present entry maps at `addr`, or -1 (nothing there yet, or a migration
   * entry); throws outside every VMA. `lookupPte(mm, addr).pfn` of a present entry,
   * without building the view.
   */
  presentPfnAt(mm: MmView, addr: number): number {
    return presentPfnAt(mm as Mm, addr);
  }

  /** Every mapping and migration entry of a folio, found through its rmap. */
  folioMappings(folio: Folio): FolioMapping[] {
    return folioMappings(this.#ctx, folio);
  }

  /** TLB-flush counters. */
  get tlbStats(): TlbStats {
    return this.#ctx.tlbStats;
  }

  /**
   * The address-space half of a context switch (`contextSwitchMm`): give it to
   * `Runtime.setContextSwitchHook` when composing a machine, so that `mm_cpumask` and the
   * lazy TLB state follow the scheduler as on x86. Without it the model only switches
   * mm at a task's user access, and kernel threads never make a CPU lazy.
   */
  readonly contextSwitch: ContextSwitchHook = (cpu, _prev, next) => {
    contextSwitchMm(this.#ctx, cpu.id, next);
  };

  /** `cpu_tlbstate.loaded_mm` of a CPU: the mm it runs on, or null for `init_mm`. */
  loadedMm(cpu: number): MmView | null {
    return this.#ctx.loadedMm[checkCpu(this.rt, cpu)] ?? null;
  }

  /** `cpu_tlbstate_shared.is_lazy` of a CPU: a kernel thread runs on its loaded mm. */
  tlbIsLazy(cpu: number): boolean {
    return this.#ctx.tlbLazy[checkCpu(this.rt, cpu)] !== 0;
  }

  /** The `tlbflush_unmap_batch` of a task (the current one by default). */
  tlbBatch(task: Task = this.rt.current): TlbFlushUnmapBatch {
    return taskTlbBatch(this.#ctx, task);
  }

  /** The pending and flushed generations of `mm->tlb_flush_batched`. */
  tlbFlushBatched(mm: MmView): { pending: number; flushed: number } {
    return tlbFlushBatchedGenerations(mm as Mm);
  }

  /** anon_vmas allocated and not yet freed. */
  get liveAnonVmas(): number {
    return this.#ctx.liveAnonVmas;
  }

  /** `folio_maybe_dma_pinned`. */
  folioMaybeDmaPinned(folio: Folio): boolean {
    return folioMaybeDmaPinned(this.#ctx, folio);
  }

  /** Consistency problems of the model (see `checkRmap`); empty when sound. */
  check(options?: RmapCheckOptions): string[] {
    return checkRmap(this.#ctx, options);
  }

  /** Throws INVARIANT_VIOLATED when `check` finds problems. */
  assertConsistent(options?: RmapCheckOptions): void {
    assertRmap(this.#ctx, options);
  }

  // Rmap

  tryToMigrate(folio: Folio, flags: number): KernelGen {
    return tryToMigrate(this.#ctx, folio, flags);
  }

  removeMigrationPtes(src: Folio, dst: Folio, locked: boolean): KernelGen {
    return removeMigrationPtes(this.#ctx, src, dst, locked);
  }

  tryToMigrateUncontended(folio: Folio, flags: number): boolean {
    return tryToMigrateFast(this.#ctx, folio, flags);
  }

  removeMigrationPtesUncontended(src: Folio, dst: Folio, locked: boolean): boolean {
    return removeMigrationPtesFast(this.#ctx, src, dst, locked);
  }

  rmapWalk(folio: Folio, rwc: RmapWalkControl): KernelGen {
    return rmapWalk(this.#ctx, folio, rwc);
  }

  rmapWalkLocked(folio: Folio, rwc: RmapWalkControl): KernelGen {
    return rmapWalkLocked(this.#ctx, folio, rwc);
  }

  folioGetAnonVma(folio: Folio): AnonVmaView | null {
    return folioGetAnonVma(this.#ctx, folio);
  }

  putAnonVma(anonVma: AnonVmaView): void {
    putAnonVma(this.#ctx, anonVma as AnonVma);
  }

  folioAnonVma(folio: Folio): AnonVmaView | null {
    return folioAnonVma(this.mem, folio);
  }

  folioMapped(folio: Folio): boolean {
    return folioMapped(this.mem, folio);
  }

  folioMapcount(folio: Folio): number {
    return folioMapcount(this.mem, folio);
  }

  // TlbBatch

  tryToUnmapFlush(): void {
    tryToUnmapFlush(this.#ctx);
  }

  tryToUnmapFlushDirty(): void {
    tryToUnmapFlushDirty(this.#ctx);
  }

  flushTlbBatchedPending(mm: MmView): void {
    flushTlbBatchedPending(this.#ctx, mm as Mm);
  }

  leaveTlbBatchPending(site: string): void {
    leaveTlbBatchPending(this.#ctx, site);
  }
}

/** `cpu` as an index of the machine's CPUs, or INVALID_ARGUMENT. */
function checkCpu(rt: Runtime, cpu: number): number {
  if (!Number.isInteger(cpu) || cpu < 0 || cpu >= rt.cpus.length) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `cpu must be an integer in [0, ${rt.cpus.length - 1}], got ${String(cpu)}`,
    );
  }
  return cpu;
}
