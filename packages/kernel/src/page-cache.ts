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
import { folioPutFast } from '@mmsim/lru';
import { PageLockTable } from '@mmsim/page-lock';
import {
  type AddressSpaceView,
  FILEMAP_GET_FROZEN,
  filemapGetEntry,
  filemapTryGetFolio,
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
  const got = pageCacheAllocLockedPlain(k, file, index, alloc.order ?? 0, alloc.nid);
  return typeof got === 'number' ? got : yield* got;
}

/**
 * `pageCacheAllocLocked` (above) as plain calls while its `folio_add_lru` is uncontended
 * (`VirtualMemory.filemapAddFolioPlain`): the folio or -1; or, once the folio is in the
 * cache and its LRU add may wait, the generator that finishes the add and returns the
 * folio (run it at once with `yield*`, in the same step). `nid` undefined: the node of the
 * current task's CPU. The same steps, charges and results as the generator.
 */
export function pageCacheAllocLockedPlain(
  k: Kernel,
  file: AddressSpaceView,
  index: number,
  order: number,
  nid: number | undefined,
): Folio | KernelGen<Folio> {
  const mem = k.mem;
  const nr = 1 << order;
  const first = index - (index % nr);
  for (let i = 0; i < nr; i++) if (pageCacheLookup(mem, file, first + i) !== undefined) return -1;
  const folio = folioAlloc(mem, order, nid ?? k.rt.current.cpu.node);
  if (folio < 0) return -1;
  const backing = file.backing;
  for (let i = 0; i < nr; i++) setPageContent(mem, folio + i, backing.get(first + i) ?? 0);
  const added = k.vm.filemapAddFolioPlain(file, folio, first);
  return typeof added === 'number' ? folio : addedThen(added, folio);
}

/** The end of a `pageCacheAllocLockedPlain` whose LRU add may wait: returns `folio`. */
function* addedThen(added: KernelGen<number>, folio: Folio): KernelGen<Folio> {
  yield* added;
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
 * `filemap_get_folio` (above) as a plain call up to the first point where it may wait: the
 * cached folio with a reference, or -1 when nothing is cached at `index` (the same steps and
 * footprint as the generator); or, when the folio is frozen by a migration, the generator
 * that passes the scheduling point and looks again. The caller runs that generator at once,
 * in the same step:
 *
 * ```ts
 * const got = filemapGetFolioPlain(k, file, index);
 * const folio = typeof got === 'number' ? got : yield* got;
 * ```
 */
export function filemapGetFolioPlain(
  k: Kernel,
  file: AddressSpaceView,
  index: number,
): Folio | KernelGen<Folio> {
  const folio = filemapTryGetFolio(k.mem, file, index, k.rt);
  return folio === FILEMAP_GET_FROZEN ? filemapGetFolioAgain(k, file, index) : folio;
}

/** The rest of `filemapGetFolioPlain` after a frozen folio: the retry's scheduling point. */
function* filemapGetFolioAgain(k: Kernel, file: AddressSpaceView, index: number): KernelGen<Folio> {
  yield; // frozen: a migration is replacing it; look again
  return yield* filemapGetFolio(k, file, index);
}

/** Where `filemapLockFolioFrom` resumes a locked lookup (see `filemapLockFolioPlain`). */
const LOCK_LOOKUP = 0;
/** The try found the folio frozen: a scheduling point, then the lookup again. */
const LOCK_FROZEN = 1;
/** Nothing cached and `create`: allocate and add a new folio. */
const LOCK_CREATE = 2;
/** The referenced folio's lock is held: sleep in `__folio_lock`, then re-check. */
const LOCK_CONTENDED = 3;
/** The locked folio no longer caches `index`: unlock and put it, then the lookup again. */
const LOCK_STALE = 4;
/** The trylock took the folio's lock: re-check that it still caches `index`. */
const LOCK_LOCKED = 5;

/**
 * `__filemap_get_folio(mapping, index, FGP_LOCK [| FGP_CREAT], gfp)` (mm/filemap.c, 6.3):
 * the folio caching `index`, locked (sleeping in `folio_lock` if needed, as `caller`) and
 * referenced, after checking it still caches `index` (a migration or truncation may have
 * replaced it while we slept). Without a cached folio: -1, or with `create` a new folio
 * (locked, uptodate since the caller is about to fill it, as a whole-page write does).
 * Hot callers run `filemapLockFolioPlain` first, which this is.
 */
export function* filemapLockFolio(
  k: Kernel,
  file: AddressSpaceView,
  index: number,
  caller: string,
  create: PageCacheAlloc | null = null,
): KernelGen<Folio> {
  const got = filemapLockFolioPlain(k, file, index, caller, create);
  return typeof got === 'number' ? got : yield* got;
}

/**
 * `filemapLockFolio` as plain calls while nothing waits: a lookup that finds the folio
 * unfrozen, takes its lock with the trylock of `folio_lock` and finds it still caching
 * `index` returns it (or -1: nothing cached, no `create`), with the same steps, footprint
 * and lock records as the generator. Otherwise it returns the generator that goes on from
 * where it stopped (a frozen folio, a held lock, a folio to create, a stale folio); the
 * caller runs it at once, in the same step:
 *
 * ```ts
 * const got = filemapLockFolioPlain(k, file, index, 'lock_delalloc_pages');
 * const folio = typeof got === 'number' ? got : yield* got;
 * ```
 */
export function filemapLockFolioPlain(
  k: Kernel,
  file: AddressSpaceView,
  index: number,
  caller: string,
  create: PageCacheAlloc | null = null,
): Folio | KernelGen<Folio> {
  const mem = k.mem;
  const folio = filemapTryGetFolio(mem, file, index, k.rt);
  if (folio === FILEMAP_GET_FROZEN) {
    return filemapLockFolioFrom(k, file, index, caller, create, LOCK_FROZEN, -1);
  }
  if (folio < 0) {
    if (create === null) return -1;
    return filemapLockFolioFrom(k, file, index, caller, create, LOCK_CREATE, -1);
  }
  if (!k.locks.folioLockFast(folio, caller)) {
    return filemapLockFolioFrom(k, file, index, caller, create, LOCK_CONTENDED, folio);
  }
  k.rt.touchKernel(FP_MAPPING, file.id, false);
  if (pageCacheLookup(mem, file, index) === folio) return folio;
  return filemapLockFolioFrom(k, file, index, caller, create, LOCK_STALE, folio);
}

/**
 * The loop of `__filemap_get_folio(FGP_LOCK [| FGP_CREAT])` from `from` (one of the
 * `LOCK_*` points above; `referenced` the folio referenced at LOCK_CONTENDED and LOCK_STALE): lookup
 * (`filemap_get_folio`, a scheduling point per frozen try), `folio_lock`, the re-check of
 * `folio->mapping` and index, or the allocation of a new folio with `create`.
 */
function* filemapLockFolioFrom(
  k: Kernel,
  file: AddressSpaceView,
  index: number,
  caller: string,
  create: PageCacheAlloc | null,
  from: number,
  referenced: Folio,
): KernelGen<Folio> {
  const mem = k.mem;
  let at = from;
  let folio = referenced;
  for (;;) {
    if (at === LOCK_FROZEN) {
      yield; // frozen: a migration is replacing it; look again
      at = LOCK_LOOKUP;
    }
    if (at === LOCK_LOOKUP) {
      folio = filemapTryGetFolio(mem, file, index, k.rt);
      if (folio === FILEMAP_GET_FROZEN) {
        at = LOCK_FROZEN;
        continue;
      }
      if (folio < 0) {
        if (create === null) return -1;
        at = LOCK_CREATE;
      } else {
        at = k.locks.folioLockFast(folio, caller) ? LOCK_LOCKED : LOCK_CONTENDED;
      }
    }
    if (at === LOCK_CREATE) {
      // Allocating and adding to the page cache declare nothing: global steps.
      const depth = k.rt.suspendDeclaredScope();
      const fresh = yield* pageCacheAllocLocked(k, file, index, create as PageCacheAlloc);
      k.rt.resumeDeclaredScope(depth);
      if (fresh >= 0) {
        folioSetFlag(mem, fresh, PG_uptodate);
        return fresh;
      }
      if (pageCacheLookup(mem, file, index) === undefined) return -1; // no memory
      at = LOCK_LOOKUP; // someone else added it meanwhile
      continue;
    }
    if (at === LOCK_CONTENDED) yield* k.locks.folioLockContended(folio, caller);
    if (at !== LOCK_STALE) {
      // Locked: does it still cache `index`?
      k.rt.touchKernel(FP_MAPPING, file.id, false);
      if (pageCacheLookup(mem, file, index) === folio) return folio;
    }
    yield* folioUnlockPut(k, folio);
    at = LOCK_LOOKUP;
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
  const rest = folioUnlockPutPlain(k, folio);
  if (rest !== null) yield* rest;
}

/**
 * `folioUnlockPut` as plain calls: `folio_unlock`, then `folioPutDeclaredPlain`. Returns
 * null when done, or the generator of the put that remains (run it at once, in the same
 * step).
 */
export function folioUnlockPutPlain(k: Kernel, folio: Folio): KernelGen | null {
  k.locks.folioUnlock(folio);
  return folioPutDeclaredPlain(k, folio);
}

/**
 * `folio_put` (mm/swap.c, 6.3) of a reference a declared-footprint scope took with
 * `filemapGetFolio`: not the last one, it only drops the count (a write of the folio); the
 * last one frees the folio (LRU, buddy, counters), which declares nothing, so that step is
 * global.
 */
export function* folioPutDeclared(k: Kernel, folio: Folio): KernelGen {
  const rest = folioPutDeclaredPlain(k, folio);
  if (rest !== null) yield* rest;
}

/**
 * `folioPutDeclared` as a plain call when the reference is not the last one and the LRU is
 * the kernel's own (`folioPutFast`, which is all its `folio_put` does then): null when done.
 * Otherwise the generator of the put (a replaced LRU's `folioPut`, or the last put, which
 * frees the folio in an undeclared scope); the caller runs it at once, in the same step.
 */
export function folioPutDeclaredPlain(k: Kernel, folio: Folio): KernelGen | null {
  const mem = k.mem;
  if (folioRefCount(mem, folio) > 1) {
    k.rt.touchKernel(FP_FOLIO, folio, true);
    if (k.lru === k.lruVecs && folioPutFast(mem, folio, 1)) return null;
    return k.lru.folioPut(folio);
  }
  return folioPutLastUndeclared(k, folio);
}

/** The last put of `folioPutDeclared`: it frees the folio (LRU, buddy, counters), which declares nothing. */
function* folioPutLastUndeclared(k: Kernel, folio: Folio): KernelGen {
  const rt = k.rt;
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
