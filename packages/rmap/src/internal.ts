// biome-ignore-all assist/source/organizeImports: this file is a table of contents, kept in reading order by section
/**
 * @mmsim/rmap/internal: may change in any release. The step functions behind
 * `VirtualMemory` and the state they share, for prototypes and tests; users of the model
 * need only `@mmsim/rmap`.
 *
 * The steps take an `RmapState` first: the machine, the live mms and files, the per-task
 * unmap batches, pin counts, counters and tracepoints.
 */

// The state the modules share.
export { RmapState } from './rmap-state.js';
export { RmapTracepoints } from './tracepoints.js';

// The mutable classes behind the read-only views of the public surface.
export { Mm } from './mm.js';
export { Vma } from './vma.js';
export { AddressSpace, folioAddressSpace } from './address-space.js';
export { AnonVma, AnonVmaChain } from './anon-vma.js';
export {
  ALL_PTE_RANGES,
  PageTable,
  PTE_RANGE_SHIFT,
  PTE_RANGE_SLOTS,
  PTE_RANGES,
} from './page-table.js';
export { rmapUncontended } from './uncontended.js';
export {
  mutableAddressSpace,
  mutableAnonVma,
  mutableMm,
  mutablePageTable,
  mutableVma,
} from './mutable-classes.js';

// Address spaces of processes: mmap, munmap, fork, exit.
export { createFile, createMm, mmap } from './mmap.js';
export { freePgtables, munmap, splitVma, unlinkVma } from './munmap.js';
export {
  canMergeAdjacent,
  vmaMergeNeighbours,
  vmaMergeNext,
  vmaModify,
  vmasInRange,
} from './vma-merge.js';
export { madvise, madviseBehaviorValid, madviseCheck } from './madvise.js';
export { mprotect } from './mprotect.js';
export { mremap } from './mremap.js';
export { forkMm } from './fork.js';
export { exitMmap } from './exit.js';
export { folioVmaRange, vmaAddress, type VmaPageRange } from './vma-address.js';
export { PageTableMap, pmdIndexOf, pmdIndexOfVpn, pteIndexOfVpn, vpnOf } from './page-table.js';
export {
  allocByPolicy,
  getVmaPolicy,
  interleaveNid,
  policyNode,
  policyNodemask,
  vmaAllocFolio,
} from './alloc.js';

// Memory policies: allocation, the page walk of mbind / migrate_pages, VMA policies.
export {
  allocPagesNodemask,
  nodesWithMemory,
  nodeZonelist,
  offsetIlNode,
  TaskMempolicies,
} from './mempolicy.js';
export { nodeOfAddress, queuePagesRange, vmaMigratable } from './mempolicy-walk.js';
export {
  mbindRange,
  mpolRebindMm,
  vmaReplacePolicy,
} from './mempolicy-vma.js';

// anon_vma.
export {
  anonVmaAlloc,
  anonVmaClone,
  anonVmaFork,
  anonVmaLockRead,
  anonVmaLockWrite,
  anonVmaPrepare,
  folioAnonVma,
  folioGetAnonVma,
  folioLockAnonVmaRead,
  getAnonVma,
  putAnonVma,
  unlinkAnonVmas,
} from './anon-vma.js';

// Mapcount and rmap accounting, pins.
export {
  folioAddNewAnonRmap,
  folioCancelDirty,
  folioMarkDirty,
  folioPmdMappable,
  pageAddAnonRmap,
  pageAddFileRmap,
  pageDupRmap,
  pageMoveAnonRmap,
  pageRemoveRmap,
} from './rmap-accounting.js';
export {
  folioMaybeDmaPinned,
  folioPin,
  folioUnpinCount,
  pageTryDupAnonRmap,
  pageTryShareAnonRmap,
  pinRefs,
} from './dma-pinned.js';

// The page cache (i_pages) and file truncation.
export {
  filemapAddFolio,
  filemapRemoveFolio,
  hugetlbAddToPageCache,
  pageCacheReplaceFolio,
} from './page-cache.js';
export { type FilemapFaultResult, filemapFault } from './filemap.js';
export { invalidateMappingPages, truncateInodePages } from './truncate.js';

// Mapped hugetlb: the hugetlbfs inode and VMA state, faults, rmap.
export {
  folioPgoff,
  HugetlbInode,
  HugetlbRmap,
  HugetlbVmaPrivate,
  hugetlbOf,
  isVmHugetlbPage,
  vmaHugecacheOffset,
} from './hugetlb-state.js';
export { allocHugetlbFolioVma, hugetlbFault } from './hugetlb-fault.js';
export { hugetlbFolioPut } from './hugetlb-rmap.js';

// Faults and user accesses.
export { mmCounter, mmCounterFile, type VmFault } from './vm-fault.js';
export { handleMmFault } from './fault.js';
export { doAnonymousPage } from './fault-anon.js';
export { doFault } from './fault-file.js';
export { doWpPage } from './wp-fault.js';
export {
  doHugePmdAnonymousPage,
  doHugePmdWpPage,
  hugePmdSetAccessed,
  thpEligible,
} from './huge-fault.js';
export {
  doUserAddrFault,
  faultError,
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
  userFault,
  userFaultPlainPath,
} from './user-access.js';
export { pinUserPage, releasePin, unpinUserPage } from './gup.js';
export { migrationEntryWait, pmdMigrationEntryWait } from './migration-entry-wait.js';

// rmap walks, try_to_migrate and remove_migration_ptes.
export { rmapWalk, rmapWalkLocked } from './rmap-walk.js';
export {
  folioStableNode,
  KsmMmSlot,
  KsmState,
  ksmDoScan,
  ksmMadvise as ksmMadviseStep,
  ksmState,
  rmapWalkKsm,
} from './ksm.js';
export { type PageVmaMappedVisitor, pageVmaMappedWalk } from './page-vma-mapped.js';
export { tryToMigrate } from './try-to-migrate.js';
export { removeMigrationPtes } from './remove-migration-ptes.js';
export { splitHugePmd, splitHugePmdLocked } from './split-huge-pmd.js';

// TLBs: the per-CPU entries, flushes, the per-task unmap batch, zapping.
export { CpuTlb } from './cpu-tlb.js';
export {
  cpuTlb,
  dropMmTlbs,
  type FlushRange,
  flushTlbMm,
  flushTlbMmRange,
  flushTlbOthersAndLocal,
  flushTlbPage,
  flushTlbPmd,
  flushTlbRange,
  TLB_DIRTY,
  TLB_WRITE,
  tlbEntry,
} from './tlb.js';
export {
  flushTlbBatchedPending,
  setTlbUbcFlushPending,
  shouldDeferFlush,
  taskTlbBatch,
  tlbFlushBatchedGenerations,
  tryToUnmapFlush,
  tryToUnmapFlushDirty,
} from './tlb-batch.js';
export { MmuGather, tlbFreePages, zapRange } from './zap.js';

// Releasing folios: folio_put through the LRU hooks.
export { folioAddLruVma, folioPutRefsFast, folioPutRefsSlow } from './folio-release.js';

// Views and checks over the state.
export { decodeEntry, entryAt, folioMappings, followPage, lookupPte } from './view.js';
export { assertRmap, checkRmap } from './invariants.js';
export { IncrementalRmapState, TableRecord } from './invariants/incremental.js';
export { checkRmapReference } from './invariants/reference.js';
export { rmapStateOf } from './virtual-memory.js';

// mlock (mm/mlock.c) on the rmap side, soft-dirty's clear_refs and pagemap.
export { mlockDrainLocal, mlockVmaFolio, munlockVmaFolio } from './mlock.js';
export { mlockRange } from './mlock-syscall.js';
export { clearRefs, pagemapEntry } from './pagemap.js';
