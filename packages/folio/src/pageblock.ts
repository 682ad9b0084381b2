import { checkInt, MmsimError } from '@mmsim/runtime';
import { HPAGE_PMD_ORDER } from './constants.js';
import {
  checkPfn,
  FREE_KIND_CMA,
  FREE_KIND_ISOLATE,
  FREE_KIND_NORMAL,
  type Memmap,
  memmapOf,
  type PageblockState,
  type PhysicalMemory,
} from './memmap.js';

/**
 * Pageblocks (include/linux/pageblock-flags.h, mm/page_alloc.c, Linux 6.3): the memory of
 * every zone is cut into aligned blocks of `pageblock_nr_pages` pages, and each block keeps
 * a few bits in the zone's `pageblock_flags` bitmap: its migratetype (three bits) and
 * `PB_migrate_skip`, the hint compaction's scanners set on a block where isolation
 * failed so the next pass goes past it.
 *
 * x86-64 with hugepages: `pageblock_order` = HUGETLB_PAGE_ORDER = 9 (2 MiB). Every block
 * starts as MIGRATE_MOVABLE (`memmap_init_range` -> `init_pageblock_migratetype`... at
 * boot `set_pageblock_migratetype(page, MIGRATE_MOVABLE)` for each block's first page).
 * Not modelled: the buddy's per-migratetype free lists and fallback stealing; the model's
 * free lists are per order only, so a block's migratetype changes only when set.
 */

/** `pageblock_order` (x86-64, CONFIG_HUGETLB_PAGE: HUGETLB_PAGE_ORDER). */
export const PAGEBLOCK_ORDER = HPAGE_PMD_ORDER;
/** `pageblock_nr_pages`: 512 pages (2 MiB). */
export const PAGEBLOCK_NR_PAGES = 1 << PAGEBLOCK_ORDER;

/** `enum migratetype` (include/linux/mmzone.h, 6.3, with CONFIG_CMA and CONFIG_MEMORY_ISOLATION). */
export const MIGRATE_UNMOVABLE = 0;
export const MIGRATE_MOVABLE = 1;
export const MIGRATE_RECLAIMABLE = 2;
/** `MIGRATE_PCPTYPES`: the types with per-CPU lists; `MIGRATE_HIGHATOMIC` shares the value. */
export const MIGRATE_PCPTYPES = 3;
export const MIGRATE_HIGHATOMIC = MIGRATE_PCPTYPES;
export const MIGRATE_CMA = 4;
export const MIGRATE_ISOLATE = 5;
/** `MIGRATE_TYPES`. */
export const MIGRATE_TYPES = 6;

/** `migratetype_names[]` (mm/page_alloc.c, 6.3), as /proc/pagetypeinfo prints them. */
export const MIGRATETYPE_NAMES: readonly string[] = Object.freeze([
  'Unmovable',
  'Movable',
  'Reclaimable',
  'HighAtomic',
  'CMA',
  'Isolate',
]);

/** The pageblock bits of one memory (`Memmap.pageblocks`), created on first use. */
function stateOf(m: Memmap): PageblockState {
  let s = m.pageblocks;
  if (s === null) {
    const blocks = Math.ceil(m.maxPfn / PAGEBLOCK_NR_PAGES);
    s = {
      migratetype: new Uint8Array(blocks).fill(MIGRATE_MOVABLE),
      skip: new Uint8Array(blocks),
    };
    m.pageblocks = s;
  }
  return s;
}

/** `pageblock_start_pfn(pfn)`. */
export function pageblockStartPfn(pfn: number): number {
  return pfn - (pfn & (PAGEBLOCK_NR_PAGES - 1));
}

/** `pageblock_end_pfn(pfn)`: one past the last pfn of the block holding `pfn`. */
export function pageblockEndPfn(pfn: number): number {
  return pageblockStartPfn(pfn) + PAGEBLOCK_NR_PAGES;
}

/** `pageblock_aligned(pfn)`. */
export function pageblockAligned(pfn: number): boolean {
  return (pfn & (PAGEBLOCK_NR_PAGES - 1)) === 0;
}

/** `get_pageblock_migratetype(pfn_to_page(pfn))`. */
export function getPageblockMigratetype(mem: PhysicalMemory, pfn: number): number {
  const m = memmapOf(mem);
  checkPfn(m, pfn);
  return stateOf(m).migratetype[pfn >> PAGEBLOCK_ORDER]!;
}

/** `set_pageblock_migratetype(pfn_to_page(pfn), migratetype)`. */
export function setPageblockMigratetype(
  mem: PhysicalMemory,
  pfn: number,
  migratetype: number,
): void {
  const m = memmapOf(mem);
  checkPfn(m, pfn);
  checkInt('migratetype', migratetype, 0, MIGRATE_TYPES - 1);
  const s = stateOf(m);
  s.migratetype[pfn >> PAGEBLOCK_ORDER] = migratetype;
  // The free list a page freed in this block goes to (`get_pfnblock_migratetype` in the
  // free path); the block's free pages already listed stay where they are until moved
  // (`move_freepages_block`, see page-isolation.ts).
  const kind =
    migratetype === MIGRATE_CMA
      ? FREE_KIND_CMA
      : migratetype === MIGRATE_ISOLATE
        ? FREE_KIND_ISOLATE
        : FREE_KIND_NORMAL;
  if (kind !== FREE_KIND_NORMAL && m.pbKind === null) m.pbKind = new Uint8Array(s.skip.length);
  if (m.pbKind !== null) m.pbKind[pfn >> PAGEBLOCK_ORDER] = kind;
}

/** `is_migrate_movable(mt)`: MIGRATE_MOVABLE or MIGRATE_CMA. */
export function isMigrateMovable(migratetype: number): boolean {
  return migratetype === MIGRATE_MOVABLE || migratetype === MIGRATE_CMA;
}

/** `get_pageblock_skip(page)`: the `PB_migrate_skip` bit of the block holding `pfn`. */
export function getPageblockSkip(mem: PhysicalMemory, pfn: number): boolean {
  const m = memmapOf(mem);
  checkPfn(m, pfn);
  return stateOf(m).skip[pfn >> PAGEBLOCK_ORDER] === 1;
}

/** `set_pageblock_skip(page)`. */
export function setPageblockSkip(mem: PhysicalMemory, pfn: number): void {
  const m = memmapOf(mem);
  checkPfn(m, pfn);
  stateOf(m).skip[pfn >> PAGEBLOCK_ORDER] = 1;
}

/** `clear_pageblock_skip(page)`. */
export function clearPageblockSkip(mem: PhysicalMemory, pfn: number): void {
  const m = memmapOf(mem);
  checkPfn(m, pfn);
  stateOf(m).skip[pfn >> PAGEBLOCK_ORDER] = 0;
}

/**
 * `__reset_isolation_suitable(zone)` for the pfns [start, end): clears the skip bit of
 * every pageblock there (mm/compaction.c, 6.3).
 */
export function resetPageblockSkip(mem: PhysicalMemory, start: number, end: number): void {
  const m = memmapOf(mem);
  if (
    !(
      Number.isInteger(start) &&
      Number.isInteger(end) &&
      start >= 0 &&
      end <= m.maxPfn &&
      start <= end
    )
  ) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `resetPageblockSkip: [${String(start)}, ${String(end)}) is not a pfn range of this memory`,
    );
  }
  stateOf(m).skip.fill(0, start >> PAGEBLOCK_ORDER, Math.ceil(end / PAGEBLOCK_NR_PAGES));
}
