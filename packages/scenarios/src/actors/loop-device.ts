import { type Folio, folioIndex, pageContent } from '@mmsim/folio';
import {
  type Actor,
  filemapLockFolioPlain,
  folioMarkDirty,
  folioUnlockPutPlain,
  type Kernel,
  pageCacheDeclaresFootprints,
  setPageCacheWord,
  TaskSlot,
} from '@mmsim/kernel';
import type { BufferHead } from '@mmsim/page-lock';
import type { AddressSpaceView } from '@mmsim/rmap';
import { FP_FOLIO, type KernelGen, MmsimError, type Task } from '@mmsim/runtime';
import { WorkQueue } from './work-queue.js';
import type { WritebackTarget } from './writeback-worker.js';

/** A write request queued on a loop device: a bio of one page. */
export interface LoopRequest {
  readonly describe: string;
  /** The page of the loop device it writes. */
  readonly devIndex: number;
  /** Reads the data the bio carries (the source page is stable while the I/O is in flight). */
  data(): number;
  /** `bio_endio`: end writeback, or unlock the buffer. */
  complete(): void;
}

/** Options of `LoopDevice`. */
export interface LoopDeviceOptions {
  /** `loop0`. */
  readonly name: string;
  /** The CPU of its worker. */
  readonly cpu: number;
  /** The file it is backed by, on another filesystem (tmpfs in both 2023 reports). */
  readonly backing: AddressSpaceView;
  /**
   * The loop device's own page cache (the block device mapping, whose folios carry
   * buffer heads). Optional: a device used only for file data needs none.
   */
  readonly dev?: AddressSpaceView;
  /**
   * The page of the backing file that holds page `devIndex` of the device. Default the
   * same index. A filesystem with blocks smaller than a page can put the blocks of two
   * of its pages in one page of the image: several device pages then map to one.
   */
  readonly map?: (devIndex: number) => number;
  /** Actors that submit to it (each must `close()` when done). Default 1. */
  readonly producers?: number;
  /**
   * Scheduling points the worker passes while it holds a backing folio locked (the copy
   * of the bio's data, `copy_page_from_iter`). Default 1.
   */
  readonly copySteps?: number;
}

/**
 * A loop device (drivers/block/loop.c, 6.3): a block device whose I/O is served by a
 * kernel worker that reads and writes a file on another filesystem. A write bio is done
 * only when the worker has written the data into the backing file: `loop_process_work`
 * -> `lo_rw_simple` -> `lo_write_bvec` -> `vfs_iter_write` -> `generic_perform_write`,
 * which locks the backing file's folio (`shmem_write_begin` -> `shmem_get_folio` on
 * tmpfs). So ending writeback of a folio of a filesystem on the loop device, or unlocking
 * a buffer of the loop device's page cache, needs the lock of a backing folio: the
 * lock / writeback and lock / buffer-lock cross-dependencies of the February 2023
 * deadlocks (Jan Kara, 20230227110614.dngdub2j3exr6dfp@quack3 on linux-mm).
 */
export class LoopDevice implements WritebackTarget {
  readonly name: string;
  readonly cpu: number;
  readonly backing: AddressSpaceView;
  readonly dev: AddressSpaceView | null;
  readonly slot: TaskSlot;
  readonly queue: WorkQueue<LoopRequest>;
  /** The work list and the handed-over writeback / buffer lock record their footprints. */
  readonly submitDeclaresFootprints = true;
  /** Requests served so far. */
  served = 0;
  readonly #k: Kernel;
  readonly #map: (devIndex: number) => number;
  readonly #copySteps: number;

  constructor(k: Kernel, options: LoopDeviceOptions) {
    this.#k = k;
    this.name = options.name;
    this.cpu = options.cpu;
    this.backing = options.backing;
    this.dev = options.dev ?? null;
    this.#map = options.map ?? ((i) => i);
    this.#copySteps = options.copySteps ?? 1;
    if (!Number.isInteger(this.#copySteps) || this.#copySteps < 0) {
      throw new MmsimError('INVALID_ARGUMENT', 'copySteps must be a non-negative integer');
    }
    this.slot = new TaskSlot(`${options.name} worker`);
    this.queue = new WorkQueue<LoopRequest>(
      k.rt,
      `${options.name} work list`,
      options.producers ?? 1,
    );
  }

  /** The backing page of device page `devIndex`. */
  backingIndex(devIndex: number): number {
    return this.#map(devIndex);
  }

  /**
   * Submits the writeback of page `index` of a filesystem file stored on this device
   * (the file's page `index` is device page `index`): the caller holds the folio locked
   * and under writeback; the writeback is handed to the loop worker, which ends it once the
   * data is in the backing file.
   */
  submitWriteback(folio: Folio, index: number): void {
    const k = this.#k;
    k.locks.folioWritebackTransfer(folio, this.slot.task);
    const mem = k.mem;
    this.queue.submit({
      describe: `writeback of folio ${folio} (device page ${index})`,
      devIndex: index,
      data: () => {
        k.rt.touchKernel(FP_FOLIO, folio, false); // the bio reads the folio's data
        return pageContent(mem, folio + (index - folioIndex(mem, folio)));
      },
      complete: () => k.locks.folioEndWriteback(folio),
    });
  }

  /**
   * `submit_bh(REQ_OP_WRITE, bh)` of a buffer of the loop device's page cache at device
   * page `devIndex`: the caller holds the buffer locked and a reference on it; both are
   * handed to the loop worker, which unlocks and releases the buffer
   * (`end_buffer_write_sync`) once the data is in the backing file.
   */
  submitBuffer(bh: BufferHead, devIndex: number): void {
    const k = this.#k;
    k.locks.bufferLockTransfer(bh, this.slot.task);
    this.queue.submit({
      describe: `buffer ${bh.index} of device page ${devIndex}`,
      devIndex,
      data: () => {
        k.rt.touchKernel(FP_FOLIO, bh.folio, false);
        return pageContent(k.mem, bh.folio);
      },
      complete: () => {
        k.locks.unlockBuffer(bh);
        k.locks.putBh(bh);
      },
    });
  }

  /** A producer is done submitting. */
  close(): void {
    this.queue.close();
  }

  /**
   * The worker's task body: a method, not a generator closure made per actor, so that
   * the machine does not outlive its schedule (see `initTask` in scenario.ts).
   */
  *#work(task: Task): KernelGen {
    const k = this.#k;
    const who = String(task);
    // Each scheduling point as `if (!rt.virtualStep()) yield;`: the same step and decision
    // as the `yield` (`Runtime.virtualStep`), taken without suspending when this task runs on.
    const rt = k.rt;
    for (;;) {
      const req = yield* this.queue.next('loop_process_work');
      if (req === null) return;
      const index = this.#map(req.devIndex);
      const got = filemapLockFolioPlain(k, this.backing, index, 'shmem_write_begin', {});
      const folio = typeof got === 'number' ? got : yield* got;
      if (folio < 0) {
        throw new MmsimError('INVALID_CONFIG', `${this.name}: no memory for backing page ${index}`);
      }
      for (let i = 0; i < this.#copySteps; i++) if (!rt.virtualStep()) yield; // copy_page_from_iter
      const value = req.data();
      setPageCacheWord(k, folio, index, value);
      k.shadow.wroteFile(this.backing, index, value, who); // no location object per write
      folioMarkDirty(k, folio);
      const rest = folioUnlockPutPlain(k, folio); // shmem_write_end
      if (rest !== null) yield* rest;
      if (!rt.virtualStep()) yield; // back in loop_handle_cmd: the request completes next
      req.complete();
      this.served++;
      if (!rt.virtualStep()) yield;
    }
  }

  /**
   * The loop worker (`loop_process_work`, one request at a time): lock the backing folio
   * (creating it if the image page is not cached), copy the bio's data into it, dirty and
   * unlock it, return to `loop_handle_cmd` (a scheduling point), then complete the bio
   * (`blk_mq_complete_request`).
   */
  actor(): Actor {
    const k = this.#k;
    return {
      name: `kworker/${this.name}`,
      cpu: this.cpu,
      models:
        'loop_process_work -> lo_rw_simple -> vfs_iter_write -> shmem_write_begin (folio_lock of the backing folio) (drivers/block/loop.c, mm/shmem.c, 6.3)',
      slot: this.slot,
      // Every shared access of the worker is recorded: the work list, the backing folio's
      // lookup, lock, data and dirty bit, the bio's source folio (`data`), the end of
      // writeback or the buffer unlock (`complete`). Creating a backing folio is global.
      declaresFootprints: pageCacheDeclaresFootprints(k),
      body: (task: Task): KernelGen => this.#work(task),
    };
  }
}
