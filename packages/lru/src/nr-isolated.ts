import { type Folio, folioNid, type PhysicalMemory } from '@mmsim/folio';
import { MmsimError, NODE_STAT_NAMES, NodeStat, type VmStat } from '@mmsim/runtime';
import { folioIsFileLru } from './lru-list.js';

/**
 * The node vmstat item that counts `folio` while it is isolated from the LRU:
 * `NR_ISOLATED_ANON + folio_is_file_lru(folio)` (the expression every isolating caller of
 * Linux 6.3 writes). So anon and shmem folios (PG_swapbacked) count as NR_ISOLATED_ANON
 * and ordinary page cache as NR_ISOLATED_FILE.
 */
export function folioIsolatedItem(mem: PhysicalMemory, folio: Folio): number {
  return NodeStat.NR_ISOLATED_ANON + folioIsFileLru(mem, folio);
}

/**
 * `node_stat_mod_folio(folio, item, nr)` (include/linux/vmstat.h, Linux 6.3): add `nr` to
 * node item `item` of the folio's node. For NR_ISOLATED the unit is base pages, so callers
 * pass `±folio_nr_pages(folio)`.
 *
 * Who calls it for NR_ISOLATED (the rule of Linux 6.3): `folio_isolate_lru` does not.
 * The caller that isolated an LRU folio for migration adds `+nr` (compaction's
 * `isolate_migratepages_block`, `add_page_for_migration`, mempolicy's
 * `migrate_folio_add`, `numamigrate_isolate_page`, memory hotplug, ...), and the migration
 * core subtracts it when it is done with the folio: on success (`migrate_folio_done`,
 * unless the folio is non-LRU movable), on the "freed under us" path, and in
 * `putback_movable_pages` for LRU folios that failed. Non-LRU movable pages and hugetlb
 * folios are never counted.
 */
export function nodeStatModFolio(
  mem: PhysicalMemory,
  vmstat: VmStat,
  folio: Folio,
  item: number,
  nr: number,
): void {
  if (!Number.isInteger(item) || item < 0 || item >= NODE_STAT_NAMES.length) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `item must be a node stat id (NodeStat.NR_ISOLATED_ANON, ...) in [0, ${NODE_STAT_NAMES.length - 1}], got ${String(item)}`,
    );
  }
  if (!Number.isSafeInteger(nr)) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `nr must be an integer number of pages, got ${String(nr)}`,
    );
  }
  vmstat.modNodePageState(folioNid(mem, folio), item, nr);
}
