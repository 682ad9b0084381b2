import { setPageContent } from '@mmsim/folio';
import type { Actor, Kernel } from '@mmsim/kernel';
import type { MmView } from '@mmsim/rmap';
import { PAGE_SIZE } from '@mmsim/rmap';
import { type KernelGen, MmsimError, type Task } from '@mmsim/runtime';
import { type AccessPattern, pagePicker } from './access-pattern.js';

/** Options of `directIoTask`. */
export interface DirectIoOptions {
  /** Default `dio`. */
  readonly name?: string;
  readonly cpu: number;
  /** The process whose buffer pages it reads into. */
  readonly mm: MmView;
  readonly addr: number;
  readonly pages: number;
  readonly pattern?: AccessPattern;
  /** read(2) calls with O_DIRECT, one page each. */
  readonly reads: number;
  /** Scheduling points the device takes to DMA into the pinned page. Default 2. */
  readonly ioSteps?: number;
}

/**
 * An O_DIRECT read into a user buffer (`iomap_dio_rw` -> `bio_iov_iter_get_pages` ->
 * `pin_user_pages_fast(FOLL_WRITE)`, then the device's DMA, then `bio_release_pages` ->
 * `unpin_user_page`; fs/iomap/direct-io.c, block/bio.c, mm/gup.c, 6.3): the page is pinned
 * for the I/O, the device writes it by physical address, the pin goes. A pinned page must
 * not be migrated (`try_to_migrate` gives up on a maybe-DMA-pinned anon-exclusive page, and
 * the references do not match), or the DMA lands in the old frame: the data written by the
 * device is recorded in the shadow, so such a loss is caught. Failed attempts make the
 * migration core undo (`remove_migration_ptes(src, src)`).
 */
export function directIoTask(k: Kernel, options: DirectIoOptions): Actor {
  const { mm, addr, pages, reads } = options;
  const ioSteps = options.ioSteps ?? 2;
  if (!Number.isInteger(reads) || reads < 0) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `reads must be a non-negative integer, got ${String(reads)}`,
    );
  }
  return {
    name: options.name ?? 'dio',
    cpu: options.cpu,
    models:
      'O_DIRECT read: pin_user_pages_fast(FOLL_WRITE), DMA, unpin_user_page (fs/iomap/direct-io.c, mm/gup.c, 6.3)',
    *body(task: Task): KernelGen {
      const rng = k.rt.random.workload;
      const pick = pagePicker(options.pattern ?? 'random', pages, rng);
      // The shadow's writer index of this task, resolved once (`wroteUserAccess` below).
      const who = k.shadow.writerIndex(String(task));
      for (let n = 0; n < reads; n++) {
        const at = addr + pick(n) * PAGE_SIZE;
        const pfn = yield* k.vm.pinUserPage(mm, at, true);
        // -EINTR (a fatal signal pending, __get_user_pages): the read fails and the killed
        // task issues no more.
        if (pfn < 0) return;
        for (let i = 0; i < ioSteps; i++) yield; // the device works
        const value = task.id * 1_000_000 + n + 1;
        setPageContent(k.mem, pfn, value); // DMA by physical address
        // as wrote(userLocation(mm, at), value, name), without building the location
        k.shadow.wroteUserAccess(mm, at, value, who);
        yield* k.vm.unpinUserPage(mm, pfn);
        yield;
      }
    },
  };
}
