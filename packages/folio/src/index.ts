/**
 * @mmsim/folio: the page and folio model of mmsim (Linux 6.3). Physical memory is a
 * structure-of-arrays memmap indexed by pfn; a folio is its head pfn.
 */

// Allocation and freeing.
export {
  type AllocOptions,
  folioAlloc,
  nodeFreeList,
  nodeFreePages,
  nodeNrFree,
} from './buddy.js';
// The machine: nodes, memmap, pfn lookups.
export {
  HPAGE_PMD_NR,
  HPAGE_PMD_ORDER,
  MAX_NODE_PAGES,
  MAX_NUMNODES,
  MAX_ORDER,
  MAX_ORDER_NR_PAGES,
  MAX_TOTAL_PFNS,
  NUMA_NO_NODE,
} from './constants.js';
export { folioCopyContents, pageContent, setPageContent } from './content.js';
export * from './flags.js';
// Folio fields.
export { folioNrPages, folioOrder, folioTestLarge } from './folio.js';
// Lists, split, checks.
export { FolioList, folioOnList } from './folio-list.js';
export {
  allocHugetlbFolio,
  folioTestHugetlb,
  hugetlbFreeHugePages,
  hugetlbFreeList,
  hugetlbNrHugePages,
} from './hugetlb.js';
export { assertPhysicalMemory, checkPhysicalMemory } from './invariants.js';
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
export type { Folio, PhysicalMemory, SwapAddressSpaceResolver } from './memmap.js';
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
  createPhysicalMemory,
  folioNid,
  type NodeConfig,
  type NodeStats,
  nodeSpannedPages,
  nodeStartPfn,
  nodeStats,
  type PhysicalMemoryConfig,
  pfnFolio,
  pfnToNid,
  pfnValid,
} from './physical-memory.js';
export {
  folioAttachPrivate,
  folioDetachPrivate,
  folioGetPrivate,
  folioSetPrivate,
  pagePrivate,
  setPagePrivate,
} from './private.js';
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
export { splitFolio } from './split.js';
export { isZeroPfn } from './zero-page.js';
