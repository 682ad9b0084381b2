/**
 * @mmsim/rmap: the virtual-memory side of page migration in mmsim (Linux 6.3): mm and
 * VMAs, page tables with migration entries, anon_vma trees (fork, COW), file i_mmap and
 * page caches, rmap walks, `try_to_migrate` / `remove_migration_ptes`, per-CPU TLBs with
 * batched flushing, faults and user accesses.
 */

export {
  AddressSpace,
  type AddressSpaceOperationsBase,
  folioAddressSpace,
} from './address-space.js';
export { AnonVma, AnonVmaChain } from './anon-vma.js';
// Kernel constants.
export * from './constants.js';
export type { FolioLifecycle, VirtualMemoryOptions } from './context.js';
// Views and checks.
export type { RmapCheckOptions } from './invariants.js';
// Address spaces, VMAs, files, anon_vmas.
export { Mm } from './mm.js';
export { DEFAULT_MMAP_BASE, type MmapOptions } from './mmap.js';
// The page cache (i_pages).
export { filemapGetEntry, filemapGetFolio } from './page-cache.js';
export { PageTable } from './page-table.js';
// Page-table entries.
export * from './pte.js';
export type {
  AddressSpaceView,
  MmView,
  PageTableView,
  VmaView,
} from './readonly-views.js';
// The interfaces the migration core imports, and their default implementation.
export type { Rmap, RmapOps, TlbBatch } from './rmap-interface.js';
// rmap walks.
export type { RmapWalkControl } from './rmap-walk.js';
export { TLB_DIRTY, TLB_WRITE } from './tlb.js';
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
export type { FolioMapping, PteView } from './view.js';
export { type FileOptions, VirtualMemory } from './virtual-memory.js';
export { type MemPolicy, Vma } from './vma.js';
