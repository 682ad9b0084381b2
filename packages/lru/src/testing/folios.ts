import {
  type Folio,
  folioAlloc,
  folioRefCount,
  folioSetFlag,
  folioSetMapping,
  PAGE_MAPPING_ANON,
  PG_swapbacked,
  type PhysicalMemory,
} from '@mmsim/folio';

function allocOnNode(mem: PhysicalMemory, nid: number, order: number): Folio {
  const folio = folioAlloc(mem, order, nid, { thisNode: true });
  if (folio < 0) throw new Error(`allocation of order ${order} on node ${nid} failed`);
  return folio;
}

/** An anonymous folio (PG_swapbacked, anon mapping) with one reference, on node `nid`. */
export function anonFolio(mem: PhysicalMemory, nid = 0, order = 0): Folio {
  const folio = allocOnNode(mem, nid, order);
  folioSetFlag(mem, folio, PG_swapbacked);
  folioSetMapping(mem, folio, PAGE_MAPPING_ANON, { anonVma: folio });
  return folio;
}

/** A page-cache folio of `mapping` (no PG_swapbacked) with one reference. */
export function fileFolio(mem: PhysicalMemory, nid = 0, order = 0, mapping: object = {}): Folio {
  const folio = allocOnNode(mem, nid, order);
  folioSetMapping(mem, folio, 0, mapping);
  return folio;
}

/** A shmem folio: page cache, but PG_swapbacked (so it lives on the anon lists). */
export function shmemFolio(mem: PhysicalMemory, nid = 0, order = 0): Folio {
  const folio = fileFolio(mem, nid, order, { shmem: true });
  folioSetFlag(mem, folio, PG_swapbacked);
  return folio;
}

/** The refcount of each folio, to compare before and after an operation. */
export function refcounts(m: { readonly mem: PhysicalMemory }, folios: readonly Folio[]): number[] {
  return folios.map((f) => folioRefCount(m.mem, f));
}
