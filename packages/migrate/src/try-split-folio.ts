import {
  type Folio,
  type FolioList,
  folioEntireMapcount,
  folioIndex,
  folioMapcount,
  folioMapping,
  folioNid,
  folioNrPages,
  folioRefCount,
  folioTestAnon,
  folioTestFlag,
  folioTestKsm,
  folioTestSwapcache,
  HPAGE_PMD_NR,
  PG_swapbacked,
  PG_writeback,
  splitFolio,
} from '@mmsim/folio';
import { TTU_SPLIT_HUGE_PMD, TTU_SYNC } from '@mmsim/rmap';
import { EAGAIN, EBUSY, type KernelGen, MmsimError, NodeStat } from '@mmsim/runtime';
import type { PageCacheMapping } from './address-space-operations.js';
import { listMoveTail } from './lists.js';
import type { MigrateEnv } from './migrate-env.js';
import { MIGRATE_ASYNC, type MigrateMode } from './modes.js';

/**
 * `split_folio_to_list(folio, list)` = `split_huge_page_to_list` (mm/huge_memory.c, 6.3)
 * for a locked large folio that migration holds a reference on. The folio-level split is
 * `@mmsim/folio`'s `splitFolio` (its reference check is `can_split_folio`; the tails go to
 * the tail of `list`, last pfn first, each with one caller reference, so NR_ISOLATED needs
 * no change). `splitFolio` wants PTE mappings only; a PMD-mapped THP first goes through the
 * two rmap steps the kernel's split uses around the split itself, `unmap_folio`
 * (`try_to_migrate` with TTU_SPLIT_HUGE_PMD | TTU_SYNC, which splits the PMD into PTE
 * migration entries) and `remap_page` (`remove_migration_ptes(folio, folio)`), since the
 * `Rmap` interface offers no plain `split_huge_pmd`. The kernel's early failures come first
 * so that a folio that cannot be split keeps its PMD: -EBUSY under writeback, for an
 * anonymous folio that is not mapped (no anon_vma) or is KSM, or for a file folio with no
 * mapping; -EAGAIN when the references are not `mapcount + 1 + cache pins`
 * (`can_split_folio`). Returns 0 or that error.
 *
 * A page-cache folio's `i_pages` belongs to rmap's page-cache module, which `@mmsim/folio`
 * cannot reach: once `splitFolio` succeeded, this caller has the mapping store every piece
 * at its own index (`PageCacheMapping.splitEntry`: the `xas_split` and per-tail
 * `__xa_store` that 6.3 does under the same i_pages lock, with no step in between here).
 * A file mapping without `splitEntry` is refused before anything changes. Anonymous
 * folios need nothing: the model keeps no swap-cache xarray. A page-cache folio's split
 * lowers nr_shmem_hugepages (swap-backed) or nr_file_hugepages by its pages: in 6.3 for
 * every large folio, which drives the counter negative for folios smaller than a PMD
 * (they were never counted); with the variant's `splitThpCountersPmdOnly` (Stefan Roesch,
 * "mm: Fix for negative counter: nr_file_hugepages", 6.7) only for PMD-size ones. 6.3
 * zaps the PTE mappings of a file folio before the split (`unmap_folio` uses
 * `try_to_unmap` for it); the model turns them into migration entries and restores them
 * as for anonymous folios (see docs/model-vs-kernel.md#page-cache).
 */
export function* splitFolioToList(
  env: MigrateEnv,
  folio: Folio,
  list: FolioList,
): KernelGen<number> {
  const mem = env.mem;
  if (folioEntireMapcount(mem, folio) > 0) {
    if (folioTestFlag(mem, folio, PG_writeback)) return -EBUSY;
    const anon = folioTestAnon(mem, folio);
    if (anon && folioTestKsm(mem, folio)) return -EBUSY;
    if (!anon && folioMapping(mem, folio) === null) return -EBUSY;
    const cachePins = !anon || folioTestSwapcache(mem, folio) ? folioNrPages(mem, folio) : 0;
    if (folioRefCount(mem, folio) !== folioMapcount(mem, folio) + 1 + cachePins) return -EAGAIN;
    yield* env.rmap.tryToMigrate(folio, TTU_SPLIT_HUGE_PMD | TTU_SYNC);
    yield* env.rmap.removeMigrationPtes(folio, folio, false);
  }
  const mapping = folioTestAnon(mem, folio) ? null : folioMapping(mem, folio);
  if (mapping === null) return splitFolio(mem, folio, list);
  const cache = mapping as Partial<PageCacheMapping>;
  if (typeof cache.splitEntry !== 'function') {
    throw new MmsimError(
      'CONTRACT_VIOLATION',
      `split_folio_to_list: the mapping of folio ${folio} has no splitEntry (i_pages); page-cache mappings must implement PageCacheMapping`,
    );
  }
  const index = folioIndex(mem, folio);
  const nr = folioNrPages(mem, folio);
  const nid = folioNid(mem, folio);
  const shmem = folioTestFlag(mem, folio, PG_swapbacked);
  const rc = splitFolio(mem, folio, list);
  if (rc === 0) {
    cache.splitEntry(mem, folio, index, nr);
    // split_huge_page_to_list, next to xas_split: NR_SHMEM_THPS / NR_FILE_THPS lose the
    // folio's pages; 6.3 does it for every large page-cache folio, PMD-mappable or not.
    if (nr >= HPAGE_PMD_NR || !env.variant.splitThpCountersPmdOnly) {
      const item = shmem ? NodeStat.NR_SHMEM_HUGEPAGES : NodeStat.NR_FILE_HUGEPAGES;
      env.vmstat.modNodePageState(nid, item, -nr);
    }
  }
  return rc;
}

/**
 * `try_split_folio(folio, split_folios)` (mm/migrate.c, 6.3): lock the folio with
 * `folio_lock`, which may sleep even inside an ASYNC batch that holds other folio locks (the
 * hazard Gao Xiang hit in 2024), split it onto `splitFolios`, unlock, and on success move
 * the head to the tail of `splitFolios` too. Returns 0 or the split's error.
 *
 * With the variant's `splitTrylockInAsync` (6.11, 2e6506e1c4ee `try_split_folio(folio,
 * split_folios, mode)`), MIGRATE_ASYNC only trylocks and returns -EAGAIN when the lock is
 * taken.
 */
export function* trySplitFolio(
  env: MigrateEnv,
  folio: Folio,
  splitFolios: FolioList,
  mode: MigrateMode,
): KernelGen<number> {
  const locks = env.locks;
  if (env.variant.splitTrylockInAsync && mode === MIGRATE_ASYNC) {
    if (!locks.folioTrylock(folio, 'try_split_folio')) return -EAGAIN;
  } else if (!locks.folioLockFast(folio, 'try_split_folio')) {
    yield* locks.folioLockContended(folio, 'try_split_folio');
  }
  const rc = yield* splitFolioToList(env, folio, splitFolios);
  locks.folioUnlock(folio);
  if (rc === 0) listMoveTail(env.mem, folio, splitFolios);
  return rc;
}
