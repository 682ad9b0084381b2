import {
  allocHugetlbFolio,
  allocMigrateHugetlbFolio,
  allocPfn,
  createPhysicalMemory,
  declareCmaArea,
  FolioList,
  folioAlloc,
  MEMORY_OFFLINE,
  MIGRATE_MOVABLE,
  offlineIsolatedPages,
  type PhysicalMemory,
  startIsolatePageRange,
} from '../src/index.js';
import { PAGEBLOCK_NR_PAGES as PB } from '../src/pageblock.js';

/**
 * A machine in many of the states the checks know: folios of several orders and a THP,
 * a folio list, hugetlb folios pooled, in use and temporary, a CMA area with a page in
 * use, an isolated block with a page in use, an offline block, holes between the nodes.
 */
export function richMemory(): PhysicalMemory {
  const mem = createPhysicalMemory({
    nodes: [{ pages: 4096, hugetlbPages: 2 }, { pages: 2048 }],
  });
  const list = new FolioList(mem);
  for (const order of [0, 0, 1, 2, 9]) list.addTail(folioAlloc(mem, order, 0) as number);
  folioAlloc(mem, 3, 1);
  allocHugetlbFolio(mem, 0);
  allocMigrateHugetlbFolio(mem, 1);
  const base = 4096;
  declareCmaArea(mem, base + 2 * PB, PB);
  allocPfn(mem, base + 2 * PB + 5);
  // The temporary hugetlb folio took the block at base + PB: isolated with a folio in use.
  startIsolatePageRange(mem, base + PB, base + 2 * PB, MIGRATE_MOVABLE, MEMORY_OFFLINE);
  startIsolatePageRange(mem, base + 3 * PB, base + 4 * PB, MIGRATE_MOVABLE, MEMORY_OFFLINE);
  offlineIsolatedPages(mem, base + 3 * PB, base + 4 * PB);
  return mem;
}

/** A small deterministic generator (mulberry32), so a failure names its trial. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
