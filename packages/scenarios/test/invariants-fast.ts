import {
  folioNid,
  folioNrPages,
  HPAGE_PMD_NR,
  hugetlbNodeCounters,
  nodeFreeIsolatedPages,
  nodeFreePages,
  nodeOfflinePages,
  nodeSpannedPages,
  nodeStartPfn,
  nodeStats,
  pfnFolio,
  pfnValid,
} from '@mmsim/folio';
import { memmapOf, physicalMemoryLooksSound, reportPhysicalMemory } from '@mmsim/folio/internal';
import type { Kernel } from '@mmsim/kernel';
import { lruLooksSound, lruStateOf, reportLru } from '@mmsim/lru/internal';
import type { Invariant } from '@mmsim/runtime';
import type { Scenario } from '../src/index.js';
import { framesConserved } from '../src/invariants/frames.js';
import { firstProblem } from '../src/invariants/invariant.js';

/**
 * The frame count of `frames-conserved` as it was before `folioPagesByNode`: the folio walk
 * through the public accessors, one call per frame. Kept here only to compare with.
 */
export function frameCountBefore(k: Kernel): string[] {
  const mem = k.mem;
  const used = new Array<number>(mem.nrNodes).fill(0);
  for (let nid = 0; nid < mem.nrNodes; nid++) {
    const start = nodeStartPfn(mem, nid);
    const end = start + nodeSpannedPages(mem, nid);
    for (let pfn = start; pfn < end; ) {
      if (!pfnValid(mem, pfn) || pfnFolio(mem, pfn) !== pfn) {
        pfn++;
        continue;
      }
      const nr = folioNrPages(mem, pfn);
      const at = folioNid(mem, pfn);
      used[at] = (used[at] as number) + nr;
      pfn += nr;
    }
  }
  const problems: string[] = [];
  for (let nid = 0; nid < mem.nrNodes; nid++) {
    const isolated = nodeFreeIsolatedPages(mem, nid);
    const offline = nodeOfflinePages(mem, nid);
    const freePages = nodeFreePages(mem, nid);
    const freeHugePages = hugetlbNodeCounters(mem, nid).free_hugepages;
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

/** What the comparison saw over a run. */
export interface Comparison {
  /** States compared (every step and the end). */
  states: number;
  /** States where the reports found a problem (the fast forms must say so too). */
  unsound: number;
  /** One line per state where the two forms disagreed. */
  readonly mismatches: string[];
}

/**
 * The scenario with one more invariant, run after every step and at the end, that compares
 * the fast and the reporting forms of memmap-consistent, frames-conserved (its step check)
 * and lru-consistent (its step and end checks) on the same state, counting into `seen`.
 */
export function comparing(scenario: Scenario, seen: Comparison): Scenario {
  return {
    ...scenario,
    build(k: Kernel) {
      const world = scenario.build(k);
      const frames = framesConserved(k, 1);
      const check: Invariant = {
        name: 'fast-equals-report',
        check(phase) {
          seen.states++;
          // frames-conserved's step count before this step's memory-map passes: it walks the
          // chunks stamped since the last sound pass (after them, it takes that pass's counts).
          const framesEarly = frames.check('step');
          const report = reportPhysicalMemory(k.mem);
          // The incremental pass first (it skips what changed since the last step's passes).
          const incremental = physicalMemoryLooksSound(memmapOf(k.mem), true);
          const sound = physicalMemoryLooksSound(memmapOf(k.mem));
          if (incremental !== sound) {
            seen.mismatches.push(`${phase}: incremental pass ${incremental}, full pass ${sound}`);
          }
          if (sound !== (report.length === 0)) {
            seen.mismatches.push(`${phase}: looks sound ${sound} but the report says ${report}`);
          }
          const framesBefore = firstProblem(frameCountBefore(k));
          const framesNow = frames.check('step');
          if (framesBefore !== framesNow || framesBefore !== framesEarly) {
            seen.mismatches.push(
              `${phase}: frames ${framesBefore} before, ${framesEarly} walked, ${framesNow} now`,
            );
          }
          const s = lruStateOf(k.lruView);
          const lruReport = reportLru(s, { scanMemory: false });
          const lruSound = lruLooksSound(s);
          if (lruSound !== (lruReport.length === 0)) {
            seen.mismatches.push(`${phase}: lru looks sound ${lruSound} but ${lruReport}`);
          }
          const lruNow = k.lruView.check({ scanMemory: false });
          if (JSON.stringify(lruNow) !== JSON.stringify(lruReport)) {
            seen.mismatches.push(`${phase}: lru check ${lruNow} but report ${lruReport}`);
          }
          // With the memory scan (lru-consistent's end check), at every step too.
          const scanReport = reportLru(s, { scanMemory: true });
          if (lruLooksSound(s, true) !== (scanReport.length === 0)) {
            seen.mismatches.push(`${phase}: lru with the scan disagrees: ${scanReport}`);
          }
          if (report.length > 0 || framesBefore !== null || lruReport.length > 0) seen.unsound++;
          return null;
        },
      };
      return { ...world, invariants: [...(world.invariants ?? []), check] };
    },
  };
}
