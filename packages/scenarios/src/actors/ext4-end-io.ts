import type { Folio } from '@mmsim/folio';
import {
  type Actor,
  filemapLockFolioPlain,
  folioMarkDirty,
  folioUnlockPutPlain,
  type Kernel,
  TaskSlot,
} from '@mmsim/kernel';
import type { AddressSpaceView } from '@mmsim/rmap';
import { type KernelGen, MmsimError, type Task } from '@mmsim/runtime';
import { WorkQueue } from './work-queue.js';
import type { WritebackTarget } from './writeback-worker.js';

/** Options of `Ext4EndIo`. */
export interface Ext4EndIoOptions {
  /** Default `ext4-rsv-conversion`. */
  readonly name?: string;
  /** The CPU of the work item. */
  readonly cpu: number;
  /** The block device's page cache, holding the extent-tree block. */
  readonly bdev: AddressSpaceView;
  /** The page of `bdev` with the extent-tree block of the file. */
  readonly metaIndex: number;
  /** Actors that submit to it (each must `close()` when done). Default 1. */
  readonly producers?: number;
}

/** One data folio whose writeback waits for the unwritten-extent conversion. */
export interface Ext4IoEnd {
  readonly folio: Folio;
}

/**
 * The completion of ext4 writeback into unwritten extents (fs/ext4/page-io.c,
 * fs/ext4/extents.c): `ext4_end_bio` sees EXT4_IO_END_UNWRITTEN and defers the io_end to
 * the `ext4-rsv-conversion` workqueue (`ext4_end_io_rsv_work` -> `ext4_end_io_end` ->
 * `ext4_convert_unwritten_io_end_vec`), which converts the extent in the extent-tree
 * block, a buffer of the block device's page cache, and only then `ext4_release_io_end`
 * -> `ext4_finish_bio` -> `folio_end_writeback` of the data folio. Looking the extent
 * block up takes the bdev folio's lock (the sleeping `__find_get_block` lookup of the 2025
 * kernels; `grow_dev_folio` when it is not cached). So ending writeback of a data folio
 * needs the lock of a bdev folio: the PG_writeback -> PG_locked edge of the 2025 DEPT
 * report. The model locks the folio, dirties it (the journalled metadata change) and
 * unlocks it; the journal itself is not modelled.
 */
export class Ext4EndIo implements WritebackTarget {
  readonly name: string;
  readonly cpu: number;
  readonly bdev: AddressSpaceView;
  readonly metaIndex: number;
  readonly slot: TaskSlot;
  readonly queue: WorkQueue<Ext4IoEnd>;
  /** io_ends completed so far. */
  completed = 0;
  readonly #k: Kernel;

  constructor(k: Kernel, options: Ext4EndIoOptions) {
    if (!Number.isInteger(options.metaIndex) || options.metaIndex < 0) {
      throw new MmsimError('INVALID_ARGUMENT', 'metaIndex must be a non-negative integer');
    }
    this.#k = k;
    this.name = options.name ?? 'ext4-rsv-conversion';
    this.cpu = options.cpu;
    this.bdev = options.bdev;
    this.metaIndex = options.metaIndex;
    this.slot = new TaskSlot(`${this.name} worker`);
    this.queue = new WorkQueue<Ext4IoEnd>(k.rt, `${this.name} io_end list`, options.producers ?? 1);
  }

  /**
   * The writeback of a data folio into an unwritten extent: the caller holds it locked
   * and under writeback; the writeback is handed to the conversion worker, which ends it.
   */
  submitWriteback(folio: Folio, _index: number): void {
    this.#k.locks.folioWritebackTransfer(folio, this.slot.task);
    this.queue.submit({ folio });
  }

  /** A producer is done submitting. */
  close(): void {
    this.queue.close();
  }

  /** The conversion work item, one io_end at a time. */
  actor(): Actor {
    const endIo = this;
    const k = this.#k;
    return {
      name: `kworker/${this.name}`,
      cpu: this.cpu,
      models:
        'ext4_end_io_rsv_work -> ext4_convert_unwritten_io_end_vec (bdev folio lock of the extent block) -> ext4_finish_bio -> folio_end_writeback (fs/ext4/page-io.c)',
      slot: this.slot,
      *body(_task: Task): KernelGen {
        for (;;) {
          const io = yield* endIo.queue.next('ext4_end_io_rsv_work');
          if (io === null) return;
          const got = filemapLockFolioPlain(k, endIo.bdev, endIo.metaIndex, '__find_get_block');
          const meta = typeof got === 'number' ? got : yield* got;
          if (meta < 0) {
            throw new MmsimError(
              'INVALID_CONFIG',
              `${endIo.name}: extent block ${endIo.metaIndex} is not cached`,
            );
          }
          folioMarkDirty(k, meta);
          const rest = folioUnlockPutPlain(k, meta);
          if (rest !== null) yield* rest;
          yield;
          k.locks.folioEndWriteback(io.folio);
          endIo.completed++;
          yield;
        }
      },
    };
  }
}
