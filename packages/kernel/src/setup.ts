import { type Folio, folioAttachPrivate, folioSetFlag, PG_uptodate } from '@mmsim/folio';
import { folioPutFast } from '@mmsim/lru';
import { BH_Mapped, BH_Uptodate } from '@mmsim/page-lock';
import { type AddressSpaceView, type MmView, PAGE_SIZE } from '@mmsim/rmap';
import { type KernelGen, MmsimError } from '@mmsim/runtime';
import type { Kernel } from './kernel.js';
import { pageCacheAllocLockedPlain } from './page-cache.js';

/**
 * Steps a scenario's set-up runs (in its `init` task, before any actor exists, so they
 * make no scheduling decision): first touches that place pages, page-cache population.
 */

/**
 * Stores `value(i)` into page i of `[addr, addr + pages * 4096)` of `mm` (first touch
 * allocates on the current CPU's node), recording each in the shadow.
 *
 * Each store is `userWrite` as plain calls (`VirtualMemory.userWritePlain`): a first touch
 * that needs no wait (the common case: `do_anonymous_page` with its PTE lock free and the
 * LRU add uncontended) makes no generator; one that may wait goes on in the generator the
 * plain call returns, with the same steps. The shadow's record is `wrote` of the store's
 * `userLocation`, made after the store, without building the location.
 */
export function* touchPages(
  k: Kernel,
  mm: MmView,
  addr: number,
  pages: number,
  value: (i: number) => number,
): KernelGen {
  const shadow = k.shadow;
  let init = 0; // the writer index of 'init', resolved at the first record (as `wrote` did)
  for (let i = 0; i < pages; i++) {
    const at = addr + i * PAGE_SIZE;
    const v = value(i);
    const rest = k.vm.userWritePlain(mm, at, v);
    if (rest !== null) yield* rest;
    if (init === 0) init = shadow.writerIndex('init');
    shadow.wroteUserAccess(mm, at, v, init);
  }
}

/** Options of `populateFile`. */
export interface PopulateOptions {
  /** Folio order; default 0. The indices should then be multiples of 2^order. */
  readonly order?: number;
  /** Node; default the current CPU's. */
  readonly nid?: number;
  /** Buffer heads per page to attach (`create_empty_buffers`); default 0. */
  readonly buffersPerPage?: number;
  /** Private data to attach instead of buffers (`folio_attach_private`). */
  readonly privateData?: object;
}

/**
 * Reads `indices` of `file` into its page cache (as a completed read leaves them: uptodate,
 * unlocked, on the LRU), with optional buffers or private data. The words come from the
 * file's "disk" (`backing`); they are recorded in the shadow. Returns the folios.
 *
 * Each folio is added with plain calls while nothing waits (`pageCacheAllocLockedPlain`,
 * and for the kernel's own LRU the allocation reference dropped by `folioPutFast`, all its
 * `folio_put` does when the cache holds another); an LRU add or put that may wait goes on
 * in its generator, with the same steps.
 */
export function* populateFile(
  k: Kernel,
  file: AddressSpaceView,
  indices: readonly number[],
  options: PopulateOptions = {},
): KernelGen<Folio[]> {
  const out: Folio[] = [];
  const mem = k.mem;
  const order = options.order ?? 0;
  const nr = 1 << order;
  const buffers = options.buffersPerPage ?? 0;
  const plainPut = k.lru === k.lruVecs;
  for (const index of indices) {
    const got = pageCacheAllocLockedPlain(k, file, index, order, options.nid);
    const folio = typeof got === 'number' ? got : yield* got;
    if (folio < 0)
      throw new MmsimError('INVALID_CONFIG', `no memory to cache ${file.name}[${index}]`);
    folioSetFlag(mem, folio, PG_uptodate);
    if (buffers > 0)
      k.locks.createBuffers(folio, buffers * nr, (1 << BH_Uptodate) | (1 << BH_Mapped));
    else if (options.privateData !== undefined) folioAttachPrivate(mem, folio, options.privateData);
    k.locks.folioUnlock(folio);
    // The allocation reference; the cache keeps its own.
    if (!(plainPut && folioPutFast(mem, folio, 1))) yield* k.lru.folioPut(folio);
    const shadow = k.shadow;
    const first = index - (index % nr);
    for (let i = 0; i < nr; i++) {
      shadow.wroteFile(file, first + i, file.backing.get(first + i) ?? 0, 'init');
    }
    out.push(folio);
  }
  return out;
}
