// biome-ignore-all assist/source/organizeImports: this file is the package's table of contents, kept in reading order by section
/**
 * @mmsim/folio: the page and folio model of mmsim (Linux 6.3). Physical memory is a
 * structure-of-arrays memmap indexed by pfn; a folio is its head pfn.
 *
 * This is the public surface: the machine, the kernel's folio and page functions, and the
 * constants. The memmap behind `PhysicalMemory` and the raw free lists are in
 * `@mmsim/folio/internal`, which may change in any release.
 */

// The machine: nodes, memmap, pfn lookups.
export type { Folio, PhysicalMemory } from './memmap.js';
// Read-only per-frame arrays for cheap whole-memory checks (invariants).
export { type FrameView, frameView } from './frame-view.js';
export { LRU_MARK_SHIFT } from './memmap.js';
// Unchecked, inlinable reads of a folio's fields for hot paths of other packages.
export {
  type MemmapReader,
  memmapReader,
  type ReadonlyFrameArray,
  readerFolioMapcount,
  readerFolioMapped,
  readerIsFolio,
  readerMapping,
} from './memmap-reader.js';
export {
  FOLIO_TYPE_HUGETLB,
  FOLIO_TYPE_NORMAL,
  FRAME_FREE,
  FRAME_HEAD,
  FRAME_HOLE,
  FRAME_POOL_TAIL,
  FRAME_TAIL,
} from './memmap.js';
export {
  checkNodeDistances,
  createPhysicalMemory,
  folioNid,
  MAX_MEMORY_COST_FACTOR,
  type NodeConfig,
  type NodeMemoryCosts,
  nodeDistance,
  nodeDistances,
  nodeFallbackOrder,
  nodeMemoryCosts,
  pageAccessFactor,
  pageCopyFactor,
  type NodeStats,
  nodeSpannedPages,
  nodeStartPfn,
  nodeStats,
  type PhysicalMemoryConfig,
  pfnFolio,
  pfnToNid,
  pfnValid,
  frameArrayI32,
  frameArrayU8,
  machineBuffer,
  releasePhysicalMemory,
  memoryAttachment,
  setMemoryAttachment,
} from './physical-memory.js';
export { BufferRecycler, type BufferRecyclerOptions } from './buffer-recycler.js';
export { type ByteWords, byteWords } from './byte-words.js';
export {
  HPAGE_PMD_NR,
  HPAGE_PMD_ORDER,
  LOCAL_DISTANCE,
  MAX_NODE_DISTANCE,
  MAX_NODE_PAGES,
  MAX_NUMNODES,
  MAX_ORDER,
  MAX_ORDER_NR_PAGES,
  MAX_TOTAL_PFNS,
  NUMA_NO_NODE,
  REMOTE_DISTANCE,
} from './constants.js';
export { isZeroPfn } from './zero-page.js';

// Allocation and freeing: the buddy allocator and the hugetlb pools.
export { type AllocOptions, folioAlloc, nodeFreePages, nodeNrFree } from './buddy.js';
export {
  dissolveFreeHugeFolio,
  isFreeBuddyPage,
  numPoisonedPages,
  numPoisonedPagesInc,
  takePageOffBuddy,
} from './memory-failure.js';
export type { AllocFailureHook } from './memmap.js';
export {
  allocFailureHook,
  allocPfn,
  buddyOrderAt,
  isolateFreeBlock,
  setAllocFailureHook,
} from './buddy.js';
export {
  clearPageblockSkip,
  getPageblockMigratetype,
  getPageblockSkip,
  isMigrateMovable,
  MIGRATE_CMA,
  MIGRATE_HIGHATOMIC,
  MIGRATE_ISOLATE,
  MIGRATE_MOVABLE,
  MIGRATE_PCPTYPES,
  MIGRATE_RECLAIMABLE,
  MIGRATE_TYPES,
  MIGRATE_UNMOVABLE,
  MIGRATETYPE_NAMES,
  PAGEBLOCK_NR_PAGES,
  PAGEBLOCK_ORDER,
  pageblockAligned,
  pageblockEndPfn,
  pageblockStartPfn,
  resetPageblockSkip,
  setPageblockMigratetype,
  setPageblockSkip,
} from './pageblock.js';
// Zones: ZONE_NORMAL and the optional per-node ZONE_MOVABLE; longterm-pinnable folios.
export {
  folioIsLongtermPinnable,
  folioIsZoneMovable,
  isMigrateCmaPage,
  isZoneMovablePage,
  MODEL_ZONES,
  pageZonenum,
  populatedZone,
  ZONE_DMA,
  ZONE_DMA32,
  ZONE_MOVABLE,
  ZONE_NAMES,
  ZONE_NORMAL,
  zoneEndPfn,
  zoneFreePages,
  zoneMovablePages,
  zoneMovablePfn,
  zoneNrFree,
  zoneStartPfn,
} from './zone.js';
export {
  allocContigOuterStart,
  declareCmaArea,
  dissolveFreeHugePages,
  freeContigRange,
  hasUnmovablePages,
  isolateFreepagesRange,
  MEMORY_OFFLINE,
  nodeFreeCmaPages,
  nodeFreeIsolatedPages,
  nodeOfflinePages,
  offlineIsolatedPages,
  onlinePages,
  pfnOffline,
  REPORT_FAILURE,
  setMigratetypeIsolate,
  startIsolatePageRange,
  testPagesIsolatedScan,
  undoIsolatePageRange,
  unsetMigratetypeIsolate,
} from './page-isolation.js';
export {
  allocHugetlbFolio,
  allocHugetlbFolioNodemask,
  allocMigrateHugetlbFolio,
  allocSurplusHugetlbFolio,
  folioTestHugetlb,
  folioTestHugetlbTemporary,
  type HugetlbMeminfo,
  type HugetlbNodeCounters,
  allocHugetlbFolioForFault,
  hugetlbAcctMemory,
  hugetlbBuddyAllocEvents,
  hugetlbFreeHugePages,
  hugetlbMeminfo,
  type HugetlbNodemaskOptions,
  hugetlbMoveTemporaryState,
  hugetlbNodeCounters,
  hugetlbNrHugePages,
  hugetlbNrOvercommitHugePages,
  hugetlbResvHugePages,
  hugetlbSetNrOvercommitHugePages,
  hugetlbSurplusHugePages,
} from './hugetlb.js';

// Folio fields: size, flags, reference count, mapcount, mapping, private, contents.
export { folioNrPages, folioOrder, folioTestLarge } from './folio.js';
export * from './flags.js';
export {
  folioClearFlag,
  folioFlags,
  folioSetFlag,
  folioTestClearFlag,
  folioTestFlag,
  folioTestSetFlag,
  folioTestSwapcache,
  pageClearFlag,
  pageSetFlag,
  pageTestFlag,
} from './page-flags.js';
export {
  folioGet,
  folioPut,
  folioPutRefs,
  folioRefAdd,
  folioRefCount,
  folioRefFreeze,
  folioRefSub,
  folioRefUnfreeze,
  folioTryGet,
} from './refcount.js';
export {
  folioEntireMapcount,
  folioEntireMapcountDec,
  folioEntireMapcountInc,
  folioMapcount,
  folioMapped,
  pageMapcount,
  pageMapcountDec,
  pageMapcountInc,
} from './mapcount.js';
export {
  folioIndex,
  folioMapping,
  folioMappingKind,
  folioRawMapping,
  folioSetIndex,
  folioSetMapping,
  folioTestAnon,
  folioTestKsm,
  folioTestMovable,
  type MappingKind,
  PAGE_MAPPING_ANON,
  PAGE_MAPPING_FLAGS,
  PAGE_MAPPING_KSM,
  PAGE_MAPPING_MOVABLE,
  registerSwapAddressSpace,
} from './mapping.js';
export type { SwapAddressSpaceResolver } from './memmap.js';
export {
  folioAttachPrivate,
  folioDetachPrivate,
  folioGetPrivate,
  folioSetPrivate,
  pagePrivate,
  setPagePrivate,
} from './private.js';
export { folioCopyContents, pageContent, setPageContent } from './content.js';

// Lists and split.
export { FolioList, folioOnList } from './folio-list.js';
export { putFolioList } from './put-folio-list.js';
export { splitFolio } from './split.js';

// Checks.
export {
  assertPhysicalMemory,
  checkPhysicalMemory,
  folioPagesByNode,
  type PhysicalMemoryCheckOptions,
} from './invariants.js';
