import {
  type Folio,
  folioClearFlag,
  folioGet,
  folioGetPrivate,
  folioIndex,
  folioMappingKind,
  folioNid,
  folioNrPages,
  folioPut,
  folioRawMapping,
  folioRefAdd,
  folioRefCount,
  folioRefFreeze,
  folioRefUnfreeze,
  folioSetFlag,
  folioSetIndex,
  folioSetMapping,
  folioSetPrivate,
  folioTestFlag,
  folioTestSwapcache,
  HPAGE_PMD_NR,
  type MappingKind,
  memmapReader,
  PG_dirty,
  PG_private,
  PG_private_2,
  PG_swapbacked,
  PG_swapcache,
  type PhysicalMemory,
  readerIsFolio,
  readerMapping,
} from '@mmsim/folio';
import { EAGAIN, MmsimError, NodeStat } from '@mmsim/runtime';
import type { PageCacheMapping } from './address-space-operations.js';
import { MIGRATEPAGE_SUCCESS } from './constants.js';
import { mappingCanWriteback } from './mapping-can-writeback.js';
import type { MigrateServices } from './migrate-services.js';

/**
 * `folio_expected_refs(mapping, folio)` (mm/migrate.c, 6.3): the references a folio that
 * nobody else uses holds once it is unmapped: 1 for the isolating caller, plus one per
 * page for the page cache (or swap cache) when `mapping` is not null, plus 1 for
 * PG_private data.
 */
export function folioExpectedRefs(
  services: MigrateServices,
  mapping: object | null,
  folio: Folio,
): number {
  let refs = 1;
  if (mapping === null) return refs;
  refs += folioNrPages(services.mem, folio);
  if (folioTestFlag(services.mem, folio, PG_private)) refs++;
  return refs;
}

function pageCache(mapping: object, where: string): PageCacheMapping {
  const pc = mapping as Partial<PageCacheMapping>;
  if (typeof pc.replaceFolio !== 'function') {
    throw new MmsimError(
      'CONTRACT_VIOLATION',
      `${where}: the folio's mapping has no replaceFolio (i_pages); page-cache mappings must implement PageCacheMapping`,
    );
  }
  return pc as PageCacheMapping;
}

/**
 * A transient reference of another user: taken, the check of `folio_migrate_mapping` (the
 * anon refcount test, or the `folio_ref_freeze` cmpxchg, both `refcount == expected`)
 * made, dropped. True when the check fails with it, as it does whenever src is as the
 * check expects.
 */
function transientRefFails(mem: PhysicalMemory, src: Folio, expected: number): boolean {
  folioGet(mem, src);
  const fails = folioRefCount(mem, src) !== expected;
  folioPut(mem, src);
  return fails;
}

/**
 * `folio_migrate_mapping(mapping, newfolio, folio, extra_count)` (mm/migrate.c, 6.3).
 *
 * Anonymous folio (`mapping` null): if its refcount is not `expected + extra_count`,
 * -EAGAIN; otherwise dst takes src's index, mapping (the anon_vma tag included) and
 * PG_swapbacked. No freeze: nobody can find an unmapped anon folio to take a reference.
 *
 * Page cache or swap cache: under the i_pages lock (the model's step is atomic, so no lock
 * object), freeze src's refcount at exactly `expected + extra_count` or give up with
 * -EAGAIN. From there on there is no turning back: dst takes index and mapping, one cache
 * reference per page, PG_swapbacked (and PG_swapcache with `private`, the swap entry),
 * PG_dirty moves from src to dst, dst replaces src in every `i_pages` slot src had (a
 * large folio is a multi-index entry: 6.3 stores dst at each of its `nr` indices), and src
 * is unfrozen to `expected - nr` (its cache references gone). When the nodes differ (one
 * zone per node in the model), the node counters move: nr_file_pages, nr_shmem for shmem
 * (swap-backed and not swap cache), and nr_dirty (NR_FILE_DIRTY) for a dirty folio of a
 * mapping that can write back. nr_shmem_hugepages (NR_SHMEM_THPS) of a PMD-size shmem
 * folio moves only with the variant's `migrateMovesShmemThps` (6.5): 6.3 leaves it on the
 * old node. 6.3 never moves NR_FILE_THPS here (nor does 6.5). NR_SWAPCACHE and
 * NR_ZONE_WRITE_PENDING are not kept by the model's vmstat.
 */
export function folioMigrateMapping(
  services: MigrateServices,
  mapping: object | null,
  dst: Folio,
  src: Folio,
  extraCount: number,
): number {
  const mem = services.mem;
  const expected = folioExpectedRefs(services, mapping, src) + extraCount;
  // src's fields are read through the memmap reader once `folio_nr_pages` found it a live
  // head (the accessor throws its error otherwise): src is locked, unmapped and holds the
  // isolation reference, so nothing below frees it.
  const r = memmapReader(mem);
  const nr = readerIsFolio(r, src) ? 1 << r.order[src]! : folioNrPages(mem, src);
  // Fault site migrate.extra_ref: a speculative folio_try_get (GUP-fast, a page-cache
  // lookup) holds src across the check below; the count, or the freeze, sees one too many.
  if (services.extraRefFault?.fire() === true && transientRefFails(mem, src, expected)) {
    return -EAGAIN;
  }
  if (mapping === null) {
    if (r.refcount[src] !== expected) return -EAGAIN;
    // No turning back from here. (An anon index, its vpn, stays an unboxed double here.)
    folioSetIndex(mem, dst, r.index[src]!);
    folioSetMapping(mem, dst, r.mappingKind[src] as MappingKind, readerMapping(r, src));
    if ((r.flags[src]! & (1 << PG_swapbacked)) !== 0) folioSetFlag(mem, dst, PG_swapbacked);
    return MIGRATEPAGE_SUCCESS;
  }
  const cache = pageCache(mapping, 'folio_migrate_mapping');
  const oldNid = folioNid(mem, src);
  const newNid = folioNid(mem, dst);
  if (!folioRefFreeze(mem, src, expected)) return -EAGAIN;
  // Nobody else is looking at src now: no turning back.
  const index = folioIndex(mem, src);
  folioSetIndex(mem, dst, index);
  folioSetMapping(mem, dst, folioMappingKind(mem, src), folioRawMapping(mem, src));
  folioRefAdd(mem, dst, nr);
  const swapbacked = folioTestFlag(mem, src, PG_swapbacked);
  const swapcache = folioTestSwapcache(mem, src);
  if (swapbacked) {
    folioSetFlag(mem, dst, PG_swapbacked);
    if (swapcache) {
      folioSetFlag(mem, dst, PG_swapcache);
      folioSetPrivate(mem, dst, folioGetPrivate(mem, src));
    }
  }
  // Move dirty while the refs are frozen and dst is not yet visible.
  const dirty = folioTestFlag(mem, src, PG_dirty);
  if (dirty) {
    folioClearFlag(mem, src, PG_dirty);
    folioSetFlag(mem, dst, PG_dirty);
  }
  cache.replaceFolio(src, dst, index, nr);
  // Drop src's cache references by unfreezing to fewer; this is not the last one.
  folioRefUnfreeze(mem, src, expected - nr);
  if (oldNid !== newNid) {
    const vmstat = services.vmstat;
    vmstat.modNodePageState(oldNid, NodeStat.NR_FILE_PAGES, -nr);
    vmstat.modNodePageState(newNid, NodeStat.NR_FILE_PAGES, nr);
    if (swapbacked && !swapcache) {
      vmstat.modNodePageState(oldNid, NodeStat.NR_SHMEM, -nr);
      vmstat.modNodePageState(newNid, NodeStat.NR_SHMEM, nr);
      if (services.migrateMovesShmemThps === true && nr >= HPAGE_PMD_NR) {
        vmstat.modNodePageState(oldNid, NodeStat.NR_SHMEM_HUGEPAGES, -nr);
        vmstat.modNodePageState(newNid, NodeStat.NR_SHMEM_HUGEPAGES, nr);
      }
    }
    if (dirty && mappingCanWriteback(mapping)) {
      vmstat.modNodePageState(oldNid, NodeStat.NR_DIRTY, -nr);
      vmstat.modNodePageState(newNid, NodeStat.NR_DIRTY, nr);
    }
  }
  return MIGRATEPAGE_SUCCESS;
}

/**
 * `migrate_huge_page_move_mapping(mapping, dst, src)` (mm/migrate.c, 6.3), for a
 * hugetlbfs page-cache folio: freeze src at `2 + folio_has_private(src)` (the page cache
 * and the isolation reference) or -EAGAIN; dst takes index and mapping and one reference
 * for the cache; dst replaces src in `i_pages` (one entry: hugetlbfs indexes in huge
 * pages); src is unfrozen to one less. No node counters: hugetlb pages are not in
 * nr_file_pages.
 */
export function migrateHugePageMoveMapping(
  services: MigrateServices,
  mapping: object,
  dst: Folio,
  src: Folio,
): number {
  const mem = services.mem;
  const cache = pageCache(mapping, 'migrate_huge_page_move_mapping');
  const hasPrivate =
    folioTestFlag(mem, src, PG_private) || folioTestFlag(mem, src, PG_private_2) ? 1 : 0;
  const expected = 2 + hasPrivate;
  if (!folioRefFreeze(mem, src, expected)) return -EAGAIN;
  const index = folioIndex(mem, src);
  folioSetIndex(mem, dst, index);
  folioSetMapping(mem, dst, folioMappingKind(mem, src), folioRawMapping(mem, src));
  folioGet(mem, dst);
  cache.replaceFolio(src, dst, index, 1);
  folioRefUnfreeze(mem, src, expected - 1);
  return MIGRATEPAGE_SUCCESS;
}
