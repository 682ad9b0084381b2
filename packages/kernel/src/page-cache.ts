import {
  type Folio,
  folioAlloc,
  folioClearFlag,
  folioIndex,
  folioNid,
  folioNrPages,
  folioRefCount,
  folioSetFlag,
  folioTestFlag,
  folioTestSetFlag,
  PG_dirty,
  PG_uptodate,
  type PhysicalMemory,
  pageContent,
  setPageContent,
} from '@mmsim/folio';
import { PageLockTable } from '@mmsim/page-lock';
import {
  type AddressSpaceView,
  filemapGetEntry,
  filemapGetFolio as rmapFilemapGetFolio,
} from '@mmsim/rmap';
import { FP_FOLIO, FP_MAPPING, type KernelGen, NodeStat } from '@mmsim/runtime';
import type { Kernel } from './kernel.js';

/**
 * The page-cache paths the actors use (mm/filemap.c, Linux 6.3): adding a new locked
 * folio, looking one up with a reference (and its lock), dirtying, reading and writing a
 * word through the cache. `i_pages` itself belongs to `@mmsim/rmap` (its page-cache.ts:
 * add, lookup, remove, replace); the functions here call it.
 *
 * Large page-cache folios: a folio of order n holds one cache reference per page and one
 * `i_pages` slot per page, all pointing at it (the multi-index entry, see rmap's
 * page-cache.ts); `pageCacheLookup` finds it from any of its indices. It migrates whole
 * (`folio_migrate_mapping` stores the new folio in every slot) or is split.
 */

/** Where a new page-cache folio comes from: its order and node. */
export interface PageCacheAlloc {
  /** Folio order; default 0. */
  readonly order?: number;
  /** Node to allocate on; default the node of the current task's CPU. */
  readonly nid?: number;
}

/**
 * `filemap_add_folio(mapping, folio, index, gfp)` (mm/filemap.c, 6.3): `@mmsim/rmap`'s, for
 * a new folio of any order the caller holds a reference on. The folio comes back locked and
 * on its way to the LRU; the caller unlocks it when its contents are read (`folio_end_read`).
 * Returns 0, or -EEXIST when part of its range is cached already.
 */
export function filemapAddFolio(
  k: Kernel,
  file: AddressSpaceView,
  folio: Folio,
  index: number,
): KernelGen<number> {
  return k.vm.filemapAddFolio(file, folio, index);
}

/**
 * `filemap_alloc_folio` + `filemap_add_folio`: a new locked folio at `index` (aligned down
 * to its order), its words read from the file's "disk" (`backing`), not yet uptodate; the
 * caller holds the allocation reference. Returns the folio, or -1 when memory is short or
 * the range is partly cached already.
 */
export function* pageCacheAllocLocked(
  k: Kernel,
  file: AddressSpaceView,
  index: number,
  alloc: PageCacheAlloc = {},
): KernelGen<Folio> {
  const order = alloc.order ?? 0;
  const nr = 1 << order;
  const first = index - (index % nr);
  for (let i = 0; i < nr; i++) if (pageCacheLookup(k.mem, file, first + i) !== undefined) return -1;
  const nid = alloc.nid ?? k.rt.current.cpu.node;
  const folio = folioAlloc(k.mem, order, nid);
  if (folio < 0) return -1;
  for (let i = 0; i < nr; i++) setPageContent(k.mem, folio + i, file.backing.get(first + i) ?? 0);
  yield* filemapAddFolio(k, file, folio, first);
  return folio;
}

/**
 * `filemap_get_folio(mapping, index)` (mm/filemap.c, 6.3): `@mmsim/rmap`'s; the cached
 * folio with a reference for the caller, or -1 when nothing is cached at `index`.
 */
export function filemapGetFolio(
  k: Kernel,
  file: AddressSpaceView,
  index: number,
): KernelGen<Folio> {
  return rmapFilemapGetFolio(k.mem, file, index, k.rt);
}

/**
 * Whether `filemapLockFolio` and `folioUnlockPut` declare every access they make (for
 * partial-order reduction, see `Runtime.enterDeclaredScope`): true with the kernel's own
 * page locks and LRU, false when a part replaces either (a replacement declares nothing).
 */
export function pageCacheDeclaresFootprints(k: Kernel): boolean {
  return k.lru === k.lruVecs && Object.getPrototypeOf(k.locks) === PageLockTable.prototype;
}

/**
 * `__filemap_get_folio(mapping, index, FGP_LOCK [| FGP_CREAT], gfp)` (mm/filemap.c, 6.3):
 * the folio caching `index`, locked (sleeping in `folio_lock` if needed, as `caller`) and
 * referenced, after checking it still caches `index` (a migration or truncation may have
 * replaced it while we slept). Without a cached folio: -1, or with `create` a new folio
 * (locked, uptodate since the caller is about to fill it, as a whole-page write does).
 */
export function* filemapLockFolio(
  k: Kernel,
  file: AddressSpaceView,
  index: number,
  caller: string,
  create: PageCacheAlloc | null = null,
): KernelGen<Folio> {
  const mem = k.mem;
  for (;;) {
    const folio = yield* filemapGetFolio(k, file, index);
    if (folio < 0) {
      if (create === null) return -1;
      // Allocating and adding to the page cache declare nothing: global steps.
      const depth = k.rt.suspendDeclaredScope();
      const fresh = yield* pageCacheAllocLocked(k, file, index, create);
      k.rt.resumeDeclaredScope(depth);
      if (fresh >= 0) {
        folioSetFlag(mem, fresh, PG_uptodate);
        return fresh;
      }
      if (pageCacheLookup(mem, file, index) === undefined) return -1; // no memory
      continue; // someone else added it meanwhile
    }
    if (!k.locks.folioLockFast(folio, caller)) yield* k.locks.folioLockContended(folio, caller);
    k.rt.touchKernel(FP_MAPPING, file.id, false);
    if (pageCacheLookup(mem, file, index) === folio) return folio;
    yield* folioUnlockPut(k, folio);
  }
}

/**
 * The folio caching page `index` of `file` (`filemap_get_entry` without a reference), or
 * undefined: `@mmsim/rmap`'s `filemapGetEntry`, which also finds a large folio from any of
 * its indices.
 */
export function pageCacheLookup(
  mem: PhysicalMemory,
  file: AddressSpaceView,
  index: number,
): Folio | undefined {
  return filemapGetEntry(mem, file, index);
}

/** `folio_unlock` + `folio_put`: the end of a locked lookup. */
export function* folioUnlockPut(k: Kernel, folio: Folio): KernelGen {
  k.locks.folioUnlock(folio);
  const rt = k.rt;
  if (folioRefCount(k.mem, folio) > 1) {
    // Not the last reference: folio_put only drops the count (a write of the folio).
    rt.touchKernel(FP_FOLIO, folio, true);
    yield* k.lru.folioPut(folio);
    return;
  }
  // The last put frees the folio (LRU, buddy, counters), which declares nothing.
  const depth = rt.suspendDeclaredScope();
  yield* k.lru.folioPut(folio);
  rt.resumeDeclaredScope(depth);
}

/**
 * `folio_put` (mm/swap.c, 6.3) of a reference a declared-footprint scope took with
 * `filemapGetFolio`: not the last one, it only drops the count (a write of the folio); the
 * last one frees the folio (LRU, buddy, counters), which declares nothing, so that step is
 * global.
 */
export function* folioPutDeclared(k: Kernel, folio: Folio): KernelGen {
  const rt = k.rt;
  if (folioRefCount(k.mem, folio) > 1) {
    rt.touchKernel(FP_FOLIO, folio, true);
    yield* k.lru.folioPut(folio);
    return;
  }
  const depth = rt.suspendDeclaredScope();
  yield* k.lru.folioPut(folio);
  rt.resumeDeclaredScope(depth);
}

/**
 * `folio_mark_dirty` for a page-cache folio (mm/page-writeback.c, 6.3): PG_dirty, and
 * `nr_dirty` of its node on the clean-to-dirty transition.
 */
export function folioMarkDirty(k: Kernel, folio: Folio): void {
  // PG_dirty is the folio's; the nr_dirty add commutes with every other add and is read
  // only by global steps and checks (docs/exploration-at-scale.md): not recorded.
  k.rt.touchKernel(FP_FOLIO, folio, true);
  if (folioTestSetFlag(k.mem, folio, PG_dirty)) return;
  k.vmstat.modNodePageState(folioNid(k.mem, folio), NodeStat.NR_DIRTY, folioNrPages(k.mem, folio));
}

/**
 * `folio_clear_dirty_for_io` (mm/page-writeback.c, 6.3) for a locked folio: clear PG_dirty
 * and `nr_dirty`; returns whether it was dirty. The model has no `page_mkclean`: PTEs
 * that map the folio writable stay so, and a later store through one does not dirty the
 * folio again (the model never drops cached data, so nothing is lost by it).
 */
export function folioClearDirtyForIo(k: Kernel, folio: Folio): boolean {
  const mem = k.mem;
  k.rt.touchKernel(FP_FOLIO, folio, true);
  if (!folioTestFlag(mem, folio, PG_dirty)) return false;
  folioClearFlag(mem, folio, PG_dirty);
  k.vmstat.modNodePageState(folioNid(mem, folio), NodeStat.NR_DIRTY, -folioNrPages(mem, folio));
  return true;
}

/** The content word of page `index` of a cached `folio`. */
export function pageCacheWord(k: Kernel, folio: Folio, index: number): number {
  k.rt.touchKernel(FP_FOLIO, folio, false);
  return pageContent(k.mem, folio + (index - folioIndex(k.mem, folio)));
}

/** Stores the content word of page `index` of a cached `folio`. */
export function setPageCacheWord(k: Kernel, folio: Folio, index: number, value: number): void {
  k.rt.touchKernel(FP_FOLIO, folio, true);
  setPageContent(k.mem, folio + (index - folioIndex(k.mem, folio)), value);
}
