import {
  assertPhysicalMemory,
  type Folio,
  folioAlloc,
  folioCopyContents,
  folioNid,
  folioNrPages,
  folioPut,
  HPAGE_PMD_ORDER,
  nodeStats,
  type PhysicalMemory,
  pageContent,
  setPageContent,
} from '@mmsim/folio';
import { ENOMEM } from '@mmsim/runtime';

export interface MoveReport {
  readonly folios: number;
  readonly basePages: number;
  readonly moved: number;
  readonly failed: number;
  readonly freeBefore: readonly number[];
  readonly freeAfter: readonly number[];
  readonly contentsIntact: boolean;
}

/**
 * The data path of a migration without its locking: fill folios on node 0 with content
 * words, allocate a target of the same order on node 1 (__GFP_THISNODE, as
 * alloc_migration_target does), copy, release the source, and check every word arrived.
 */
export function moveFoliosBetweenNodes(mem: PhysicalMemory, count: number): MoveReport {
  const free = () => Array.from({ length: mem.nrNodes }, (_, nid) => nodeStats(mem, nid).freePages);
  const orders = Array.from({ length: count }, (_, i) => (i === 0 ? HPAGE_PMD_ORDER : i % 3));
  const sources: Folio[] = [];
  let word = 1;
  for (const order of orders) {
    const folio = folioAlloc(mem, order, 0, { thisNode: true });
    if (folio < 0) throw new Error(`node 0 is too small for the demo (${folio})`);
    for (let i = 0; i < folioNrPages(mem, folio); i++) setPageContent(mem, folio + i, word++);
    sources.push(folio);
  }
  const freeBefore = free();
  let moved = 0;
  let failed = 0;
  let basePages = 0;
  let contentsIntact = true;
  const targets: Folio[] = [];
  for (const src of sources) {
    const nr = folioNrPages(mem, src);
    basePages += nr;
    const dst = folioAlloc(mem, Math.log2(nr), 1, { thisNode: true });
    if (dst === -ENOMEM) {
      failed++;
      continue;
    }
    folioCopyContents(mem, dst, src);
    for (let i = 0; i < nr; i++) {
      if (pageContent(mem, dst + i) !== pageContent(mem, src + i)) contentsIntact = false;
    }
    if (folioNid(mem, dst) !== 1) contentsIntact = false;
    folioPut(mem, src);
    targets.push(dst);
    moved++;
  }
  const freeAfter = free();
  for (const dst of targets) folioPut(mem, dst);
  assertPhysicalMemory(mem);
  return { folios: count, basePages, moved, failed, freeBefore, freeAfter, contentsIntact };
}
