import { ENOMEM } from '@mmsim/runtime';
import { type AllocOptions, prepNewFolio } from './buddy.js';
import { HPAGE_PMD_NR, HPAGE_PMD_ORDER } from './constants.js';
import { PG_head } from './flags.js';
import {
  checkFolio,
  checkNid,
  FOLIO_TYPE_HUGETLB,
  type Folio,
  FRAME_POOL_HEAD,
  FRAME_POOL_TAIL,
  type Memmap,
  memmapOf,
  type PhysicalMemory,
} from './memmap.js';

/**
 * Per-node pools of 2 MiB hugetlb folios (mm/hugetlb.c, Linux 6.3): `hugepage_freelists[nid]`
 * with the `nr_huge_pages_node` / `free_huge_pages_node` counters of the default hstate.
 * Pages are reserved from the buddy when the memory is created (`hugetlbPages` per node, as
 * `hugepages=` on the command line) and never go back to it. Surplus pages, reservations
 * and gigantic pages are not modelled.
 */

/**
 * `enqueue_hugetlb_folio`: put a free hugetlb folio at the head of its node's pool list.
 * The frames keep their compound shape, as the kernel keeps a free huge page compound.
 */
export function enqueueHugetlbFolio(m: Memmap, folio: number): void {
  const nid = m.nid[folio]!;
  m.state[folio] = FRAME_POOL_HEAD;
  m.order[folio] = HPAGE_PMD_ORDER;
  m.folioType[folio] = FOLIO_TYPE_HUGETLB;
  m.headOf[folio] = folio;
  m.flags[folio] = 1 << PG_head;
  for (let p = folio + 1; p < folio + HPAGE_PMD_NR; p++) {
    m.state[p] = FRAME_POOL_TAIL;
    m.headOf[p] = folio;
  }
  const head = m.hugeFreeHead[nid]!;
  m.next[folio] = head;
  m.prev[folio] = -1;
  if (head >= 0) m.prev[head] = folio;
  m.hugeFreeHead[nid] = folio;
  m.freeHugePages[nid]!++;
}

/** `dequeue_hugetlb_folio_node_exact`: take the first folio of a node's pool, or -1. */
function dequeueHugetlbFolio(m: Memmap, nid: number): number {
  const folio = m.hugeFreeHead[nid]!;
  if (folio < 0) return -1;
  const next = m.next[folio]!;
  m.hugeFreeHead[nid] = next;
  if (next >= 0) m.prev[next] = -1;
  m.next[folio] = -1;
  m.freeHugePages[nid]!--;
  return folio;
}

/**
 * Allocates a hugetlb folio from node `nid`'s pool, falling back to the other nodes by
 * distance unless `thisNode` (a model of `alloc_hugetlb_folio` /
 * `dequeue_hugetlb_folio_nodemask`, Linux 6.3). Returns the folio (order 9, refcount 1,
 * `folioTestHugetlb` true, content 0) or `-ENOMEM` when the pools are empty. The last
 * `folioPut` returns it to the pool of its node, not to the buddy.
 */
export function allocHugetlbFolio(
  mem: PhysicalMemory,
  nid: number,
  options?: AllocOptions,
): Folio | number {
  const m = memmapOf(mem);
  checkNid(m, nid);
  let folio = dequeueHugetlbFolio(m, nid);
  if (folio < 0 && options?.thisNode !== true) {
    const zonelist = m.fallback[nid]!;
    for (let i = 1; i < zonelist.length && folio < 0; i++) {
      folio = dequeueHugetlbFolio(m, zonelist[i]!);
    }
  }
  if (folio < 0) return -ENOMEM;
  prepNewFolio(m, folio, HPAGE_PMD_ORDER, FOLIO_TYPE_HUGETLB);
  return folio;
}

/** `folio_test_hugetlb`: the folio is a hugetlb page (from a pool, never from the buddy). */
export function folioTestHugetlb(mem: PhysicalMemory, folio: Folio): boolean {
  const m = memmapOf(mem);
  checkFolio(m, folio);
  return m.folioType[folio] === FOLIO_TYPE_HUGETLB;
}

/** `nr_huge_pages_node[nid]`: hugetlb folios that belong to node `nid`'s pool, free or not. */
export function hugetlbNrHugePages(mem: PhysicalMemory, nid: number): number {
  const m = memmapOf(mem);
  checkNid(m, nid);
  return m.nrHugePages[nid]!;
}

/** `free_huge_pages_node[nid]`: hugetlb folios free in node `nid`'s pool. */
export function hugetlbFreeHugePages(mem: PhysicalMemory, nid: number): number {
  const m = memmapOf(mem);
  checkNid(m, nid);
  return m.freeHugePages[nid]!;
}

/** The free hugetlb folios of node `nid`'s pool, head of the list first. */
export function hugetlbFreeList(mem: PhysicalMemory, nid: number): Folio[] {
  const m = memmapOf(mem);
  checkNid(m, nid);
  const out: Folio[] = [];
  for (
    let p = m.hugeFreeHead[nid]!;
    p >= 0 && out.length <= m.freeHugePages[nid]!;
    p = m.next[p]!
  ) {
    out.push(p);
  }
  return out;
}
