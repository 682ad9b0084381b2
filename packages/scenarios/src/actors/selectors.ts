import {
  type Folio,
  folioNrPages,
  folioTestFlag,
  folioTestHugetlb,
  folioTestMovable,
  nodeSpannedPages,
  nodeStartPfn,
  PG_lru,
  pfnFolio,
  pfnValid,
} from '@mmsim/folio';
import { type Kernel, pageCacheLookup } from '@mmsim/kernel';
import { type AddressSpaceView, type MmView, PAGE_SIZE } from '@mmsim/rmap';
import { FP_FOLIO, FP_ZONE } from '@mmsim/runtime';

/**
 * Which folios a migrator tries to isolate, in order. A selector is a lazy iterable: each
 * folio is looked up when the migrator comes to it (between two of its scheduling
 * points), as the kernel's callers look pages up one at a time, so what it yields is
 * current. `null` stands for a place with nothing to migrate.
 */
export type FolioSelector = (round: number, target: number) => Iterable<Folio | null>;

/**
 * The folios mapping `pages` pages of `mm` from `addr`, as `move_pages` looks them up
 * (`follow_page` of each address: present PTEs only, each folio once), in address order
 * or its reverse.
 */
export function mappedFolios(
  k: Kernel,
  mm: MmView,
  addr: number,
  pages: number,
  order: 'ascending' | 'descending' = 'ascending',
): FolioSelector {
  return () => mappedFoliosWalk(k, mm, addr, pages, order);
}

/** `mappedFolios`'s walk (a module-level generator: see `initTask` in scenario.ts). */
function* mappedFoliosWalk(
  k: Kernel,
  mm: MmView,
  addr: number,
  pages: number,
  order: 'ascending' | 'descending',
): Generator<Folio | null> {
  const seen = new Set<Folio>();
  for (let n = 0; n < pages; n++) {
    const i = order === 'ascending' ? n : pages - 1 - n;
    if (!mm.alive) return;
    const pfn = k.vm.presentPfnAt(mm, addr + i * PAGE_SIZE);
    if (pfn < 0 || pfn === k.mem.zeroPfn) {
      yield null;
      continue;
    }
    const folio = pfnFolio(k.mem, pfn);
    if (folio < 0 || seen.has(folio)) continue;
    seen.add(folio);
    yield folio;
  }
}

/** The folios caching `indices` of `file` (one lookup each, skipping repeats). */
export function cachedFolios(
  k: Kernel,
  file: AddressSpaceView,
  indices: readonly number[],
): FolioSelector {
  return () => cachedFoliosWalk(k, file, indices);
}

/**
 * Compaction's migration scanner (`isolate_migratepages_block`, mm/compaction.c, 6.3):
 * the frames of node `nid` in ascending pfn order, yielding each folio head that is on
 * the LRU or is a non-LRU movable page, without taking any lock. Hugetlb folios are
 * skipped, as compaction (but not `alloc_contig_range`) skips them in 6.3.
 */
export function nodeScan(
  k: Kernel,
  nid: number | ((round: number, target: number) => number),
): FolioSelector {
  const select: FolioSelector = (round, target) => nodeScanWalk(k, nid, round, target);
  RECORDING_SELECTORS.add(select);
  return select;
}

/** The selectors that record what they read (`Runtime.touchKernel`) in the caller's step. */
const RECORDING_SELECTORS = new WeakSet<FolioSelector>();

/**
 * Whether `select` records every read it makes (`nodeScan` does): a migrator that declares
 * its footprints may use it.
 */
export function selectorRecordsFootprints(select: FolioSelector): boolean {
  return RECORDING_SELECTORS.has(select);
}

/** Fixed folios, for a scenario that knows exactly what it migrates. */
export function givenFolios(folios: () => readonly Folio[]): FolioSelector {
  return () => givenFoliosWalk(folios);
}

/** The selectors one after the other. */
export function concatSelectors(...selectors: readonly FolioSelector[]): FolioSelector {
  return (round, target) => concatWalk(selectors, round, target);
}

/** `cachedFolios`'s walk (a module-level generator: see `initTask` in scenario.ts). */
function* cachedFoliosWalk(
  k: Kernel,
  file: AddressSpaceView,
  indices: readonly number[],
): Generator<Folio | null> {
  const mem = k.mem;
  const seen = new Set<Folio>();
  for (const index of indices) {
    const folio = pageCacheLookup(mem, file, index);
    if (folio === undefined) {
      yield null;
      continue;
    }
    if (seen.has(folio)) continue;
    seen.add(folio);
    yield folio;
  }
}

/** `nodeScan`'s walk (a module-level generator: see `initTask` in scenario.ts). */
function* nodeScanWalk(
  k: Kernel,
  nid: number | ((round: number, target: number) => number),
  round: number,
  target: number,
): Generator<Folio> {
  const mem = k.mem;
  const rt = k.rt;
  const node = typeof nid === 'function' ? nid(round, target) : nid;
  const start = nodeStartPfn(mem, node);
  const end = start + nodeSpannedPages(mem, node);
  // The scan reads which pfns are allocated and how (the buddy's side: FP_ZONE), then
  // the flags of each folio it comes to (FP_FOLIO), in the step of the caller's next().
  rt.touchKernel(FP_ZONE, node, false);
  for (let pfn = start; pfn < end; ) {
    if (!pfnValid(mem, pfn)) {
      pfn++;
      continue;
    }
    const folio = pfnFolio(mem, pfn);
    if (folio !== pfn) {
      pfn++;
      continue;
    }
    rt.touchKernel(FP_FOLIO, folio, false);
    pfn += folioNrPages(mem, folio);
    if (folioTestHugetlb(mem, folio)) continue;
    if (folioTestFlag(mem, folio, PG_lru) || folioTestMovable(mem, folio)) {
      yield folio;
      rt.touchKernel(FP_ZONE, node, false);
    }
  }
}

/** `givenFolios`'s walk (a module-level generator: see `initTask` in scenario.ts). */
function* givenFoliosWalk(folios: () => readonly Folio[]): Generator<Folio> {
  yield* folios();
}

/** `concatSelectors`'s walk (a module-level generator: see `initTask` in scenario.ts). */
function* concatWalk(
  selectors: readonly FolioSelector[],
  round: number,
  target: number,
): Generator<Folio | null> {
  for (const s of selectors) yield* s(round, target);
}
