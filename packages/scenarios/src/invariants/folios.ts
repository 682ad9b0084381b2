import {
  type Folio,
  folioNrPages,
  nodeSpannedPages,
  nodeStartPfn,
  type PhysicalMemory,
  pfnFolio,
  pfnValid,
} from '@mmsim/folio';

/**
 * Calls `fn` for the head of every allocated folio (free and pooled frames are skipped).
 * Only the nodes' pfn ranges are walked: the frames between one node's end and the next
 * node's aligned start are holes (`createPhysicalMemory`), which `memmap-consistent`
 * checks, so a scan of the holes here would only repeat that check (on the 64-page nodes
 * of the historic scenarios, the holes are seven eighths of the pfns).
 */
export function forEachFolio(mem: PhysicalMemory, fn: (folio: Folio) => void): void {
  for (let nid = 0; nid < mem.nrNodes; nid++) {
    const start = nodeStartPfn(mem, nid);
    const end = start + nodeSpannedPages(mem, nid);
    for (let pfn = start; pfn < end; ) {
      if (!pfnValid(mem, pfn)) {
        pfn++;
        continue;
      }
      const folio = pfnFolio(mem, pfn);
      if (folio !== pfn) {
        pfn++;
        continue;
      }
      fn(folio);
      pfn += folioNrPages(mem, folio);
    }
  }
}
