import {
  type Folio,
  FRAME_HEAD,
  FRAME_TAIL,
  folioEntireMapcount,
  folioFlags,
  folioIndex,
  folioNid,
  folioNrPages,
  folioOrder,
  folioPagesByNode,
  folioRefCount,
  folioTestHugetlb,
  frameView,
  HPAGE_PMD_NR,
  hugetlbFreeHugePages,
  nodeFreeIsolatedPages,
  nodeFreePages,
  nodeOfflinePages,
  nodeSpannedPages,
  nodeStats,
  PG_hwpoison,
  PG_private,
  pageMapcount,
  pageTestFlag,
  pfnFolio,
} from '@mmsim/folio';
import type { Kernel } from '@mmsim/kernel';
import { GUP_PIN_COUNTING_BIAS } from '@mmsim/rmap';
import type { Invariant, InvariantPhase } from '@mmsim/runtime';
import { FolioWalk } from './folios.js';
import { firstProblem, strided } from './invariant.js';

/**
 * Frames per node: free in the buddy, free in the hugetlb pool, in allocated folios (the
 * folios' pages counted by `folioPagesByNode` on the memory map's arrays, into `used`).
 */
function frameCount(k: Kernel, used: Float64Array, phase: InvariantPhase): string[] {
  const mem = k.mem;
  folioPagesByNode(mem, used, phase === 'step', phase === 'end');
  const problems: string[] = [];
  for (let nid = 0; nid < mem.nrNodes; nid++) {
    // Free pages of isolated pageblocks are not in NR_FREE_PAGES; offline frames are no
    // longer present (memory hotplug).
    const isolated = nodeFreeIsolatedPages(mem, nid);
    const offline = nodeOfflinePages(mem, nid);
    const freePages = nodeFreePages(mem, nid);
    // (Read without the counters' object: this runs on every strided step.)
    const freeHugePages = hugetlbFreeHugePages(mem, nid);
    const total =
      freePages + isolated + offline + freeHugePages * HPAGE_PMD_NR + (used[nid] as number);
    const spanned = nodeSpannedPages(mem, nid);
    if (total !== spanned) {
      const s = nodeStats(mem, nid);
      problems.push(
        `node ${nid}: ${s.freePages} free + ${isolated} free isolated + ${offline} offline + ${s.freeHugePages * HPAGE_PMD_NR} in the hugetlb pool + ${used[nid]} in folios = ${total} frames, but the node has ${s.spannedPages}: frames were ${total < s.spannedPages ? 'lost' : 'duplicated'}`,
      );
    }
  }
  return problems;
}

/**
 * The per-node counts of `frameCount`, one array for every machine of this many nodes: the
 * count fills it afresh (`folioPagesByNode` zeroes it first) and is done with it when it
 * returns, so the machines an explorer builds one per schedule need not make their own
 * (a typed array is dearer to make than an object).
 */
let scratchUsed = new Float64Array(0);

/** `scratchUsed`, of `nrNodes` entries. */
function usedScratch(nrNodes: number): Float64Array {
  if (scratchUsed.length !== nrNodes) scratchUsed = new Float64Array(nrNodes);
  return scratchUsed;
}

/**
 * The references the model's structures hold on each folio at rest: one per page-table
 * entry (PTE or PMD), one per page-cache slot, the pins, one for attached buffers
 * (PG_private), one for a per-CPU LRU batch, one for a poisoned (PG_hwpoison) page that
 * memory failure took out of use, and those of registered holders (drivers).
 */
function expectedRefs(k: Kernel): (folio: Folio) => number {
  const mem = k.mem;
  const cache = new Map<Folio, number>();
  for (const file of k.files) {
    for (const [index, folio] of file.pages) {
      // One reference per page, counted at the folio's first slot (a large folio has a slot
      // per page, see rmap's page-cache.ts); a hugetlbfs folio has one slot and reference.
      if (folioIndex(mem, folio) !== index) continue;
      const refs = folioTestHugetlb(mem, folio) ? 1 : folioNrPages(mem, folio);
      cache.set(folio, (cache.get(folio) ?? 0) + refs);
    }
  }
  const pins = new Map<Folio, number>();
  for (const mm of k.vm.processes) {
    for (const [pfn, n] of mm.pins) {
      const folio = pfnFolio(mem, pfn);
      const refs = folioOrder(mem, folio) > 0 ? n : n * GUP_PIN_COUNTING_BIAS;
      pins.set(folio, (pins.get(folio) ?? 0) + refs);
    }
  }
  const view = k.lruView;
  const { state, mapcount, entireMapcount, headOf } = frameView(mem);
  return (folio) => {
    const entire = folioEntireMapcount(mem, folio);
    let maps = entire;
    const nr = folioNrPages(mem, folio);
    for (let p = folio; p < folio + nr; p++) {
      // pageMapcount read from the arrays for a page of a live folio; the accessor (which
      // throws) for anything else.
      const ps = state[p];
      const page =
        ps === FRAME_HEAD || ps === FRAME_TAIL
          ? mapcount[p]! + entireMapcount[headOf[p]!]!
          : pageMapcount(mem, p);
      maps += page - entire;
    }
    let refs = maps + (cache.get(folio) ?? 0) + (pins.get(folio) ?? 0);
    if ((folioFlags(mem, folio) & (1 << PG_private)) !== 0) refs++;
    // A poisoned page keeps the reference page_handle_poison took (mm/memory-failure.c).
    if (nr === 1 && pageTestFlag(mem, folio, PG_hwpoison)) refs++;
    if (view.inBatch(folio)) refs++;
    for (const h of k.referenceHolders) refs += h.refs(folio);
    return refs;
  };
}

/**
 * `frames-conserved`: no frame is lost or duplicated. On every `stride`-th step and at
 * the end, each node's frames add up: free in the buddy + free in the hugetlb pool + in
 * allocated folios = the node's size. At the end, also every folio's refcount is exactly
 * what its owners hold (mappings, page cache, pins, buffers, LRU batch, memory failure's
 * hold on a poisoned page, drivers): a folio
 * with more is a leaked, unreachable frame; one with fewer is about to be freed under its
 * users.
 *
 * Kernel rule (mm/page_alloc.c, mm/hugetlb.c, 6.3): every frame of a zone is either in the
 * buddy allocator, in a hugetlb pool (`free_huge_pages`), or in a folio someone
 * allocated; and a folio's `_refcount` is the sum of the references its users hold
 * (`folio_ref_*`). The refcount rule holds only at rest: mid-operation the kernel holds
 * transient references (isolation, GUP, a zap's gathered pages, `folio_get` in a walk),
 * which is why it is checked at the end only.
 *
 * Incremental on steps: the step count jumps over the free blocks no writer of the memory
 * map changed since it was last found sound (`folioPagesByNode`'s `incremental`), which
 * holds nothing to count, and takes the pages in folios that pass counted when no writer
 * stamped anything since (as after `memmap-consistent` on the same step); the end count
 * steps through every frame, so a write that bypassed the writers is found at the end at
 * the latest. At the end, right after `memmap-consistent`'s full check found the memory
 * map sound (with nothing written in between: the end checks run back to back), the end
 * count takes the pages in folios that check counted on its walk of every frame
 * (`folioPagesByNode`'s `afterFullCheck`), which are the count's own; after any other
 * last pass (an unsound one, an incremental one, or none) it steps through every frame.
 */
export function framesConserved(k: Kernel, stride: number): Invariant {
  return strided('frames-conserved', stride, (phase) => {
    const problems = frameCount(k, usedScratch(k.mem.nrNodes), phase);
    if (phase === 'end' && problems.length === 0) {
      const mem = k.mem;
      const expected = expectedRefs(k);
      const walk = new FolioWalk(mem);
      for (let folio = walk.first(); folio >= 0; folio = walk.next(folio)) {
        if (folio === mem.zeroPfn) continue;
        const want = expected(folio);
        const have = folioRefCount(mem, folio);
        if (have !== want) {
          problems.push(
            `folio ${folio} (node ${folioNid(mem, folio)}, order ${folioOrder(mem, folio)}) has refcount ${have} but its mappings, page cache, pins, buffers, LRU batch and drivers hold ${want}: ${have > want ? 'a reference leaked (the frame is lost)' : 'it is missing references'}`,
          );
        }
      }
    }
    return firstProblem(problems);
  });
}
