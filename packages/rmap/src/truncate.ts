import {
  type Folio,
  folioIndex,
  folioMapped,
  folioNrPages,
  folioRefCount,
  folioTestFlag,
  folioTestHugetlb,
  folioTryGet,
  PG_dirty,
  pageContent,
} from '@mmsim/folio';
import { type KernelGen, MmsimError } from '@mmsim/runtime';
import type { AddressSpace } from './address-space.js';
import { folioPutRefsFast, folioPutRefsSlow } from './folio-release.js';
import { filemapRemoveFolio } from './page-cache.js';
import { folioCancelDirty } from './rmap-accounting.js';
import type { RmapState } from './rmap-state.js';

/**
 * Taking folios out of a file's page cache (mm/truncate.c, mm/filemap.c, 6.3).
 */

/**
 * `filemap_remove_folio` + `filemap_free_folio` (mm/filemap.c, 6.3) for a locked, unmapped
 * folio cached from `index` (its first index): it leaves every `i_pages` slot it had and
 * the node's counters, loses its mapping, is unlocked, and the cache's references are put,
 * `folio_put_refs(folio, folio_nr_pages(folio))` (one for a hugetlbfs folio), which frees
 * it if nobody else holds one. A large folio goes whole, as `truncate_inode_folio` removes
 * a folio that lies entirely inside the truncated range.
 */
function* removeFolio(ctx: RmapState, as: AddressSpace, index: number, folio: Folio): KernelGen {
  const refs = folioTestHugetlb(ctx.mem, folio) ? 1 : folioNrPages(ctx.mem, folio);
  folioCancelDirty(ctx, folio);
  filemapRemoveFolio(ctx, as, folio, index);
  ctx.locks.folioUnlock(folio);
  if (!folioPutRefsFast(ctx, folio, refs)) yield* folioPutRefsSlow(ctx, folio, refs);
}

/**
 * Whether `folio`, found in slot `index` of `as`, is still cached there with that slot as
 * its first index: the recheck after sleeping on its lock (`folio->mapping == mapping`
 * in `truncate_inode_folio`), and the one visit per folio of a walk over the slots.
 */
function cachedFrom(ctx: RmapState, as: AddressSpace, index: number, folio: Folio): boolean {
  return as.pages.get(index) === folio && folioIndex(ctx.mem, folio) === index;
}

/**
 * `truncate_inode_pages(mapping, 0)` (mm/truncate.c, 6.3) for a file nobody maps any
 * more: lock every cached folio (sleeping on one that is locked, by a migration for
 * instance), and remove it from the cache; the data is discarded. Throws
 * CONTRACT_VIOLATION if a VMA still maps the file (the kernel unmaps it first with
 * `unmap_mapping_range`, which the model leaves to munmap / exit).
 */
export function* truncateInodePages(ctx: RmapState, as: AddressSpace): KernelGen {
  if (as.iMmap.size > 0) {
    throw new MmsimError(
      'CONTRACT_VIOLATION',
      `truncate of ${as.name}: ${as.iMmap.size} VMAs still map it; munmap them first`,
    );
  }
  const locks = ctx.locks;
  const mem = ctx.mem;
  for (;;) {
    const first = as.pages.entries().next();
    if (first.done === true) break;
    const folio = first.value[1];
    // A large folio's first slot: where find_get_entries' multi-index entry starts.
    const index = folioIndex(mem, folio);
    // find_get_entries: a reference first, so the folio cannot be freed while we sleep on
    // its lock (a migration may replace it in the cache meanwhile).
    if (!folioTryGet(mem, folio)) {
      yield; // frozen by a migration in flight: look again
      continue;
    }
    if (!locks.folioLockFast(folio, 'truncate_inode_pages')) {
      yield* locks.folioLockContended(folio, 'truncate_inode_pages');
    }
    if (cachedFrom(ctx, as, index, folio)) yield* removeFolio(ctx, as, index, folio);
    else locks.folioUnlock(folio);
    if (!folioPutRefsFast(ctx, folio, 1)) yield* folioPutRefsSlow(ctx, folio, 1);
  }
  as.backing.clear();
}

/**
 * `filemap_write_and_wait` then `invalidate_mapping_pages(mapping, 0, -1)` (mm/filemap.c,
 * mm/truncate.c, 6.3): write every dirty cached page back to the file's backing words,
 * then drop each folio that is unmapped, not locked (trylock) and referenced only by the
 * cache; the others stay. Returns the number of folios dropped.
 */
export function* invalidateMappingPages(ctx: RmapState, as: AddressSpace): KernelGen<number> {
  const mem = ctx.mem;
  const locks = ctx.locks;
  let dropped = 0;
  for (const [index, folio] of [...as.pages]) {
    // One visit per folio: at the slot of its first index.
    if (!cachedFrom(ctx, as, index, folio)) continue;
    const nr = folioTestHugetlb(mem, folio) ? 1 : folioNrPages(mem, folio);
    if (folioTestFlag(mem, folio, PG_dirty)) {
      for (let i = 0; i < nr; i++) as.backing.set(index + i, pageContent(mem, folio + i));
      folioCancelDirty(ctx, folio);
    }
    if (folioMapped(mem, folio) || !locks.folioTrylock(folio, 'invalidate_mapping_pages')) continue;
    if (folioRefCount(mem, folio) !== nr || !cachedFrom(ctx, as, index, folio)) {
      locks.folioUnlock(folio);
      continue;
    }
    yield* removeFolio(ctx, as, index, folio);
    dropped++;
  }
  return dropped;
}
