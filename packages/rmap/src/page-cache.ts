import {
  type Folio,
  folioIndex,
  folioMapping,
  folioNid,
  folioNrPages,
  folioRefAdd,
  folioSetFlag,
  folioSetIndex,
  folioSetMapping,
  folioTestHugetlb,
  folioTryGet,
  HPAGE_PMD_ORDER,
  PG_swapbacked,
  type PhysicalMemory,
} from '@mmsim/folio';
import { type KernelGen, MmsimError, NodeStat } from '@mmsim/runtime';
import type { AddressSpace } from './address-space.js';
import { folioAddLruVma } from './folio-release.js';
import type { AddressSpaceView } from './readonly-views.js';
import type { RmapState } from './rmap-state.js';

/**
 * A file's page cache, `mapping->i_pages` (mm/filemap.c, Linux 6.3): the one module that
 * stores into `AddressSpace.pages` (everyone else sees a `ReadonlyMap`). It adds, looks
 * up, removes and replaces cached folios, and keeps `nr_file_pages` / `nr_shmem` with them.
 *
 * Large page-cache folios: a folio of order n holds one cache reference per page, as
 * `filemap_add_folio` leaves it, but `i_pages` keeps one slot per folio, at its first
 * index (the rmap checks want each slot's folio to have that index, as hugetlbfs folios
 * do); `filemapGetEntry` finds it from any of its indices. `folio_migrate_mapping` of
 * `@mmsim/migrate` expects a slot per page: a large page-cache folio can be isolated, split
 * (when nothing pins it) or fail to migrate, but not be migrated whole. A split stores
 * every piece at its own index (`pageCacheSplitFolio`), after which the pieces migrate.
 */

/** The writable xarray behind `as.pages`. */
function iPages(as: AddressSpace): Map<number, Folio> {
  return as.pages as Map<number, Folio>;
}

/**
 * `__filemap_add_folio(mapping, folio, index)` (mm/filemap.c, 6.3) for a locked folio the
 * caller holds a reference on: it gets the file as mapping (swap-backed for shmem) and
 * `index`, one cache reference per page, the slot at `index`, and is counted in
 * `nr_file_pages` (and `nr_shmem`).
 */
function addToPageCache(ctx: RmapState, as: AddressSpace, folio: Folio, index: number): void {
  const mem = ctx.mem;
  const nr = folioNrPages(mem, folio);
  folioSetMapping(mem, folio, 0, as);
  folioSetIndex(mem, folio, index);
  folioRefAdd(mem, folio, nr);
  if (as.shmem) folioSetFlag(mem, folio, PG_swapbacked);
  iPages(as).set(index, folio);
  const nid = folioNid(mem, folio);
  ctx.vmstat.modNodePageState(nid, NodeStat.NR_FILE_PAGES, nr);
  if (as.shmem) ctx.vmstat.modNodePageState(nid, NodeStat.NR_SHMEM, nr);
}

/**
 * `filemap_add_folio(mapping, folio, index, gfp)` (mm/filemap.c, 6.3) for a new folio the
 * caller holds a reference on: `__folio_set_locked`, `__filemap_add_folio`, then
 * `folio_add_lru` when an LRU is attached. The folio comes back locked; the caller unlocks
 * it once its contents are read.
 */
export function* filemapAddFolio(
  ctx: RmapState,
  as: AddressSpace,
  folio: Folio,
  index: number,
): KernelGen {
  ctx.locks.folioTrylock(folio, 'filemap_add_folio');
  addToPageCache(ctx, as, folio, index);
  yield* folioAddLruVma(ctx, folio, null); // folio_add_lru
}

/**
 * `hugetlb_add_to_page_cache` (mm/hugetlb.c, 6.3) as the model keeps hugetlbfs: the folio
 * gets the file as mapping and `index` (in huge pages), takes the slot, and the caller's
 * reference becomes the cache's one reference. Hugetlb folios are not counted in
 * `nr_file_pages` and never go on the LRU.
 */
export function hugetlbAddToPageCache(
  mem: PhysicalMemory,
  as: AddressSpace,
  folio: Folio,
  index: number,
): void {
  if (!folioTestHugetlb(mem, folio)) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `hugetlbAddToPageCache: folio ${folio} is not a hugetlb folio (use filemapAddFolio)`,
    );
  }
  folioSetMapping(mem, folio, 0, as);
  folioSetIndex(mem, folio, index);
  iPages(as).set(index, folio);
}

/**
 * The folio caching page `index` of `as`, or undefined: the slot at `index`, else a large
 * folio whose first index is below it. The lookup of `mapping_get_entry` (mm/filemap.c,
 * 6.3; `filemap_get_entry` from 6.4) without its reference.
 */
export function filemapGetEntry(
  mem: PhysicalMemory,
  as: AddressSpaceView,
  index: number,
): Folio | undefined {
  const direct = as.pages.get(index);
  if (direct !== undefined) return direct;
  for (let order = 1; order <= HPAGE_PMD_ORDER; order++) {
    const first = index - (index % (1 << order));
    if (first === index) continue;
    const folio = as.pages.get(first);
    if (folio !== undefined && folioIndex(mem, folio) === first) {
      return index - first < folioNrPages(mem, folio) ? folio : undefined;
    }
  }
  return undefined;
}

/**
 * `filemap_get_folio(mapping, index)` (mm/filemap.c, 6.3): the cached folio with a
 * reference for the caller (`folio_try_get`, retried when a migration has it frozen), or
 * -1 when nothing is cached at `index`.
 */
export function* filemapGetFolio(
  mem: PhysicalMemory,
  as: AddressSpaceView,
  index: number,
): KernelGen<Folio> {
  for (;;) {
    const folio = filemapGetEntry(mem, as, index);
    if (folio === undefined) return -1;
    if (folioTryGet(mem, folio)) return folio;
    yield; // frozen: a migration is replacing it; look again
  }
}

/**
 * `__filemap_remove_folio` (mm/filemap.c, 6.3) for a locked, unmapped folio cached at
 * `index`: the slot is cleared, `filemap_unaccount_folio` takes it out of `nr_file_pages`
 * (and `nr_shmem`; hugetlb folios were never counted) and `page_cache_delete` clears its
 * mapping. The cache's references stay with the caller, who puts them.
 */
export function filemapRemoveFolio(
  ctx: RmapState,
  as: AddressSpace,
  folio: Folio,
  index: number,
): void {
  const mem = ctx.mem;
  iPages(as).delete(index);
  if (!folioTestHugetlb(mem, folio)) {
    const nr = folioNrPages(mem, folio);
    const nid = folioNid(mem, folio);
    ctx.vmstat.modNodePageState(nid, NodeStat.NR_FILE_PAGES, -nr);
    if (as.shmem) ctx.vmstat.modNodePageState(nid, NodeStat.NR_SHMEM, -nr);
  }
  folioSetMapping(mem, folio, 0, null);
}

/**
 * The page-cache half of `folio_migrate_mapping` (mm/migrate.c, 6.3): the `__xa_store` of
 * `dst` in place of `src` at every index `src` occupies. The model keeps a large folio as
 * one multi-index entry, in the slot of its first index (as `filemap_add_folio` stores it
 * and `filemapGetEntry` finds it), so that one slot is the one replaced, whatever
 * `nrPages`. The caller moves the cache's references (`folio_ref_add(dst, nr)`, and src's
 * share when it unfreezes it), and has already given `dst` src's mapping and index.
 */
export function pageCacheReplaceFolio(
  as: AddressSpace,
  src: Folio,
  dst: Folio,
  index: number,
  _nrPages: number,
): void {
  const slots = iPages(as);
  if (slots.get(index) !== src) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `replaceFolio: ${as.name} does not cache folio ${src} at index ${index}`,
    );
  }
  slots.set(index, dst);
}

/**
 * The page-cache half of splitting a large page-cache folio, for the caller of the
 * folio-level split (`splitFolio` of `@mmsim/folio`) right after it succeeded: the
 * `xas_split` of `split_huge_page_to_list` and the per-tail
 * `__xa_store(&mapping->i_pages, head[i].index, head + i, 0)` of `__split_huge_page`
 * (mm/huge_memory.c, Linux 6.3), so that each new order-0 folio is found at its own index.
 * `folio` is the former head, cached at `index`, and `nrPages` the folio's size before the
 * split. The pieces already hold their cache reference and mapping / index (the split
 * gives them), and `nr_file_pages` / `nr_shmem` do not change: 6.3 moves only
 * NR_FILE_THPS / NR_SHMEM_THPS (which the model does not keep) and drops pages beyond
 * EOF (the model has no i_size). A piece that is not this file's page at `index + i`, or
 * a slot that is not the one the large folio had, is a misuse: it throws and changes
 * nothing.
 */
export function pageCacheSplitFolio(
  mem: PhysicalMemory,
  as: AddressSpace,
  folio: Folio,
  index: number,
  nrPages: number,
): void {
  const slots = iPages(as);
  if (slots.get(index) !== folio) {
    throw new MmsimError(
      'CONTRACT_VIOLATION',
      `splitFolio: ${as.name} does not cache folio ${folio} at index ${index}`,
    );
  }
  for (let i = 0; i < nrPages; i++) {
    const piece = folio + i;
    const slot = slots.get(index + i);
    if (
      folioNrPages(mem, piece) !== 1 ||
      folioMapping(mem, piece) !== as ||
      folioIndex(mem, piece) !== index + i ||
      (i > 0 && slot !== undefined)
    ) {
      throw new MmsimError(
        'CONTRACT_VIOLATION',
        `splitFolio: page ${piece} of the split folio ${folio} is not an order-0 folio of ${as.name} at free index ${index + i}`,
      );
    }
  }
  for (let i = 1; i < nrPages; i++) slots.set(index + i, folio + i);
}
