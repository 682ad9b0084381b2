import type { Folio } from '@mmsim/folio';
import { type Actor, type Kernel, TaskSlot } from '@mmsim/kernel';
import { WorkQueue } from './work-queue.js';
import type { WritebackTarget } from './writeback-worker.js';

/** One I/O in flight: what it is (for reports) and what its completion does. */
export interface Bio {
  readonly describe: string;
  /** `bio_endio`: end writeback, unlock the folio or buffer, drop references. */
  complete(): void;
}

/** Options of `BlockDevice`. */
export interface BlockDeviceOptions {
  readonly name: string;
  /** The CPU its completions run on. */
  readonly cpu: number;
  /** Virtual time from submission to completion, in ns. Default 20 µs (an NVMe write). */
  readonly latencyNs?: number;
  /** How many actors submit to it (each must `close()` when done). Default 1. */
  readonly producers?: number;
}

/**
 * A disk: I/O submitted to it completes `latencyNs` later in its completion task, which
 * stands for the block layer's completion path (`blk_mq_complete_request` ->
 * `bio_endio` -> `end_bio_bh_io_sync` / `mpage_end_io` / `iomap_finish_ioends`, in softirq
 * context in the kernel). Completions need no lock: they end writeback and unlock folios
 * and buffers, so a disk never closes a lock cycle; the loop device does (see
 * `LoopDevice`).
 *
 * A submitter that hands a lock or a writeback to the completion hands it to `slot.task`
 * (`folioLockTransfer`, `bufferLockTransfer`, `folioWritebackTransfer`).
 */
export class BlockDevice implements WritebackTarget {
  readonly name: string;
  readonly cpu: number;
  readonly latencyNs: number;
  readonly queue: WorkQueue<Bio>;
  readonly slot: TaskSlot;
  /** I/Os completed so far. */
  completed = 0;
  readonly #k: Kernel;

  constructor(k: Kernel, options: BlockDeviceOptions) {
    this.#k = k;
    const rt = k.rt;
    this.name = options.name;
    this.cpu = options.cpu;
    this.latencyNs = options.latencyNs ?? 20_000;
    this.queue = new WorkQueue<Bio>(rt, `${options.name} request queue`, options.producers ?? 1);
    this.slot = new TaskSlot(`${options.name} completion task`);
  }

  /** Queues an I/O (`submit_bio`). */
  submit(bio: Bio): void {
    this.queue.submit(bio);
  }

  /**
   * Submits the writeback of a folio the caller holds locked and under writeback
   * (`submit_bio` from `->writepages`): the writeback is handed to the completion task,
   * which ends it (`folio_end_writeback`) after the latency.
   */
  submitWriteback(folio: Folio, index: number): void {
    const locks = this.#k.locks;
    locks.folioWritebackTransfer(folio, this.slot.task);
    this.submit({
      describe: `writeback of page ${index} (folio ${folio})`,
      complete: () => locks.folioEndWriteback(folio),
    });
  }

  /** A producer is done submitting. */
  close(): void {
    this.queue.close();
  }

  /** The completion task (`bio_endio` in irq / softirq context, one request at a time). */
  actor(): Actor {
    const dev = this;
    const rt = this.#k.rt;
    return {
      name: `${this.name}-irq`,
      cpu: this.cpu,
      models:
        'blk_mq_complete_request -> bio_endio (block/blk-mq.c, block/bio.c, 6.3): I/O completion',
      slot: this.slot,
      *body() {
        for (;;) {
          const bio = yield* dev.queue.next('worker_thread');
          if (bio === null) return;
          yield* rt.sleepFor(dev.latencyNs);
          bio.complete();
          dev.completed++;
        }
      },
    };
  }
}
