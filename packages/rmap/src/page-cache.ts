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
  HPAGE_PMD_NR,
  PG_swapbacked,
  type PhysicalMemory,
} from '@mmsim/folio';
import {
  EEXIST,
  FP_FOLIO,
  FP_MAPPING,
  type KernelGen,
  MmsimError,
  NodeStat,
  type Runtime,
} from '@mmsim/runtime';
import type { AddressSpace } from './address-space.js';
import { folioAddLruVma, folioAddLruVmaPlain } from './folio-release.js';
import type { AddressSpaceView } from './readonly-views.js';
import type { RmapState } from './rmap-state.js';

/**
 * A file's page cache, `mapping->i_pages` (mm/filemap.c, Linux 6.3): the one module that
 * stores into `AddressSpace.pages` (everyone else sees a `ReadonlyMap`). It adds, looks
 * up, removes and replaces cached folios, and keeps `nr_file_pages` / `nr_shmem` /
 * `nr_shmem_hugepages` / `nr_file_hugepages` with them.
 *
 * Large page-cache folios: a folio of order n is a multi-index entry of the kernel's
 * xarray (`xas_set_order` in `__filemap_add_folio` and `shmem_add_to_page_cache`, 6.3).
 * The model keeps one slot per page, as the xarray's lookups see it: every index the folio
 * covers maps to the folio itself (its head pfn), so a lookup of any index finds it, and
 * `mapping->nrpages` (`as.nrPages`) counts pages. The folio holds one cache reference per
 * page. Adding, replacing (migration) and removing a large folio store or clear all of its
 * slots in one atomic step, as the kernel does under the i_pages lock; a split stores each
 * piece in its own slot (`pageCacheSplitFolio`). Hugetlbfs folios are the exception: they
 * are indexed in huge pages, one slot and one reference each.
 */

/** The writable xarray behind `as.pages`. */
function iPages(as: AddressSpace): Map<number, Folio> {
  return as.pages as Map<number, Folio>;
}

/**
 * Whether a page-cache folio of `nr` pages counts in NR_SHMEM_THPS / NR_FILE_THPS:
 * `folio_test_pmd_mappable` (include/linux/huge_mm.h, 6.3), order >= HPAGE_PMD_ORDER.
 */
function pmdMappable(nr: number): boolean {
  return nr >= HPAGE_PMD_NR;
}

/**
 * The per-node counters of a page-cache folio of `nr` pages joining (`sign` 1) or leaving
 * (-1) the cache: nr_file_pages, and nr_shmem for shmem; a PMD-mappable folio also counts
 * in nr_shmem_hugepages (NR_SHMEM_THPS: `shmem_add_to_page_cache` /
 * `filemap_unaccount_folio`, 6.3) or, for other files, nr_file_hugepages (NR_FILE_THPS:
 * `__filemap_add_folio` / `filemap_unaccount_folio`, 6.3). Counted in base pages, as the
 * kernel's lruvec state is (/proc/vmstat prints the THP items divided by HPAGE_PMD_NR).
 */
function accountCacheFolio(
  ctx: RmapState,
  as: AddressSpace,
  nid: number,
  nr: number,
  sign: number,
): void {
  const vmstat = ctx.vmstat;
  vmstat.modNodePageState(nid, NodeStat.NR_FILE_PAGES, sign * nr);
  if (as.shmem) vmstat.modNodePageState(nid, NodeStat.NR_SHMEM, sign * nr);
  if (pmdMappable(nr)) {
    vmstat.modNodePageState(
      nid,
      as.shmem ? NodeStat.NR_SHMEM_HUGEPAGES : NodeStat.NR_FILE_HUGEPAGES,
      sign * nr,
    );
  }
}

/**
 * Whether `nr` slots of `as` from `index` are free: `xas_find_conflict` of
 * `__filemap_add_folio` (mm/filemap.c, 6.3) finding nothing.
 */
function slotsFree(as: AddressSpaceView, index: number, nr: number): boolean {
  for (let i = 0; i < nr; i++) if (as.pages.has(index + i)) return false;
  return true;
}

/**
 * `__filemap_add_folio(mapping, folio, index)` (mm/filemap.c, 6.3; for shmem
 * `shmem_add_to_page_cache`, mm/shmem.c) for a locked folio the caller holds a reference
 * on, whose slots are free: it gets the file as mapping (swap-backed for shmem) and
 * `index`, one cache reference per page, every slot from `index` (the multi-index entry),
 * and is counted in the node's page-cache counters (`accountCacheFolio`).
 */
function addToPageCache(ctx: RmapState, as: AddressSpace, folio: Folio, index: number): void {
  const mem = ctx.mem;
  const nr = folioNrPages(mem, folio);
  folioSetMapping(mem, folio, 0, as);
  folioSetIndex(mem, folio, index);
  folioRefAdd(mem, folio, nr);
  if (as.shmem) folioSetFlag(mem, folio, PG_swapbacked);
  const slots = iPages(as);
  for (let i = 0; i < nr; i++) slots.set(index + i, folio);
  accountCacheFolio(ctx, as, folioNid(mem, folio), nr, 1);
}

/**
 * `filemap_add_folio(mapping, folio, index, gfp)` (mm/filemap.c, 6.3) for a new folio the
 * caller holds a reference on: `__folio_set_locked`, `__filemap_add_folio`, then
 * `folio_add_lru` when an LRU is attached. The folio comes back locked; the caller unlocks
 * it once its contents are read. Returns 0, or -EEXIST (nothing changed) when one of the
 * indices the folio would cover is cached already (`xas_find_conflict`). An `index` that
 * is not a multiple of the folio's size is a misuse (the kernel's
 * `VM_BUG_ON_FOLIO(index & (folio_nr_pages(folio) - 1))`): INVALID_ARGUMENT.
 */
export function* filemapAddFolio(
  ctx: RmapState,
  as: AddressSpace,
  folio: Folio,
  index: number,
): KernelGen<number> {
  const nr = folioNrPages(ctx.mem, folio);
  if (!Number.isInteger(index) || index < 0 || index % nr !== 0) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `filemap_add_folio: index ${String(index)} of a ${nr}-page folio must be a non-negative multiple of ${nr}`,
    );
  }
  if (!slotsFree(as, index, nr)) return -EEXIST;
  ctx.locks.folioTrylock(folio, 'filemap_add_folio');
  addToPageCache(ctx, as, folio, index);
  yield* folioAddLruVma(ctx, folio, null); // folio_add_lru
  return 0;
}

/**
 * `filemapAddFolio` (above) as plain calls when its `folio_add_lru` is uncontended
 * (`folioAddLruVmaPlain`): 0 or -EEXIST, or, once the folio is in the cache and its LRU
 * add may wait, the generator that finishes the add and returns 0 (run it at once with
 * `yield*`, in the same step). The same steps, charges and results as `filemapAddFolio`.
 */
export function filemapAddFolioPlain(
  ctx: RmapState,
  as: AddressSpace,
  folio: Folio,
  index: number,
): number | KernelGen<number> {
  const nr = folioNrPages(ctx.mem, folio);
  if (!Number.isInteger(index) || index < 0 || index % nr !== 0) {
    return filemapAddFolio(ctx, as, folio, index); // its INVALID_ARGUMENT
  }
  if (!slotsFree(as, index, nr)) return -EEXIST;
  ctx.locks.folioTrylock(folio, 'filemap_add_folio');
  addToPageCache(ctx, as, folio, index);
  if (folioAddLruVmaPlain(ctx, folio, null)) return 0;
  return addLruThen(ctx, folio);
}

/** The `folio_add_lru` of `filemapAddFolio` when it may wait; returns 0. */
function* addLruThen(ctx: RmapState, folio: Folio): KernelGen<number> {
  yield* folioAddLruVma(ctx, folio, null);
  return 0;
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
 * The folio caching page `index` of `as`, or undefined: the slot at `index`, which every
 * page of a large folio has. The lookup of `mapping_get_entry` (mm/filemap.c, 6.3;
 * `filemap_get_entry` from 6.4) without its reference.
 */
export function filemapGetEntry(
  _mem: PhysicalMemory,
  as: AddressSpaceView,
  index: number,
): Folio | undefined {
  return as.pages.get(index);
}

/**
 * What `filemapTryGetFolio` returns when the cached folio is frozen (a migration is
 * replacing it): the caller passes a scheduling point and looks again.
 */
export const FILEMAP_GET_FROZEN = -2;

/**
 * One try of `filemap_get_folio(mapping, index)` (mm/filemap.c, 6.3; the `repeat:` loop of
 * `mapping_get_entry`) as a plain call: the cached folio with a reference for the caller
 * (`folio_try_get`), -1 when nothing is cached at `index`, or `FILEMAP_GET_FROZEN` when the
 * folio is frozen (nothing taken; the kernel retries, the model after a scheduling point).
 * Given the runtime `rt`, the try records what it touches for partial-order reduction: a
 * read of the page cache, a write of the folio. `filemapGetFolio` is this in a loop.
 */
export function filemapTryGetFolio(
  mem: PhysicalMemory,
  as: AddressSpaceView,
  index: number,
  rt: Runtime | null = null,
): Folio {
  if (rt !== null) rt.touchKernel(FP_MAPPING, as.id, false);
  const folio = filemapGetEntry(mem, as, index);
  if (folio === undefined) return -1;
  if (rt !== null) rt.touchKernel(FP_FOLIO, folio, true);
  return folioTryGet(mem, folio) ? folio : FILEMAP_GET_FROZEN;
}

/**
 * `filemap_get_folio(mapping, index)` (mm/filemap.c, 6.3): the cached folio with a
 * reference for the caller (`folio_try_get`, retried when a migration has it frozen), or
 * -1 when nothing is cached at `index`. Given the runtime `rt`, each try records what it
 * touches for partial-order reduction: a read of the page cache, a write of the folio.
 * Each try is `filemapTryGetFolio`, which callers may run first as a plain call.
 */
export function* filemapGetFolio(
  mem: PhysicalMemory,
  as: AddressSpaceView,
  index: number,
  rt: Runtime | null = null,
): KernelGen<Folio> {
  for (;;) {
    const folio = filemapTryGetFolio(mem, as, index, rt);
    if (folio !== FILEMAP_GET_FROZEN) return folio;
    yield; // frozen: a migration is replacing it; look again
  }
}

/**
 * `__filemap_remove_folio` (mm/filemap.c, 6.3) for a locked, unmapped folio cached at
 * `index` (its first index): every slot of the folio is cleared (`page_cache_delete`
 * stores NULL in the whole multi-index entry), `filemap_unaccount_folio` takes it out of
 * the node's counters (hugetlb folios were never counted) and its mapping is cleared. The
 * cache's references stay with the caller, who puts them (`folio_put_refs(folio, nr)` of
 * `filemap_free_folio`).
 */
export function filemapRemoveFolio(
  ctx: RmapState,
  as: AddressSpace,
  folio: Folio,
  index: number,
): void {
  const mem = ctx.mem;
  const slots = iPages(as);
  if (folioTestHugetlb(mem, folio)) {
    slots.delete(index);
  } else {
    const nr = folioNrPages(mem, folio);
    for (let i = 0; i < nr; i++) slots.delete(index + i);
    accountCacheFolio(ctx, as, folioNid(mem, folio), nr, -1);
  }
  folioSetMapping(mem, folio, 0, null);
}

/**
 * The page-cache half of `folio_migrate_mapping` (mm/migrate.c, 6.3): the `xas_store` of
 * `dst` in place of `src` at every index `src` occupies (`nrPages` slots from `index`, the
 * folio's first index: 6.3 stores dst in each of them, `xas_next` between). A hugetlbfs
 * folio (`nrPages` 1 from `migrate_huge_page_move_mapping`) has its one slot. The caller
 * moves the cache's references (`folio_ref_add(dst, nr)`, and src's share when it
 * unfreezes it), and has already given `dst` src's mapping and index. A slot that does
 * not hold `src` is a misuse: INVALID_ARGUMENT, and nothing changes.
 */
export function pageCacheReplaceFolio(
  as: AddressSpace,
  src: Folio,
  dst: Folio,
  index: number,
  nrPages: number,
): void {
  const slots = iPages(as);
  for (let i = 0; i < nrPages; i++) {
    if (slots.get(index + i) !== src) {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        `replaceFolio: ${as.name} does not cache folio ${src} at index ${index + i}`,
      );
    }
  }
  for (let i = 0; i < nrPages; i++) slots.set(index + i, dst);
}

/**
 * The page-cache half of splitting a large page-cache folio, for the caller of the
 * folio-level split (`splitFolio` of `@mmsim/folio`) right after it succeeded: the
 * `xas_split` of `split_huge_page_to_list` and the per-tail
 * `__xa_store(&mapping->i_pages, head[i].index, head + i, 0)` of `__split_huge_page`
 * (mm/huge_memory.c, Linux 6.3), so that each new order-0 folio is found at its own index
 * (the head keeps the first slot). `folio` is the former head, cached at `index`, and
 * `nrPages` the folio's size before the split. The pieces already hold their cache
 * reference and mapping / index (the split gives them). nr_file_pages / nr_shmem do not
 * change; NR_SHMEM_THPS / NR_FILE_THPS, which `split_huge_page_to_list` lowers next to its
 * `xas_split`, are the caller's (`split_folio_to_list` of `@mmsim/migrate`, whose variant
 * says which folios count). Pages beyond EOF are not dropped (the model has no i_size). A piece
 * that is not this file's page at `index + i`, or a slot that does not hold the large
 * folio, is a misuse: it throws and changes nothing.
 */
export function pageCacheSplitFolio(
  mem: PhysicalMemory,
  as: AddressSpace,
  folio: Folio,
  index: number,
  nrPages: number,
): void {
  const slots = iPages(as);
  for (let i = 0; i < nrPages; i++) {
    if (slots.get(index + i) !== folio) {
      throw new MmsimError(
        'CONTRACT_VIOLATION',
        `splitFolio: ${as.name} does not cache folio ${folio} at index ${index + i}`,
      );
    }
  }
  for (let i = 0; i < nrPages; i++) {
    const piece = folio + i;
    if (
      folioNrPages(mem, piece) !== 1 ||
      folioMapping(mem, piece) !== as ||
      folioIndex(mem, piece) !== index + i
    ) {
      throw new MmsimError(
        'CONTRACT_VIOLATION',
        `splitFolio: page ${piece} of the split folio ${folio} is not an order-0 folio of ${as.name} at index ${index + i}`,
      );
    }
  }
  for (let i = 1; i < nrPages; i++) slots.set(index + i, folio + i);
}
