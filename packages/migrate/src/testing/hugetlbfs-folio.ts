import { type Folio, folioNrPages, setPageContent } from '@mmsim/folio';
import type { AddressSpaceView } from '@mmsim/rmap';
import type { MigrateMachine } from './machine.js';

/**
 * A hugetlbfs page-cache folio: a hugetlb folio from node `nid`'s pool (active and
 * migratable), cached at `index` of `file` (the cache holds its one reference), its 512
 * content words set to `base + i`. Returns the folio.
 */
export function hugetlbfsFolio(
  m: MigrateMachine,
  file: AddressSpaceView,
  index: number,
  nid: number,
  base: number,
): Folio {
  const folio = m.core.hugetlbAllocActive(nid, { thisNode: true });
  if (folio < 0) throw new Error('no hugetlb page');
  m.vm.hugetlbAddToPageCache(file, folio, index);
  for (let i = 0; i < folioNrPages(m.mem, folio); i++) setPageContent(m.mem, folio + i, base + i);
  return folio;
}
