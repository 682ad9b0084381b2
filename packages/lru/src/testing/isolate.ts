import { type Folio, FolioList, folioGet, folioNrPages, folioPut } from '@mmsim/folio';
import { type KernelGen, NodeStat } from '@mmsim/runtime';
import type { LruMachine } from './machine.js';

/** A fresh empty folio list, e.g. for isolated folios. */
export function newList(m: Pick<LruMachine, 'mem'>): FolioList {
  return new FolioList(m.mem);
}

/**
 * Isolates folios as move_pages(2) does in `add_page_for_migration` (mm/migrate.c,
 * Linux 6.3): drain the per-CPU LRU batches, then for each folio take a lookup reference,
 * `folio_isolate_lru`, add it to the tail of `list`, account NR_ISOLATED in base pages
 * and drop the lookup reference. Returns how many were isolated.
 */
export function* isolateFolios(
  m: LruMachine,
  folios: readonly Folio[],
  list: FolioList,
): KernelGen<number> {
  yield* m.lru.lruAddDrainAll();
  let n = 0;
  for (const folio of folios) {
    folioGet(m.mem, folio);
    if (yield* m.lru.folioIsolateLru(folio)) {
      list.addTail(folio);
      m.lru.nodeStatModFolio(folio, m.lru.folioIsolatedItem(folio), folioNrPages(m.mem, folio));
      n++;
    }
    folioPut(m.mem, folio);
  }
  return n;
}

/** NR_ISOLATED_ANON + NR_ISOLATED_FILE over every node (0 once every isolation is undone). */
export function nrIsolated(m: Pick<LruMachine, 'vmstat'>): number {
  return (
    m.vmstat.globalNodePageState(NodeStat.NR_ISOLATED_ANON) +
    m.vmstat.globalNodePageState(NodeStat.NR_ISOLATED_FILE)
  );
}
