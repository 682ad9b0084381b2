import {
  type Folio,
  folioIndex,
  folioNrPages,
  folioSetFlag,
  PG_uptodate,
  setPageContent,
} from '@mmsim/folio';
import { type Actor, type Kernel, pageCacheAllocLocked, pageCacheLookup } from '@mmsim/kernel';
import type { AddressSpaceView } from '@mmsim/rmap';
import { type KernelGen, MmsimError, type Task } from '@mmsim/runtime';
import type { BlockDevice } from './block-device.js';

/** Options of `readahead`. */
export interface ReadaheadOptions {
  /** Default `readahead`. */
  readonly name?: string;
  readonly cpu: number;
  readonly file: AddressSpaceView;
  /** Page indices to read ahead, in order (those already cached are skipped). */
  readonly indices: readonly number[];
  /** Order of the folios it allocates (large folios, as `page_cache_ra_order` makes). Default 0. */
  readonly order?: number;
  /** The disk whose completion task ends the reads. */
  readonly disk: BlockDevice;
}

/**
 * Readahead (`page_cache_ra_unbounded` / `page_cache_ra_order` -> `read_pages`,
 * mm/readahead.c, 6.3): for each index not cached, allocate a folio, add it to the page
 * cache locked and to the LRU (`filemap_add_folio`), and submit the read. The folios stay
 * locked, and not uptodate, until the read completes in the disk's completion task
 * (`mpage_end_io` / `folio_end_read`: contents from the file, PG_uptodate, `folio_unlock`),
 * which the lock is handed to. Readers of those pages wait on the lock meanwhile, and a
 * migrator may find them isolatable (they are on the LRU) but locked.
 */
export function readahead(k: Kernel, options: ReadaheadOptions): Actor {
  const { file, indices, disk } = options;
  const order = options.order ?? 0;
  if (!Number.isInteger(order) || order < 0 || order > 9) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `readahead order must be in [0, 9], got ${String(order)}`,
    );
  }
  return {
    name: options.name ?? 'readahead',
    cpu: options.cpu,
    models:
      'page_cache_ra_unbounded -> filemap_add_folio (locked) -> read_pages; folio_end_read on completion (mm/readahead.c, 6.3)',
    *body(_task: Task): KernelGen {
      const mem = k.mem;
      for (const index of indices) {
        if (pageCacheLookup(k.mem, file, index) !== undefined) continue;
        const folio: Folio = yield* pageCacheAllocLocked(k, file, index, { order });
        if (folio < 0) continue;
        // read_pages(): the I/O owns the lock now; the allocation reference goes.
        k.locks.folioLockTransfer(folio, disk.slot.task);
        const first = folioIndex(mem, folio);
        const nr = folioNrPages(mem, folio);
        disk.submit({
          describe: `read of ${file.name}[${first}..${first + nr - 1}]`,
          complete: () => {
            for (let i = 0; i < nr; i++)
              setPageContent(mem, folio + i, file.backing.get(first + i) ?? 0);
            folioSetFlag(mem, folio, PG_uptodate);
            k.locks.folioUnlock(folio);
          },
        });
        yield* k.lru.folioPut(folio);
        yield;
      }
      disk.close();
    },
  };
}
