/**
 * Sizes of the modelled machine (x86-64, 4 KiB base pages, Linux 6.3).
 *
 * 6.3 meaning of MAX_ORDER: it is exclusive. The buddy allocator hands out orders
 * 0..MAX_ORDER-1 (0..10), and the largest block is MAX_ORDER_NR_PAGES = 1 << (MAX_ORDER - 1)
 * pages (4 MiB). Linux 6.4 (commit 23baf831a32c, "mm, treewide: redefine MAX_ORDER
 * sanely") made MAX_ORDER inclusive (= 10); code ported from 6.4+ must subtract nothing.
 */
export const MAX_ORDER = 11;

/** Pages in the largest buddy block, and the alignment of every node's first pfn. */
export const MAX_ORDER_NR_PAGES = 1 << (MAX_ORDER - 1);

/** Order of a PMD-mapped THP and of a 2 MiB hugetlb page (x86-64: PMD_SHIFT - PAGE_SHIFT). */
export const HPAGE_PMD_ORDER = 9;

/** Base pages in a PMD-sized folio. */
export const HPAGE_PMD_NR = 1 << HPAGE_PMD_ORDER;

/** x86-64 default CONFIG_NODES_SHIFT = 6. */
export const MAX_NUMNODES = 64;

/** "No preferred node" in the kernel's allocation interfaces. */
export const NUMA_NO_NODE = -1;

/** `LOCAL_DISTANCE` (include/linux/topology.h): a node's distance to itself in the SLIT. */
export const LOCAL_DISTANCE = 10;
/** `REMOTE_DISTANCE` (include/linux/topology.h): `node_distance` between nodes without a SLIT. */
export const REMOTE_DISTANCE = 20;
/** The largest reachable SLIT entry (255 means "unreachable"; the model has no such node). */
export const MAX_NODE_DISTANCE = 254;

/** Largest number of pages one node may have in the model (64 GiB of 4 KiB pages). */
export const MAX_NODE_PAGES = 1 << 24;

/** Largest pfn span (nodes plus the alignment gaps between them) the model will allocate. */
export const MAX_TOTAL_PFNS = 1 << 25;
