import {
  FP_FOLIO,
  type KernelGen,
  type Resource,
  type Runtime,
  WaitEntry,
  WaitQueue,
  type WakeFunction,
} from '@mmsim/runtime';
import type { Bh } from './buffer-head.js';
import { WAIT_TABLE_SIZE } from './constants.js';
import { bitWaitTableIndex } from './hash.js';
import { queueName } from './queue-name.js';

/** The queues' names by index (see `queueName`). */
const BIT_WAIT_NAMES: string[] = [];

/** `struct wait_bit_key`: the word (a buffer head) and bit a waiter waits on. */
interface BitKey {
  readonly bh: Bh;
  readonly bit: number;
}

/**
 * The bit wait table of kernel/sched/wait_bit.c (Linux 6.3) as buffer locks use it:
 * `WAIT_TABLE_SIZE` hashed queues, `wake_bit_function`, `__wake_up_bit`, and
 * `__wait_on_bit_lock` with `bit_wait_io`. Unlike the folio wait table there is no
 * hand-off: a woken waiter races for the bit, and queues again at the tail if it loses.
 */
export class BitWaitTable {
  /**
   * The hashed queues, each made when first used (a machine uses a handful of its
   * WAIT_TABLE_SIZE; a queue has no state but its waiters, so making it later changes nothing),
   * by index, in a map made with the first of them: null until then. A map of the few
   * queues made, not a table of WAIT_TABLE_SIZE slots (a kilobyte for each machine an explorer
   * builds that waits here at all).
   */
  #queues: Map<number, WaitQueue> | null = null;
  readonly #rt: Runtime;
  readonly #wake: WakeFunction;

  constructor(rt: Runtime) {
    this.#rt = rt;
    // Made first, then stored: on Node 20 (V8 11.3) a closure stored straight into a
    // property as it is made stays reachable through young-generation collections, and with
    // it the whole machine (docs/exploration.md, "Speed").
    const wake: WakeFunction = (entry, key) => this.#wakeBitFunction(entry, key as BitKey);
    this.#wake = wake;
  }

  /** `bit_waitqueue(&bh->b_state, bit)`. */
  queueOf(bh: Bh, bit: number): WaitQueue {
    return this.#queue(bitWaitTableIndex(bh.id, bit));
  }

  /** Every hashed queue, in index order. */
  get queues(): readonly WaitQueue[] {
    const out: WaitQueue[] = [];
    for (let i = 0; i < WAIT_TABLE_SIZE; i++) out.push(this.#queue(i));
    return out;
  }

  #queue(i: number): WaitQueue {
    let queues = this.#queues;
    if (queues === null) {
      queues = new Map();
      this.#queues = queues;
    }
    let q = queues.get(i);
    if (q === undefined) {
      q = new WaitQueue(this.#rt, queueName(BIT_WAIT_NAMES, 'bit_wait_table', i));
      queues.set(i, q);
    }
    return q;
  }

  /**
   * `wake_bit_function` (kernel/sched/wait_bit.c, 6.3): an entry for another word or bit,
   * or a bit that is set again, is skipped (0); otherwise `autoremove_wake_function` wakes
   * the task and dequeues the entry if the task was asleep.
   */
  #wakeBitFunction(entry: WaitEntry, key: BitKey): number {
    const mine = entry.data as BitKey;
    if (mine.bh !== key.bh || mine.bit !== key.bit) return 0;
    if ((key.bh.state & (1 << key.bit)) !== 0) return 0;
    if (!this.#rt.wake(entry.task)) return 0;
    this.queueOf(key.bh, key.bit).remove(entry);
    return 1;
  }

  /**
   * `wake_up_bit(word, bit)` = `__wake_up_bit` (6.3): if the queue has entries, wake with
   * nr_exclusive = 1 and the (word, bit) key.
   */
  wakeUpBit(bh: Bh, bit: number): void {
    const queue = this.queueOf(bh, bit);
    if (queue.length > 0) queue.wakeUp(1, { bh, bit } satisfies BitKey);
  }

  /**
   * `__wait_on_bit_lock(wq_head, wbq_entry, bit_wait_io, TASK_UNINTERRUPTIBLE)` (6.3):
   * loop { `prepare_to_wait_exclusive` (queue at the tail unless queued); if the bit is
   * set, `io_schedule()`; `test_and_set_bit`: on success `finish_wait` and return }.
   * Returns with the bit taken by the current task (the caller records the owner in the
   * same step, so no other task can observe the lock without one).
   */
  *waitOnBitLock(bh: Bh, bit: number, waitsIn: string, resource: Resource): KernelGen {
    const rt = this.#rt;
    const me = rt.current;
    const queue = this.queueOf(bh, bit);
    const entry = new WaitEntry(me, true, this.#wake, { bh, bit } satisfies BitKey);
    const mask = 1 << bit;
    for (;;) {
      rt.touchKernel(FP_FOLIO, bh.folio, true); // the bit: again after each sleep (a new step)
      if (!queue.entries.includes(entry)) queue.addTail(entry);
      if ((bh.state & mask) !== 0) {
        rt.blockCurrent(waitsIn, resource, false);
        yield;
      }
      if ((bh.state & mask) === 0) {
        bh.state |= mask;
        queue.remove(entry);
        return;
      }
    }
  }
}
