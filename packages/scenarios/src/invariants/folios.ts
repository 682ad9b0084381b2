import { type Folio, folioNrPages, type PhysicalMemory, pfnFolio, pfnValid } from '@mmsim/folio';

/** Calls `fn` for the head of every allocated folio (free and pooled frames are skipped). */
export function forEachFolio(mem: PhysicalMemory, fn: (folio: Folio) => void): void {
  for (let pfn = 0; pfn < mem.maxPfn; ) {
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
