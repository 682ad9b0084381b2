// biome-ignore-all assist/source/organizeImports: this file is the package's table of contents, kept in reading order by section
/**
 * @mmsim/rmap: the virtual-memory side of page migration in mmsim (Linux 6.3): mm and
 * VMAs, page tables with migration entries, anon_vma trees (fork, COW), file i_mmap and
 * page caches, rmap walks, `try_to_migrate` / `remove_migration_ptes`, per-CPU TLBs with
 * batched flushing, faults and user accesses.
 *
 * This is the public surface: the interfaces the migration core imports and their default
 * implementation `VirtualMemory`, read-only views of the objects it hands out (mms, VMAs,
 * files, anon_vmas), the kernel constants and PTE encoding, and the tracepoint
 * fields. The step functions and their shared state are in `@mmsim/rmap/internal`, which
 * may change in any release.
 */

// The interfaces the migration core imports, and their default implementation.
export type { Rmap, RmapOps, TlbBatch } from './rmap-interface.js';
export { withRmapOverrides } from './rmap-overrides.js';
export { type FileOptions, VirtualMemory } from './virtual-memory.js';
export type { FolioLifecycle, VirtualMemoryOptions } from './virtual-memory-options.js';
export type { RmapWalkControl } from './rmap-walk.js';
export type { HugetlbLifecycle } from './hugetlb-state.js';
export { HPAGE_SIZE } from './hugetlb-state.js';

// Kernel constants.
export * from './constants.js';

// Address spaces, VMAs, files, anon_vmas, through read-only views: the classes behind
// them (Mm, Vma, AddressSpace, AnonVma, AnonVmaChain, PageTable) are in ./internal, and
// only rmap changes them.
export type {
  AddressSpaceView,
  AnonVmaChainView,
  AnonVmaView,
  MmView,
  PageTableView,
  VmaView,
} from './readonly-views.js';
export type { MemPolicy } from './vma.js';

// Memory policies: struct mempolicy, node masks, the uapi constants.
export {
  firstNode,
  Mempolicy,
  MPOL_BIND,
  MPOL_DEFAULT,
  MPOL_F_ADDR,
  MPOL_F_MEMS_ALLOWED,
  MPOL_F_NODE,
  MPOL_F_NUMA_BALANCING,
  MPOL_F_RELATIVE_NODES,
  MPOL_F_STATIC_NODES,
  MPOL_INTERLEAVE,
  MPOL_LOCAL,
  MPOL_MAX,
  MPOL_MF_DISCONTIG_OK,
  MPOL_MF_INTERNAL,
  MPOL_MF_INVERT,
  MPOL_MF_LAZY,
  MPOL_MF_MOVE,
  MPOL_MF_MOVE_ALL,
  MPOL_MF_STRICT,
  MPOL_MF_VALID,
  MPOL_MODE_FLAGS,
  MPOL_MODE_NAMES,
  MPOL_PREFERRED,
  MPOL_PREFERRED_MANY,
  mpolDup,
  mpolEqual,
  mpolNew,
  mpolRebindPolicy,
  mpolRelativeNodemask,
  mpolSetNodemask,
  type Nodemask,
  nodemaskNodes,
  nodemaskNone,
  nodemaskOf,
  nodeRemap,
  nodesAnd,
  nodesEmpty,
  nodesEqual,
  nodesIntersects,
  nodesRemap,
  nodesSubset,
  nodesWeight,
  nextNode,
  nextNodeIn,
} from './mempolicy.js';
export type { IsolateFolioFn, QueuePagesResult } from './mempolicy-walk.js';
export { DEFAULT_MMAP_BASE, type MmapOptions } from './mmap.js';
export { madviseBehaviorValid, madviseCheck } from './madvise.js';
export {
  type AddressSpaceOperationsBase,
  folioAddressSpaceView as folioAddressSpace,
  isAddressSpace,
} from './address-space.js';
export { mappingSetAops, mappingSetCanWriteback } from './mapping-operations.js';

// The page cache (i_pages).
export {
  FILEMAP_GET_FROZEN,
  filemapGetEntry,
  filemapGetFolio,
  filemapTryGetFolio,
} from './page-cache.js';
export { SHMEM_HUGE_VALUES, type ShmemHuge, shmemIsHuge } from './shmem.js';

// Page-table entries.
export * from './pte.js';

// TLBs.
export { TlbFlushUnmapBatch } from './tlb-batch.js';
export { TlbStats } from './tlb-stats.js';

// Tracepoint fields.
export {
  type MigrationPmdEvent,
  type MigrationPteEvent,
  REMOVE_MIGRATION_PTE,
  SET_MIGRATION_PTE,
  type TlbFlushEvent,
} from './tracepoints.js';

// Views and checks.
export type { FolioMapping, PteView } from './view.js';
export {
  CLEAR_REFS_SOFT_DIRTY,
  MAX_SWAPFILES_SHIFT,
  PM_FILE,
  PM_MMAP_EXCLUSIVE,
  PM_PFRAME_MASK,
  PM_PRESENT,
  PM_SOFT_DIRTY,
  PM_SWAP,
  type PagemapEntry,
  SWP_TYPE_MIGRATION_READ,
} from './pagemap.js';
export type { RmapCheckOptions } from './invariants.js';

// KSM (mm/ksm.c, 6.3).
export {
  folioMigrateKsm,
  KSM_NO_STABLE_NODE,
  KsmRmapItem,
  type KsmRmapItemState,
  KsmStableNode,
  type KsmStats,
  ksmMadvise,
  VM_MERGEABLE,
} from './ksm-public.js';
export type { ChangeProtNumaOptions } from './change-prot-numa.js';
export type { NumaHintFaultHook, NumaHugeHintFaultHook } from './rmap-state.js';
