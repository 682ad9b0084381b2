import {
  type Folio,
  FRAME_HEAD,
  FRAME_TAIL,
  folioNrPages,
  frameView,
  nodeSpannedPages,
  nodeStartPfn,
  type PhysicalMemory,
} from '@mmsim/folio';

/**
 * Calls `fn` for the head of every allocated folio (free and pooled frames are skipped).
 * Only the nodes' pfn ranges are walked: the frames between one node's end and the next
 * node's aligned start are holes (`createPhysicalMemory`), which `memmap-consistent`
 * checks, so a scan of the holes here would only repeat that check (on the 64-page nodes
 * of the historic scenarios, the holes are seven eighths of the pfns).
 *
 * The walk reads the memory map's arrays (`frameView`) where it used `pfnValid`,
 * `pfnFolio` and `folioNrPages` per frame, and visits the same frames: a head (it jumps
 * past its pages), and a tail that names itself as its head (which `pfnFolio` takes for a
 * folio: `fn` gets it, then `folioNrPages` throws on it, as before); every other frame of
 * a node (free, pooled, offline, another tail) is stepped over.
 */
export function forEachFolio(mem: PhysicalMemory, fn: (folio: Folio) => void): void {
  const m = frameView(mem);
  const state = m.state;
  const order = m.order;
  const headOf = m.headOf;
  for (let nid = 0; nid < mem.nrNodes; nid++) {
    const start = nodeStartPfn(mem, nid);
    const end = start + nodeSpannedPages(mem, nid);
    for (let pfn = start; pfn < end; ) {
      const s = state[pfn];
      if (s === FRAME_HEAD) {
        fn(pfn);
        pfn += 1 << order[pfn]!;
      } else if (s === FRAME_TAIL && headOf[pfn] === pfn) {
        fn(pfn);
        pfn += folioNrPages(mem, pfn);
      } else pfn++;
    }
  }
}
